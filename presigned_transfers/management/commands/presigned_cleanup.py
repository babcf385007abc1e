"""``manage.py presigned_cleanup``: remove uploads that will never be confirmed.

See :mod:`presigned_transfers.cleanup` for what is due and why it is safe to run from cron
while the site serves traffic.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from presigned_transfers import cleanup
from presigned_transfers.conf import app_settings


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Remove pending uploads never confirmed within their upload window plus "
        "CLEANUP_GRACE, and failed uploads, from the bucket and the database. Safe to run "
        "from cron while the site serves traffic: an upload being confirmed is never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be removed; change nothing.",
        )
        parser.add_argument(
            "--grace",
            type=_non_negative,
            metavar="SECONDS",
            help="Keep uploads this long after their window ends "
            "(default: PRESIGNED_TRANSFERS['CLEANUP_GRACE']).",
        )
        parser.add_argument(
            "--batch-size",
            type=_positive,
            default=200,
            metavar="N",
            help=f"Uploads per transaction and per S3 DeleteObjects request (at most "
            f"{cleanup.MAX_BATCH_SIZE}; default 200).",
        )
        parser.add_argument(
            "--limit",
            type=_positive,
            metavar="N",
            help="Remove at most N uploads in this run.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] > cleanup.MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size is at most {cleanup.MAX_BATCH_SIZE}.")
        dry_run = options["dry_run"]
        grace = options["grace"] if options["grace"] is not None else app_settings.cleanup_grace
        verb = "would remove" if dry_run else "removed"

        def progress(removal: cleanup.Removal) -> None:
            if options["verbosity"] >= 2 or dry_run:
                self.stdout.write(
                    f"{verb} {removal.id} owner={removal.owner_id} status={removal.status} "
                    f"window ended {removal.expires_at.isoformat()} "
                    f"file={removal.filename!r}"
                )

        report = cleanup.cleanup(
            dry_run=dry_run,
            grace=grace,
            batch_size=options["batch_size"],
            limit=options["limit"],
            progress=progress,
        )
        expired = sum(1 for r in report.removed if r.reason == "expired")
        failed = len(report.removed) - expired
        summary = (
            f"{'Would remove' if dry_run else 'Removed'} {len(report.removed)} upload(s): "
            f"{expired} pending past their window (+{grace}s grace), {failed} failed."
        )
        if report.skipped_locked:
            summary += (
                f" Skipped {report.skipped_locked} being confirmed right now; the next run "
                "takes them if they are still due."
            )
        self.stdout.write(self.style.SUCCESS(summary) if not report.errors else summary)
        if report.errors:
            for upload_id, reason in report.errors.items():
                self.stderr.write(f"could not delete the object of {upload_id}: {reason}")
            raise CommandError(
                f"{len(report.errors)} upload(s) kept because their object could not be "
                "deleted; the next run tries again."
            )
