"""Finishing what browsers left: reconcile, then remove, then sweep.

A run of :func:`cleanup` (``manage.py presigned_cleanup``) does three things, in this order:

1. **Reconcile** every *pending* upload whose upload window (``expires_at``) ended more than
   ``CLEANUP_GRACE`` ago: S3 refuses its signed form since the window closed, so what is in
   the bucket now is all that will ever arrive. Each is verified exactly as confirm does
   (:func:`~presigned_transfers.services.reconcile_upload`): one whose file arrived intact —
   its browser got S3's 204 but closed before confirming — is completed (``upload_confirmed``
   with ``request=None``, an audit record ``by=reconcile``); one whose file fails a check is
   refused (its object deleted); one where nothing arrived is due for removal.
2. **Remove** what never arrived, what was refused in step 1, and *failed* uploads last
   changed more than ``CLEANUP_GRACE`` ago: their objects first (one ``DeleteObjects``
   request per batch; missing objects count as deleted), then their rows.
3. **Sweep** the staging objects of complete uploads whose window has closed: confirm deleted
   the staging object already, but a client may have POSTed its signed form again before the
   window closed. No download ever reads a staging key; this only frees the space.

It is safe to run while the site serves traffic, from cron, even twice at once: rows are
locked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so a row that a confirm holds
(:func:`~presigned_transfers.services.confirm_upload` locks it while it asks S3) is skipped
and left for the next run, and two runs never take the same row. A confirm that comes after
its row was removed gets the ordinary 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from presigned_transfers import audit, exceptions, receivers, services, storage
from presigned_transfers.conf import app_settings
from presigned_transfers.models import Upload
from presigned_transfers.types import OwnerId, UploadId

#: S3's limit for one DeleteObjects request.
MAX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Removal:
    """One upload the cleanup removed (or, in a dry run, would remove)."""

    id: UploadId
    owner_id: OwnerId
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
    #: Ids of uploads whose file arrived but was never confirmed, now complete.
    reconciled: list[UploadId] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    #: ``{upload id: why}`` for uploads that could not be verified or whose objects could not
    #: be deleted (rows kept for the next run); ``{multipart upload id: why}`` for stray
    #: multipart uploads not aborted, ``{"multipart uploads": why}`` when they were not listed.
    errors: dict[UploadId | str, str] = field(default_factory=dict)
    #: Due uploads left alone because another transaction (a confirm) held them.
    skipped_locked: int = 0
    #: Complete uploads whose staging object was deleted.
    swept: int = 0
    #: Multipart uploads open in S3 under the app's prefix that no pending upload knows of
    #: (their row was removed while S3 could not be reached, or never written), aborted.
    aborted: int = 0


def cutoff(*, now: datetime | None = None, grace: int | None = None) -> datetime:
    """Uploads whose window ended (or, failed, that changed) before this moment are due."""
    grace = app_settings.cleanup_grace if grace is None else grace
    return (now or timezone.now()) - timedelta(seconds=grace)


def due(*, now: datetime | None = None, grace: int | None = None) -> QuerySet[Upload]:
    """Uploads due for reconcile or removal at *now* with *grace* seconds."""
    before = cutoff(now=now, grace=grace)
    return Upload.objects.filter(
        Q(status=Upload.Status.PENDING, expires_at__lt=before)
        | Q(status=Upload.Status.FAILED, updated_at__lt=before)
    )


def _removal(upload: Upload, *, refused: bool = False) -> Removal:
    """``reason``: ``"expired"`` (nothing arrived in its window) or ``"refused"``."""
    refused = refused or upload.status == Upload.Status.FAILED
    return Removal(
        id=upload.pk,
        owner_id=upload.owner_id,
        status=upload.status,
        reason="refused" if refused else "expired",
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
    """Reconcile, remove (*batch_size* per transaction, at most *limit*) and sweep.

    With *dry_run*, nothing is locked or changed: stale pending uploads are read and checked
    (not stored), and the report lists what would be reconciled and removed.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}.")
    now = now or timezone.now()
    report = CleanupReport(dry_run=dry_run, cutoff=cutoff(now=now, grace=grace))
    queryset = due(now=now, grace=grace).order_by("expires_at", "pk")
    if dry_run:
        _dry_run(report, queryset, limit, progress)
        return report

    stale = queryset.filter(status=Upload.Status.PENDING).values_list("pk", flat=True)
    gone = _reconcile(report, stale[:limit] if limit is not None else stale)
    # What never arrived or was refused just now, and what was refused long ago.
    removable = (
        Upload.objects.filter(
            Q(status=Upload.Status.FAILED, updated_at__lt=report.cutoff) | Q(pk__in=gone)
        )
        .exclude(status=Upload.Status.COMPLETE)
        .order_by("expires_at", "pk")
    )
    while limit is None or len(report.removed) < limit:
        size = batch_size if limit is None else min(batch_size, limit - len(report.removed))
        with transaction.atomic():
            batch = list(
                removable.exclude(pk__in=list(report.errors)).select_for_update(skip_locked=True)[
                    :size
                ]
            )
            if not batch:
                break
            _remove_batch(batch, report, progress)
    if limit is None:
        report.skipped_locked = queryset.exclude(pk__in=list(report.errors)).count()
        _sweep(report, batch_size)
        _abort_strays(report, now)
    return report


def _dry_run(
    report: CleanupReport,
    queryset: QuerySet[Upload],
    limit: int | None,
    progress: Callable[[Removal], None] | None,
) -> None:
    for upload in _each(queryset, limit):
        verdict = None
        if upload.status == Upload.Status.PENDING:
            try:
                verdict = services.inspect_upload(upload)
            except exceptions.StorageUnavailable as error:
                report.errors[upload.pk] = str(error.details.get("reason", error.code))
                continue
            if verdict == "complete":
                report.reconciled.append(upload.pk)
                continue
        report.removed.append(_removal(upload, refused=verdict == "refused"))
        if progress:
            progress(report.removed[-1])


def _each(queryset: QuerySet[Upload], limit: int | None, size: int = 500) -> Iterator[Upload]:
    """The rows of *queryset* (at most *limit*), fetched a page at a time by primary key.

    Not ``queryset.iterator()``: what is done with each row may commit or roll back, which on
    SQLite invalidates an open cursor (Django 4.2: "Cursor needed to be reset").
    """
    if limit is not None:
        yield from queryset[:limit]
        return
    after: UploadId | None = None
    while True:
        page = queryset.order_by("pk")
        if after is not None:
            page = page.filter(pk__gt=after)
        batch = list(page[:size])
        yield from batch
        if len(batch) < size:
            return
        after = batch[-1].pk


def _reconcile(report: CleanupReport, stale_ids: Iterable[UploadId]) -> list[UploadId]:
    """Verify each stale pending upload; return the ids of those now due for removal."""
    gone = []
    for pk in list(stale_ids):
        try:
            outcome = services.reconcile_upload(pk)
        except exceptions.StorageUnavailable as error:
            report.errors[pk] = str(error.details.get("reason", error.code))
            continue
        if outcome == "complete":
            report.reconciled.append(pk)
        elif outcome in ("missing", "refused"):
            gone.append(pk)
    return gone


def _remove_batch(
    batch: list[Upload], report: CleanupReport, progress: Callable[[Removal], None] | None
) -> None:
    """Delete the batch's objects (aborting open multipart uploads), then the rows whose
    objects are gone (in one transaction)."""
    failures: dict[str, str] = {}
    for upload in batch:
        if upload.multipart_id and upload.status == Upload.Status.PENDING:
            try:
                storage.abort_multipart(upload.key, upload.multipart_id)
            except exceptions.StorageUnavailable as error:
                failures[upload.key] = str(error.details.get("reason", error.code))
    failures |= _delete_keys(
        key for upload in batch for key in upload.object_keys if key not in failures
    )
    for upload in batch:
        failed = [failures[key] for key in upload.object_keys if key in failures]
        if failed:
            report.errors[upload.pk] = failed[0]
            continue
        removal = _removal(upload)
        receivers.mark_objects_deleted(upload)
        upload.delete()
        report.removed.append(removal)
        audit.record(
            "delete",
            user=None,
            upload_id=removal.id,
            by="cleanup",
            reason=removal.reason,
            owner_id=removal.owner_id,
        )
        if progress:
            progress(removal)


def _delete_keys(keys: Iterable[str]) -> dict[str, str]:
    """Delete *keys* in requests of at most 1000; ``{key: error}`` for those not deleted."""
    keys = list(keys)
    failures: dict[str, str] = {}
    for start in range(0, len(keys), MAX_BATCH_SIZE):
        chunk = keys[start : start + MAX_BATCH_SIZE]
        try:
            failures.update(storage.delete_objects(chunk))
        except exceptions.StorageUnavailable as error:
            reason = str(error.details.get("reason", error.code))
            failures.update(dict.fromkeys(chunk, reason))
    return failures


def _sweep(report: CleanupReport, batch_size: int) -> None:
    """Delete the staging objects of complete uploads whose window has closed."""
    done: set[UploadId] = set()
    while True:
        with transaction.atomic():
            batch = list(
                Upload.objects.filter(
                    status=Upload.Status.COMPLETE,
                    expires_at__lt=report.cutoff,
                )
                .exclude(staging_key="")
                .exclude(pk__in=done)
                .select_for_update(skip_locked=True)
                .only("pk", "staging_key")[:batch_size]
            )
            if not batch:
                return
            failures = _delete_keys(upload.staging_key for upload in batch)
            swept = [upload.pk for upload in batch if upload.staging_key not in failures]
            Upload.objects.filter(pk__in=swept).update(staging_key="")
            report.swept += len(swept)
            done.update(upload.pk for upload in batch)


def _abort_strays(report: CleanupReport, now: datetime) -> None:
    """Abort multipart uploads under the app's prefix that no pending upload is sending.

    Only those opened longer ago than ``MULTIPART_EXPIRY`` plus the grace, so one whose row
    is being written right now is never touched.
    """
    prefix = app_settings.key_template.split("{", 1)[0]
    oldest = report.cutoff - timedelta(seconds=app_settings.multipart_expiry)
    try:
        opened = storage.open_multipart_uploads(prefix)
    except exceptions.StorageUnavailable as error:
        report.errors["multipart uploads"] = str(error.details.get("reason", error.code))
        return
    stale = [u for u in opened if u.initiated is not None and u.initiated < oldest]
    known = set(
        Upload.objects.filter(
            status=Upload.Status.PENDING, multipart_id__in=[u.multipart_id for u in stale]
        ).values_list("multipart_id", flat=True)
    )
    for stray in stale:
        if stray.multipart_id in known:
            continue
        try:
            storage.abort_multipart(stray.key, stray.multipart_id)
        except exceptions.StorageUnavailable as error:
            report.errors[stray.multipart_id] = str(error.details.get("reason", error.code))
        else:
            report.aborted += 1
