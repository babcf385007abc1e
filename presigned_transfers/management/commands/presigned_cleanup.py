"""``manage.py presigned_cleanup``: finish what browsers left.

Completes uploads whose file arrived but whose browser never confirmed, removes those that
never arrived or were refused, and deletes leftover staging objects. See
:mod:`presigned_transfers.cleanup` for what is due and why it is safe to run from cron while
the site serves traffic.
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
        "Verify pending uploads whose upload window ended more than CLEANUP_GRACE ago, as "
        "confirm would: complete those whose file arrived intact, remove those where nothing "
        "arrived or the file is refused; remove failed uploads; delete leftover staging "
        "objects. Safe to run from cron while the site serves traffic: an upload being "
        "confirmed is never touched."
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
                    f"{verb} {removal.id} owner={removal.owner_id} {removal.reason} "
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
        refused = len(report.removed) - expired
        summary = (
            f"{'Would complete' if dry_run else 'Completed'} {len(report.reconciled)} "
            "upload(s) whose file arrived but was never confirmed. "
            f"{'Would remove' if dry_run else 'Removed'} {len(report.removed)} upload(s): "
            f"{expired} never arrived (window ended more than {grace}s ago), {refused} refused."
        )
        if report.swept:
            summary += f" Deleted {report.swept} leftover staging object(s)."
        if report.aborted:
            summary += f" Aborted {report.aborted} multipart upload(s) no upload knows of."
        if report.skipped_locked:
            summary += (
                f" Skipped {report.skipped_locked} being confirmed right now; the next run "
                "takes them if they are still due."
            )
        self.stdout.write(self.style.SUCCESS(summary) if not report.errors else summary)
        if report.errors:
            for upload_id, reason in report.errors.items():
                self.stderr.write(
                    f"could not verify or delete the objects of {upload_id}: {reason}"
                )
            raise CommandError(
                f"{len(report.errors)} upload(s) kept because S3 could not verify or delete "
                "their objects; the next run tries again."
            )
