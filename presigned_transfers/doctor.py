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
cors                   a CORS rule lets each of ``CORS_ORIGINS`` send what browsers
                       send under ``TRANSPORT`` (POST forms, PUTs with their signed
                       headers), no wildcard origin anywhere, ``ETag`` exposed
                       (warning), no localhost origin outside DEBUG (warning)
lifecycle              an enabled rule aborts incomplete multipart uploads under the
                       ``KEY_TEMPLATE`` prefix and one expires ``STAGING_PREFIX``, each
                       late enough for the cleanup; none expires kept uploads (warnings)
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
post-object            a presigned POST form, exactly as a browser gets it, stores a
                       probe (providers without POST Object, such as Cloudflare R2 and
                       Backblaze B2, need ``TRANSPORT = "put"``)
put-url                a presigned PUT with the signed headers a browser sends
                       (``x-amz-checksum-sha256``, ``If-None-Match: *``) stores a probe;
                       S3 refuses a second PUT (412) and bytes of another SHA-256
multipart              a multipart upload as the app runs one: created, a part sent by
                       its presigned URL, parts and open uploads listed, completed;
                       another aborted
=====================  ============================================================

Each finding says how to fix what it found. An endpoint that does not implement an API
(SeaweedFS, MinIO and others lack some bucket settings) gives ``unsupported`` for that
check, not a failure; credentials without permission to *read* a setting give a warning.
The probes send their requests as a browser would, with urllib3 from this machine.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import urllib3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings
from urllib3.exceptions import HTTPError

from presigned_transfers import exceptions, policy, s3http, signing, storage
from presigned_transfers.conf import SETTING_NAME, app_settings

T = TypeVar("T")

#: The ``ID`` of the CORS rule ``--apply-cors`` writes (and replaces on the next run).
CORS_RULE_ID = "presigned-transfers"
CORS_MAX_AGE = 3000
#: The ``ID`` of every lifecycle rule ``--apply-lifecycle`` writes starts with this; those
#: rules are replaced on the next run, other rules are kept.
LIFECYCLE_RULE_PREFIX = "presigned-transfers-"
ABORT_RULE_ID = LIFECYCLE_RULE_PREFIX + "abort-multipart"
STAGING_RULE_ID = LIFECYCLE_RULE_PREFIX + "expire-staging"
#: The days ``--apply-lifecycle`` waits at least: a week's safety net when the cleanup stops.
LIFECYCLE_DAYS = 7
DAY = 24 * 60 * 60
#: How long the probes' presigned forms and URLs live: they are sent right away.
PROBE_EXPIRY = 60
PROBE_BODY = b"presigned_transfers bucket doctor probe\n"

_UNSUPPORTED = frozenset({"NotImplemented", "501", "XNotImplemented", "MethodNotAllowed"})
_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "Forbidden"})
#: The error codes that mean "these credentials may not do that".
DENIED_CODES = _DENIED
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
#: The read-only action each bucket-settings check needs.
_READ_ACTIONS = {
    "region": "s3:GetBucketLocation",
    "public-access-block": "s3:GetBucketPublicAccessBlock",
    "policy-status": "s3:GetBucketPolicyStatus",
    "cors": "s3:GetBucketCORS",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "encryption": "s3:GetEncryptionConfiguration",
    "logging": "s3:GetBucketLogging",
    "versioning": "s3:GetBucketVersioning",
}
#: The optional headers signed into a browser's PUT, and the setting (and value) that drops each.
_OPTIONAL_PUT_HEADERS = {
    "x-amz-checksum-sha256": ("CHECKSUM", None),
    "If-None-Match": ("CONDITIONAL_WRITES", False),
}
_SIGNED_AS = {"x-amz-checksum-sha256": "x-amz-checksum-sha256", "If-None-Match": "If-None-Match: *"}
#: Refusals that no optional signed header causes: the PUT is not tried again without them.
_NOT_A_HEADER = _DENIED | {
    "AccessControlListNotSupported",
    "InvalidAccessKeyId",
    "RequestExpired",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
}
_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{1,512})</Message>")


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
    """The CORS rule browsers need to upload from *origins*, whatever the transport.

    POST for the signed forms, PUT for the put transport and multipart's parts. Any request
    header: a PUT carries the headers its URL was signed with (Content-Type, the checksum,
    ``If-None-Match``, the ACL and encryption), and S3 refuses a preflight that asks for one
    not listed here. Also the one rule ``presigned_transfers.testing.SeaweedFS`` gives its buckets.
    """
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["POST", "PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": CORS_MAX_AGE,
    }


def _days_beyond(seconds: int) -> int:
    """The fewest whole days a lifecycle rule may wait for something still needed *seconds*
    after it was made: S3 acts no earlier than that many days, and a day is left for the
    cleanup's cron interval."""
    return -(-seconds // DAY) + 1


def staging_min_days() -> int:
    """The fewest days a staging object must live: the cleanup reconciles a pending upload
    (reads its staging object) up to ``UPLOAD_EXPIRY`` + ``CLEANUP_GRACE`` after signing."""
    return _days_beyond(app_settings.upload_expiry + app_settings.cleanup_grace)


def multipart_min_days() -> int:
    """The fewest days a multipart upload must stay open: parts may arrive for
    ``MULTIPART_EXPIRY``, and the cleanup completes one ``CLEANUP_GRACE`` after that."""
    return _days_beyond(app_settings.multipart_expiry + app_settings.cleanup_grace)


def key_prefix() -> str:
    """The fixed start of every kept key (``KEY_TEMPLATE`` up to its first placeholder)."""
    return app_settings.key_template.split("{", 1)[0]


def lifecycle_rules() -> list[dict[str, Any]]:
    """The lifecycle rules ``--apply-lifecycle`` writes."""
    return [
        {
            "ID": ABORT_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": key_prefix()},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": max(LIFECYCLE_DAYS, multipart_min_days())
            },
        },
        {
            "ID": STAGING_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": app_settings.staging_prefix},
            "Expiration": {"Days": max(LIFECYCLE_DAYS, staging_min_days())},
        },
    ]


def _rule_scope(rule: Mapping[str, Any]) -> tuple[str, bool]:
    """The key prefix a lifecycle rule applies to, and whether it applies to every object
    under it (not when a tag or an object size narrows it)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix") or ""), True  # the legacy form
    condition = rule.get("Filter") or {}
    if "And" in condition:
        return str(condition["And"].get("Prefix") or ""), False
    return str(condition.get("Prefix") or ""), set(condition) <= {"Prefix"}


def _overlaps(rule_prefix: str, prefix: str) -> bool:
    return prefix.startswith(rule_prefix) or rule_prefix.startswith(prefix)


def _judge_days(
    rules: list[tuple[dict[str, Any], int]],
    prefix: str,
    *,
    need: int,
    field: str,
    early: str,
    covered: str,
    uncovered: str,
    fine: list[str],
    problems: list[tuple[str, str | None]],
) -> None:
    """Judge the lifecycle *rules* (each with its days) acting on the objects under *prefix*.

    A rule acting sooner than *need* days is a problem (the app's own rules are rewritten by
    --apply-lifecycle, another rule gets a hint naming *field*); the soonest rule that covers
    every object under *prefix* is fine, and none is a problem. *early*, *covered* and
    *uncovered* word each finding (``{days}`` stands for the days).
    """
    for rule, days in rules:
        if days < need:
            problems.append(
                (
                    f"rule {_rule_name(rule)} " + early.replace("{days}", str(days)),
                    None
                    if str(rule.get("ID", "")).startswith(LIFECYCLE_RULE_PREFIX)
                    else f"Give rule {_rule_name(rule)} {field} {need} or more.",
                )
            )
    covering = [
        (rule, days)
        for rule, days in rules
        if _rule_scope(rule)[1] and prefix.startswith(_rule_scope(rule)[0])
    ]
    if covering:
        rule, days = min(covering, key=lambda item: item[1])
        fine.append(f"rule {_rule_name(rule)} " + covered.replace("{days}", str(days)))
    else:
        problems.append((uncovered, None))


def _rule_name(rule: Mapping[str, Any]) -> str:
    return repr(rule["ID"]) if rule.get("ID") else "(no ID)"


def _legacy_to_filter(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule in the form S3 accepts next to rules with a ``Filter``."""
    if "Filter" in rule or "Prefix" not in rule:
        return rule
    rule = dict(rule)
    rule["Filter"] = {"Prefix": rule.pop("Prefix")}
    return rule


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _send(method: str, url: str, *, headers: Mapping[str, str], body: bytes) -> s3http.Answer:
    """Send one request to S3 as a browser sends it (no botocore, no retries)."""
    response = s3http.get_pool().request(
        method, url, headers=dict(headers), body=body, redirect=False, retries=False
    )
    return s3http.Answer(status=response.status, headers=response.headers, body=response.data)


def _error_of(answer: s3http.Answer) -> str:
    """S3's error in *answer*: ``"<status> <Code>: <Message>"``."""
    code = _CODE.search(answer.body)
    message = _MESSAGE.search(answer.body)
    text = f"{answer.status}"
    if code:
        text += " " + code.group(1).decode("utf-8", "replace")
    if message:
        text += ": " + message.group(1).decode("utf-8", "replace")
    return text


def _answer_code(answer: s3http.Answer) -> str:
    match = _CODE.search(answer.body)
    return match.group(1).decode("utf-8", "replace") if match else str(answer.status)


def _not_implemented(answer: s3http.Answer) -> bool:
    return answer.status == 501 or _answer_code(answer) in _UNSUPPORTED


def probe_key() -> str:
    """A key under the kept-objects prefix, built by ``KEY_TEMPLATE`` as an upload's is."""
    return policy.build_key(
        owner_id="presigned-doctor",
        filename="probe.txt",
        policy="doctor",
        now=datetime.now(timezone.utc),
    )


class _Stop(Exception):
    """A probe's step failed: its finding says how."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


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
            ("lifecycle", self.check_lifecycle),
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
        if not self.write_test:
            return findings + [
                Finding(name, Status.SKIPPED, "Skipped (--no-write-test).")
                for name in self._object_checks()
            ]
        objects = self.check_objects()
        if objects[0].status is not Status.OK:
            return (
                findings
                + objects
                + [
                    Finding(name, Status.SKIPPED, "Skipped: the probe object could not be written.")
                    for name in self._transfer_checks()
                ]
            )
        return findings + objects + self.check_transfers()

    @staticmethod
    def _object_checks() -> list[str]:
        return [
            "put-object",
            "copy-object",
            "get-object",
            "delete-object",
            "missing-object",
            *BucketDoctor._transfer_checks(),
        ]

    @staticmethod
    def _transfer_checks() -> list[str]:
        return ["post-object", "put-url", "multipart"]

    def check_transfers(self) -> list[Finding]:
        """The transfers browsers make, each with a probe: POST form, PUT URL, multipart."""
        return [
            self._guarded("post-object", self.check_post),
            self._guarded("put-url", self.check_put),
            self._guarded("multipart", self.check_multipart),
        ]

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
                action = _READ_ACTIONS.get(name)
                return Finding(
                    name,
                    Status.WARNING,
                    f"The credentials may not read this setting ({code}), so it was not checked.",
                    "Check it in the S3 console, or run the doctor once with credentials "
                    "that may read bucket settings (the app's own need not"
                    + (f"; this one needs {action}, read-only" if action else "")
                    + ").",
                )
            return Finding(
                name, Status.ERROR, f"S3 answered {code or 'an error'}: {error}", _LOOK_UP
            )
        except NoCredentialsError:
            return Finding(name, Status.ERROR, "No AWS credentials were found.", CREDENTIALS_HINT)
        except exceptions.StorageUnavailable:
            # Signing a probe found no usable credentials (signing logged why).
            return Finding(
                name, Status.ERROR, "No usable AWS credentials to sign with.", CREDENTIALS_HINT
            )
        except (BotoCoreError, HTTPError) as error:
            return Finding(
                name,
                Status.ERROR,
                f"Could not talk to S3: {error}",
                "Check ENDPOINT_URL, REGION and the network path to S3.",
            )

    # -- permissions ----------------------------------------------------------------------

    def _arn(self, prefix: str) -> str:
        return f"arn:aws:s3:::{self.bucket}/{prefix}*"

    def _prefix(self) -> str:
        return key_prefix()

    def iam_hint(self) -> str:
        """Every action the app's credentials need, on which resource."""
        staging, kept = self._arn(app_settings.staging_prefix), self._arn(self._prefix())
        return (
            "Give the app's IAM user or role s3:ListBucket and s3:ListBucketMultipartUploads on "
            f"arn:aws:s3:::{self.bucket}; s3:PutObject, s3:GetObject and s3:DeleteObject on "
            f"{staging} and {kept}; s3:AbortMultipartUpload and s3:ListMultipartUploadParts "
            f"on {kept}"
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
                    self.iam_hint() + "; check that the bucket is in the same account as the "
                    "credentials.",
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

    def browser_requests(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(method, request headers)`` of what browsers send the bucket under ``TRANSPORT``.

        A POST form sends no header of its own; a PUT (the put transport, and multipart's
        parts) sends the headers its URL was signed with.
        """
        transport = app_settings.transport
        wanted: list[tuple[str, tuple[str, ...]]] = []
        if transport != "put":
            wanted.append(("POST", ()))
        if transport != "post":
            headers = ["Content-Type", *app_settings.write_headers()]
            if app_settings.checksum:
                headers.append("x-amz-checksum-sha256")
            if app_settings.conditional_writes:
                headers.append("If-None-Match")
            wanted.append(("PUT", tuple(headers)))
        return wanted

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
        wanted = self.browser_requests()
        methods = " and ".join(method for method, _ in wanted)
        problems = []
        no_etag = []
        for origin in self.origins:
            for method, headers in wanted:
                rule = self._first_rule(rules, origin, method, headers)
                if rule is None:
                    problems.append(self._cors_refusal(rules, origin, method, headers))
                elif origin not in no_etag and "etag" not in {
                    h.lower() for h in rule.get("ExposeHeaders", [])
                }:
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
                "CORS_ORIGINS is not set, so whether your site's origins may "
                f"{methods} was not checked"
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
            f"CORS lets {', '.join(self.origins)} {methods}, with the headers "
            f"TRANSPORT {app_settings.transport!r} sends, and exposes ETag; no wildcard origin.",
        )

    @staticmethod
    def _first_rule(
        rules: list[dict[str, Any]], origin: str, method: str, headers: Sequence[str] = ()
    ) -> Any:
        """The rule S3 applies to a *method* request from *origin* that asks for *headers*
        (its preflight's ``Access-Control-Request-Headers``): the first that allows all."""
        for rule in rules:
            if (
                origin in rule.get("AllowedOrigins", [])
                and method in rule.get("AllowedMethods", [])
                and all(_header_allowed(h, rule.get("AllowedHeaders", [])) for h in headers)
            ):
                return rule
        return None

    @staticmethod
    def _cors_refusal(
        rules: list[dict[str, Any]], origin: str, method: str, headers: Sequence[str]
    ) -> str:
        """Why no rule lets *origin* send *method* with *headers*."""
        for rule in rules:
            if origin in rule.get("AllowedOrigins", []) and method in rule.get(
                "AllowedMethods", []
            ):
                missing = [
                    h for h in headers if not _header_allowed(h, rule.get("AllowedHeaders", []))
                ]
                return f"{origin} may not {method} with the header(s) {', '.join(missing)}"
        return f"{origin} may not {method}"

    def check_lifecycle(self) -> Finding:
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get(
                "Rules", []
            )
        except ClientError as error:
            if _code(error) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        enabled = [rule for rule in rules if rule.get("Status") == "Enabled"]
        fine: list[str] = []
        #: (what was found, how to fix it); None: --apply-lifecycle fixes it.
        problems: list[tuple[str, str | None]] = []
        self._lifecycle_aborts(enabled, fine, problems)
        self._lifecycle_expiries(enabled, fine, problems)
        if not problems:
            return Finding("lifecycle", Status.OK, "Lifecycle: " + "; ".join(fine) + ".")
        fixes = [fix for _, fix in problems if fix]
        if any(fix is None for _, fix in problems):
            fixes.insert(
                0,
                "Run manage.py presigned_doctor --apply-lifecycle to write the app's rules "
                f"(other rules are kept): {json.dumps(lifecycle_rules())}.",
            )
        return Finding(
            "lifecycle",
            Status.WARNING,
            "Lifecycle: " + "; ".join(found for found, _ in problems) + ".",
            " ".join(fixes)
            + " The rules are a safety net for what presigned_cleanup leaves (it did not run, "
            "or failed), so they must wait longer than the cleanup may still need an object: "
            "a staging object until UPLOAD_EXPIRY + CLEANUP_GRACE after signing (an upload "
            "whose browser never confirmed is reconciled from it), a multipart upload until "
            "MULTIPART_EXPIRY + CLEANUP_GRACE (the cleanup completes it if every part is "
            "there), plus a day for the cron interval.",
        )

    def _lifecycle_aborts(
        self,
        enabled: list[dict[str, Any]],
        fine: list[str],
        problems: list[tuple[str, str | None]],
    ) -> None:
        """Multipart uploads under the kept prefix are aborted, and not too soon."""
        kept = self._prefix()
        if app_settings.transport == "post":
            fine.append("TRANSPORT 'post' opens no multipart upload to abort")
            return
        aborts = [
            (rule, int(rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation", 0)))
            for rule in enabled
            if "AbortIncompleteMultipartUpload" in rule and _overlaps(_rule_scope(rule)[0], kept)
        ]
        _judge_days(
            aborts,
            kept,
            need=multipart_min_days(),
            field="DaysAfterInitiation",
            early="aborts multipart uploads after {days} day(s), while the app may still be "
            "completing one",
            covered=f"aborts incomplete multipart uploads under {kept!r} after {{days}} day(s)",
            uncovered=f"no enabled rule aborts incomplete multipart uploads under {kept!r}: the "
            "parts of an abandoned one are billed until it is aborted, and presigned_cleanup "
            "aborts only those it knows of, when it runs",
            fine=fine,
            problems=problems,
        )

    def _lifecycle_expiries(
        self,
        enabled: list[dict[str, Any]],
        fine: list[str],
        problems: list[tuple[str, str | None]],
    ) -> None:
        """Staging objects expire, not too soon; kept uploads do not."""
        kept, staging = self._prefix(), app_settings.staging_prefix
        expiries = [
            (rule, rule["Expiration"])
            for rule in enabled
            if {"Days", "Date"} & set(rule.get("Expiration") or {})
        ]
        for rule, expiration in expiries:
            prefix = _rule_scope(rule)[0]
            if _overlaps(prefix, kept) and not prefix.startswith(staging):
                when = (
                    f"after {expiration['Days']} day(s)"
                    if "Days" in expiration
                    else f"on {expiration['Date']}"
                )
                where = repr(prefix) if prefix else "the whole bucket"
                problems.append(
                    (
                        f"rule {_rule_name(rule)} expires the objects under {where} {when}, "
                        f"kept uploads under {kept!r} among them: their rows stay, their "
                        "downloads fail",
                        f"Narrow rule {_rule_name(rule)} to a prefix no kept key starts with "
                        f"(such as {staging!r}); delete uploads through the app instead.",
                    )
                )
        staged = [
            (rule, int(expiration["Days"]))
            for rule, expiration in expiries
            if "Days" in expiration and _overlaps(_rule_scope(rule)[0], staging)
        ]
        _judge_days(
            staged,
            staging,
            need=staging_min_days(),
            field="Days",
            early="expires staging objects after {days} day(s), while the cleanup may still "
            "need them",
            covered=f"expires staging objects under {staging!r} after {{days}} day(s)",
            uncovered=f"no enabled rule expires the objects under {staging!r} (only ever "
            "staging copies): those presigned_cleanup did not delete stay, and are billed, "
            "forever",
            fine=fine,
            problems=problems,
        )

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
                    self._acl_hint(),
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

    # -- transfers, as browsers make them -------------------------------------------------

    def _send_probe(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> s3http.Answer:
        return _send(method, url, headers=headers, body=body)

    def _remove(self, keys: Iterable[str]) -> list[str]:
        """Delete the probe objects at *keys*; the keys that could not be deleted."""
        left = []
        for key in keys:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            except (ClientError, BotoCoreError):
                left.append(key)
        return left

    @staticmethod
    def _left_behind(finding: Finding, left: list[str]) -> Finding:
        if not left:
            return finding
        return Finding(
            finding.check,
            Status.ERROR if finding.status is Status.ERROR else Status.WARNING,
            finding.message + f" The probe object(s) {', '.join(left)} could not be deleted.",
            finding.hint or "Allow s3:DeleteObject on them, and delete them by hand.",
        )

    def _refusal_hint(self, answer: s3http.Answer, arn: str) -> str:
        """How to fix S3's refusal of a probe's signed request."""
        code = _answer_code(answer)
        if code in _DENIED:
            return f"Allow s3:PutObject on {arn}: a signed upload acts with it."
        if code == "AccessControlListNotSupported":
            return self._acl_hint()
        if code == "SignatureDoesNotMatch":
            return (
                "The signature covers the credentials, REGION, ENDPOINT_URL and "
                "ADDRESSING_STYLE: check that they are the bucket's."
            )
        if code in ("RequestTimeTooSkewed", "RequestExpired"):
            return "Set this machine's clock right (NTP): signatures carry the time."
        return _LOOK_UP

    @staticmethod
    def _acl_hint() -> str:
        return (
            f"Set {SETTING_NAME}['ACL'] to None or 'bucket-owner-full-control' (objects stay "
            "private: the bucket policy decides), or set the bucket's Object Ownership to "
            "'Bucket owner preferred'."
        )

    def check_post(self) -> Finding:
        """A presigned POST form, exactly as the post transport's browsers get it, stores a probe
        (then deleted)."""
        key = policy.staging_key(probe_key())
        transport = app_settings.transport
        checksum = _sha256(PROBE_BODY) if app_settings.checksum == "sha256" else None
        signed = signing.presign_post(
            key=key,
            content_type="text/plain",
            min_size=1,
            max_size=len(PROBE_BODY),
            checksum=checksum,
            expires_in=PROBE_EXPIRY,
        )
        form, content_type = urllib3.encode_multipart_formdata(
            [*signed.fields.items(), ("file", ("probe.txt", PROBE_BODY, "text/plain"))]
        )
        answer = self._send_probe("POST", signed.url, {"Content-Type": content_type}, form)
        if answer.status < 300:
            finding = Finding(
                "post-object",
                Status.OK,
                f"A presigned POST form, as browsers get it, stored a probe at {key} "
                f"({answer.status})"
                + (" (TRANSPORT 'put' does not use it)." if transport == "put" else "."),
            )
            return self._left_behind(finding, self._remove([key]))
        if transport == "put":
            return Finding(
                "post-object",
                Status.OK,
                f"S3 refused the presigned POST form ({_error_of(answer)}); not needed: "
                "TRANSPORT 'put' never signs one.",
            )
        if _not_implemented(answer):
            return Finding(
                "post-object",
                Status.ERROR,
                f"This provider does not implement POST Object ({_error_of(answer)}), the "
                f"browser form TRANSPORT {transport!r} signs uploads with (Cloudflare R2 and "
                "Backblaze B2 have none).",
                f"Set {SETTING_NAME}['TRANSPORT'] = 'put': browsers then PUT each file to a "
                "presigned URL (and large ones in parts), which every S3 provider takes.",
            )
        return Finding(
            "post-object",
            Status.ERROR,
            f"S3 refused the presigned POST form: {_error_of(answer)}.",
            self._refusal_hint(answer, self._arn(app_settings.staging_prefix)),
        )

    def check_put(self) -> Finding:
        """A presigned PUT with the headers browsers send stores a probe; with
        ``CONDITIONAL_WRITES`` a second PUT of its URL is refused, with ``CHECKSUM`` bytes of
        another SHA-256 are."""
        failed = Status.WARNING if app_settings.transport == "post" else Status.ERROR
        checksum = _sha256(PROBE_BODY) if app_settings.checksum == "sha256" else None
        written: list[str] = []
        try:
            finding = self._put_probe(checksum, failed, written)
        finally:
            left = self._remove(written)
        return self._left_behind(finding, left)

    def _presigned_put(
        self,
        written: list[str],
        *,
        checksum: str | None,
        body: bytes = PROBE_BODY,
        drop: Sequence[str] = (),
    ) -> tuple[str, dict[str, str], s3http.Answer]:
        """PUT *body* to a new staging probe key, signed as browsers' PUTs are (less the
        headers in *drop*): the URL, the headers sent and S3's answer."""
        key = policy.staging_key(probe_key())
        written.append(key)
        signed = signing.presign_put(
            key=key,
            content_type="text/plain",
            size=len(body),
            checksum=checksum,
            expires_in=PROBE_EXPIRY,
        )
        url, headers = signed.url, dict(signed.headers)
        if drop:
            headers = {name: value for name, value in headers.items() if name not in drop}
            url = signing.presign_request(
                method="PUT",
                key=key,
                headers={**headers, "Content-Length": str(len(body))},
                expires_in=PROBE_EXPIRY,
            )
        return url, headers, self._send_probe("PUT", url, headers, body)

    def _put_probe(self, checksum: str | None, failed: Status, written: list[str]) -> Finding:
        url, headers, answer = self._presigned_put(written, checksum=checksum)
        optional = [name for name in _OPTIONAL_PUT_HEADERS if name in headers]
        if answer.status >= 300:
            return self._put_refused(answer, optional, checksum, failed, written)
        flaws: list[tuple[str, str]] = []
        proven: list[str] = []
        if "If-None-Match" in headers:
            again = self._send_probe("PUT", url, headers, PROBE_BODY)
            if again.status < 300:
                flaws.append(
                    (
                        "the provider ignores If-None-Match: * (a second PUT of the URL "
                        "replaced the object instead of being refused with 412), so a PUT URL "
                        "can rewrite its staging object while it is valid; confirm still keeps "
                        "only the bytes it verified (its copy is conditioned on their ETag)",
                        f"Set {SETTING_NAME}['CONDITIONAL_WRITES'] = False: this provider does "
                        "not honour it.",
                    )
                )
            else:
                proven.append(f"a second PUT of its URL was refused ({again.status})")
        if checksum:
            tampered = bytes(reversed(PROBE_BODY))  # the same length, another SHA-256
            _, _, wrong = self._presigned_put(written, checksum=checksum, body=tampered)
            if wrong.status < 300:
                flaws.append(
                    (
                        "the provider stored bytes whose SHA-256 is not the signed "
                        "x-amz-checksum-sha256: it does not verify checksums",
                        f"Set {SETTING_NAME}['CHECKSUM'] = None: this provider does not check it.",
                    )
                )
            else:
                proven.append(f"bytes of another SHA-256 were refused ({_answer_code(wrong)})")
        if flaws:
            return Finding(
                "put-url",
                Status.WARNING,
                "A presigned PUT stored a probe, but " + "; and ".join(m for m, _ in flaws) + ".",
                " ".join(hint for _, hint in flaws),
            )
        signed = " with " + " and ".join(_SIGNED_AS[name] for name in optional) if optional else ""
        return Finding(
            "put-url",
            Status.OK,
            f"A presigned PUT{signed}, as browsers send it, stored a probe"
            + (f"; {' and '.join(proven)}" if proven else "")
            + (
                " (TRANSPORT 'post' uses PUT only for clients that cannot POST)."
                if app_settings.transport == "post"
                else "."
            ),
        )

    def _put_refused(
        self,
        answer: s3http.Answer,
        optional: list[str],
        checksum: str | None,
        failed: Status,
        written: list[str],
    ) -> Finding:
        """The finding for a refused PUT: which signed header the provider refuses, if the
        same PUT without it works."""
        if _answer_code(answer) not in _NOT_A_HEADER:
            trials = [[name] for name in optional] + ([optional] if len(optional) > 1 else [])
            for drop in trials:
                _, _, retry = self._presigned_put(written, checksum=checksum, drop=drop)
                if retry.status < 300:
                    return Finding(
                        "put-url",
                        failed,
                        f"This provider refuses the signed {' and '.join(drop)} "
                        f"({_error_of(answer)}); the same PUT without "
                        f"{'it' if len(drop) == 1 else 'them'} works.",
                        " ".join(
                            f"Set {SETTING_NAME}[{_OPTIONAL_PUT_HEADERS[name][0]!r}] = "
                            f"{_OPTIONAL_PUT_HEADERS[name][1]!r}."
                            for name in drop
                        )
                        + " The app then signs no such header.",
                    )
        return Finding(
            "put-url",
            failed,
            f"S3 refused the presigned PUT: {_error_of(answer)}.",
            self._refusal_hint(answer, self._arn(app_settings.staging_prefix)),
        )

    def check_multipart(self) -> Finding:
        """A multipart upload as the app runs one, at a key under the ``KEY_TEMPLATE`` prefix
        (multipart uploads are written in place): created, a part sent by its presigned URL,
        its parts and the open uploads listed, completed; then another one aborted."""
        failed = Status.WARNING if app_settings.transport == "post" else Status.ERROR
        key = probe_key()
        opened: list[str] = []
        try:
            finding = self._multipart_probe(key, opened, failed)
        except _Stop as stop:
            finding = stop.finding
        finally:
            for multipart_id in opened:
                with contextlib.suppress(ClientError, BotoCoreError):  # its step failed: said
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=multipart_id
                    )
            left = self._remove([key])
        return self._left_behind(finding, left)

    def _step_failed(
        self, failed: Status, operation: str, error: ClientError, denied_hint: str
    ) -> _Stop:
        code = _code(error)
        hint = denied_hint if code in _DENIED else _LOOK_UP
        if code == "AccessControlListNotSupported":
            hint = self._acl_hint()
        return _Stop(Finding("multipart", failed, f"{operation} failed: {code}.", hint))

    def _multipart_step(
        self, failed: Status, operation: str, action: Callable[[], Any], denied_hint: str
    ) -> Any:
        try:
            return action()
        except ClientError as error:
            raise self._step_failed(failed, operation, error, denied_hint) from error

    def _with_option(
        self,
        failed: Status,
        operation: str,
        action: Callable[..., T],
        option: dict[str, Any] | None,
        denied_hint: str,
        *,
        refused: str,
        fix: str,
    ) -> T:
        """``action(**option)``; if S3 refuses it (not for want of a permission) but takes it
        without *option*, stop with a finding that the setting asking for it must go:
        *refused* (``{code}`` is S3's error code) and *fix* word it."""
        try:
            return action(**(option or {}))
        except ClientError as error:
            stop = self._step_failed(failed, operation, error, denied_hint)
            if not option or _code(error) in _DENIED:
                raise stop from error
            try:
                action()
            except ClientError:
                raise stop from error
            message = refused.replace("{code}", _code(error))
            raise _Stop(Finding("multipart", failed, message, fix)) from error

    def _multipart_probe(self, key: str, opened: list[str], failed: Status) -> Finding:
        kept = self._arn(self._prefix())
        checksum = _sha256(PROBE_BODY) if app_settings.checksum == "sha256" else None
        conditional = app_settings.conditional_writes
        extra = {param: value for _, param, value in app_settings.write_options()}

        def create(**more: Any) -> str:
            response = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType="text/plain", **extra, **more
            )
            opened.append(response["UploadId"])
            return str(response["UploadId"])

        write_hint = f"Allow s3:PutObject on {kept}: multipart uploads are written with it."
        multipart_id = self._with_option(
            failed,
            "CreateMultipartUpload",
            create,
            {"ChecksumAlgorithm": "SHA256"} if checksum else None,
            write_hint,
            refused="This provider refuses multipart uploads with SHA-256 checksums "
            "(ChecksumAlgorithm SHA256: {code}); without them it opens one.",
            fix=f"Set {SETTING_NAME}['CHECKSUM'] = None. The app then asks for no checksum.",
        )

        part = signing.presign_part(
            key=key,
            multipart_id=multipart_id,
            number=1,
            size=len(PROBE_BODY),
            checksum=checksum,
            expires_in=PROBE_EXPIRY,
        )
        answer = self._send_probe("PUT", part.url, part.headers, PROBE_BODY)
        if answer.status >= 300:
            raise _Stop(
                Finding(
                    "multipart",
                    failed,
                    f"S3 refused a part sent by its presigned URL: {_error_of(answer)}.",
                    self._refusal_hint(answer, kept),
                )
            )
        etag = str(answer.headers.get("ETag", ""))

        listed = self._multipart_step(
            failed,
            "ListParts",
            lambda: self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=multipart_id),
            f"Allow s3:ListMultipartUploadParts on {kept}: confirm and the upload-parts "
            "endpoint ask S3 which parts arrived.",
        )
        sizes = {int(p["PartNumber"]): int(p["Size"]) for p in listed.get("Parts", [])}
        if sizes.get(1) != len(PROBE_BODY):
            raise _Stop(
                Finding(
                    "multipart",
                    failed,
                    f"S3 accepted a part but lists {sizes or 'none'} for the upload.",
                    _LOOK_UP,
                )
            )
        uploads = self._multipart_step(
            failed,
            "ListMultipartUploads",
            lambda: self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key),
            f"Allow s3:ListBucketMultipartUploads on arn:aws:s3:::{self.bucket}: "
            "presigned_cleanup lists the open uploads under the prefix to abort those no "
            "upload is sending.",
        )
        if multipart_id not in {u.get("UploadId") for u in uploads.get("Uploads", [])}:
            raise _Stop(
                Finding(
                    "multipart",
                    failed,
                    "S3 does not list the multipart upload it just opened, so presigned_cleanup "
                    "could not find and abort abandoned ones.",
                    "Add the lifecycle rule the lifecycle check names: it aborts them anyway.",
                )
            )

        parts = [
            {"PartNumber": 1, "ETag": etag, **({"ChecksumSHA256": checksum} if checksum else {})}
        ]

        def complete(**more: Any) -> None:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=multipart_id,
                MultipartUpload={"Parts": parts},
                **more,
            )
            opened.remove(multipart_id)

        self._with_option(
            failed,
            "CompleteMultipartUpload",
            complete,
            {"IfNoneMatch": "*"} if conditional else None,
            write_hint,
            refused="This provider refuses to complete a multipart upload with "
            "If-None-Match: * ({code}); without it, it completes.",
            fix=f"Set {SETTING_NAME}['CONDITIONAL_WRITES'] = False. The app then sends no "
            "such condition.",
        )

        other = self._multipart_step(failed, "CreateMultipartUpload", create, write_hint)
        self._multipart_step(
            failed,
            "AbortMultipartUpload",
            lambda: self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=other),
            f"Allow s3:AbortMultipartUpload on {kept}: deleting an upload and "
            "presigned_cleanup abort the multipart uploads nobody will finish (abort "
            f"{other} at {key} by hand, or let the lifecycle rule do it).",
        )
        opened.remove(other)
        return Finding(
            "multipart",
            Status.OK,
            f"Opened a multipart upload at {key}"
            + (" with SHA-256 checksums" if checksum else "")
            + ", sent a part by its presigned URL, listed its parts and the open uploads, "
            "completed it"
            + (" (If-None-Match: *)" if conditional else "")
            + " and aborted another, with the app's credentials.",
        )

    # -- fixing CORS and lifecycle --------------------------------------------------------

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

    def apply_lifecycle(self) -> dict[str, Any]:
        """Put the app's lifecycle rules first (replacing earlier ones), keep other rules.

        Returns the configuration written.
        """
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get(
                "Rules", []
            )
        except ClientError as error:
            if _code(error) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        others = [
            _legacy_to_filter(rule)
            for rule in rules
            if not str(rule.get("ID") or "").startswith(LIFECYCLE_RULE_PREFIX)
        ]
        configuration = {"Rules": [*lifecycle_rules(), *others]}
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration=configuration
        )
        return configuration


def _header_allowed(header: str, allowed: Iterable[str]) -> bool:
    """Whether a CORS rule's ``AllowedHeaders`` (each may hold one ``*``) allow *header*."""
    name = header.lower()
    for pattern in allowed:
        pattern = pattern.lower()
        head, star, tail = pattern.partition("*")
        if not star:
            if name == pattern:
                return True
        elif len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail):
            return True
    return False


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
