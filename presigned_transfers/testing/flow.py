"""Upload bytes through the real flow as the browser script does: sign, send to S3, confirm.

The JSON requests go through a Django test client (signed in), the bytes to the bucket over
HTTP, so the app's views, the policy and S3's own enforcement all take part. Nothing here
imports Django or requests until it is used.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from presigned_transfers.testing.bucket import browser_post, browser_put

__all__ = ["BROWSER_TRANSPORTS", "UploadFailed", "upload"]

#: What the browser script offers in upload-url, best first (presigned_transfers.js).
BROWSER_TRANSPORTS = ("multipart", "put", "post")

#: Parts signed per request to upload-parts (the script's batch; the server takes 100).
_SIGN_BATCH = 10

_S3_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_S3_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


class UploadFailed(Exception):
    """Raised by :func:`upload` when a step is refused.

    ``stage`` is ``"signing"`` (upload-url or upload-parts), ``"storage"`` (S3 refused the
    bytes) or ``"confirming"``; ``status`` the HTTP status; ``code`` and ``message`` the
    app's error code and message (``file_type_not_allowed``, ``content_mismatch``, ...) or
    S3's (``EntityTooLarge``, ``AccessDenied``, ...); ``details`` the app's error details.
    """

    def __init__(
        self,
        stage: str,
        status: int,
        code: str,
        message: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{stage}: HTTP {status} {code}: {message}")
        self.stage = stage
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def upload(
    client: Any,
    user: Any,
    filename: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    *,
    policy: str | None = None,
    transports: Sequence[str] = BROWSER_TRANSPORTS,
    confirm: bool = True,
    origin: str | None = None,
) -> Any:
    """Upload *data* as *user*'s file *filename* and return its ``Upload``, as the browser
    script would: ``POST upload-url`` (with the file's SHA-256 when ``CHECKSUM`` asks for
    it), then the transport the server chose (a multipart form POST, a PUT, or signed parts),
    then ``POST confirm-upload``.

    *client* is a Django test client (pytest-django's ``client``), signed in as *user* here
    (``user=None``: as it already is). ``confirm=False`` stops after S3 took the bytes, as a
    browser closed right after the transfer (the upload stays pending). *origin* is sent
    to S3 as the page's origin. Raises :class:`UploadFailed` when a step is refused.
    """
    from django.urls import reverse

    from presigned_transfers.conf import app_settings
    from presigned_transfers.models import Upload

    if user is not None:
        client.force_login(user)
    data = bytes(data)
    body: dict[str, Any] = {
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "transports": list(transports),
    }
    if policy is not None:
        body["policy"] = policy
    if app_settings.checksum == "sha256" and len(data) <= app_settings.multipart_threshold:
        body["checksum_sha256"] = _sha256(data)
    signed = _json(client, "signing", reverse("presigned_transfers:upload-url"), body, 201)
    upload_id = signed["upload_id"]
    transport = signed.get("transport", "post")
    if transport == "post":
        _post_form(signed, filename, data, content_type, origin)
    elif transport == "put":
        _put(signed["url"], signed.get("headers") or {}, data, origin)
    else:
        _send_parts(client, upload_id, signed, data, origin)
    if confirm:
        _json(
            client,
            "confirming",
            reverse("presigned_transfers:confirm-upload"),
            {"upload_id": upload_id},
            200,
        )
    return Upload.objects.get(pk=upload_id)


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _json(client: Any, stage: str, url: str, body: dict[str, Any], expected: int) -> Any:
    response = client.post(url, body, content_type="application/json", headers=_csrf(client))
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != expected:
        error = answer.get("error") or {} if isinstance(answer, dict) else {}
        raise UploadFailed(
            stage,
            response.status_code,
            str(error.get("code", "")),
            str(error.get("message", "")),
            error.get("details"),
        )
    return answer


def _csrf(client: Any) -> dict[str, str]:
    """The ``X-CSRFToken`` header, as the script sends it from the CSRF cookie (a test client
    that enforces CSRF and has no cookie yet is given one)."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    if getattr(settings, "CSRF_USE_SESSIONS", False):
        return {}
    name = settings.CSRF_COOKIE_NAME
    cookie = client.cookies.get(name)
    if cookie is None or not cookie.value:
        client.cookies[name] = get_random_string(32)
        cookie = client.cookies[name]
    return {settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-"): cookie.value}


def _check_storage(response: Any, expected: int) -> None:
    if response.status_code != expected:
        code = _S3_CODE.search(response.content or b"")
        message = _S3_MESSAGE.search(response.content or b"")
        raise UploadFailed(
            "storage",
            response.status_code,
            code.group(1).decode() if code else "",
            message.group(1).decode() if message else "",
        )


def _post_form(
    signed: dict[str, Any], filename: str, data: bytes, content_type: str, origin: str | None
) -> None:
    response = browser_post(signed["url"], signed["fields"], data, filename, content_type, origin)
    _check_storage(response, 204)  # what the script checks: the status, not "ok"


def _put(url: str, headers: dict[str, str], data: bytes, origin: str | None) -> None:
    _check_storage(browser_put(url, headers, data, origin), 200)


def _send_parts(
    client: Any, upload_id: str, signed: dict[str, Any], data: bytes, origin: str | None
) -> None:
    from django.urls import reverse

    url = reverse("presigned_transfers:upload-parts", kwargs={"upload_id": upload_id})
    part_size, count = int(signed["part_size"]), int(signed["part_count"])
    numbers = list(range(1, count + 1))
    for start in range(0, count, _SIGN_BATCH):
        batch = numbers[start : start + _SIGN_BATCH]
        wanted = []
        for number in batch:
            entry: dict[str, Any] = {"part_number": number}
            if signed.get("checksum") == "sha256":
                entry["checksum_sha256"] = _sha256(_part(data, number, part_size))
            wanted.append(entry)
        answer = _json(client, "signing", url, {"parts": wanted}, 200)
        for part in answer["parts"]:
            body = _part(data, int(part["part_number"]), part_size)
            _put(part["url"], part.get("headers") or {}, body, origin)


def _part(data: bytes, number: int, part_size: int) -> bytes:
    return data[(number - 1) * part_size : number * part_size]
