"""The upload and download operations, independent of HTTP.

Views, the admin, form fields and management commands all go through these functions, so
ownership, state changes, signals and audit records happen the same way everywhere.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from presigned_transfers import exceptions, policy, signals, signing, sniffing, storage
from presigned_transfers.conf import app_settings
from presigned_transfers.models import Upload

logger = logging.getLogger("presigned_transfers")


@dataclass(frozen=True)
class NewUpload:
    """A pending upload and the signed form its browser POSTs to S3."""

    upload: Upload
    post: signing.SignedPost


def _audit(
    event: str, *, user: Any, upload: Upload | None = None, upload_id: Any = None, **extra: Any
) -> None:
    """One structured log record per security-relevant event; never a URL or a secret.

    The record's ``event``, ``user_id`` (who acted; ``None`` for the system) and
    ``upload_id`` attributes, plus any *extra*, are there for structured log handlers.
    Pass *upload_id* for an upload whose row is already deleted (its ``pk`` is ``None``).
    """
    user_id = getattr(user, "pk", None)
    if upload is not None and upload.pk is not None:
        upload_id = upload.pk
    upload_id = str(upload_id) if upload_id is not None else None
    logger.info(
        "%s user=%s upload=%s%s",
        event,
        user_id,
        upload_id,
        "".join(f" {k}={v}" for k, v in extra.items()),
        extra={"event": event, "user_id": user_id, "upload_id": upload_id, **extra},
    )


def get_owned_upload(user: Any, upload_id: Any, *, lock: bool = False) -> Upload:
    """The upload *upload_id* if *user* owns it; :class:`UploadNotFound` otherwise.

    Someone else's upload and a missing one look exactly alike (404, never 403).
    """
    try:
        pk = uuid.UUID(str(upload_id))
    except ValueError as error:
        raise exceptions.UploadNotFound() from error
    queryset = Upload.objects.owned_by(user)
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=pk)
    except Upload.DoesNotExist as error:
        raise exceptions.UploadNotFound() from error


def _check_quota(user: Any, size: int, *, exclude: Any = None) -> None:
    """Refuse an upload that would take *user* over ``QUOTA``; call inside a transaction.

    Complete uploads and pending ones whose window is open count (*exclude* names one that
    should not). The owner's user row is locked first, so concurrent requests of one user
    are counted one after another (on databases with row locks: PostgreSQL, MySQL, Oracle;
    at Django's default READ COMMITTED isolation), never read-then-write racing.
    """
    quota = app_settings.quota
    max_bytes, max_files = quota.get("MAX_BYTES"), quota.get("MAX_FILES")
    if max_bytes is None and max_files is None:
        return
    user_model = get_user_model()
    list(user_model._default_manager.select_for_update().filter(pk=user.pk).values_list("pk"))
    now = timezone.now()
    counted = Upload.objects.filter(owner=user).filter(
        Q(status=Upload.Status.COMPLETE) | Q(status=Upload.Status.PENDING, expires_at__gt=now)
    )
    if exclude is not None:
        counted = counted.exclude(pk=exclude)
    usage = counted.aggregate(files=Count("pk"), size=Sum("declared_size"))
    files, used = usage["files"] or 0, usage["size"] or 0
    if max_files is not None and files + 1 > max_files:
        raise exceptions.UploadRefused(
            _("You have reached your limit of %(limit)d files. Delete a file to upload another.")
            % {"limit": max_files},
            code="quota_exceeded",
            details={"limit": "max_files", "max_files": max_files, "used_files": files},
        )
    if max_bytes is not None and used + size > max_bytes:
        raise exceptions.UploadRefused(
            _("This file would take you over your storage limit of %(limit)d bytes.")
            % {"limit": max_bytes},
            code="quota_exceeded",
            details={"limit": "max_bytes", "max_bytes": max_bytes, "used_bytes": used},
        )


def create_upload(
    *,
    user: Any,
    filename: object,
    content_type: object,
    size: object,
    policy_name: object = None,
    request: HttpRequest | None = None,
) -> NewUpload:
    """Validate a request to upload one file, record it as pending and sign its POST."""
    try:
        wanted = policy.validate_upload_request(
            filename=filename, content_type=content_type, size=size, policy=policy_name
        )
    except exceptions.TransferError as error:
        _audit("refuse", user=user, stage="sign", code=error.code)
        raise
    now = timezone.now()
    key = policy.build_key(
        owner_id=user.pk, filename=wanted.filename, policy=wanted.policy.name, now=now
    )
    post = signing.presign_post(
        key=key,
        content_type=wanted.content_type,
        min_size=wanted.policy.min_size,
        # S3 itself refuses a file larger than announced; confirm catches a smaller one.
        max_size=wanted.size,
    )
    try:
        with transaction.atomic():
            _check_quota(user, wanted.size)
            upload = Upload.objects.create(
                owner=user,
                key=key,
                original_filename=wanted.filename,
                content_type=wanted.content_type,
                declared_size=wanted.size,
                policy=wanted.policy.name,
                expires_at=post.expires_at,
            )
    except exceptions.UploadRefused as error:
        _audit("refuse", user=user, stage="sign", code=error.code)
        raise
    _audit("sign", user=user, upload=upload, size=wanted.size, type=wanted.content_type)
    signals.upload_signed.send(sender=Upload, upload=upload, request=request)
    return NewUpload(upload=upload, post=post)


def _find_mismatch(upload: Upload, info: storage.ObjectInfo) -> exceptions.TransferError | None:
    rules = app_settings.get_policy(upload.policy)
    if info.size != upload.declared_size:
        return exceptions.UploadRefused(
            _("The uploaded file is %(actual)d bytes, not the %(declared)d bytes announced.")
            % {"actual": info.size, "declared": upload.declared_size},
            code="size_mismatch",
        )
    if rules is not None and not rules.min_size <= info.size <= rules.max_size:
        return exceptions.UploadRefused(
            _("The uploaded file's size is outside what the policy allows."),
            code="size_not_allowed",
        )
    if policy.normalize_content_type(info.content_type) != upload.content_type:
        return exceptions.UploadRefused(
            _("The uploaded file's type does not match the type it was signed for."),
            code="content_type_mismatch",
        )
    return None


def _refusal(code: str) -> exceptions.UploadRefused:
    """The answer for an upload that was refused before (confirm is idempotent)."""
    return exceptions.UploadRefused(
        _("This upload was refused and its file deleted. Upload the file again."),
        code=code or "upload_refused",
    )


def confirm_upload(*, user: Any, upload_id: Any, request: HttpRequest | None = None) -> Upload:
    """Check the uploaded object against what was signed; mark it complete or failed.

    Idempotent: confirming a complete upload returns it again; confirming a refused one
    raises the same refusal. The upload's row stays locked while S3 is asked, so concurrent
    confirms (and the cleanup command) see one consistent answer.
    """
    refused: exceptions.TransferError | None = None
    with transaction.atomic():
        upload = get_owned_upload(user, upload_id, lock=True)
        if upload.status == Upload.Status.COMPLETE:
            return upload
        if upload.status == Upload.Status.FAILED:
            raise _refusal(upload.failure_code)
        info = storage.head_object(upload.key)
        if info is None:
            _audit("refuse", user=user, upload=upload, stage="confirm", code="upload_missing")
            raise exceptions.UploadStateConflict(
                _("The file has not arrived in storage. Upload it first, then confirm."),
                code="upload_missing",
            )
        refused = _find_mismatch(upload, info)
        if refused is None and upload.expires_at <= timezone.now():
            # Its window has closed, so it stopped counting against the quota and other
            # uploads may have taken its room since: count it again before accepting it.
            try:
                _check_quota(user, upload.declared_size, exclude=upload.pk)
            except exceptions.UploadRefused as error:
                refused = error
        if refused is None:
            refused = _sniff(upload, info)
        if refused is None:
            upload.status = Upload.Status.COMPLETE
            upload.verified_size = info.size
            upload.confirmed_at = timezone.now()
            upload.save(update_fields=["status", "verified_size", "confirmed_at", "updated_at"])
        else:
            storage.delete_object(upload.key)
            upload.status = Upload.Status.FAILED
            upload.failure_code = refused.code
            upload.verified_size = info.size
            upload.save(update_fields=["status", "failure_code", "verified_size", "updated_at"])
    if refused is not None:
        _audit("refuse", user=user, upload=upload, stage="confirm", code=refused.code)
        signals.upload_refused.send(
            sender=Upload, upload=upload, code=refused.code, request=request
        )
        raise refused
    _audit("confirm", user=user, upload=upload, size=upload.verified_size)
    signals.upload_confirmed.send(sender=Upload, upload=upload, request=request)
    return upload


def _sniff(upload: Upload, info: storage.ObjectInfo) -> exceptions.TransferError | None:
    """Read the object's first bytes and ask the policy's sniffer whether they fit its type.

    ``None`` means the content is acceptable (or sniffing is off); see
    :mod:`presigned_transfers.sniffing`.
    """
    if not app_settings.sniff_content:
        return None
    rules = app_settings.get_policy(upload.policy)
    sniffer = sniffing.get_sniffer(rules.sniff if rules is not None else True)
    if sniffer is None:
        return None
    length = min(sniffing.HEAD_BYTES, info.size)
    head = storage.read_head(upload.key, length) if length > 0 else b""
    try:
        accepted = sniffer(head, upload.content_type)
    except exceptions.TransferError as error:
        return error
    if accepted:
        return None
    return exceptions.UploadRefused(
        _("The file's content does not look like %(type)s, the type it was uploaded as.")
        % {"type": upload.content_type},
        code="content_mismatch",
        details={"declared_type": upload.content_type, "detected_type": sniffing.describe(head)},
    )


def download_url(*, user: Any, upload_id: Any) -> signing.SignedUrl:
    """A presigned GET for *user*'s complete upload, forcing a download with its name."""
    upload = get_owned_upload(user, upload_id)
    return sign_download(upload, user=user)


def sign_download(upload: Upload, *, user: Any) -> signing.SignedUrl:
    """A presigned GET for *upload* (the caller has checked who may have it)."""
    if not upload.is_complete:
        raise exceptions.UploadStateConflict()
    signed = signing.presign_get(
        key=upload.key, content_disposition=policy.content_disposition(upload.original_filename)
    )
    _audit("download", user=user, upload=upload)
    return signed


def delete_upload(*, user: Any, upload_id: Any) -> None:
    """Delete *user*'s upload: its object first, then its row."""
    with transaction.atomic():
        upload = get_owned_upload(user, upload_id, lock=True)
        storage.delete_object(upload.key)
        upload._object_deleted = True  # type: ignore[attr-defined]
        pk = upload.pk
        upload.delete()
    _audit("delete", user=user, upload_id=pk)


@receiver(post_delete, sender=Upload, dispatch_uid="presigned_transfers.upload_deleted")
def _delete_object_with_row(sender: type[Upload], instance: Upload, **kwargs: Any) -> None:
    """However a row goes (admin, cascade, queryset delete), its object goes too."""
    if not getattr(instance, "_object_deleted", False):
        # Read now: by the time the transaction commits, Django has set instance.pk to None.
        key, pk = instance.key, instance.pk

        def delete() -> None:
            try:
                storage.delete_object(key)
            except exceptions.StorageUnavailable:
                # The row is gone: the key is all an operator has to find the orphan.
                logger.exception("delete-failed upload=%s key=%s", pk, key)

        transaction.on_commit(delete)
    signals.upload_deleted.send(sender=Upload, upload=instance)


def expiry_cutoff() -> Any:
    """Pending uploads whose window ended before this moment can be cleaned up."""
    return timezone.now() - timedelta(seconds=app_settings.cleanup_grace)
