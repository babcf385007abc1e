"""Presigning: POST policies for uploads and query-string URLs for downloads.

The narrow interface the rest of the app uses is :func:`presign_post` and :func:`presign_get`.
Every POST policy pins the bucket, the exact key, the ACL (``private`` by default), the exact
Content-Type, a content-length range and an expiry (plus server-side encryption when configured).

Signatures are computed by :mod:`presigned_transfers.sigv4` (byte-identical to botocore's, many
times faster); credentials come from boto3's provider chain, refreshed when they expire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from botocore.exceptions import BotoCoreError
from django.core.signals import setting_changed
from django.dispatch import receiver

from presigned_transfers import aws, exceptions
from presigned_transfers.conf import (
    MAX_DOWNLOAD_EXPIRY,
    MAX_UPLOAD_EXPIRY,
    SETTING_NAME,
    app_settings,
)
from presigned_transfers.sigv4 import Credentials, S3Presigner, credentials_from_boto3

logger = logging.getLogger("presigned_transfers")
_lock = threading.Lock()
_signer: tuple[S3Presigner, Callable[[], Credentials]] | None = None


def get_signer() -> tuple[S3Presigner, Callable[[], Credentials]]:
    """The presigner for the configured bucket and the credentials source, built once.

    The endpoint is resolved by botocore from the shared session (:mod:`.aws`), with the
    settings :mod:`.storage` builds its client from, so both address the bucket alike.
    """
    global _signer
    signer = _signer
    if signer is None:
        with _lock:
            if _signer is None:
                session = aws.get_session()
                _signer = (
                    S3Presigner(
                        bucket=app_settings.bucket,
                        region=app_settings.region,
                        endpoint_url=app_settings.endpoint_url,
                        addressing_style=app_settings.addressing_style,
                        session=session,
                    ),
                    credentials_from_boto3(session),
                )
            signer = _signer
    return signer


def _credentials(source: Callable[[], Credentials]) -> Credentials:
    """The credentials to sign with, or :class:`StorageUnavailable` (logged) if there are none.

    A JSON endpoint must answer in JSON even when the server is misconfigured: no
    credentials in the provider chain, or a role's credentials that cannot be refreshed.
    """
    try:
        return source()
    except (LookupError, BotoCoreError) as error:
        logger.exception("sign-failed: no usable AWS credentials")
        raise exceptions.StorageUnavailable(details={"reason": type(error).__name__}) from error


def reset() -> None:
    """Forget the presigner (settings changed)."""
    global _signer
    with _lock:
        _signer = None


def _now(now: datetime | None) -> datetime:
    # SigV4 dates have whole seconds; so do the expiry times we report.
    return (now or datetime.now(timezone.utc)).replace(microsecond=0)


@dataclass(frozen=True)
class SignedPost:
    """Where and what a browser POSTs: the form's action URL and its fields, in order."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class SignedUrl:
    """A presigned query-string URL and the moment it stops working."""

    url: str
    expires_at: datetime


def _bounded(expires_in: int, maximum: int) -> int:
    return max(1, min(int(expires_in), maximum))


def post_fields_and_conditions(
    *, content_type: str, min_size: int, max_size: int, checksum: str | None = None
) -> tuple[dict[str, str], list[object]]:
    """The form fields and POST policy conditions every upload is pinned to (key aside)."""
    fields = {"Content-Type": content_type}
    conditions: list[object] = [
        ["eq", "$Content-Type", content_type],
        ["content-length-range", min_size, max_size],
    ]
    pinned = [(field, value) for field, _, value in app_settings.write_options()]
    if checksum:
        # S3 refuses a file whose SHA-256 is not this one (BadDigest), POSTed again included.
        pinned.append(("x-amz-checksum-sha256", checksum))
    for field, value in pinned:
        fields[field] = value
        conditions.append({field: value})
    return fields, conditions


def presign_post(
    *,
    key: str,
    content_type: str,
    min_size: int,
    max_size: int,
    checksum: str | None = None,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedPost:
    """Sign a browser upload of exactly one object at *key* (of that SHA-256, if given)."""
    expires_in = _bounded(expires_in or app_settings.upload_expiry, MAX_UPLOAD_EXPIRY)
    now = _now(now)
    fields, conditions = post_fields_and_conditions(
        content_type=content_type, min_size=min_size, max_size=max_size, checksum=checksum
    )
    presigner, credentials = get_signer()
    url, signed_fields = presigner.presign_post(
        _credentials(credentials),
        key=key,
        fields=fields,
        conditions=conditions,
        expires_in=expires_in,
        now=now,
    )
    return SignedPost(url=url, fields=signed_fields, expires_at=now + timedelta(seconds=expires_in))


@dataclass(frozen=True)
class SignedPut:
    """A presigned PUT and the headers the browser must send with it, exactly.

    ``Content-Length`` is signed too but not listed: the browser sets it from the body.
    """

    url: str
    headers: dict[str, str]
    expires_at: datetime


def presign_put(
    *,
    key: str,
    content_type: str,
    size: int,
    checksum: str | None = None,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedPut:
    """Sign a browser's PUT of exactly *size* bytes of *content_type* (and *checksum*) at *key*.

    With ``CONDITIONAL_WRITES``, ``If-None-Match: *`` is signed in: the URL creates the object
    once, and a second PUT of it gets 412.
    """
    expires_in = _bounded(expires_in or app_settings.upload_expiry, MAX_UPLOAD_EXPIRY)
    now = _now(now)
    headers = {"Content-Type": content_type, **app_settings.write_headers()}
    if checksum:
        headers["x-amz-checksum-sha256"] = checksum
    if app_settings.conditional_writes:
        headers["If-None-Match"] = "*"
    url = presign_request(
        method="PUT",
        key=key,
        headers={**headers, "Content-Length": str(size)},
        expires_in=expires_in,
        now=now,
    )
    return SignedPut(url=url, headers=headers, expires_at=now + timedelta(seconds=expires_in))


def presign_part(
    *,
    key: str,
    multipart_id: str,
    number: int,
    size: int,
    checksum: str | None = None,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedPut:
    """Sign a browser's UploadPart of exactly *size* bytes (and *checksum*) as part *number*."""
    expires_in = _bounded(expires_in or app_settings.upload_expiry, MAX_UPLOAD_EXPIRY)
    now = _now(now)
    headers = {"x-amz-checksum-sha256": checksum} if checksum else {}
    presigner, credentials = get_signer()
    url = presigner.presign_url(
        _credentials(credentials),
        method="PUT",
        key=key,
        params={"partNumber": str(number), "uploadId": multipart_id},
        headers={**headers, "Content-Length": str(size)},
        expires_in=expires_in,
        now=now,
    )
    return SignedPut(url=url, headers=headers, expires_at=now + timedelta(seconds=expires_in))


def presign_request(
    *,
    method: Literal["GET", "PUT"],
    key: str,
    headers: Mapping[str, str] | None = None,
    expires_in: int,
    now: datetime | None = None,
) -> str:
    """A presigned URL for a request the server sends itself (see :mod:`.s3http`), with
    *headers* signed."""
    presigner, credentials = get_signer()
    return presigner.presign_url(
        _credentials(credentials),
        method=method,
        key=key,
        headers=headers,
        expires_in=expires_in,
        now=now,
    )


def presign_get(
    *,
    key: str,
    content_disposition: str | None = None,
    version_id: str | None = None,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedUrl:
    """Sign a download of the object at *key* (of that version, if given), optionally forcing
    a Content-Disposition."""
    expires_in = _bounded(expires_in or app_settings.download_expiry, MAX_DOWNLOAD_EXPIRY)
    now = _now(now)
    params = {"response-content-disposition": content_disposition} if content_disposition else {}
    if version_id:
        params["versionId"] = version_id
    presigner, credentials = get_signer()
    url = presigner.presign_url(
        _credentials(credentials),
        method="GET",
        key=key,
        expires_in=expires_in,
        params=params,
        now=now,
    )
    return SignedUrl(url=url, expires_at=now + timedelta(seconds=expires_in))


@receiver(setting_changed, dispatch_uid="presigned_transfers.signing.reset")
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Settings changed (``override_settings`` in tests): forget the presigner."""
    if setting == SETTING_NAME:
        reset()
