"""All of the app's settings, read lazily from ``settings.PRESIGNED_TRANSFERS``.

Nothing here reads settings at import time: every attribute of :data:`app_settings`
looks at Django's settings when it is first used, and the parsed result is cached
until a ``setting_changed`` signal (``override_settings`` in tests) clears it.

Settings are validated by the system checks in :mod:`presigned_transfers.checks`;
code that runs with bad settings anyway gets :class:`ImproperlyConfigured`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "PRESIGNED_TRANSFERS"

MB = 1024 * 1024
GB = 1024 * MB

TB = 1024 * GB

#: S3's limit for a single POST or PUT upload.
S3_MAX_POST_SIZE = 5 * GB
#: S3's limits for a multipart upload: the object, the parts, their number.
S3_MAX_OBJECT_SIZE = 5 * TB
S3_MIN_PART_SIZE = 5 * MB
S3_MAX_PART_SIZE = 5 * GB
S3_MAX_PARTS = 10_000
#: The longest a multipart upload may stay open for its parts (S3 keeps them until aborted),
#: which is also the longest S3 lets a presigned URL live.
MAX_MULTIPART_EXPIRY = 7 * 24 * 60 * 60
#: Hard ceilings on presigned URL lifetimes. The defaults are well below them.
MAX_UPLOAD_EXPIRY = 60 * 60
MAX_DOWNLOAD_EXPIRY = 60 * 60

DEFAULT_CONTENT_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
)

DEFAULTS: dict[str, Any] = {
    "BUCKET": None,
    "REGION": "us-east-1",
    "ENDPOINT_URL": None,
    "ADDRESSING_STYLE": "auto",
    "UPLOAD_EXPIRY": 20 * 60,
    "DOWNLOAD_EXPIRY": 15 * 60,
    "KEY_TEMPLATE": "uploads/{owner_id}/{random}_{filename}",
    "DEFAULT_POLICY": "default",
    "POLICIES": {
        "default": {
            "CONTENT_TYPES": list(DEFAULT_CONTENT_TYPES),
            "MIN_SIZE": 1,
            "MAX_SIZE": 20 * MB,
        },
    },
    "RATE_LIMITS": {
        "upload-url": "30/m",
        "confirm-upload": "60/m",
        "download-url": "120/m",
        "upload-parts": "600/m",
    },
    "MAX_REQUEST_BODY": 16 * 1024,
    "QUOTA": {"MAX_BYTES": None, "MAX_FILES": None},
    "ACL": "private",
    "SERVER_SIDE_ENCRYPTION": None,
    "SSE_KMS_KEY_ID": None,
    "SNIFF_CONTENT": True,
    "CLEANUP_GRACE": 60 * 60,
    "CORS_ORIGINS": [],
    "STAGING_PREFIX": "incoming/",
    "S3_CONNECT_TIMEOUT": 5,
    "S3_READ_TIMEOUT": 30,
    "S3_MAX_ATTEMPTS": 3,
    "TRANSPORT": "auto",
    "MULTIPART_THRESHOLD": 64 * MB,
    "MULTIPART_PART_SIZE": 8 * MB,
    "MULTIPART_EXPIRY": 24 * 60 * 60,
    "CHECKSUM": "sha256",
    "CONDITIONAL_WRITES": True,
}

KEY_TEMPLATE_FIELDS = frozenset({"owner_id", "random", "filename", "policy", "date"})
ADDRESSING_STYLES = ("auto", "path", "virtual")
SSE_CHOICES = (None, "AES256", "aws:kms")
#: Canned ACLs an upload may pin. Buckets whose Object Ownership is "bucket owner enforced"
#: (ACLs disabled, the AWS default since 2023) accept only the last two.
ACL_CHOICES = ("private", "bucket-owner-full-control", None)
RATE_LIMITED_VIEWS = ("upload-url", "confirm-upload", "download-url", "upload-parts")
#: Which transports the server may choose: "auto" (POST, multipart above the threshold), "put"
#: (providers without POST Object: PUT, multipart above the threshold), "post" (POST only).
TRANSPORT_CHOICES = ("auto", "put", "post")
CHECKSUM_CHOICES = ("sha256", None)


@dataclass(frozen=True)
class Policy:
    """A named upload policy: which content types, and how many bytes."""

    name: str
    content_types: tuple[str, ...]
    min_size: int
    max_size: int
    #: ``True`` (the default sniffer), ``False``, or a sniffer callable or its dotted path;
    #: see :mod:`presigned_transfers.sniffing`.
    sniff: Any = True
    #: A permission (``"app_label.codename"``) a user needs to upload under this policy.
    permission: str | None = None
    #: A callable ``allow(user) -> bool`` (or its dotted path) a user must pass too.
    allow: Any = None

    @property
    def restricted(self) -> bool:
        """Whether some users may not use this policy."""
        return self.permission is not None or self.allow is not None


def _seconds(value: object, name: str) -> int:
    """Whole seconds from seconds or a :class:`datetime.timedelta` (what the checks accept)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise ImproperlyConfigured(
        f"{SETTING_NAME}['{name}'] should be a number of seconds or a timedelta, not {value!r}."
    )


def _optional_str(value: object) -> str | None:
    """A text setting that may be ``None``."""
    return None if value is None else str(value)


class AppSettings:
    """Typed, lazy access to ``settings.PRESIGNED_TRANSFERS``.

    Each property reads the raw dict (cached) and applies the default. The raw values are
    validated by the system checks; properties only normalize.
    """

    @property
    def raw(self) -> dict[str, Any]:
        return _raw()

    def value(self, name: str) -> Any:
        """The setting *name* as given, or its default: what every property starts from, and
        what the system checks validate (so a default lives here alone)."""
        return self.raw.get(name, DEFAULTS[name])

    @property
    def bucket(self) -> str:
        bucket = self.value("BUCKET")
        if not bucket:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['BUCKET'] is not set: name the private S3 bucket uploads go to."
            )
        return str(bucket)

    @property
    def region(self) -> str:
        return str(self.value("REGION") or "us-east-1")

    @property
    def endpoint_url(self) -> str | None:
        return _optional_str(self.value("ENDPOINT_URL") or None)

    @property
    def addressing_style(self) -> str:
        return str(self.value("ADDRESSING_STYLE"))

    @property
    def upload_expiry(self) -> int:
        return _seconds(self.value("UPLOAD_EXPIRY"), "UPLOAD_EXPIRY")

    @property
    def download_expiry(self) -> int:
        return _seconds(self.value("DOWNLOAD_EXPIRY"), "DOWNLOAD_EXPIRY")

    @property
    def key_template(self) -> str:
        return str(self.value("KEY_TEMPLATE"))

    @property
    def default_policy(self) -> str:
        return str(self.value("DEFAULT_POLICY"))

    @property
    def policies(self) -> Mapping[str, Policy]:
        return _policies()

    def get_policy(self, name: str | None) -> Policy | None:
        return self.policies.get(name or self.default_policy)

    @property
    def rate_limits(self) -> dict[str, str | None]:
        return {**DEFAULTS["RATE_LIMITS"], **(self.raw.get("RATE_LIMITS") or {})}

    @property
    def max_request_body(self) -> int:
        return int(self.value("MAX_REQUEST_BODY"))

    @property
    def quota(self) -> dict[str, int | None]:
        return {**DEFAULTS["QUOTA"], **(self.raw.get("QUOTA") or {})}

    @property
    def acl(self) -> str | None:
        return _optional_str(self.value("ACL"))

    @property
    def server_side_encryption(self) -> str | None:
        return _optional_str(self.value("SERVER_SIDE_ENCRYPTION"))

    @property
    def sse_kms_key_id(self) -> str | None:
        return _optional_str(self.value("SSE_KMS_KEY_ID"))

    @property
    def sniff_content(self) -> bool:
        return bool(self.value("SNIFF_CONTENT"))

    @property
    def cleanup_grace(self) -> int:
        return _seconds(self.value("CLEANUP_GRACE"), "CLEANUP_GRACE")

    @property
    def cors_origins(self) -> list[str]:
        """The site's origins that browsers upload from (what the bucket's CORS must allow)."""
        return [str(origin) for origin in self.value("CORS_ORIGINS") or ()]

    @property
    def staging_prefix(self) -> str:
        """Where browsers' signed uploads land before confirm verifies and keeps them."""
        return str(self.value("STAGING_PREFIX"))

    @property
    def s3_connect_timeout(self) -> float:
        return float(self.value("S3_CONNECT_TIMEOUT"))

    @property
    def s3_read_timeout(self) -> float:
        return float(self.value("S3_READ_TIMEOUT"))

    @property
    def s3_max_attempts(self) -> int:
        return int(self.value("S3_MAX_ATTEMPTS"))

    @property
    def transport(self) -> str:
        return str(self.value("TRANSPORT"))

    @property
    def multipart_threshold(self) -> int:
        return int(self.value("MULTIPART_THRESHOLD"))

    @property
    def multipart_part_size(self) -> int:
        return int(self.value("MULTIPART_PART_SIZE"))

    @property
    def multipart_expiry(self) -> int:
        return _seconds(self.value("MULTIPART_EXPIRY"), "MULTIPART_EXPIRY")

    @property
    def checksum(self) -> str | None:
        return _optional_str(self.value("CHECKSUM"))

    @property
    def conditional_writes(self) -> bool:
        return bool(self.value("CONDITIONAL_WRITES"))

    def write_options(self) -> list[tuple[str, str, str]]:
        """``(POST form field, boto3 parameter, value)`` for what every stored object is
        pinned to: the ACL (``ACL``) and server-side encryption (``SERVER_SIDE_ENCRYPTION``,
        ``SSE_KMS_KEY_ID``). The POST policy pins them for the browser, signed PUTs carry
        them, and the server passes the same to every object it writes itself (the copy at
        confirm, multipart uploads it creates, the doctor's probe)."""
        options = []
        if self.acl:
            options.append(("acl", "ACL", self.acl))
        sse = self.server_side_encryption
        if sse:
            options.append(("x-amz-server-side-encryption", "ServerSideEncryption", sse))
            if sse == "aws:kms" and self.sse_kms_key_id:
                options.append(
                    (
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        "SSEKMSKeyId",
                        self.sse_kms_key_id,
                    )
                )
        return options

    def write_headers(self) -> dict[str, str]:
        """:meth:`write_options` as request headers (``x-amz-acl``, ``x-amz-server-side-...``)."""
        return {
            "x-amz-acl" if field == "acl" else field: value
            for field, _, value in self.write_options()
        }

    @property
    def max_object_size(self) -> int:
        """The largest file the configured transports can take."""
        return S3_MAX_POST_SIZE if self.transport == "post" else S3_MAX_OBJECT_SIZE


@functools.cache
def _raw() -> dict[str, Any]:
    value = getattr(settings, SETTING_NAME, None) or {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"{SETTING_NAME} should be a dict.")
    return dict(value)


@functools.cache
def _policies() -> dict[str, Policy]:
    raw = _raw().get("POLICIES", DEFAULTS["POLICIES"])
    policies = {}
    for name, spec in raw.items():
        policies[name] = Policy(
            name=name,
            content_types=tuple(spec.get("CONTENT_TYPES", ())),
            min_size=int(spec.get("MIN_SIZE", 1)),
            max_size=int(spec["MAX_SIZE"]),
            sniff=spec.get("SNIFF", True),
            permission=spec.get("PERMISSION"),
            allow=spec.get("ALLOW"),
        )
    return policies


def clear_caches() -> None:
    """Forget every parsed setting (modules that build things from settings — the signer,
    the boto3 clients, the connection pool — forget theirs through their own receivers)."""
    _raw.cache_clear()
    _policies.cache_clear()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        clear_caches()


app_settings = AppSettings()
