"""``manage.py presigned_doctor``: check the bucket against the deployment checklist.

See :mod:`presigned_transfers.doctor` for every check. Exits 1 when a check fails.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from presigned_transfers import doctor
from presigned_transfers.checks import _origin_problem
from presigned_transfers.conf import app_settings


class Command(BaseCommand):
    help = (
        "Check the configured S3 bucket: reachable, region, Block Public Access, no public "
        "policy, CORS for CORS_ORIGINS, default encryption, access logging, and that the "
        "app's credentials can put, get and delete objects under the upload prefix. "
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
            "--origin, then CORS_ORIGINS) POST uploads; other rules are kept after it.",
        )
        parser.add_argument(
            "--no-write-test",
            action="store_false",
            dest="write_test",
            help="Do not write, read and delete a probe object under the upload prefix.",
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
            configuration = bucket_doctor.apply_cors(origins)
            if not options["json"]:
                self.stdout.write(
                    f"Wrote the CORS configuration of {bucket_doctor.bucket!r}:\n"
                    + json.dumps(configuration, indent=2)
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
