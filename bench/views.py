"""Views that exist only for the benchmarks.

*Floor* views do what Django itself must do for each endpoint — the session and user lookups
(middleware), Django's CSRF check, parsing the JSON body, the same database reads and writes
as our view and, for confirm, the same two S3 requests made the ordinary way (boto3, a cached
client) — and nothing of ours: no validation, no signing, no check of what was read, no audit
log, no signals. Each endpoint's throughput is compared with its floor's.

:func:`proxied_upload` is the classic way to take a file that :mod:`bench.bench_transfer`
compares with the presigned flow: Django receives the multipart body (``request.FILES``,
spooled to a temporary file above ``FILE_UPLOAD_MAX_MEMORY_SIZE``), then sends it to S3 with
boto3's ``upload_fileobj``.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import timedelta
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from presigned_transfers.models import Upload
from presigned_transfers.policy import key_filename

#: What confirm reads for sniffing (presigned_transfers.sniffing.HEAD_BYTES).
SNIFF_BYTES = 4096
#: Where the browser's upload lands before confirm (the app's default STAGING_PREFIX).
STAGING_PREFIX = "incoming/"

_local = threading.local()


def _s3() -> Any:
    """A boto3 client per thread, built once: the cheapest way Django code talks to S3."""
    client = getattr(_local, "client", None)
    if client is None:
        conf = settings.PRESIGNED_TRANSFERS
        client = _local.client = boto3.session.Session().client(
            "s3",
            region_name=conf["REGION"],
            endpoint_url=conf["ENDPOINT_URL"],
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
    return client


def _bucket() -> str:
    return settings.PRESIGNED_TRANSFERS["BUCKET"]


def _unauthorized() -> JsonResponse:
    return JsonResponse({"error": {"code": "not_authenticated", "message": "Sign in."}}, status=401)


@require_POST
def upload_url_floor(request: HttpRequest) -> JsonResponse:
    """upload-url without validation or signing: insert the pending row, answer its id."""
    if not request.user.is_authenticated:
        return _unauthorized()
    data = json.loads(request.body)
    filename = data["filename"]
    key = f"uploads/{request.user.pk}/{secrets.token_hex(16)}_{filename}"
    with transaction.atomic():
        upload = Upload.objects.create(
            owner=request.user,
            key=key,
            staging_key=STAGING_PREFIX + key,
            original_filename=filename,
            content_type=data["content_type"],
            declared_size=data["size"],
            policy="default",
            expires_at=timezone.now() + timedelta(minutes=20),
        )
    return JsonResponse({"upload_id": str(upload.pk)}, status=201)


def _confirm_floor(request: HttpRequest, *, read: int) -> JsonResponse:
    """confirm-upload's row lock and update; with *read* > 0, the same two S3 requests.

    Those are what a Django developer would write with a cached boto3 client: a ranged GET
    of the object's first *read* bytes at the staging key (its answer gives the size and
    the ETag), then a server-side copy to the kept key, conditioned on that ETag, with the
    same ACL as ours. No check of what was read.
    """
    if not request.user.is_authenticated:
        return _unauthorized()
    data = json.loads(request.body)
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update().filter(owner=request.user).get(pk=data["upload_id"])
        )
        size, etag, version = upload.declared_size, "", ""
        if read:
            client, bucket = _s3(), _bucket()
            response = client.get_object(
                Bucket=bucket, Key=upload.staging_key, Range=f"bytes=0-{read - 1}"
            )
            with response["Body"] as body:
                body.read()
            size = int(response["ContentRange"].rpartition("/")[2])
            copied = client.copy_object(
                Bucket=bucket,
                Key=upload.key,
                CopySource={"Bucket": bucket, "Key": upload.staging_key},
                CopySourceIfMatch=response["ETag"],
                ACL="private",
            )
            etag = copied["CopyObjectResult"]["ETag"].strip('"')
            version = copied.get("VersionId", "")
        upload.status = Upload.Status.COMPLETE
        upload.verified_size = size
        upload.etag, upload.version_id = etag, version
        upload.confirmed_at = timezone.now()
        upload.save(
            update_fields=[
                "status",
                "verified_size",
                "etag",
                "version_id",
                "confirmed_at",
                "updated_at",
            ]
        )
    return JsonResponse({"upload": {"id": str(upload.pk), "status": upload.status}})


@require_POST
def confirm_floor_db(request: HttpRequest) -> JsonResponse:
    """confirm's database work only: no S3 request at all."""
    return _confirm_floor(request, read=0)


@require_POST
def confirm_floor_byte(request: HttpRequest) -> JsonResponse:
    """confirm's database work, a 1-byte ranged GET and the copy (confirm without sniffing)."""
    return _confirm_floor(request, read=1)


@require_POST
def confirm_floor_sniff(request: HttpRequest) -> JsonResponse:
    """confirm's database work, a ranged GET of the first 4 KiB (sniffing) and the copy."""
    return _confirm_floor(request, read=SNIFF_BYTES)


@require_GET
def download_url_floor(request: HttpRequest, upload_id: str) -> JsonResponse:
    """download-url's ownership lookup, without signing."""
    if not request.user.is_authenticated:
        return _unauthorized()
    upload = Upload.objects.filter(owner=request.user).get(pk=upload_id)
    return JsonResponse({"id": str(upload.pk), "status": upload.status})


@require_POST
def proxied_upload(request: HttpRequest) -> JsonResponse:
    """The classic way: the file comes through Django, which then sends it to S3."""
    if not request.user.is_authenticated:
        return _unauthorized()
    uploaded = request.FILES["file"]
    key = f"proxied/{request.user.pk}/{secrets.token_hex(16)}_{key_filename(uploaded.name)}"
    _s3().upload_fileobj(
        uploaded,
        _bucket(),
        key,
        ExtraArgs={"ContentType": uploaded.content_type or "application/octet-stream"},
    )
    upload = Upload.objects.create(
        owner=request.user,
        key=key,
        original_filename=uploaded.name,
        content_type=uploaded.content_type or "application/octet-stream",
        declared_size=uploaded.size,
        verified_size=uploaded.size,
        policy="large",
        status=Upload.Status.COMPLETE,
        confirmed_at=timezone.now(),
        expires_at=timezone.now(),
    )
    return JsonResponse({"upload_id": str(upload.pk), "size": uploaded.size}, status=201)
