"""The OpenAPI 3.1 document of the JSON API: ``openapi.json`` beside this module.

The file is the reference (shipped in the package, loadable without a dependency); this module
only reads it and fits it to a request: its server becomes the URL where the host project
included ``presigned_transfers.urls``, and its security schemes name the project's session and
CSRF cookies and header. ``tests/test_openapi.py`` keeps the file true to the URLconf and the
views.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

#: The document's file, in the package.
FILENAME = "openapi.json"


@functools.cache
def _load() -> dict[str, Any]:
    text = resources.files("presigned_transfers").joinpath(FILENAME).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def mount_path() -> str:
    """The path where ``presigned_transfers.urls`` is included, without its last slash:
    ``"/files"`` for ``path("files/", include(...))``, ``""`` at the root."""
    url = reverse("presigned_transfers:upload-url")
    assert url.endswith("/upload-url/"), url
    return url[: -len("/upload-url/")]


def _header_name(meta_key: str) -> str:
    """``HTTP_X_CSRFTOKEN`` (Django's ``CSRF_HEADER_NAME``) as the header a client sends."""
    if meta_key == "HTTP_X_CSRFTOKEN":
        return "X-CSRFToken"
    name = meta_key.removeprefix("HTTP_")
    return "-".join(part.capitalize() for part in name.split("_"))


def document(request: HttpRequest | None = None) -> dict[str, Any]:
    """A copy of the document; for *request*, fitted to the project that answers it.

    Its one server is the absolute URL of the app's mount point, and the security schemes
    name ``SESSION_COOKIE_NAME``, ``CSRF_COOKIE_NAME`` and ``CSRF_HEADER_NAME``; with
    ``CSRF_USE_SESSIONS`` there is no CSRF cookie to send, so that scheme is left out.
    """
    doc = copy.deepcopy(_load())
    if request is None:
        return doc
    base = request.build_absolute_uri(mount_path() + "/").rstrip("/")
    doc["servers"] = [{"url": base, "description": "Where this site serves the API."}]
    schemes = doc["components"]["securitySchemes"]
    schemes["session"]["name"] = settings.SESSION_COOKIE_NAME
    schemes["csrfHeader"]["name"] = _header_name(settings.CSRF_HEADER_NAME)
    if settings.CSRF_USE_SESSIONS:
        del schemes["csrfCookie"]
        for item in doc["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict):
                    for requirement in operation.get("security", []):
                        requirement.pop("csrfCookie", None)
    else:
        schemes["csrfCookie"]["name"] = settings.CSRF_COOKIE_NAME
    return doc
