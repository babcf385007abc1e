"""``manage.py presigned_doctor``: check the bucket against the deployment checklist.

See :mod:`presigned_transfers.doctor` for every check. Exits 1 when a check fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from presigned_transfers import doctor, storage
from presigned_transfers.checks import _origin_problem
from presigned_transfers.conf import app_settings


class Command(BaseCommand):
    help = (
        "Check the configured S3 bucket: reachable, region, Block Public Access, no public "
        "policy, CORS for CORS_ORIGINS, lifecycle rules, default encryption, access logging; "
        "that the app's credentials can put, copy, get and delete objects under its prefixes; "
        "and that a presigned POST form, a presigned PUT and a multipart upload work as "
        "browsers send them (it recommends TRANSPORT 'put' where POST does not). "
        "Each finding says how to fix it. Exits 1 if a check fails."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            dest="origins",
            metavar="ORIGIN",
            help="An origin browsers upload from (repeat for more); default CORS_ORIGINS.",
        )
        parser.add_argument(
            "--apply-cors",
            nargs="*",
            metavar="ORIGIN",
            help="Before checking, write the CORS rule that lets these origins (default: "
            "--origin, then CORS_ORIGINS) POST and PUT uploads; other rules are kept after it.",
        )
        parser.add_argument(
            "--apply-lifecycle",
            action="store_true",
            help="Before checking, write the app's lifecycle rules: abort incomplete multipart "
            "uploads under the KEY_TEMPLATE prefix, expire objects under STAGING_PREFIX (IDs "
            f"{doctor.LIFECYCLE_RULE_PREFIX}...); other rules are kept after them.",
        )
        parser.add_argument(
            "--no-write-test",
            action="store_false",
            dest="write_test",
            help="Write no probe: skip the object checks and the POST, PUT and multipart probes.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the findings as JSON instead of text."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        origins = options["origins"]
        if options["apply_cors"] is not None:
            origins = options["apply_cors"] or origins or app_settings.cors_origins
            if not origins:
                raise CommandError(
                    "--apply-cors needs the origins to allow: name them, or set "
                    "PRESIGNED_TRANSFERS['CORS_ORIGINS']."
                )
        for origin in origins or ():
            problem = _origin_problem(origin)
            if problem:
                raise CommandError(f"Origin {problem}.")
        try:
            bucket_doctor = doctor.BucketDoctor(origins=origins, write_test=options["write_test"])
        except ImproperlyConfigured as error:
            raise CommandError(f"{error} Run manage.py check for every setting problem.") from error
        if options["apply_cors"] is not None:
            self._apply(
                options,
                "CORS configuration",
                "s3:PutBucketCORS",
                bucket_doctor.bucket,
                lambda: bucket_doctor.apply_cors(origins),
            )
        if options["apply_lifecycle"]:
            self._apply(
                options,
                "lifecycle configuration",
                "s3:PutLifecycleConfiguration",
                bucket_doctor.bucket,
                bucket_doctor.apply_lifecycle,
            )
        findings = bucket_doctor.run()
        counts = doctor.summary(findings)
        if options["json"]:
            self.stdout.write(doctor.as_json(findings))
        else:
            endpoint = app_settings.endpoint_url or f"AWS S3 ({app_settings.region})"
            self.stdout.write(f"Bucket {bucket_doctor.bucket!r} at {endpoint}:")
            self.stdout.write(doctor.format_findings(findings))
            line = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            style = self.style.ERROR if counts["error"] else self.style.SUCCESS
            self.stdout.write(style(f"Summary: {line}."))
        if counts["error"]:
            raise CommandError(f"{counts['error']} check(s) failed; see the fixes above.")

    def _apply(
        self,
        options: dict[str, Any],
        what: str,
        action: str,
        bucket: str,
        write: Callable[[], dict[str, Any]],
    ) -> None:
        """Write the bucket's *what* (S3 *action*), printing it; a refusal is a CommandError."""
        try:
            configuration = write()
        except ClientError as error:
            code = storage.error_code(error)
            fix = (
                f"It needs {action}: run the doctor with credentials allowed to change bucket "
                "settings, or write it in the provider's console."
                if code in doctor.DENIED_CODES
                else "Look the error code up in the S3 error reference."
            )
            raise CommandError(
                f"Could not write the {what} of {bucket!r}: {code}. {fix}"
            ) from error
        except BotoCoreError as error:
            raise CommandError(f"Could not write the {what} of {bucket!r}: {error}") from error
        if not options["json"]:
            self.stdout.write(
                f"Wrote the {what} of {bucket!r}:\n" + json.dumps(configuration, indent=2)
            )
