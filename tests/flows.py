"""Small helpers to walk uploads through the flow in tests (no fixtures here)."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import timedelta
from typing import Any

from django.utils import timezone

from presigned_transfers import services, storage
from presigned_transfers.models import Upload

# The first bytes of real files of each type, as the programs that write them start them.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
JPEG_JFIF = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb"
JPEG_EXIF = b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00II*\x00\x08\x00\x00\x00"
JPEG_RAW = b"\xff\xd8\xff\xdb\x00\x43\x00\x08\x06\x06\x07\x06\x05\x08\x07\x07\x07"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
    b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
)
GIF87 = b"GIF87a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00"
GIF89 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00"
WEBP_LOSSY = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x000\x01\x00\x9d\x01\x2a\x01\x00\x01"
WEBP_LOSSLESS = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10"
WEBP_EXTENDED = b"RIFF\x4a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00"
BMP = b"BM6\x00\x00\x00\x00\x00\x00\x006\x00\x00\x00(\x00\x00\x00\x01\x00\x00\x00"
TIFF_LE = b"II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00"
TIFF_BE = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x00\x00\x03\x00\x00\x00\x01"
GZIP = gzip.compress(b"hello", mtime=0)
_zip = io.BytesIO()
with zipfile.ZipFile(_zip, "w") as _archive:
    _archive.writestr("a.txt", "hello")
ZIP = _zip.getvalue()

# Executables: a DOS/PE stub, a 64-bit ELF header, a 64-bit Mach-O header.
PE_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00"
    + b"\x00" * 40
    + b"\x80\x00\x00\x00"
    + b"\x0e\x1f\xba\x0e\x00\xb4\t\xcd!\xb8\x01L\xcd!This program cannot be run in DOS mode."
    + b"\x00" * 20
    + b"PE\x00\x00L\x01\x03\x00"
)
ELF = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00\x01\x00\x00\x00"
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01\x03\x00\x00\x00\x02\x00\x00\x00\x10\x00\x00\x00"


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
