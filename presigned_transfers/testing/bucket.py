"""The bucket a test uses on the running SeaweedFS, and what a browser sends to it.

Nothing here imports Django, boto3 or requests until it is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from presigned_transfers.testing.seaweedfs import SeaweedFS

if TYPE_CHECKING:
    import requests

__all__ = ["PresignedBucket"]


def _fields(fields: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = fields.items() if isinstance(fields, Mapping) else fields
    return [(str(name), str(value)) for name, value in items]


@dataclass
class PresignedBucket:
    """A fresh bucket on the running SeaweedFS, which ``PRESIGNED_TRANSFERS`` points at.

    ``bucket`` is its name, ``client`` a boto3 S3 client with the server's credentials (to
    look at or change what is stored, as a test needs), ``endpoint_url`` the S3 endpoint and
    ``server`` the :class:`~presigned_transfers.testing.SeaweedFS` it lives on.
    """

    server: SeaweedFS
    bucket: str
    client: Any
    endpoint_url: str

    def keys(self, prefix: str = "") -> list[str]:
        """The keys of every object in the bucket (under *prefix*), in key order."""
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def get(self, key: str) -> bytes:
        """The bytes stored at *key* (botocore's ``NoSuchKey`` if there are none)."""
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def allow_origins(self, *origins: str) -> None:
        """Replace the bucket's CORS rule with the one for *origins*.

        The rule is :func:`presigned_transfers.doctor.cors_rule`, the one
        ``presigned_doctor --apply-cors`` writes.
        """
        if not origins:
            raise ValueError("allow_origins() needs at least one origin")
        self.server.create_bucket(self.bucket, cors_origins=list(origins))

    def post(
        self,
        url: str,
        fields: Mapping[str, str] | Iterable[tuple[str, str]],
        content: bytes,
        *,
        filename: str = "file.bin",
        file_content_type: str = "application/octet-stream",
        origin: str | None = None,
    ) -> requests.Response:
        """POST ``multipart/form-data`` as a browser's ``FormData``: every field first, in
        order, the file last as ``file``. The answer is S3's, unchecked (204 is success)."""
        return browser_post(url, fields, content, filename, file_content_type, origin)

    def put(
        self,
        url: str,
        headers: Mapping[str, str],
        content: bytes,
        *,
        origin: str | None = None,
    ) -> requests.Response:
        """PUT *content* to a presigned URL with exactly *headers* (and the Content-Length
        a browser adds), as the put transport and multipart's parts do. 200 is success."""
        return browser_put(url, headers, content, origin)


def browser_post(
    url: str,
    fields: Mapping[str, str] | Iterable[tuple[str, str]],
    content: bytes,
    filename: str,
    file_content_type: str,
    origin: str | None,
) -> requests.Response:
    """What the script's post transport sends (:meth:`PresignedBucket.post`)."""
    import requests

    return requests.post(
        url,
        data=_fields(fields),
        files={"file": (filename, content, file_content_type)},
        headers={"Origin": origin} if origin else {},
        timeout=60,
    )


def browser_put(
    url: str, headers: Mapping[str, str], content: bytes, origin: str | None
) -> requests.Response:
    """What the script's put transport and parts send (:meth:`PresignedBucket.put`)."""
    import requests

    sent = {**headers, **({"Origin": origin} if origin else {})}
    return requests.put(url, data=content, headers=sent, timeout=60)
