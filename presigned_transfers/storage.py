"""The S3 API calls the server makes itself: ranged GET, conditional copy, HEAD, DELETE.

The boto3 client is built lazily from settings, once per process, under a lock, and shared
by every thread: boto3 clients are thread-safe, but making one from a shared session is not.
Not one per thread (as django-storages keeps them): under ASGI, Django runs each request's
sync view in a thread of its own, so a per-thread client would be built for every request
that needs one (several milliseconds of CPU), from the one session, in many threads at once.
Credentials come from boto3's normal provider chain: environment, shared config files,
container or instance roles — temporary STS credentials with a session token included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.signals import setting_changed
from django.dispatch import receiver

from presigned_transfers import aws, exceptions, s3http, signing
from presigned_transfers.conf import SETTING_NAME, app_settings

_client_lock = threading.Lock()
_client: Any = None

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
#: What S3 answers a conditional request whose object is not the version it names.
_CHANGED_CODES = frozenset({"412", "PreconditionFailed", *NOT_FOUND_CODES})


class ObjectChanged(Exception):
    """Raised when the object a conditional request names is no longer that version."""


@dataclass(frozen=True)
class ObjectStart:
    """One read of an object's first bytes, and what the same answer says of its version."""

    size: int
    content_type: str
    #: Without quotes; what a later request conditions on (``If-Match``).
    etag: str
    #: The version's id in a versioned bucket, else ``""``.
    version_id: str
    head: bytes


@dataclass(frozen=True)
class StoredObject:
    """The object a copy wrote."""

    etag: str
    version_id: str


def error_code(error: ClientError) -> str:
    """The S3 error code of a botocore ``ClientError`` (``"NoSuchKey"``, ``"403"``, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def get_client() -> Any:
    """The process's S3 client (thread-safe), built from settings on first use."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                _client = aws.get_session().client(
                    "s3",
                    region_name=app_settings.region,
                    endpoint_url=app_settings.endpoint_url,
                    config=Config(
                        signature_version="s3v4",
                        s3={"addressing_style": app_settings.addressing_style},
                        retries={"max_attempts": app_settings.s3_max_attempts, "mode": "standard"},
                        connect_timeout=app_settings.s3_connect_timeout,
                        read_timeout=app_settings.s3_read_timeout,
                        max_pool_connections=s3http.POOL_SIZE,
                    ),
                )
            client = _client
    return client


def reset() -> None:
    """Forget the client (settings changed); the next call builds a new one."""
    global _client
    with _client_lock:
        _client = None


def _storage_error(error: Exception) -> exceptions.StorageUnavailable:
    return exceptions.StorageUnavailable(details={"reason": type(error).__name__})


def _version(response: dict[str, Any]) -> str:
    version = response.get("VersionId") or ""
    # An unversioned bucket's objects have the version "null": nothing worth pinning.
    return "" if version == "null" else str(version)


def head_object(key: str) -> ObjectStart | None:
    """Size, type, ETag and version of the object at *key* (no bytes), or ``None``."""
    try:
        response = get_client().head_object(Bucket=app_settings.bucket, Key=key)
    except ClientError as error:
        if error_code(error) in NOT_FOUND_CODES:
            return None
        raise _storage_error(error) from error
    except BotoCoreError as error:
        raise _storage_error(error) from error
    return ObjectStart(
        size=int(response["ContentLength"]),
        content_type=response.get("ContentType", ""),
        etag=response.get("ETag", "").strip('"'),
        version_id=_version(response),
        head=b"",
    )


def read_start(key: str, length: int) -> ObjectStart | None:
    """The first *length* bytes of the object at *key*, with its size, type, ETag and version.

    One ranged GET: its answer carries the whole object's size (``Content-Range``), type,
    ETag and VersionId, all of the version whose bytes it returns, so what is checked and
    what is kept afterwards (conditioned on that ETag) are one version. ``None`` if there is
    no object. *length* 0, or an empty object (S3 answers a range of it with 416), take a
    HEAD instead. Sent with :mod:`presigned_transfers.s3http` (confirm's hot path).
    """
    if length <= 0:
        return head_object(key)
    try:
        url = signing.presign_request(method="GET", key=key, expires_in=s3http.EXPIRES_IN)
        answer = s3http.request("GET", url, headers={"Range": f"bytes=0-{length - 1}"}, read=length)
    except s3http.S3Error as error:
        if error.status == 404 or error.code in NOT_FOUND_CODES:
            return None
        if error.status == 416:
            return head_object(key)
        raise exceptions.StorageUnavailable(details={"reason": error.code}) from error
    headers = answer.headers
    total = headers.get("Content-Range", "").rpartition("/")[2]
    # A server that ignores Range answers 200 with the whole object: its length is the size.
    size = int(total) if total.isdigit() else int(headers.get("Content-Length", len(answer.body)))
    return ObjectStart(
        size=size,
        content_type=headers.get("Content-Type", ""),
        etag=headers.get("ETag", "").strip('"'),
        version_id=_version({"VersionId": headers.get("x-amz-version-id")}),
        head=answer.body[:length],
    )


def copy_object(source: str, target: str, *, if_match: str) -> StoredObject:
    """Copy the object at *source* to *target* in the bucket, if it is still version *if_match*.

    A server-side copy (no byte passes through Django), conditioned on the source's ETag
    (``x-amz-copy-source-if-match``): :class:`ObjectChanged` if the source was replaced or
    removed since it was read. The copy keeps the source's Content-Type and gets the ACL and
    encryption every stored object is pinned to (:func:`write_options`). Sent with
    :mod:`presigned_transfers.s3http` (confirm's hot path), every header signed.
    """
    headers = {
        # botocore's quoting of CopySource (tests/test_sigv4.py checks the two agree).
        "x-amz-copy-source": quote(f"{app_settings.bucket}/{source}", safe="/~"),
        "x-amz-copy-source-if-match": f'"{if_match}"',
    }
    headers.update(app_settings.write_headers())
    try:
        url = signing.presign_request(
            method="PUT", key=target, headers=headers, expires_in=s3http.EXPIRES_IN
        )
        answer = s3http.request("PUT", url, headers=headers)
    except s3http.S3Error as error:
        if error.status in (404, 412) or error.code in _CHANGED_CODES:
            raise ObjectChanged(source) from error
        raise exceptions.StorageUnavailable(details={"reason": error.code}) from error
    return StoredObject(
        etag=s3http.copy_result_etag(answer.body),
        version_id=_version({"VersionId": answer.headers.get("x-amz-version-id")}),
    )


def delete_object(key: str) -> None:
    """Delete the object at *key*; deleting a missing object is not an error."""
    try:
        get_client().delete_object(Bucket=app_settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        raise _storage_error(error) from error


def remove(keys: list[str]) -> None:
    """Delete the objects at *keys* (missing ones count as deleted) in one request.

    :class:`StorageUnavailable` if any of them could not be deleted.
    """
    if len(keys) == 1:
        delete_object(keys[0])
        return
    failures = delete_objects(keys)
    if failures:
        raise exceptions.StorageUnavailable(details={"reason": sorted(failures.values())[0]})


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


# -- multipart uploads (the server creates, lists, completes and aborts; browsers PUT parts) --


class UploadGone(Exception):
    """Raised when a multipart upload is no longer open in S3 (completed or aborted)."""


class PartsChanged(Exception):
    """Raised when a part was replaced between listing the parts and completing with them."""


@dataclass(frozen=True)
class Part:
    """One part S3 holds for a multipart upload."""

    number: int
    size: int
    etag: str
    checksum_sha256: str


def _client_call(operation: str, **kwargs: Any) -> Any:
    try:
        return getattr(get_client(), operation)(Bucket=app_settings.bucket, **kwargs)
    except ClientError as error:
        code = error_code(error)
        if code in ("NoSuchUpload", "404"):
            raise UploadGone(kwargs.get("Key", "")) from error
        if code == "InvalidPart":
            raise PartsChanged(kwargs.get("Key", "")) from error
        raise _storage_error(error) from error
    except BotoCoreError as error:
        raise _storage_error(error) from error


def create_multipart(key: str, *, content_type: str, checksum: bool) -> str:
    """Open a multipart upload at *key*, pinned like every stored object; its ``UploadId``.

    With *checksum*, every part must carry its SHA-256 (``ChecksumAlgorithm=SHA256``).
    """
    extra = {param: value for _, param, value in app_settings.write_options()}
    if checksum:
        extra["ChecksumAlgorithm"] = "SHA256"
    response = _client_call("create_multipart_upload", Key=key, ContentType=content_type, **extra)
    return str(response["UploadId"])


def list_parts(key: str, multipart_id: str) -> dict[int, Part]:
    """The parts S3 holds for the multipart upload, by number (:class:`UploadGone` if none).

    A part uploaded twice counts once, as its latest upload (SeaweedFS 4.48 lists both).
    """
    parts: dict[int, Part] = {}
    marker = 0
    while True:
        response = _client_call(
            "list_parts", Key=key, UploadId=multipart_id, PartNumberMarker=marker, MaxParts=1000
        )
        for item in response.get("Parts", []):
            number = int(item["PartNumber"])
            parts[number] = Part(
                number=number,
                size=int(item["Size"]),
                etag=str(item.get("ETag", "")).strip('"'),
                checksum_sha256=str(item.get("ChecksumSHA256") or ""),
            )
        if not response.get("IsTruncated"):
            return parts
        marker = int(response.get("NextPartNumberMarker") or max(parts, default=0))


@dataclass(frozen=True)
class Completed:
    """What completing a multipart upload made."""

    etag: str
    checksum_sha256: str
    version_id: str


def complete_multipart(key: str, multipart_id: str, parts: list[Part]) -> Completed:
    """Complete the upload from exactly *parts* (each named by ETag, and checksum if any).

    :class:`PartsChanged` if one was replaced since it was listed; :class:`UploadGone` if the
    upload is no longer open. With ``CONDITIONAL_WRITES`` the completion is ``If-None-Match:
    *``: it never replaces an object already at *key*.
    """
    listed = [
        {"PartNumber": p.number, "ETag": f'"{p.etag}"'}
        | ({"ChecksumSHA256": p.checksum_sha256} if p.checksum_sha256 else {})
        for p in parts
    ]
    extra = {"IfNoneMatch": "*"} if app_settings.conditional_writes else {}
    response = _client_call(
        "complete_multipart_upload",
        Key=key,
        UploadId=multipart_id,
        MultipartUpload={"Parts": listed},
        **extra,
    )
    return Completed(
        etag=str(response.get("ETag", "")).strip('"'),
        checksum_sha256=str(response.get("ChecksumSHA256") or ""),
        version_id=_version(response),
    )


def abort_multipart(key: str, multipart_id: str) -> None:
    """Abort the multipart upload (S3 drops its parts); one no longer open is fine."""
    try:
        _client_call("abort_multipart_upload", Key=key, UploadId=multipart_id)
    except UploadGone:
        return


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload S3 holds open."""

    key: str
    multipart_id: str
    initiated: Any


def open_multipart_uploads(prefix: str) -> list[OpenUpload]:
    """Every multipart upload open under *prefix*."""
    found: list[OpenUpload] = []
    markers: dict[str, str] = {}
    while True:
        response = _client_call("list_multipart_uploads", Prefix=prefix, **markers)
        found += [
            OpenUpload(key=u["Key"], multipart_id=u["UploadId"], initiated=u.get("Initiated"))
            for u in response.get("Uploads", [])
        ]
        if not response.get("IsTruncated"):
            return found
        markers = {
            "KeyMarker": response.get("NextKeyMarker", ""),
            "UploadIdMarker": response.get("NextUploadIdMarker", ""),
        }


@receiver(setting_changed, dispatch_uid="presigned_transfers.storage.reset")
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Settings changed (``override_settings`` in tests): forget the boto3 session and clients."""
    if setting == SETTING_NAME:
        reset()
