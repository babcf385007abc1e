"""The bucket doctor: the deployment checklist, checked against the configured bucket.

Run by ``manage.py presigned_doctor``. Unlike the system checks this talks to S3, with the
app's own credentials, so it sees what the app will see:

=====================  ============================================================
check                  passes when
=====================  ============================================================
bucket                 the bucket answers (exists, reachable, credentials accepted)
region                 the bucket is in ``REGION`` (signatures are scoped to it)
public-access-block    all four Block Public Access settings are on
policy-status          no bucket policy makes the bucket public
cors                   a CORS rule lets each of ``CORS_ORIGINS`` POST, no wildcard
                       origin anywhere, ``ETag`` exposed (warning), no localhost
                       origin outside DEBUG (warning)
encryption             default encryption is on (SSE-S3 at least)
logging                server access logging is on (warning)
versioning             whether the bucket keeps versions (information: downloads are
                       then pinned to the version confirm kept)
put-object             the credentials can write under ``STAGING_PREFIX``, with the
                       ACL, type and encryption every upload's POST policy pins
copy-object            ... copy that object, conditioned on its ETag, to a key under
                       the ``KEY_TEMPLATE`` prefix, as confirm keeps a verified upload
get-object             ... read the copy back
delete-object          ... delete both
missing-object         a missing key answers 404, not 403 (``s3:ListBucket``), so
                       confirming an upload that has not arrived says so
=====================  ============================================================

Each finding says how to fix what it found. An endpoint that does not implement an API
(SeaweedFS, MinIO and others lack some bucket settings) gives ``unsupported`` for that
check, not a failure; credentials without permission to *read* a setting give a warning.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

from presigned_transfers import policy, storage
from presigned_transfers.conf import SETTING_NAME, app_settings

#: The ``ID`` of the CORS rule ``--apply-cors`` writes (and replaces on the next run).
CORS_RULE_ID = "presigned-transfers"
CORS_MAX_AGE = 3000

_UNSUPPORTED = frozenset({"NotImplemented", "501", "XNotImplemented", "MethodNotAllowed"})
_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "Forbidden"})
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "0.0.0.0")  # noqa: S104 - names, not binds
_LOOK_UP = (
    "Look the error code up in the S3 error reference, and check the endpoint's status and "
    "the app's credentials."
)
_PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


class Status(str, enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """The result of one check: what was found and, unless it is fine, how to fix it."""

    check: str
    status: Status
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "hint": self.hint,
        }


_code = storage.error_code

#: Where boto3 looks for credentials, in its order (what to say when it found none).
CREDENTIALS_HINT = (
    "boto3 found no AWS credentials. It looks, in this order, in the environment "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, plus AWS_SESSION_TOKEN for temporary "
    "credentials), the shared files ~/.aws/credentials and ~/.aws/config (the profile in "
    "AWS_PROFILE; AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move them), an assumed role "
    "or web identity configured there, the ECS/EKS container credentials and the EC2 "
    "instance metadata service. Give the app's process one of them; never put them in "
    "settings."
)


def cors_rule(origins: Sequence[str]) -> dict[str, Any]:
    """The CORS rule browsers need to POST uploads from *origins*."""
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["POST"],
        # Browsers preflight the XHR POST (it reports progress); it sends no custom header,
        # but S3 refuses a preflight that asks for any header not listed here.
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": CORS_MAX_AGE,
    }


def probe_key() -> str:
    """A key under the kept-objects prefix, built by ``KEY_TEMPLATE`` as an upload's is."""
    return policy.build_key(
        owner_id="presigned-doctor",
        filename="probe.txt",
        policy="doctor",
        now=datetime.now(timezone.utc),
    )


class BucketDoctor:
    """Runs every check against ``BUCKET`` with the app's client; see the module docs."""

    def __init__(
        self,
        *,
        origins: Iterable[str] | None = None,
        write_test: bool = True,
        client: Any = None,
    ) -> None:
        self.bucket = app_settings.bucket
        self.origins = list(app_settings.cors_origins if origins is None else origins)
        self.write_test = write_test
        self.client = client or storage.get_client()

    # -- running --------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        findings = [self._guarded("bucket", self.check_bucket)]
        checks: list[tuple[str, Callable[[], Finding]]] = [
            ("region", self.check_region),
            ("public-access-block", self.check_public_access_block),
            ("policy-status", self.check_policy_status),
            ("cors", self.check_cors),
            ("encryption", self.check_encryption),
            ("logging", self.check_logging),
            ("versioning", self.check_versioning),
        ]
        if findings[0].status is not Status.OK:
            return findings + [
                Finding(name, Status.SKIPPED, "Skipped: the bucket cannot be reached.")
                for name in [*(n for n, _ in checks), *self._object_checks()]
            ]
        findings += [self._guarded(name, check) for name, check in checks]
        if self.write_test:
            findings += self.check_objects()
        else:
            findings += [
                Finding(name, Status.SKIPPED, "Skipped (--no-write-test).")
                for name in self._object_checks()
            ]
        return findings

    @staticmethod
    def _object_checks() -> list[str]:
        return ["put-object", "copy-object", "get-object", "delete-object", "missing-object"]

    def _guarded(self, name: str, check: Callable[[], Finding]) -> Finding:
        """Run *check*; turn "not implemented" and "access denied" into findings."""
        try:
            return check()
        except ClientError as error:
            code = _code(error)
            if code in _UNSUPPORTED:
                return Finding(
                    name,
                    Status.UNSUPPORTED,
                    f"This S3 endpoint does not implement the API for this check ({code}).",
                    "Nothing to fix here; on AWS S3 this check runs. Check the setting in "
                    "your storage provider's console or documentation instead.",
                )
            if code in _DENIED:
                return Finding(
                    name,
                    Status.WARNING,
                    f"The credentials may not read this setting ({code}), so it was not checked.",
                    "Check it in the S3 console, or run the doctor once with credentials "
                    "that may read bucket settings (the app's own need not).",
                )
            return Finding(
                name, Status.ERROR, f"S3 answered {code or 'an error'}: {error}", _LOOK_UP
            )
        except NoCredentialsError:
            return Finding(name, Status.ERROR, "No AWS credentials were found.", CREDENTIALS_HINT)
        except BotoCoreError as error:
            return Finding(
                name,
                Status.ERROR,
                f"Could not talk to S3: {error}",
                "Check ENDPOINT_URL, REGION and the network path to S3.",
            )

    # -- bucket settings ------------------------------------------------------------------

    def check_bucket(self) -> Finding:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = _code(error)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return Finding(
                    "bucket",
                    Status.ERROR,
                    f"There is no bucket {self.bucket!r} at this endpoint.",
                    "Create it (private, in REGION) or correct PRESIGNED_TRANSFERS['BUCKET'].",
                )
            if code in _DENIED:
                return Finding(
                    "bucket",
                    Status.ERROR,
                    f"Access to bucket {self.bucket!r} is denied ({code}).",
                    "Give the app's IAM user or role s3:ListBucket on "
                    f"arn:aws:s3:::{self.bucket} and s3:PutObject, s3:GetObject, "
                    f"s3:DeleteObject on {self._arn(app_settings.staging_prefix)} and "
                    f"{self._arn(self._prefix())}; check that the bucket is in the same "
                    "account as the credentials.",
                )
            raise
        return Finding("bucket", Status.OK, f"Bucket {self.bucket!r} is reachable.")

    def check_region(self) -> Finding:
        location = self.client.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
        if region != app_settings.region:
            return Finding(
                "region",
                Status.ERROR,
                f"The bucket is in {region}, but REGION is {app_settings.region}: S3 refuses "
                "signatures scoped to the wrong region.",
                f"Set PRESIGNED_TRANSFERS['REGION'] = {region!r}.",
            )
        return Finding("region", Status.OK, f"The bucket is in {region}, as REGION says.")

    def check_public_access_block(self) -> Finding:
        try:
            config = self.client.get_public_access_block(Bucket=self.bucket)
        except ClientError as error:
            if _code(error) != "NoSuchPublicAccessBlockConfiguration":
                raise
            config = {"PublicAccessBlockConfiguration": {}}
        flags = config["PublicAccessBlockConfiguration"]
        off = [flag for flag in _PUBLIC_ACCESS_FLAGS if not flags.get(flag)]
        if off:
            return Finding(
                "public-access-block",
                Status.ERROR,
                f"Block Public Access is not fully on: {', '.join(off)} "
                f"{'is' if len(off) == 1 else 'are'} off.",
                "Turn all four on: S3 console > bucket > Permissions > Block public access, "
                f"or aws s3api put-public-access-block --bucket {self.bucket} "
                "--public-access-block-configuration BlockPublicAcls=true,"
                "IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
            )
        return Finding(
            "public-access-block", Status.OK, "All four Block Public Access settings are on."
        )

    def check_policy_status(self) -> Finding:
        try:
            status = self.client.get_bucket_policy_status(Bucket=self.bucket)
        except ClientError as error:
            if _code(error) != "NoSuchBucketPolicy":
                raise
            return Finding("policy-status", Status.OK, "The bucket has no bucket policy.")
        if status.get("PolicyStatus", {}).get("IsPublic"):
            return Finding(
                "policy-status",
                Status.ERROR,
                "The bucket policy makes the bucket public.",
                "Remove the statements that grant access to Principal '*' (S3 console > "
                "bucket > Permissions > Bucket policy); presigned URLs need no public access.",
            )
        return Finding("policy-status", Status.OK, "The bucket policy does not make it public.")

    def check_cors(self) -> Finding:
        try:
            rules = self.client.get_bucket_cors(Bucket=self.bucket).get("CORSRules", [])
        except ClientError as error:
            if _code(error) != "NoSuchCORSConfiguration":
                raise
            rules = []
        apply_hint = (
            "Run manage.py presigned_doctor --apply-cors "
            + (" ".join(self.origins) if self.origins else "https://www.example.com")
            + " to write a rule that allows exactly that."
        )
        if not rules:
            return Finding(
                "cors",
                Status.ERROR,
                "The bucket has no CORS configuration: browsers cannot upload to it.",
                apply_hint,
            )
        wildcards = [
            origin for rule in rules for origin in rule.get("AllowedOrigins", []) if "*" in origin
        ]
        if wildcards:
            return Finding(
                "cors",
                Status.ERROR,
                f"A CORS rule allows the wildcard origin {wildcards[0]!r}: any site can send "
                "its visitors' browsers to this bucket.",
                "Name each origin of your site instead. " + apply_hint,
            )
        problems = []
        no_etag = []
        for origin in self.origins:
            rule = self._first_rule(rules, origin, "POST")
            if rule is None:
                problems.append(f"{origin} may not POST")
            elif "etag" not in {h.lower() for h in rule.get("ExposeHeaders", [])}:
                no_etag.append(origin)
        if problems:
            return Finding(
                "cors",
                Status.ERROR,
                f"The CORS configuration does not let browsers upload: {'; '.join(problems)}.",
                apply_hint,
            )
        warnings = []
        if not self.origins:
            warnings.append(
                "CORS_ORIGINS is not set, so whether your site's origins may POST was not checked"
            )
        if no_etag:
            warnings.append(f"ETag is not exposed to {', '.join(no_etag)}")
        local = sorted(
            {
                origin
                for rule in rules
                for origin in rule.get("AllowedOrigins", [])
                if any(origin.split("://", 1)[-1].startswith(host) for host in _LOCAL_HOSTS)
            }
        )
        if local and not settings.DEBUG:
            warnings.append(f"development origins are allowed: {', '.join(local)}")
        if warnings:
            return Finding(
                "cors",
                Status.WARNING,
                "CORS lets the configured origins upload, but: " + "; ".join(warnings) + ".",
                "Set PRESIGNED_TRANSFERS['CORS_ORIGINS'] to your site's origins, expose ETag "
                "(browser code may read it to check what was stored) and remove localhost "
                "before production. " + apply_hint,
            )
        return Finding(
            "cors",
            Status.OK,
            f"CORS lets {', '.join(self.origins)} POST and exposes ETag; no wildcard origin.",
        )

    @staticmethod
    def _first_rule(rules: list[dict[str, Any]], origin: str, method: str) -> Any:
        """The rule S3 applies to a *method* request from *origin*: the first that matches."""
        for rule in rules:
            if origin in rule.get("AllowedOrigins", []) and method in rule.get(
                "AllowedMethods", []
            ):
                return rule
        return None

    def check_encryption(self) -> Finding:
        try:
            config = self.client.get_bucket_encryption(Bucket=self.bucket)
        except ClientError as error:
            if _code(error) != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            pinned = app_settings.server_side_encryption
            return Finding(
                "encryption",
                Status.WARNING if pinned else Status.ERROR,
                "Default encryption is off"
                + (
                    f" (uploads are still encrypted: every POST policy pins {pinned})."
                    if pinned
                    else "."
                ),
                "Turn on default encryption (SSE-S3 at least): S3 console > bucket > "
                "Properties > Default encryption, or aws s3api put-bucket-encryption --bucket "
                f"{self.bucket} --server-side-encryption-configuration "
                '\'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}\'',
            )
        rules = config.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        algorithms = [
            rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "")
            for rule in rules
        ]
        return Finding(
            "encryption", Status.OK, f"Default encryption is on ({', '.join(algorithms)})."
        )

    def check_logging(self) -> Finding:
        enabled = self.client.get_bucket_logging(Bucket=self.bucket).get("LoggingEnabled")
        if not enabled:
            return Finding(
                "logging",
                Status.WARNING,
                "Server access logging is off: there is no record of who fetched which object.",
                "Turn it on, into another bucket: S3 console > bucket > Properties > Server "
                "access logging.",
            )
        target = f"{enabled.get('TargetBucket')}/{enabled.get('TargetPrefix', '')}"
        return Finding("logging", Status.OK, f"Server access logging goes to {target}.")

    def check_versioning(self) -> Finding:
        status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status") or "Off"
        if status == "Enabled":
            return Finding(
                "versioning",
                Status.OK,
                "Versioning is on: every download is pinned to the version confirm kept. "
                "Deleting an upload leaves its old versions (a lifecycle rule for noncurrent "
                "versions removes them).",
            )
        return Finding(
            "versioning",
            Status.OK,
            f"Versioning is {status.lower()}: nothing relies on it (confirm keeps each "
            "verified upload as a copy under a key no signed form names).",
        )

    # -- object permissions ---------------------------------------------------------------

    def check_objects(self) -> list[Finding]:
        """The object operations of the upload lifecycle, as the app does them.

        Put a probe where a browser's POST lands (the staging prefix, with the ACL and
        encryption the POST policy pins), copy it conditioned on its ETag to where confirm
        keeps verified uploads, read the copy back, delete both, and check that a missing
        key answers 404.
        """
        key = probe_key()
        staged = policy.staging_key(key)
        body = b"presigned_transfers bucket doctor probe\n"
        extra = {param: value for _, param, value in app_settings.write_options()}
        etag: list[str] = []

        def put() -> None:
            response = self.client.put_object(
                Bucket=self.bucket, Key=staged, Body=body, ContentType="text/plain", **extra
            )
            etag.append(response.get("ETag", ""))

        put_finding = self._object_step(
            "put-object",
            "PutObject",
            f"Wrote a probe object at {staged}",
            put,
            denied_hint=f"Allow s3:PutObject on {self._arn(app_settings.staging_prefix)} and "
            f"{self._arn(self._prefix())}.",
        )
        if put_finding.status is not Status.OK:
            return [put_finding] + [
                Finding(name, Status.SKIPPED, "Skipped: the probe object could not be written.")
                for name in self._object_checks()[1:]
            ]
        copy = self._object_step(
            "copy-object",
            "CopyObject",
            f"Copied it, conditioned on its ETag, to {key}",
            lambda: self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": staged},
                CopySourceIfMatch=etag[0],
                MetadataDirective="COPY",
                **extra,
            ),
            denied_hint=f"Allow s3:GetObject on {self._arn(app_settings.staging_prefix)} and "
            f"s3:PutObject on {self._arn(self._prefix())}: confirm keeps every verified upload "
            "with a server-side copy.",
        )

        def read() -> None:
            got = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            if got != body:
                raise ValueError("the object read back differs from the one written")

        get = (
            self._object_step(
                "get-object",
                "GetObject",
                "Read the copy back",
                read,
                denied_hint=f"Allow s3:GetObject on {self._arn(self._prefix())}.",
            )
            if copy.status is Status.OK
            else Finding("get-object", Status.SKIPPED, "Skipped: the probe was not copied.")
        )
        delete = self._object_step(
            "delete-object",
            "DeleteObject",
            "Deleted the probe objects",
            lambda: [self.client.delete_object(Bucket=self.bucket, Key=k) for k in (staged, key)],
            denied_hint=f"Allow s3:DeleteObject on {self._arn(app_settings.staging_prefix)} and "
            f"{self._arn(self._prefix())} (and remove the probe objects {staged} and {key} by "
            "hand).",
        )
        missing = self._check_missing(staged if delete.status is Status.OK else None)
        return [put_finding, copy, get, delete, missing]

    def _arn(self, prefix: str) -> str:
        return f"arn:aws:s3:::{self.bucket}/{prefix}*"

    def _prefix(self) -> str:
        return app_settings.key_template.split("{", 1)[0]

    def _object_step(
        self, name: str, operation: str, done: str, action: Callable[[], Any], *, denied_hint: str
    ) -> Finding:
        try:
            action()
        except ClientError as error:
            code = _code(error)
            if code == "AccessControlListNotSupported":
                return Finding(
                    name,
                    Status.ERROR,
                    f"The bucket refuses acl={app_settings.acl}, which every upload's POST "
                    "policy pins (AccessControlListNotSupported: ACLs are disabled on this "
                    "bucket).",
                    f"Set {SETTING_NAME}['ACL'] to None or 'bucket-owner-full-control' "
                    "(objects stay private: the bucket policy decides), or set the bucket's "
                    "Object Ownership to 'Bucket owner preferred'.",
                )
            hint = denied_hint if code in _DENIED else _LOOK_UP
            return Finding(name, Status.ERROR, f"{operation} failed: {code}.", hint)
        except (BotoCoreError, ValueError) as error:
            return Finding(name, Status.ERROR, f"{operation} failed: {error}.", _LOOK_UP)
        return Finding(name, Status.OK, f"{done} with the app's credentials.")

    def _check_missing(self, deleted_key: str | None) -> Finding:
        key = deleted_key or policy.staging_key(probe_key())
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            code = _code(error)
            if code in storage.NOT_FOUND_CODES:
                return Finding(
                    "missing-object", Status.OK, "A missing object answers 404 Not Found."
                )
            if code in _DENIED:
                return Finding(
                    "missing-object",
                    Status.ERROR,
                    "A missing object answers 403, not 404: confirming an upload that has "
                    "not arrived yet would look like a storage failure (503) instead of a "
                    "clear 409.",
                    f"Allow s3:ListBucket on arn:aws:s3:::{self.bucket} (restrict it with a "
                    f"s3:prefix condition on {app_settings.staging_prefix!r} and "
                    f"{self._prefix()!r} if you like).",
                )
            return Finding(
                "missing-object", Status.ERROR, f"HEAD of a missing key: {code}.", _LOOK_UP
            )
        except BotoCoreError as error:
            return Finding("missing-object", Status.ERROR, f"HEAD failed: {error}.", _LOOK_UP)
        return Finding(
            "missing-object",
            Status.ERROR,
            f"The probe object {key} is still there after it was deleted.",
            "If the bucket has versioning or object lock, DeleteObject only adds a marker; "
            "check the bucket's lifecycle rules.",
        )

    # -- fixing CORS ----------------------------------------------------------------------

    def apply_cors(self, origins: Sequence[str]) -> dict[str, Any]:
        """Put the app's CORS rule first (replacing an earlier one), keep other rules.

        Returns the configuration written.
        """
        try:
            rules = self.client.get_bucket_cors(Bucket=self.bucket).get("CORSRules", [])
        except ClientError as error:
            if _code(error) != "NoSuchCORSConfiguration":
                raise
            rules = []
        others = [rule for rule in rules if rule.get("ID") != CORS_RULE_ID]
        configuration = {"CORSRules": [cors_rule(origins), *others]}
        self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration=configuration)
        return configuration


def format_findings(findings: Sequence[Finding]) -> str:
    """The findings as text, one per line, each not-OK one followed by its fix."""
    labels = {
        Status.OK: "ok",
        Status.WARNING: "WARNING",
        Status.ERROR: "ERROR",
        Status.UNSUPPORTED: "unsupported",
        Status.SKIPPED: "skipped",
    }
    lines = []
    for finding in findings:
        lines.append(f"[{labels[finding.status]:^11}] {finding.check}: {finding.message}")
        if finding.hint and finding.status is not Status.OK:
            lines.append(f"{'':14}fix: {finding.hint}")
    return "\n".join(lines)


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    return {status.value: sum(f.status is status for f in findings) for status in Status}


def as_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        {"findings": [f.as_dict() for f in findings], "summary": summary(findings)}, indent=2
    )
