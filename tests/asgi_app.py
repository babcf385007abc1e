"""The ASGI application tests/system/test_asgi.py serves with uvicorn, and receivers that tell
on it.

Every signal of the app is received twice, by a sync and (Django 5.0+) by an async receiver;
each appends one JSON line to ``ASGI_SIGNAL_LOG`` (one ``write`` of a short line to a file
opened for appending, so lines of concurrent requests never mix): which signal, the upload
and its status, the request's class, whether the sender was in the main thread (the event
loop's) or inside a database transaction, and where the package was imported from.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import django
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.asgi_settings")
application = get_asgi_application()

from django.db import connection  # noqa: E402 (after setup)

import presigned_transfers  # noqa: E402
from presigned_transfers import signals  # noqa: E402

_LOG = os.environ["ASGI_SIGNAL_LOG"]
_NAMES = ("upload_signed", "upload_confirmed", "upload_refused", "upload_deleted")


def _write(entry: dict[str, Any]) -> None:
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _entry(name: str, upload: Any, request: Any, *, kind: str) -> dict[str, Any]:
    return {
        "signal": name,
        "receiver": kind,
        "upload": str(upload.pk),
        "status": upload.status,
        "request": type(request).__name__ if request is not None else None,
        "main_thread": threading.current_thread() is threading.main_thread(),
        "package": presigned_transfers.__file__,
    }


def _receivers(name: str) -> None:
    def sync_receiver(sender: Any, upload: Any, request: Any = None, **kwargs: Any) -> None:
        entry = _entry(name, upload, request, kind="sync")
        entry["in_atomic_block"] = connection.in_atomic_block
        _write(entry)

    async def async_receiver(sender: Any, upload: Any, request: Any = None, **kwargs: Any):
        _write(_entry(name, upload, request, kind="async"))

    signal = getattr(signals, name)
    signal.connect(sync_receiver, weak=False, dispatch_uid=f"asgi-test-{name}-sync")
    if django.VERSION >= (5, 0):  # async receivers, called by Signal.send from sync code too
        signal.connect(async_receiver, weak=False, dispatch_uid=f"asgi-test-{name}-async")


for _name in _NAMES:
    _receivers(_name)
