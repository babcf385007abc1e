"""Views that exist only for the benchmarks.

*Floor* views do what Django itself must do for each endpoint — the session and user lookups
(middleware), Django's CSRF check, parsing the JSON body, and the same database reads and
writes as our view — and nothing of ours: no validation, no signing, no audit log, no signals.
Each endpoint's throughput is compared with its floor's.

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
    with transaction.atomic():
        upload = Upload.objects.create(
            owner=request.user,
            key=f"uploads/{request.user.pk}/{secrets.token_hex(16)}_{filename}",
            original_filename=filename,
            content_type=data["content_type"],
            declared_size=data["size"],
            policy="default",
            expires_at=timezone.now() + timedelta(minutes=20),
        )
    return JsonResponse({"upload_id": str(upload.pk)}, status=201)


def _confirm_floor(request: HttpRequest, *, head: bool, sniff: bool) -> JsonResponse:
    """confirm-upload's row lock and update, with (optionally) the same S3 reads."""
    if not request.user.is_authenticated:
        return _unauthorized()
    data = json.loads(request.body)
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update().filter(owner=request.user).get(pk=data["upload_id"])
        )
        size = upload.declared_size
        if head:
            size = _s3().head_object(Bucket=_bucket(), Key=upload.key)["ContentLength"]
        if sniff:
            response = _s3().get_object(
                Bucket=_bucket(), Key=upload.key, Range=f"bytes=0-{SNIFF_BYTES - 1}"
            )
            with response["Body"] as body:
                body.read()
        upload.status = Upload.Status.COMPLETE
        upload.verified_size = size
        upload.confirmed_at = timezone.now()
        upload.save(update_fields=["status", "verified_size", "confirmed_at", "updated_at"])
    return JsonResponse({"upload": {"id": str(upload.pk), "status": upload.status}})


@require_POST
def confirm_floor_db(request: HttpRequest) -> JsonResponse:
    """confirm's database work only: no S3 request at all."""
    return _confirm_floor(request, head=False, sniff=False)


@require_POST
def confirm_floor_head(request: HttpRequest) -> JsonResponse:
    """confirm's database work and its HEAD (what confirm does without sniffing)."""
    return _confirm_floor(request, head=True, sniff=False)


@require_POST
def confirm_floor_head_get(request: HttpRequest) -> JsonResponse:
    """confirm's database work, its HEAD and its ranged GET of the first 4 KB (sniffing)."""
    return _confirm_floor(request, head=True, sniff=True)


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
