"""The S3 API calls the server makes itself: HEAD, ranged GET, DELETE, CORS.

The boto3 client is built lazily from settings and kept per thread (boto3 clients are
thread-safe, but sessions are not, and a per-thread client is what django-storages does).
Credentials come from boto3's normal provider chain: environment, shared config files,
container or instance roles — temporary STS credentials with a session token included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from presigned_transfers import exceptions
from presigned_transfers.conf import app_settings

_local = threading.local()
_session_lock = threading.Lock()
_session: boto3.session.Session | None = None
#: Bumped by :func:`reset` so every thread rebuilds its client after a settings change.
_generation = 0

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD of an uploaded object tells."""

    size: int
    content_type: str
    etag: str


def get_session() -> boto3.session.Session:
    """The process's boto3 session: one credential provider chain, refreshed as needed."""
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def get_client() -> Any:
    """This thread's S3 client, built from settings on first use."""
    generation = getattr(_local, "generation", None)
    if generation != _generation or getattr(_local, "client", None) is None:
        _local.client = get_session().client(
            "s3",
            region_name=app_settings.region,
            endpoint_url=app_settings.endpoint_url,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": app_settings.addressing_style},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        _local.generation = _generation
    return _local.client


def reset() -> None:
    """Drop every thread's client and the session (settings changed)."""
    global _generation, _session
    with _session_lock:
        _generation += 1
        _session = None


def _storage_error(error: Exception) -> exceptions.StorageUnavailable:
    return exceptions.StorageUnavailable(details={"reason": type(error).__name__})


def head_object(key: str) -> ObjectInfo | None:
    """Size, type and ETag of the object at *key*, or ``None`` if there is none."""
    try:
        response = get_client().head_object(Bucket=app_settings.bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise _storage_error(error) from error
    except BotoCoreError as error:
        raise _storage_error(error) from error
    return ObjectInfo(
        size=int(response["ContentLength"]),
        content_type=response.get("ContentType", ""),
        etag=response.get("ETag", "").strip('"'),
    )


def read_head(key: str, length: int) -> bytes:
    """The first *length* bytes of the object at *key* (a ranged GET)."""
    try:
        response = get_client().get_object(
            Bucket=app_settings.bucket, Key=key, Range=f"bytes=0-{length - 1}"
        )
        with response["Body"] as body:
            return body.read(length)
    except (ClientError, BotoCoreError) as error:
        raise _storage_error(error) from error


def delete_object(key: str) -> None:
    """Delete the object at *key*; deleting a missing object is not an error."""
    try:
        get_client().delete_object(Bucket=app_settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        raise _storage_error(error) from error


def delete_objects(keys: list[str]) -> dict[str, str]:
    """Delete up to 1000 objects in one request; return ``{key: error code}`` for failures.

    Keys that do not exist count as deleted, as with :func:`delete_object`.
    """
    if not keys:
        return {}
    if len(keys) > 1000:
        raise ValueError("S3 deletes at most 1000 objects per request.")
    try:
        response = get_client().delete_objects(
            Bucket=app_settings.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
    except (ClientError, BotoCoreError) as error:
        raise _storage_error(error) from error
    return {
        failure.get("Key", ""): failure.get("Code", "Error")
        for failure in response.get("Errors", [])
    }
