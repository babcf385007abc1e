"""checks.py: every check id fires for a bad setting, good settings pass, no network I/O."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from datetime import timedelta

import boto3
import botocore.session
import pytest
from django.core import checks as django_checks
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from presigned_transfers import conf
from presigned_transfers.checks import check_deploy_rate_limit_cache, check_settings

GB = conf.GB
BASE = {"BUCKET": "test-bucket", "REGION": "us-east-1"}
CACHE_CHECK = "presigned_transfers.E012"
REDIS = "django.core.cache.backends.redis.RedisCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture
def shared_cache(settings):
    """A shared (Redis) rate-limit cache, so E012 is not part of the answer. Never connected."""
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.RATELIMIT_USE_CACHE = "shared"
    return settings


def _messages(settings, value):
    settings.PRESIGNED_TRANSFERS = value
    return check_settings()


def _policies(**spec):
    return {"POLICIES": {"default": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 100, **spec}}}


BAD_SETTINGS = [
    # id, level, settings changes, a fragment the message must contain
    ("E001", Error, {"BUCKET": None}, "['BUCKET']"),
    ("E001", Error, {"BUCKET": ""}, "['BUCKET']"),
    ("E001", Error, {"BUCKET": 5}, "['BUCKET']"),
    ("E002", Error, {"ENDPOINT_URL": "ftp://s3.example.com"}, "['ENDPOINT_URL']"),
    ("E002", Error, {"ENDPOINT_URL": "localhost:9000"}, "['ENDPOINT_URL']"),
    ("E002", Error, {"ENDPOINT_URL": "http://"}, "['ENDPOINT_URL']"),
    ("E002", Error, {"ENDPOINT_URL": 9000}, "['ENDPOINT_URL']"),
    ("E003", Error, {"ADDRESSING_STYLE": "dns"}, "['ADDRESSING_STYLE']"),
    ("E004", Error, {"REGION": ""}, "['REGION']"),
    ("E004", Error, {"REGION": None}, "['REGION']"),
    ("E005", Error, {"UPLOAD_EXPIRY": 0}, "['UPLOAD_EXPIRY']"),
    ("E005", Error, {"UPLOAD_EXPIRY": "600"}, "['UPLOAD_EXPIRY']"),
    ("E005", Error, {"UPLOAD_EXPIRY": True}, "['UPLOAD_EXPIRY']"),
    ("E005", Error, {"UPLOAD_EXPIRY": timedelta(0)}, "['UPLOAD_EXPIRY']"),
    ("E005", Error, {"UPLOAD_EXPIRY": 3601}, "above the hard maximum of 3600"),
    ("E005", Error, {"UPLOAD_EXPIRY": timedelta(days=7)}, "604800 seconds"),
    ("W002", Warning, {"UPLOAD_EXPIRY": 20 * 60 + 1}, "['UPLOAD_EXPIRY'] is 1201 seconds"),
    ("E006", Error, {"DOWNLOAD_EXPIRY": -1}, "['DOWNLOAD_EXPIRY']"),
    ("E006", Error, {"DOWNLOAD_EXPIRY": 3600.5}, "above the hard maximum"),
    ("W003", Warning, {"DOWNLOAD_EXPIRY": timedelta(minutes=30)}, "is 1800 seconds"),
    ("E007", Error, {"KEY_TEMPLATE": ""}, "should be a non-empty string"),
    ("E007", Error, {"KEY_TEMPLATE": 5}, "should be a non-empty string"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{random"}, "not a valid format string"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{random}/{user}"}, "unknown placeholders"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{random}{}"}, "unknown placeholders"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{random}{0}"}, "unknown placeholders"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{random.hex}"}, "unknown placeholders"),
    ("E007", Error, {"KEY_TEMPLATE": "{owner_id}/{filename}"}, "must contain {random}"),
    ("E007", Error, {"KEY_TEMPLATE": "x/{random}_{filename}"}, "must contain {owner_id}"),
    ("E007", Error, {"KEY_TEMPLATE": "/{owner_id}/{random}"}, "must not start with '/'"),
    ("E008", Error, {"POLICIES": {}}, "['POLICIES']"),
    ("E008", Error, {"POLICIES": ["default"]}, "['POLICIES']"),
    ("E009", Error, {"POLICIES": {"": {}}, "DEFAULT_POLICY": ""}, "its name"),
    ("E009", Error, {"POLICIES": {"x" * 65: {}}, "DEFAULT_POLICY": "x" * 65}, "its name"),
    ("E009", Error, {"POLICIES": {"default": ["image/png"]}}, "should be a dict"),
    ("E009", Error, _policies(MAX_BYTES=5), "unknown keys ['MAX_BYTES']"),
    ("E009", Error, _policies(CONTENT_TYPES="image/png"), "CONTENT_TYPES should be"),
    ("E009", Error, _policies(CONTENT_TYPES=[]), "CONTENT_TYPES should be"),
    ("E009", Error, _policies(CONTENT_TYPES=["image/*"]), "malformed media types"),
    ("E009", Error, _policies(CONTENT_TYPES=["Image/PNG"]), "malformed media types"),
    ("E009", Error, _policies(CONTENT_TYPES=["image/png; q=1"]), "malformed media types"),
    ("E009", Error, _policies(CONTENT_TYPES=[None]), "malformed media types"),
    ("E009", Error, _policies(MIN_SIZE=-1), "MIN_SIZE should be"),
    ("E009", Error, _policies(MIN_SIZE=True), "MIN_SIZE should be"),
    ("E009", Error, _policies(MAX_SIZE="10"), "MAX_SIZE should be"),
    ("E009", Error, _policies(MAX_SIZE=None), "MAX_SIZE should be"),
    ("E009", Error, {**_policies(MAX_SIZE=5 * GB + 1), "TRANSPORT": "post"}, "single POST"),
    ("E009", Error, _policies(MAX_SIZE=5 * 1024 * GB + 1), "above S3's object limit"),
    ("E023", Error, {"TRANSPORT": "r2"}, "['TRANSPORT'] should be 'auto', 'put' or 'post'"),
    ("E023", Error, {"MULTIPART_THRESHOLD": 1024}, "['MULTIPART_THRESHOLD']"),
    ("E023", Error, {"MULTIPART_PART_SIZE": 4 * 1024 * 1024}, "['MULTIPART_PART_SIZE']"),
    ("E023", Error, {"MULTIPART_PART_SIZE": "8M"}, "['MULTIPART_PART_SIZE']"),
    ("E023", Error, {"MULTIPART_EXPIRY": timedelta(days=8)}, "['MULTIPART_EXPIRY']"),
    ("E023", Error, {"MULTIPART_EXPIRY": 30}, "['MULTIPART_EXPIRY']"),
    ("E023", Error, {"CHECKSUM": "md5"}, "['CHECKSUM'] should be 'sha256' or None"),
    ("E023", Error, {"CONDITIONAL_WRITES": "yes"}, "['CONDITIONAL_WRITES']"),
    ("E009", Error, _policies(MIN_SIZE=101), "MIN_SIZE is larger than MAX_SIZE"),
    ("E009", Error, _policies(MIN_SIZE=0, MAX_SIZE=0), "MAX_SIZE should be at least 1"),
    ("E010", Error, {"DEFAULT_POLICY": "missing"}, "['DEFAULT_POLICY'] is 'missing'"),
    ("E011", Error, {"RATE_LIMITS": {"upload": "1/m"}}, "unknown view 'upload'"),
    ("E011", Error, {"RATE_LIMITS": {"upload-url": "fast"}}, "'fast'"),
    ("E011", Error, {"RATE_LIMITS": {"upload-url": "0/m"}}, "'0/m'"),
    ("E011", Error, {"RATE_LIMITS": {"confirm-upload": 5}}, "not 5"),
    ("E011", Error, {"RATE_LIMITS": "30/m"}, "['RATE_LIMITS']"),
    ("E013", Error, {"QUOTA": {"MAX_BYTES": 0}}, "['QUOTA']['MAX_BYTES']"),
    ("E013", Error, {"QUOTA": {"MAX_FILES": "5"}}, "['QUOTA']['MAX_FILES']"),
    ("E013", Error, {"QUOTA": {"MAX_FILES": True}}, "['QUOTA']['MAX_FILES']"),
    ("E013", Error, {"QUOTA": {"FILES": 5}}, "['QUOTA']['FILES']"),
    ("E013", Error, {"QUOTA": 5}, "['QUOTA']"),
    ("E014", Error, {"SERVER_SIDE_ENCRYPTION": "aes"}, "['SERVER_SIDE_ENCRYPTION']"),
    ("W004", Warning, {"SSE_KMS_KEY_ID": "alias/k"}, "['SSE_KMS_KEY_ID']"),
    (
        "W004",
        Warning,
        {"SSE_KMS_KEY_ID": "alias/k", "SERVER_SIDE_ENCRYPTION": "AES256"},
        "'AES256'",
    ),
    ("E015", Error, {"MAX_REQUEST_BODY": 255}, "['MAX_REQUEST_BODY']"),
    ("E015", Error, {"MAX_REQUEST_BODY": 1024 * 1024 + 1}, "['MAX_REQUEST_BODY']"),
    ("E015", Error, {"MAX_REQUEST_BODY": "16k"}, "['MAX_REQUEST_BODY']"),
    ("E015", Error, {"MAX_REQUEST_BODY": True}, "['MAX_REQUEST_BODY']"),
    ("W001", Warning, {"BUKET": "typo"}, "unknown keys: BUKET"),
    ("E009", Error, _policies(PERMISSION="upload_videos"), "PERMISSION should be"),
    ("E009", Error, _policies(PERMISSION=["a.b"]), "PERMISSION should be"),
    ("E009", Error, _policies(ALLOW=5), "ALLOW should be a callable"),
    ("E009", Error, _policies(ALLOW="tests.nowhere.allow"), "cannot be imported"),
    ("E009", Error, _policies(ALLOW="tests.test_checks.BASE"), "not a callable"),
    ("E020", Error, {"STAGING_PREFIX": ""}, "['STAGING_PREFIX']"),
    ("E020", Error, {"STAGING_PREFIX": "incoming"}, "ending in '/'"),
    ("E020", Error, {"STAGING_PREFIX": "/incoming/"}, "['STAGING_PREFIX']"),
    ("E020", Error, {"STAGING_PREFIX": None}, "['STAGING_PREFIX']"),
    ("E021", Error, {"STAGING_PREFIX": "uploads/"}, "never sit where signed uploads write"),
    (
        "E021",
        Error,
        {"KEY_TEMPLATE": "incoming/{owner_id}/{random}"},
        "starts with PRESIGNED_TRANSFERS['STAGING_PREFIX']",
    ),
    ("E022", Error, {"S3_CONNECT_TIMEOUT": 0}, "['S3_CONNECT_TIMEOUT']"),
    ("E022", Error, {"S3_READ_TIMEOUT": "30"}, "['S3_READ_TIMEOUT']"),
    ("E022", Error, {"S3_READ_TIMEOUT": 601}, "['S3_READ_TIMEOUT']"),
    ("E022", Error, {"S3_MAX_ATTEMPTS": 0}, "['S3_MAX_ATTEMPTS']"),
    ("E022", Error, {"S3_MAX_ATTEMPTS": 2.0}, "['S3_MAX_ATTEMPTS']"),
]


@pytest.mark.parametrize(
    ("check_id", "level", "changes", "fragment"),
    BAD_SETTINGS,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(BAD_SETTINGS)],
)
def test_bad_setting_fires_exactly_its_check(shared_cache, check_id, level, changes, fragment):
    messages = _messages(shared_cache, {**BASE, **changes})
    assert [message.id for message in messages] == [f"presigned_transfers.{check_id}"]
    message = messages[0]
    assert type(message) is level
    assert "PRESIGNED_TRANSFERS" in message.msg
    assert fragment in message.msg
    assert message.hint
    assert message.obj is None


def test_not_a_dict_is_e000(settings):
    messages = _messages(settings, [("BUCKET", "b")])
    assert [(m.id, type(m)) for m in messages] == [("presigned_transfers.E000", Error)]
    assert messages[0].msg == "PRESIGNED_TRANSFERS should be a dict."
    assert "README" in messages[0].hint


def test_missing_setting_is_only_the_bucket_error(shared_cache):
    del shared_cache.PRESIGNED_TRANSFERS
    assert [m.id for m in check_settings()] == ["presigned_transfers.E001"]


def test_every_id_is_covered():
    covered = {case[0] for case in BAD_SETTINGS} | {"E000", "E012", "W006"}
    expected = (
        {f"E{n:03d}" for n in range(16)}
        | {"E020", "E021", "E022", "E023"}
        | {f"W{n:03d}" for n in (1, 2, 3, 4, 6)}
    )
    assert covered == expected


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (LOCMEM, "is private to each process"),
        ("django.core.cache.backends.dummy.DummyCache", "never stores anything"),
        ("django.core.cache.backends.filebased.FileBasedCache", "is not atomic"),
        ("django.core.cache.backends.db.DatabaseCache", "is not atomic"),
    ],
)
def test_unshared_rate_limit_cache_is_e012(settings, backend, reason):
    settings.CACHES = {**settings.CACHES, "limits": {"BACKEND": backend, "LOCATION": "x"}}
    settings.RATELIMIT_USE_CACHE = "limits"
    messages = _messages(settings, BASE)
    assert [m.id for m in messages] == [CACHE_CHECK]
    assert "'limits'" in messages[0].msg
    assert backend.rsplit(".", 1)[-1] in messages[0].msg
    assert reason in messages[0].msg
    assert "RATELIMIT_USE_CACHE" in messages[0].hint


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (LOCMEM, "is private to each process"),
        ("django.core.cache.backends.dummy.DummyCache", "never stores anything"),
    ],
)
def test_with_debug_on_an_unshared_cache_is_only_a_warning(settings, backend, reason):
    settings.DEBUG = True
    settings.CACHES = {**settings.CACHES, "limits": {"BACKEND": backend, "LOCATION": "x"}}
    settings.RATELIMIT_USE_CACHE = "limits"
    messages = _messages(settings, BASE)
    assert [(m.id, type(m)) for m in messages] == [("presigned_transfers.W006", Warning)]
    assert "'limits'" in messages[0].msg and backend.rsplit(".", 1)[-1] in messages[0].msg
    assert f"{reason}: rate limits hold per process only" in messages[0].msg
    assert "RedisCache" in messages[0].hint and "check --deploy" in messages[0].hint
    # With DEBUG on a shared cache still gives nothing; with DEBUG off the same cache is E012.
    settings.RATELIMIT_USE_CACHE = "shared"
    settings.CACHES = {**settings.CACHES, "shared": {"BACKEND": REDIS, "LOCATION": "redis://x"}}
    assert _messages(settings, BASE) == []
    settings.RATELIMIT_USE_CACHE = "limits"
    settings.DEBUG = False
    assert [(m.id, type(m)) for m in _messages(settings, BASE)] == [(CACHE_CHECK, Error)]


@pytest.fixture
def locmem_default_cache(settings):
    """A fresh startproject's cache: Django's default local memory, nothing silenced."""
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.RATELIMIT_USE_CACHE = "default"
    settings.SILENCED_SYSTEM_CHECKS = []
    settings.PRESIGNED_TRANSFERS = BASE
    return settings


def _check_command(*args):
    """``manage.py check ARGS``: (stdout + stderr, the SystemCheckError's text or "")."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check", *args, stdout=out, stderr=err)
    except SystemCheckError as error:
        return out.getvalue() + err.getvalue(), str(error)
    return out.getvalue() + err.getvalue(), ""


def test_check_command_with_debug_on_warns_and_check_deploy_refuses(locmem_default_cache):
    locmem_default_cache.DEBUG = True
    output, failure = _check_command()
    assert failure == ""
    assert "presigned_transfers.W006" in output and CACHE_CHECK not in output
    assert "rate limits hold per process only" in output

    output, failure = _check_command("--deploy")
    assert f"?: ({CACHE_CHECK}) The rate-limit cache 'default' uses LocMemCache" in failure
    assert "presigned_transfers.W006" in failure  # the plain check still runs beside it


def test_check_command_with_debug_off_refuses_once(locmem_default_cache):
    locmem_default_cache.DEBUG = False
    for args in ((), ("--deploy",)):
        output, failure = _check_command(*args)
        assert failure.count(CACHE_CHECK) == 1, args
        assert "presigned_transfers.W006" not in failure + output


def test_check_deploy_accepts_a_shared_cache_with_debug_on(locmem_default_cache):
    locmem_default_cache.DEBUG = True
    locmem_default_cache.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://x"}}
    output, failure = _check_command("--deploy")
    assert CACHE_CHECK not in failure + output
    assert "presigned_transfers.W006" not in failure + output


def test_a_fresh_startproject_with_the_app_migrates(tmp_path):
    """The first five minutes: startproject, add the app and a bucket, migrate. No Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CACHE_URL"))}

    def run(*args):
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    created = run("-m", "django", "startproject", "mysite", ".")
    assert created.returncode == 0, created.stderr
    settings_py = tmp_path / "mysite" / "settings.py"
    text = settings_py.read_text()
    assert "DEBUG = True" in text and "CACHES" not in text  # Django's default: local memory
    settings_py.write_text(
        text + '\nINSTALLED_APPS += ["presigned_transfers"]\n'
        'PRESIGNED_TRANSFERS = {"BUCKET": "my-private-bucket"}\n'
    )

    migrated = run("manage.py", "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying presigned_transfers.0001_initial... OK" in migrated.stdout
    assert "presigned_transfers.W006" in migrated.stderr
    assert CACHE_CHECK not in migrated.stderr

    deploy = run("manage.py", "check", "--deploy")
    assert deploy.returncode == 1
    assert f"({CACHE_CHECK}) The rate-limit cache 'default' uses LocMemCache" in deploy.stderr


def test_rate_limit_cache_defaults_to_the_default_alias(settings):
    del settings.RATELIMIT_USE_CACHE
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    assert [m.id for m in _messages(settings, BASE)] == [CACHE_CHECK]
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert _messages(settings, BASE) == []


GOOD_SETTINGS = [
    {},
    {"ENDPOINT_URL": "https://s3.eu-west-1.amazonaws.com"},
    {"ENDPOINT_URL": "http://127.0.0.1:8333", "ADDRESSING_STYLE": "path"},
    {"ENDPOINT_URL": None, "ADDRESSING_STYLE": "virtual", "REGION": "eu-west-1"},
    {"UPLOAD_EXPIRY": 20 * 60, "DOWNLOAD_EXPIRY": 15 * 60},
    {"UPLOAD_EXPIRY": 1, "DOWNLOAD_EXPIRY": 1.5},
    {"UPLOAD_EXPIRY": timedelta(minutes=5), "DOWNLOAD_EXPIRY": timedelta(minutes=15)},
    {"KEY_TEMPLATE": "{policy}/{date}/{owner_id}/{random}/{filename}"},
    {"KEY_TEMPLATE": "{{literal}}/{owner_id}/{random}"},
    _policies(MIN_SIZE=0, SNIFF=False),
    _policies(MIN_SIZE=100, MAX_SIZE=100),
    _policies(MAX_SIZE=5 * GB, CONTENT_TYPES=("image/png", "application/pdf")),
    _policies(MAX_SIZE=5 * 1024 * GB),
    {"TRANSPORT": "put", "MULTIPART_THRESHOLD": 5 * 1024 * 1024, "CHECKSUM": None},
    {"TRANSPORT": "post", "CONDITIONAL_WRITES": False, "MULTIPART_EXPIRY": timedelta(days=7)},
    {"MULTIPART_PART_SIZE": 5 * GB, "MULTIPART_EXPIRY": 60},
    {
        "POLICIES": {
            "images": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 10},
            "docs": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 10},
        },
        "DEFAULT_POLICY": "docs",
    },
    {"RATE_LIMITS": {"upload-url": None, "confirm-upload": "1000/h", "download-url": "5/s"}},
    {"RATE_LIMITS": {}},
    {"QUOTA": {"MAX_BYTES": None, "MAX_FILES": None}},
    {"QUOTA": {"MAX_BYTES": GB, "MAX_FILES": 1}},
    {"SERVER_SIDE_ENCRYPTION": "AES256"},
    {"SERVER_SIDE_ENCRYPTION": "aws:kms", "SSE_KMS_KEY_ID": "alias/uploads"},
    {"SERVER_SIDE_ENCRYPTION": "aws:kms"},
    {"MAX_REQUEST_BODY": 256},
    {"MAX_REQUEST_BODY": 1024 * 1024},
    {"SNIFF_CONTENT": False, "CLEANUP_GRACE": 3600},
    _policies(PERMISSION="auth.add_user", ALLOW=lambda user: True),
    _policies(ALLOW="tests.system.test_permissions.allow_staff"),
    {"STAGING_PREFIX": "staging/uploads/"},
    {"S3_CONNECT_TIMEOUT": 0.5, "S3_READ_TIMEOUT": 120, "S3_MAX_ATTEMPTS": 1},
]


@pytest.mark.parametrize("changes", GOOD_SETTINGS)
def test_good_settings_pass(shared_cache, changes):
    assert _messages(shared_cache, {**BASE, **changes}) == []


def test_default_test_settings_produce_no_messages(settings):
    silenced = set(getattr(settings, "SILENCED_SYSTEM_CHECKS", ()))
    assert [m for m in check_settings() if m.id not in silenced] == []
    # Only the cache check may be silenced, and only for the local-memory cache.
    assert silenced <= {CACHE_CHECK, "django_ratelimit.E003"}


def test_checks_are_registered():
    assert check_settings in django_checks.registry.registry.get_checks()
    assert set(check_settings.tags) == {"security", "compatibility"}
    # The deploy check runs with `check --deploy` only, like Django's own security checks.
    assert check_deploy_rate_limit_cache not in django_checks.registry.registry.get_checks()
    assert check_deploy_rate_limit_cache in django_checks.registry.registry.get_checks(
        include_deployment_checks=True
    )
    assert set(check_deploy_rate_limit_cache.tags) == {"security", "caches"}


def test_check_command_runs_clean_without_network_io(settings, monkeypatch):
    attempts = []

    def forbidden(*args, **kwargs):
        attempts.append(args)
        raise AssertionError("system checks must not do I/O")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(boto3.session.Session, "client", forbidden)
    monkeypatch.setattr(boto3.session.Session, "resource", forbidden)
    monkeypatch.setattr(botocore.session.Session, "create_client", forbidden)
    call_command("check", verbosity=0)
    # With settings that fail, the checks still answer from the settings alone.
    settings.PRESIGNED_TRANSFERS = {
        "BUCKET": "b",
        "ENDPOINT_URL": "ftp://nowhere.invalid",
        "SERVER_SIDE_ENCRYPTION": "rot13",
    }
    with pytest.raises(SystemCheckError) as failed:
        call_command("check", verbosity=0)
    assert "presigned_transfers.E002" in str(failed.value)
    assert "presigned_transfers.E014" in str(failed.value)
    assert attempts == []


@pytest.mark.parametrize("key", ["RATE_LIMITS", "QUOTA"])
def test_none_means_the_defaults_and_is_accepted(shared_cache, key):
    assert _messages(shared_cache, {**BASE, key: None}) == []


def test_a_nan_expiry_is_refused(shared_cache):
    messages = _messages(shared_cache, {**BASE, "UPLOAD_EXPIRY": float("nan")})
    assert [message.id for message in messages] == ["presigned_transfers.E005"]


@pytest.mark.parametrize("acl", ["private", "bucket-owner-full-control", None])
def test_valid_acls_pass(shared_cache, acl):
    assert _messages(shared_cache, {**BASE, "ACL": acl}) == []


@pytest.mark.parametrize("acl", ["public-read", "authenticated-read", ""])
def test_a_public_or_unknown_acl_is_refused(shared_cache, acl):
    messages = _messages(shared_cache, {**BASE, "ACL": acl})
    assert [message.id for message in messages] == ["presigned_transfers.E019"]
    assert "ACL" in messages[0].msg and messages[0].hint
