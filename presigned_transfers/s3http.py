"""S3 requests on confirm's path, presigned by our own signer and sent with urllib3.

Confirm asks S3 twice — a ranged GET of the first bytes, a conditional copy — while the
upload's row is locked and a worker waits. Through botocore each request costs a few
milliseconds of CPU (building, signing and parsing a generic request) and ~1.3 KB on the wire;
here :mod:`presigned_transfers.storage` presigns the URL with
:func:`~presigned_transfers.signing.presign_request` (the same credentials, endpoint and
signature rules as every form and URL the app hands out, headers that must not change signed
into it), this module sends it, and the answer is read directly. Everything else the server
does with S3 (deletes, the cleanup's batches, multipart, the doctor) stays with boto3, in
:mod:`presigned_transfers.storage`.

Retries follow botocore's "standard" mode in kind (``S3_MAX_ATTEMPTS`` tries in all, on
connection errors, timeouts, 500/502/503/504 and S3's throttling codes, with jittered
exponential backoff), with shorter waits: a user is waiting on the answer.
"""

from __future__ import annotations

import html
import os
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from botocore.httpsession import get_cert_path
from django.core.signals import setting_changed
from django.dispatch import receiver
from urllib3.exceptions import HTTPError
from urllib3.util import SKIP_HEADER

from presigned_transfers import exceptions
from presigned_transfers.conf import SETTING_NAME, app_settings

#: A presigned request is sent right after it is signed; a minute covers clock skew.
EXPIRES_IN = 60
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_THROTTLING_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"})
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_ETAG = re.compile(rb"<ETag>([^<]{1,256})</ETag>")
_USER_AGENT = "presigned-transfers"
#: Connections kept per S3 host. Every thread of a process may be asking S3 at once (a
#: gthread worker's threads; under ASGI, a thread per request): a thread that finds no idle
#: connection opens one, and beyond this many it is closed afterwards, not kept.
POOL_SIZE = 64

_lock = threading.Lock()
_pool: urllib3.PoolManager | None = None


class S3Error(Exception):
    """Raised when S3 answers a request with an error (after any retries)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Answer:
    """What S3 answered: the status, its headers (case-insensitive) and (part of) the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def get_pool() -> urllib3.PoolManager:
    """The process's connection pool (thread-safe), built from settings on first use."""
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            if _pool is None:
                _pool = urllib3.PoolManager(
                    maxsize=POOL_SIZE,
                    timeout=urllib3.Timeout(
                        connect=app_settings.s3_connect_timeout, read=app_settings.s3_read_timeout
                    ),
                    retries=False,
                    ca_certs=os.environ.get("AWS_CA_BUNDLE") or _ca_bundle(),
                )
            pool = _pool
    return pool


def reset() -> None:
    """Forget the connection pool (settings changed)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.clear()


def _ca_bundle() -> str:
    """The CA bundle botocore verifies S3's certificate with (certifi's, or its own)."""
    return str(get_cert_path(True))


def request(
    method: str, url: str, *, headers: Mapping[str, str] | None = None, read: int | None = None
) -> Answer:
    """Send *method* to the presigned *url* with *headers*; return S3's answer.

    *headers* are those signed into the URL plus any unsigned ones (``Range``). *read* caps
    how many body bytes are read (the rest is not downloaded). Raises :class:`S3Error` for an
    error answer and :class:`~presigned_transfers.exceptions.StorageUnavailable` when S3
    cannot be reached.
    """
    attempts = app_settings.s3_max_attempts
    for attempt in range(1, attempts + 1):
        try:
            answer = _send(method, url, dict(headers or {}), read)
        except HTTPError as error:
            if attempt == attempts:
                raise exceptions.StorageUnavailable(
                    details={"reason": type(error).__name__}
                ) from error
        else:
            if answer.status < 300 and not _embedded_error(method, answer):
                return answer
            code = _error_code(answer)
            retryable = answer.status in _RETRY_STATUSES or code in _THROTTLING_CODES
            if not retryable or attempt == attempts:
                raise S3Error(answer.status, code)
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


def _send(method: str, url: str, headers: dict[str, str], read: int | None) -> Answer:
    headers.setdefault("User-Agent", _USER_AGENT)
    if method != "GET":
        # http.client would add "Accept-Encoding: identity" to every request. Only the ranged
        # GET needs it (its bytes must be the object's, not of a compressed form of it); the
        # copy's small XML answer may come in any encoding urllib3 decodes.
        headers.setdefault("Accept-Encoding", SKIP_HEADER)
    response = get_pool().request(
        method, url, headers=headers, preload_content=False, redirect=False
    )
    try:
        capped = read is not None and response.status < 300
        body = response.read(read) if capped else response.read()
    except BaseException:
        response.close()
        raise
    if response.length_remaining:
        # A server that ignored Range is sending the whole object: hang up, do not read it.
        response.close()
    else:
        response.release_conn()
    return Answer(status=response.status, headers=response.headers, body=body)


def _embedded_error(method: str, answer: Answer) -> bool:
    # A copy can fail after S3 has answered 200: the error is then in the body.
    return method == "PUT" and b"<Error>" in answer.body[:512]


def _error_code(answer: Answer) -> str:
    match = _CODE.search(answer.body)
    return match.group(1).decode("utf-8", "replace") if match else str(answer.status)


def copy_result_etag(body: bytes) -> str:
    """The ETag in a CopyObjectResult, without quotes."""
    match = _ETAG.search(body)
    return html.unescape(match.group(1).decode()).strip('"') if match else ""


@receiver(setting_changed, dispatch_uid="presigned_transfers.s3http.reset")
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Settings changed (``override_settings`` in tests): forget the connection pool."""
    if setting == SETTING_NAME:
        reset()
