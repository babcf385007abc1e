"""Presigning: POST policies for uploads and query-string URLs for downloads.

The narrow interface the rest of the app uses is :func:`presign_post` and :func:`presign_get`.
Every POST policy pins the bucket, the exact key, ``acl=private``, the exact Content-Type,
a content-length range and an expiry (plus server-side encryption when configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from presigned_transfers import storage
from presigned_transfers.conf import (
    MAX_DOWNLOAD_EXPIRY,
    MAX_UPLOAD_EXPIRY,
    app_settings,
)


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
    *, content_type: str, min_size: int, max_size: int
) -> tuple[dict[str, str], list[object]]:
    """The form fields and policy conditions every upload is pinned to (key aside)."""
    fields = {"acl": "private", "Content-Type": content_type}
    conditions: list[object] = [
        {"acl": "private"},
        ["eq", "$Content-Type", content_type],
        ["content-length-range", min_size, max_size],
    ]
    sse = app_settings.server_side_encryption
    if sse:
        fields["x-amz-server-side-encryption"] = sse
        conditions.append({"x-amz-server-side-encryption": sse})
        if sse == "aws:kms" and app_settings.sse_kms_key_id:
            key_id = app_settings.sse_kms_key_id
            fields["x-amz-server-side-encryption-aws-kms-key-id"] = key_id
            conditions.append({"x-amz-server-side-encryption-aws-kms-key-id": key_id})
    return fields, conditions


def presign_post(
    *,
    key: str,
    content_type: str,
    min_size: int,
    max_size: int,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedPost:
    """Sign a browser upload of exactly one object at *key*."""
    expires_in = _bounded(expires_in or app_settings.upload_expiry, MAX_UPLOAD_EXPIRY)
    now = now or datetime.now(timezone.utc)
    fields, conditions = post_fields_and_conditions(
        content_type=content_type, min_size=min_size, max_size=max_size
    )
    conditions.insert(0, ["eq", "$key", key])
    post = storage.get_client().generate_presigned_post(
        Bucket=app_settings.bucket,
        Key=key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=expires_in,
    )
    return SignedPost(
        url=post["url"], fields=post["fields"], expires_at=now + timedelta(seconds=expires_in)
    )


def presign_get(
    *,
    key: str,
    content_disposition: str | None = None,
    expires_in: int | None = None,
    now: datetime | None = None,
) -> SignedUrl:
    """Sign a download of the object at *key*, optionally forcing a Content-Disposition."""
    expires_in = _bounded(expires_in or app_settings.download_expiry, MAX_DOWNLOAD_EXPIRY)
    now = now or datetime.now(timezone.utc)
    params = {"Bucket": app_settings.bucket, "Key": key}
    if content_disposition:
        params["ResponseContentDisposition"] = content_disposition
    url = storage.get_client().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=expires_in
    )
    return SignedUrl(url=url, expires_at=now + timedelta(seconds=expires_in))
