"""System checks for ``settings.PRESIGNED_TRANSFERS``. They never touch the network.

Run ``python manage.py check``; each message names the setting and says how to fix it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning
from django.core.checks import register as register_check
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django_ratelimit.core import _split_rate

from presigned_transfers import conf, sniffing
from presigned_transfers.policy import normalize_content_type

S = conf.SETTING_NAME
_UNSHARED_CACHES = {
    "django.core.cache.backends.dummy.DummyCache": "never stores anything",
    "django.core.cache.backends.locmem.LocMemCache": "is private to each process",
    "django.core.cache.backends.filebased.FileBasedCache": "is not atomic",
    "django.core.cache.backends.db.DatabaseCache": "is not atomic",
}


def register() -> None:
    register_check(Tags.security, Tags.compatibility)(check_settings)
    register_check(Tags.security, Tags.caches, deploy=True)(check_deploy_rate_limit_cache)


def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, S, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return [Error(f"{S} should be a dict.", hint=_HINT_DOCS, id="presigned_transfers.E000")]
    messages: list[CheckMessage] = []
    messages.extend(_check_unknown(raw))
    for check in (
        _check_bucket,
        _check_endpoint,
        _check_expiries,
        _check_key_template,
        _check_policies,
        _check_rate_limits,
        _check_quota,
        _check_acl,
        _check_encryption,
        _check_request_body,
        _check_cors_origins,
        _check_cleanup,
        _check_staging,
        _check_s3_client,
        _check_transports,
    ):
        messages.extend(check())
    return messages


_HINT_DOCS = "See the settings reference in presigned_transfers' README."
#: What conf reads for a setting: the value given, or conf's default.
_value = conf.app_settings.value


def _setting(name: str) -> str:
    return f"{S}['{name}']"


def _check_unknown(raw: Mapping[str, Any]) -> list[CheckMessage]:
    unknown = sorted(set(raw) - set(conf.DEFAULTS))
    if not unknown:
        return []
    return [
        Warning(
            f"{S} has unknown keys: {', '.join(map(str, unknown))}.",
            hint=f"Known keys: {', '.join(sorted(conf.DEFAULTS))}. Check the spelling.",
            id="presigned_transfers.W001",
        )
    ]


def _check_bucket() -> list[CheckMessage]:
    bucket = _value("BUCKET")
    if not bucket or not isinstance(bucket, str):
        return [
            Error(
                f"{_setting('BUCKET')} should name the private S3 bucket uploads go to.",
                hint=f"Set {S} = {{'BUCKET': 'my-private-bucket', ...}} in your settings.",
                id="presigned_transfers.E001",
            )
        ]
    return []


def _check_endpoint() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    endpoint = _value("ENDPOINT_URL")
    if endpoint is not None:
        parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            messages.append(
                Error(
                    f"{_setting('ENDPOINT_URL')} should be an http(s) URL such as "
                    "'https://s3.eu-west-1.amazonaws.com', or None for AWS.",
                    hint="Leave it out to use AWS S3 in REGION.",
                    id="presigned_transfers.E002",
                )
            )
    style = _value("ADDRESSING_STYLE")
    if style not in conf.ADDRESSING_STYLES:
        messages.append(
            Error(
                f"{_setting('ADDRESSING_STYLE')} should be one of "
                f"{', '.join(conf.ADDRESSING_STYLES)}, not {style!r}.",
                hint="Use 'path' for most S3-compatible servers, 'auto' for AWS.",
                id="presigned_transfers.E003",
            )
        )
    region = _value("REGION")
    if not isinstance(region, str) or not region:
        messages.append(
            Error(
                f"{_setting('REGION')} should be an AWS region name such as 'eu-west-1'.",
                hint="It must match the bucket's region, or S3 refuses the signatures.",
                id="presigned_transfers.E004",
            )
        )
    return messages


def _check_expiries() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, maximum, recommended, error_id, warning_id in (
        ("UPLOAD_EXPIRY", conf.MAX_UPLOAD_EXPIRY, 20 * 60, "E005", "W002"),
        ("DOWNLOAD_EXPIRY", conf.MAX_DOWNLOAD_EXPIRY, 15 * 60, "E006", "W003"),
    ):
        value = _value(name)
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 1
        ):
            messages.append(
                Error(
                    f"{_setting(name)} should be a positive number of seconds or a timedelta.",
                    hint=f"The default is {conf.DEFAULTS[name]} seconds.",
                    id=f"presigned_transfers.{error_id}",
                )
            )
        elif value > maximum:
            messages.append(
                Error(
                    f"{_setting(name)} is {int(value)} seconds, above the hard maximum of "
                    f"{maximum} seconds.",
                    hint="A long-lived signed URL is as good as a public link while it lives. "
                    f"Use {recommended} seconds or less.",
                    id=f"presigned_transfers.{error_id}",
                )
            )
        elif value > recommended:
            messages.append(
                Warning(
                    f"{_setting(name)} is {int(value)} seconds; {recommended} seconds or less "
                    "is recommended.",
                    hint="Shorter windows limit the damage of a leaked URL.",
                    id=f"presigned_transfers.{warning_id}",
                )
            )
    return messages


def _check_key_template() -> list[CheckMessage]:
    template = _value("KEY_TEMPLATE")
    hint = (
        "Use placeholders from {owner_id}, {random}, {filename}, {policy}, {date}; the default "
        "is " + conf.DEFAULTS["KEY_TEMPLATE"] + "."
    )
    problem = None
    if not isinstance(template, str) or not template:
        problem = "should be a non-empty string"
    else:
        try:
            # "{}" and "{0}" have the field names "" and "0": unknown, since the key is
            # built with keyword arguments only (skipping "" let "{}" crash build_key).
            fields = {
                field for _, field, _, _ in string.Formatter().parse(template) if field is not None
            }
        except ValueError:
            problem = "is not a valid format string"
        else:
            if fields - conf.KEY_TEMPLATE_FIELDS:
                problem = f"uses unknown placeholders {sorted(fields - conf.KEY_TEMPLATE_FIELDS)}"
            elif "random" not in fields:
                problem = "must contain {random}, or two uploads could get the same key"
            elif "owner_id" not in fields:
                problem = "must contain {owner_id}, so each user's files have their own prefix"
            elif template.startswith("/"):
                problem = "must not start with '/'"
    if problem is None:
        return []
    return [
        Error(f"{_setting('KEY_TEMPLATE')} {problem}.", hint=hint, id="presigned_transfers.E007")
    ]


def _policy_problems(name: Any, spec: Any, largest: int = conf.S3_MAX_OBJECT_SIZE) -> list[str]:
    if not isinstance(name, str) or not name or len(name) > 64:
        return ["its name should be a string of 1 to 64 characters"]
    if not isinstance(spec, Mapping):
        return ["should be a dict with CONTENT_TYPES, MIN_SIZE and MAX_SIZE"]
    problems = []
    unknown = set(spec) - {"CONTENT_TYPES", "MIN_SIZE", "MAX_SIZE", "SNIFF", "PERMISSION", "ALLOW"}
    if unknown:
        problems.append(f"has unknown keys {sorted(map(str, unknown))}")
    permission = spec.get("PERMISSION")
    if permission is not None and (
        not isinstance(permission, str) or permission.count(".") != 1 or " " in permission
    ):
        problems.append(
            f"PERMISSION should be a permission such as 'myapp.upload_videos', not {permission!r}"
        )
    allow = spec.get("ALLOW")
    if allow is not None and not callable(allow):
        if not isinstance(allow, str):
            problems.append(f"ALLOW should be a callable or its dotted path, not {allow!r}")
        else:
            try:
                if not callable(import_string(allow)):
                    problems.append(f"ALLOW names {allow!r}, which is not a callable")
            except ImportError as error:
                problems.append(f"ALLOW names {allow!r}, which cannot be imported ({error})")
    sniff = spec.get("SNIFF", True)
    if not isinstance(sniff, bool):
        try:
            sniffing.get_sniffer(sniff)
        except ImproperlyConfigured as error:
            problems.append(f"SNIFF is not usable ({error})")
    types = spec.get("CONTENT_TYPES")
    if isinstance(types, str) or not isinstance(types, (list, tuple)) or not types:
        problems.append("CONTENT_TYPES should be a non-empty list of media types")
    else:
        bad = [t for t in types if not isinstance(t, str) or normalize_content_type(t) != t]
        if bad:
            problems.append(
                f"CONTENT_TYPES has malformed media types {bad!r} (write them like 'image/png', "
                "lower case, no parameters, no wildcards)"
            )
    min_size, max_size = spec.get("MIN_SIZE", 1), spec.get("MAX_SIZE")
    for key, value in (("MIN_SIZE", min_size), ("MAX_SIZE", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{key} should be a whole number of bytes >= 0")
    # No problem means both are whole numbers (the second test is for mypy).
    if not problems and isinstance(min_size, int) and isinstance(max_size, int):
        if max_size > largest:
            problems.append(
                f"MAX_SIZE is {max_size} bytes, above S3's single POST limit of "
                f"{conf.S3_MAX_POST_SIZE} bytes (5 GB), the most TRANSPORT 'post' can take"
                if largest == conf.S3_MAX_POST_SIZE
                else f"MAX_SIZE is {max_size} bytes, above S3's object limit of "
                f"{conf.S3_MAX_OBJECT_SIZE} bytes (5 TiB)"
            )
        if min_size > max_size:
            problems.append("MIN_SIZE is larger than MAX_SIZE")
        if max_size < 1:
            problems.append("MAX_SIZE should be at least 1")
    return problems


def _check_policies() -> list[CheckMessage]:
    policies = _value("POLICIES")
    if not isinstance(policies, Mapping) or not policies:
        return [
            Error(
                f"{_setting('POLICIES')} should be a non-empty dict of named upload policies.",
                hint="For example {'default': {'CONTENT_TYPES': ['application/pdf'], "
                "'MAX_SIZE': 20 * 1024 * 1024}}.",
                id="presigned_transfers.E008",
            )
        ]
    messages: list[CheckMessage] = [
        Error(
            f"{_setting('POLICIES')}[{name!r}] {problem}.",
            hint="Each policy is {'CONTENT_TYPES': [...], 'MIN_SIZE': 1, 'MAX_SIZE': n}.",
            id="presigned_transfers.E009",
        )
        for name, spec in policies.items()
        for problem in _policy_problems(
            name,
            spec,
            conf.S3_MAX_POST_SIZE if _value("TRANSPORT") == "post" else conf.S3_MAX_OBJECT_SIZE,
        )
    ]
    default = _value("DEFAULT_POLICY")
    if default not in policies:
        messages.append(
            Error(
                f"{_setting('DEFAULT_POLICY')} is {default!r}, which is not in "
                f"{_setting('POLICIES')}.",
                hint=f"Name one of: {', '.join(map(str, policies))}.",
                id="presigned_transfers.E010",
            )
        )
    return messages


def _check_rate_limits() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    limits = _value("RATE_LIMITS") or {}  # None means the defaults, as in conf
    if not isinstance(limits, Mapping):
        limits = {"": limits}
    for name, rate in limits.items():
        problem = None
        if name not in conf.RATE_LIMITED_VIEWS:
            problem = f"has an unknown view {name!r}"
        elif rate is not None:
            try:
                count, seconds = _split_rate(rate)
                if count < 1 or seconds < 1:
                    raise ValueError(rate)
            except (ValueError, TypeError, KeyError, AttributeError):
                problem = f"[{name!r}] should be a rate such as '30/m' or None, not {rate!r}"
        if problem:
            messages.append(
                Error(
                    f"{_setting('RATE_LIMITS')} {problem}.",
                    hint=f"Keys: {', '.join(conf.RATE_LIMITED_VIEWS)}; values like '30/m', "
                    "'1000/h' or None to turn a limit off.",
                    id="presigned_transfers.E011",
                )
            )
    unshared = _unshared_rate_limit_cache()
    if unshared is not None and settings.DEBUG:
        # A DEBUG dev server is one process: a local-memory count holds there, so the first
        # `migrate` / `runserver` of a fresh project must not be refused. `check --deploy`
        # still refuses it (check_deploy_rate_limit_cache).
        alias, backend = unshared
        messages.append(
            Warning(
                f"The rate-limit cache {alias!r} uses {backend.rsplit('.', 1)[-1]}, which "
                f"{_UNSHARED_CACHES[backend]}: rate limits hold per process only.",
                hint=_HINT_SHARED_CACHE + " This is an error with DEBUG off and in "
                "`check --deploy`.",
                id="presigned_transfers.W006",
            )
        )
    elif unshared is not None:
        messages.append(_unshared_cache_error(*unshared))
    return messages


_HINT_SHARED_CACHE = (
    "Point RATELIMIT_USE_CACHE at a shared, atomic cache such as Redis: CACHES = {'default': "
    "{'BACKEND': 'django.core.cache.backends.redis.RedisCache', 'LOCATION': "
    "'redis://127.0.0.1:6379/0'}}."
)


def _unshared_rate_limit_cache() -> tuple[str, str] | None:
    """(alias, backend) of the rate-limit cache if it is not shared and atomic, else None."""
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    return (alias, backend) if backend in _UNSHARED_CACHES else None


def _unshared_cache_error(alias: str, backend: str) -> Error:
    return Error(
        f"The rate-limit cache {alias!r} uses {backend.rsplit('.', 1)[-1]}, "
        f"which {_UNSHARED_CACHES[backend]}: rate limits would not hold.",
        hint=_HINT_SHARED_CACHE,
        id="presigned_transfers.E012",
    )


def check_deploy_rate_limit_cache(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """`check --deploy`: E012 even with DEBUG on (with DEBUG off check_settings reports it)."""
    unshared = _unshared_rate_limit_cache()
    if unshared is None or not settings.DEBUG:
        return []
    return [_unshared_cache_error(*unshared)]


def _check_quota() -> list[CheckMessage]:
    quota = _value("QUOTA") or {}  # None means no limits, as in conf
    if not isinstance(quota, Mapping):
        quota = {"QUOTA": quota}
    problems = [
        f"[{key!r}] should be a positive whole number or None"
        for key, value in quota.items()
        if key not in ("MAX_BYTES", "MAX_FILES")
        or (
            value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        )
    ]
    return [
        Error(
            f"{_setting('QUOTA')}{problem}.",
            hint="QUOTA = {'MAX_BYTES': 1024 ** 3, 'MAX_FILES': 500}; None means no limit.",
            id="presigned_transfers.E013",
        )
        for problem in problems
    ]


def _check_acl() -> list[CheckMessage]:
    acl = _value("ACL")
    if acl in conf.ACL_CHOICES:
        return []
    return [
        Error(
            f"{_setting('ACL')} should be 'private', 'bucket-owner-full-control' or None, "
            f"not {acl!r}.",
            hint="Uploads are never public. Use None or 'bucket-owner-full-control' for buckets "
            "with ACLs disabled (Object Ownership: bucket owner enforced).",
            id="presigned_transfers.E019",
        )
    ]


def _check_encryption() -> list[CheckMessage]:
    sse = _value("SERVER_SIDE_ENCRYPTION")
    if sse not in conf.SSE_CHOICES:
        return [
            Error(
                f"{_setting('SERVER_SIDE_ENCRYPTION')} should be None, 'AES256' or 'aws:kms', "
                f"not {sse!r}.",
                hint="'AES256' is SSE-S3; 'aws:kms' also takes SSE_KMS_KEY_ID.",
                id="presigned_transfers.E014",
            )
        ]
    if _value("SSE_KMS_KEY_ID") and sse != "aws:kms":
        return [
            Warning(
                f"{_setting('SSE_KMS_KEY_ID')} is set but SERVER_SIDE_ENCRYPTION is {sse!r}; "
                "the key id is ignored.",
                hint="Set SERVER_SIDE_ENCRYPTION to 'aws:kms' to use the key.",
                id="presigned_transfers.W004",
            )
        ]
    return []


def _check_request_body() -> list[CheckMessage]:
    value = _value("MAX_REQUEST_BODY")
    if isinstance(value, bool) or not isinstance(value, int) or not 256 <= value <= 1024 * 1024:
        return [
            Error(
                f"{_setting('MAX_REQUEST_BODY')} should be a number of bytes from 256 to 1 MiB.",
                hint=f"The default, {conf.DEFAULTS['MAX_REQUEST_BODY']}, fits every request.",
                id="presigned_transfers.E015",
            )
        ]
    return []


def _origin_problem(origin: Any) -> str | None:
    if not isinstance(origin, str):
        return f"{origin!r} is not a string"
    if origin == "*" or "*" in origin:
        return f"{origin!r} is a wildcard; name each origin"
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{origin!r} is not an origin such as 'https://example.com'"
    if parts.path or parts.query or parts.fragment or origin.endswith("/"):
        return f"{origin!r} has a path; an origin is scheme://host[:port] only"
    if origin != origin.lower():
        return f"{origin!r} should be lower case, as browsers send it"
    return None


def _check_cors_origins() -> list[CheckMessage]:
    origins = _value("CORS_ORIGINS")
    if isinstance(origins, str) or not isinstance(origins, (list, tuple)):
        problems = ["should be a list of origins"]
    else:
        problems = [problem for problem in map(_origin_problem, origins) if problem]
    return [
        Error(
            f"{_setting('CORS_ORIGINS')}: {problem}.",
            hint="List the origins browsers upload from, e.g. ['https://www.example.com']; "
            "the presigned_doctor command checks the bucket's CORS against them.",
            id="presigned_transfers.E016",
        )
        for problem in problems
    ]


def _check_cleanup() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    grace = _value("CLEANUP_GRACE")
    if isinstance(grace, timedelta):
        grace = grace.total_seconds()
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
        messages.append(
            Error(
                f"{_setting('CLEANUP_GRACE')} should be a number of seconds >= 0 or a timedelta.",
                hint="It is how long after its upload window a pending upload is kept; the "
                f"default is {conf.DEFAULTS['CLEANUP_GRACE']} seconds.",
                id="presigned_transfers.E017",
            )
        )
    elif grace < 5 * 60:
        messages.append(
            Warning(
                f"{_setting('CLEANUP_GRACE')} is {int(grace)} seconds; an upload that started "
                "just before its window closed may still be arriving.",
                hint="Keep at least 5 minutes (the default is one hour), more for big files "
                "on slow connections.",
                id="presigned_transfers.W005",
            )
        )
    sniff = _value("SNIFF_CONTENT")
    if not isinstance(sniff, bool):
        messages.append(
            Error(
                f"{_setting('SNIFF_CONTENT')} should be True or False, not {sniff!r}.",
                hint="Leave it True to check each upload's first bytes against its type.",
                id="presigned_transfers.E018",
            )
        )
    return messages


def _check_staging() -> list[CheckMessage]:
    prefix = _value("STAGING_PREFIX")
    hint = (
        "Browsers' signed uploads land under this prefix until confirm verifies them and keeps "
        f"them under KEY_TEMPLATE; the default is {conf.DEFAULTS['STAGING_PREFIX']!r}."
    )
    if (
        not isinstance(prefix, str)
        or not prefix.endswith("/")
        or prefix.startswith("/")
        or "{" in prefix
        or len(prefix) < 2
    ):
        return [
            Error(
                f"{_setting('STAGING_PREFIX')} should be a key prefix ending in '/', such as "
                f"'incoming/', not {prefix!r}.",
                hint=hint,
                id="presigned_transfers.E020",
            )
        ]
    template = _value("KEY_TEMPLATE")
    if isinstance(template, str) and template.startswith(prefix):
        return [
            Error(
                f"{_setting('KEY_TEMPLATE')} starts with {_setting('STAGING_PREFIX')} "
                f"({prefix!r}): kept objects must never sit where signed uploads write.",
                hint="Give the staging prefix a top-level name of its own, e.g. 'incoming/', "
                "and keep KEY_TEMPLATE under another, e.g. 'uploads/{owner_id}/...'.",
                id="presigned_transfers.E021",
            )
        ]
    return []


def _check_s3_client() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name in ("S3_CONNECT_TIMEOUT", "S3_READ_TIMEOUT"):
        value = _value(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0 < value <= 600
        ):
            messages.append(
                Error(
                    f"{_setting(name)} should be a number of seconds above 0 and at most 600, "
                    f"not {value!r}.",
                    hint=f"The default is {conf.DEFAULTS[name]} seconds.",
                    id="presigned_transfers.E022",
                )
            )
    attempts = _value("S3_MAX_ATTEMPTS")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        messages.append(
            Error(
                f"{_setting('S3_MAX_ATTEMPTS')} should be a whole number from 1 to 10, "
                f"not {attempts!r}.",
                hint="How often the server tries an S3 request (the first try included); "
                f"the default is {conf.DEFAULTS['S3_MAX_ATTEMPTS']}.",
                id="presigned_transfers.E022",
            )
        )
    return messages


def _check_transports() -> list[CheckMessage]:
    messages: list[CheckMessage] = []

    def error(name: str, should: str, hint: str) -> None:
        messages.append(
            Error(
                f"{_setting(name)} {should}, not {_value(name)!r}.",
                hint=hint,
                id="presigned_transfers.E023",
            )
        )

    if _value("TRANSPORT") not in conf.TRANSPORT_CHOICES:
        error(
            "TRANSPORT",
            "should be 'auto', 'put' or 'post'",
            "'auto': POST, multipart above MULTIPART_THRESHOLD; 'put' for providers without "
            "POST Object (Cloudflare R2, Backblaze B2): PUT, multipart above the threshold; "
            "'post': POST only (at most 5 GB). presigned_doctor says which your endpoint needs.",
        )
    mib = conf.MB
    threshold = _value("MULTIPART_THRESHOLD")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or not conf.S3_MIN_PART_SIZE <= threshold <= conf.S3_MAX_POST_SIZE
    ):
        error(
            "MULTIPART_THRESHOLD",
            "should be a number of bytes from 5 MiB to 5 GB",
            f"Files larger than this go by multipart; the default is {64 * mib} (64 MiB).",
        )
    part_size = _value("MULTIPART_PART_SIZE")
    if (
        isinstance(part_size, bool)
        or not isinstance(part_size, int)
        or not conf.S3_MIN_PART_SIZE <= part_size <= conf.S3_MAX_PART_SIZE
    ):
        error(
            "MULTIPART_PART_SIZE",
            "should be a number of bytes from 5 MiB (S3's smallest part) to 5 GiB",
            f"The default is {8 * mib} (8 MiB); files of more than 10,000 parts get larger ones.",
        )
    expiry = _value("MULTIPART_EXPIRY")
    if isinstance(expiry, timedelta):
        expiry = expiry.total_seconds()
    if (
        isinstance(expiry, bool)
        or not isinstance(expiry, (int, float))
        or not 60 <= expiry <= conf.MAX_MULTIPART_EXPIRY
    ):
        error(
            "MULTIPART_EXPIRY",
            "should be a duration from 1 minute to 7 days",
            "How long a multipart upload may take, resumes included (each part's URL lives "
            "UPLOAD_EXPIRY); the default is one day.",
        )
    if _value("CHECKSUM") not in conf.CHECKSUM_CHOICES:
        error(
            "CHECKSUM",
            "should be 'sha256' or None",
            "'sha256': the browser's SHA-256 of each file (or part) is signed into its upload, "
            "so S3 verifies it; None for providers that do not support x-amz-checksum-sha256.",
        )
    if not isinstance(_value("CONDITIONAL_WRITES"), bool):
        error(
            "CONDITIONAL_WRITES",
            "should be True or False",
            "True signs If-None-Match: * into PUT uploads and multipart completions (AWS since "
            "2024, SeaweedFS); False for providers that refuse it.",
        )
    return messages
