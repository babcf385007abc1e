"""Removing uploads that will never be confirmed: their objects, then their rows.

Due for cleanup are

* *pending* uploads whose upload window (``expires_at``) ended more than ``CLEANUP_GRACE``
  ago: S3 refuses their POST since the window closed, so nothing can arrive any more; the
  grace covers an upload that started just before the end, and clock skew;
* *failed* uploads last changed more than ``CLEANUP_GRACE`` ago (their object was deleted
  when they were refused; the row only keeps answering a repeated confirm).

It is safe to run while the site serves traffic, from cron, even twice at once: each batch
locks its rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, so a row that a confirm holds
(:func:`~presigned_transfers.services.confirm_upload` locks it while it asks S3) is skipped
and left for the next run, and two cleanups never take the same row. A confirm that comes
after its row was removed gets the ordinary 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from presigned_transfers import exceptions, storage
from presigned_transfers.conf import app_settings
from presigned_transfers.models import Upload
from presigned_transfers.services import _audit

#: S3's limit for one DeleteObjects request.
MAX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Removal:
    """One upload the cleanup removed (or, in a dry run, would remove)."""

    id: Any
    owner_id: Any
    status: str
    reason: str
    filename: str
    expires_at: datetime
    updated_at: datetime


@dataclass
class CleanupReport:
    """What a cleanup run did."""

    dry_run: bool
    cutoff: datetime
    removed: list[Removal] = field(default_factory=list)
    #: ``{upload id: why}`` for uploads whose object could not be deleted (rows kept).
    errors: dict[Any, str] = field(default_factory=dict)
    #: Due uploads left alone because another transaction (a confirm) held them.
    skipped_locked: int = 0


def due(*, now: datetime | None = None, grace: int | None = None) -> QuerySet[Upload]:
    """Uploads due for cleanup at *now* with *grace* seconds (default ``CLEANUP_GRACE``)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=app_settings.cleanup_grace if grace is None else grace)
    return Upload.objects.filter(
        Q(status=Upload.Status.PENDING, expires_at__lt=cutoff)
        | Q(status=Upload.Status.FAILED, updated_at__lt=cutoff)
    )


def _reason(upload: Upload) -> str:
    return "expired" if upload.status == Upload.Status.PENDING else "failed"


def _removal(upload: Upload) -> Removal:
    return Removal(
        id=upload.pk,
        owner_id=upload.owner_id,  # type: ignore[attr-defined]
        status=upload.status,
        reason=_reason(upload),
        filename=upload.original_filename,
        expires_at=upload.expires_at,
        updated_at=upload.updated_at,
    )


def cleanup(
    *,
    dry_run: bool = False,
    grace: int | None = None,
    batch_size: int = 200,
    limit: int | None = None,
    now: datetime | None = None,
    progress: Callable[[Removal], None] | None = None,
) -> CleanupReport:
    """Remove due uploads, *batch_size* per transaction, at most *limit* in all.

    With *dry_run*, nothing is locked or changed: the report lists what would go.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}.")
    now = now or timezone.now()
    queryset = due(now=now, grace=grace).order_by("expires_at", "pk")
    report = CleanupReport(
        dry_run=dry_run,
        cutoff=now - timedelta(seconds=app_settings.cleanup_grace if grace is None else grace),
    )
    if dry_run:
        for upload in queryset[:limit] if limit is not None else queryset.iterator():
            report.removed.append(_removal(upload))
            if progress:
                progress(report.removed[-1])
        return report

    while limit is None or len(report.removed) < limit:
        size = batch_size if limit is None else min(batch_size, limit - len(report.removed))
        with transaction.atomic():
            batch = list(
                queryset.exclude(pk__in=list(report.errors)).select_for_update(skip_locked=True)[
                    :size
                ]
            )
            if not batch:
                break
            _remove_batch(batch, report, progress)
    report.skipped_locked = (
        0 if limit is not None else queryset.exclude(pk__in=list(report.errors)).count()
    )
    return report


def _remove_batch(
    batch: list[Upload], report: CleanupReport, progress: Callable[[Removal], None] | None
) -> None:
    """Delete the batch's objects, then the rows whose object is gone (in one transaction)."""
    try:
        failures = storage.delete_objects([upload.key for upload in batch])
    except exceptions.StorageUnavailable as error:
        failures = {upload.key: str(error.details.get("reason", error.code)) for upload in batch}
    for upload in batch:
        if upload.key in failures:
            report.errors[upload.pk] = failures[upload.key]
            continue
        removal = _removal(upload)
        upload._object_deleted = True  # type: ignore[attr-defined]
        upload.delete()
        report.removed.append(removal)
        _audit(
            "delete",
            user=None,
            upload_id=removal.id,
            by="cleanup",
            reason=removal.reason,
            owner_id=removal.owner_id,
        )
        if progress:
            progress(removal)
