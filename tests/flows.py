"""Small helpers to walk uploads through the flow in tests (no fixtures here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from presigned_transfers import services, storage
from presigned_transfers.models import Upload


def sign(user: Any, body: bytes, *, content_type: str = "application/pdf", **kwargs: Any) -> Upload:
    """A pending upload of *user* for a file of ``len(body)`` bytes."""
    return services.create_upload(
        user=user,
        filename=kwargs.pop("filename", "file.pdf"),
        content_type=content_type,
        size=len(body),
        **kwargs,
    ).upload


def put(upload: Upload, body: bytes, *, content_type: str | None = None) -> None:
    """Store *body* where the upload's POST writes, as the browser's would (no policy check)."""
    storage.get_client().put_object(
        Bucket=_bucket(),
        Key=upload.upload_key,
        Body=body,
        ContentType=content_type or upload.content_type,
    )


def object_exists(key: str) -> bool:
    return storage.head_object(key) is not None


def read(key: str) -> bytes:
    """The bytes stored at *key* in the configured bucket."""
    body: bytes = storage.get_client().get_object(Bucket=_bucket(), Key=key)["Body"].read()
    return body


def expire(upload: Upload, *, seconds_ago: int) -> Upload:
    """Move the upload's window into the past (without touching anything else)."""
    Upload.objects.filter(pk=upload.pk).update(
        expires_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    upload.refresh_from_db()
    return upload


def _bucket() -> str:
    from presigned_transfers.conf import app_settings

    return app_settings.bucket
