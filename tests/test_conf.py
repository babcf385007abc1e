"""conf.py: defaults, lazy reading, cache clearing on override_settings, ImproperlyConfigured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from presigned_transfers import conf, storage
from presigned_transfers.conf import app_settings


@pytest.fixture
def only_bucket(settings):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "only-bucket"}
    return settings


def test_defaults(only_bucket):
    assert app_settings.bucket == "only-bucket"
    assert app_settings.region == "us-east-1"
    assert app_settings.endpoint_url is None
    assert app_settings.addressing_style == "auto"
    assert app_settings.upload_expiry == 20 * 60
    assert app_settings.download_expiry == 15 * 60
    assert app_settings.key_template == "uploads/{owner_id}/{random}_{filename}"
    assert app_settings.default_policy == "default"
    assert app_settings.rate_limits == {
        "upload-url": "30/m",
        "confirm-upload": "60/m",
        "download-url": "120/m",
        "upload-parts": "600/m",
    }
    assert app_settings.max_request_body == 16 * 1024
    assert app_settings.quota == {"MAX_BYTES": None, "MAX_FILES": None}
    assert app_settings.server_side_encryption is None
    assert app_settings.sse_kms_key_id is None
    assert app_settings.sniff_content is True
    assert app_settings.cleanup_grace == 60 * 60
    assert list(app_settings.policies) == ["default"]
    default = app_settings.get_policy(None)
    assert default == conf.Policy(
        name="default",
        content_types=conf.DEFAULT_CONTENT_TYPES,
        min_size=1,
        max_size=20 * conf.MB,
        sniff=True,
    )


def test_every_setting_has_a_typed_accessor():
    # A setting added to DEFAULTS without a property is easy to forget.
    names = {name.lower() for name in conf.DEFAULTS}
    accessors = {name for name in dir(conf.AppSettings) if not name.startswith("_")}
    assert names <= accessors


def test_values_are_read_and_normalized(settings):
    settings.PRESIGNED_TRANSFERS = {
        "BUCKET": "b",
        "REGION": "eu-west-1",
        "ENDPOINT_URL": "http://127.0.0.1:9000",
        "ADDRESSING_STYLE": "path",
        "UPLOAD_EXPIRY": timedelta(minutes=5),
        "DOWNLOAD_EXPIRY": timedelta(seconds=90.7),
        "CLEANUP_GRACE": timedelta(days=1),
        "KEY_TEMPLATE": "{owner_id}/{random}",
        "DEFAULT_POLICY": "docs",
        "POLICIES": {
            "docs": {"CONTENT_TYPES": ["text/plain"], "MAX_SIZE": 10, "SNIFF": False},
        },
        "RATE_LIMITS": {"upload-url": "2/m", "download-url": None},
        "MAX_REQUEST_BODY": 1024,
        "QUOTA": {"MAX_FILES": 3},
        "SERVER_SIDE_ENCRYPTION": "aws:kms",
        "SSE_KMS_KEY_ID": "alias/uploads",
        "SNIFF_CONTENT": 0,
    }
    assert app_settings.region == "eu-west-1"
    assert app_settings.endpoint_url == "http://127.0.0.1:9000"
    assert app_settings.addressing_style == "path"
    assert app_settings.upload_expiry == 300
    assert app_settings.download_expiry == 90
    assert app_settings.cleanup_grace == 86400
    assert app_settings.key_template == "{owner_id}/{random}"
    assert app_settings.rate_limits == {
        "upload-url": "2/m",
        "confirm-upload": "60/m",
        "download-url": None,
        "upload-parts": "600/m",
    }
    assert app_settings.max_request_body == 1024
    assert app_settings.quota == {"MAX_BYTES": None, "MAX_FILES": 3}
    assert app_settings.server_side_encryption == "aws:kms"
    assert app_settings.sse_kms_key_id == "alias/uploads"
    assert app_settings.sniff_content is False
    docs = app_settings.get_policy(None)
    assert docs == conf.Policy(
        name="docs", content_types=("text/plain",), min_size=1, max_size=10, sniff=False
    )
    assert app_settings.get_policy("docs") is docs
    assert app_settings.get_policy("default") is None
    assert app_settings.get_policy("") is docs


def test_empty_optional_values_fall_back(settings):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "b", "REGION": "", "ENDPOINT_URL": ""}
    assert app_settings.region == "us-east-1"
    assert app_settings.endpoint_url is None


def test_override_settings_clears_the_caches(settings):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "first", "POLICIES": {"default": {"MAX_SIZE": 5}}}
    assert app_settings.bucket == "first"
    assert app_settings.get_policy(None).max_size == 5
    with override_settings(
        PRESIGNED_TRANSFERS={"BUCKET": "second", "POLICIES": {"default": {"MAX_SIZE": 9}}}
    ):
        assert app_settings.bucket == "second"
        assert app_settings.get_policy(None).max_size == 9
    assert app_settings.bucket == "first"
    assert app_settings.get_policy(None).max_size == 5


def test_settings_are_read_lazily_and_cached(settings):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "cached"}
    assert conf._raw.cache_info().currsize == 0
    assert app_settings.bucket == "cached"
    assert conf._raw.cache_info().currsize == 1
    raw = app_settings.raw
    # An unrelated setting leaves the parsed value alone.
    settings.SOME_UNRELATED_SETTING = 1
    assert conf._raw.cache_info().currsize == 1
    assert app_settings.raw is raw


def test_only_its_own_setting_clears_the_caches(settings):
    """Nothing conf parses depends on other settings (the rate limits read CACHES per
    request), so changing them keeps what was parsed."""
    assert app_settings.bucket
    settings.CACHES = settings.CACHES
    settings.RATELIMIT_USE_CACHE = "default"
    assert conf._raw.cache_info().currsize == 1
    settings.PRESIGNED_TRANSFERS = settings.PRESIGNED_TRANSFERS
    assert conf._raw.cache_info().currsize == 0


def test_a_settings_change_rebuilds_the_boto3_client(settings):
    first = storage.get_client()
    assert storage.get_client() is first
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "REGION": "eu-central-1"}
    second = storage.get_client()
    assert second is not first
    assert second.meta.region_name == "eu-central-1"


def test_the_client_is_built_from_settings(settings):
    settings.PRESIGNED_TRANSFERS = {
        "BUCKET": "b",
        "REGION": "eu-west-3",
        "ENDPOINT_URL": "http://127.0.0.1:8333",
        "ADDRESSING_STYLE": "path",
    }
    client = storage.get_client()
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.endpoint_url == "http://127.0.0.1:8333"
    assert client.meta.config.s3 == {"addressing_style": "path"}
    assert client.meta.config.signature_version == "s3v4"


@pytest.mark.parametrize("bucket", [None, ""])
def test_missing_bucket_is_improperly_configured(settings, bucket):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": bucket}
    with pytest.raises(ImproperlyConfigured, match=r"PRESIGNED_TRANSFERS\['BUCKET'\]"):
        app_settings.bucket  # noqa: B018


def test_absent_setting_is_improperly_configured_only_when_used(settings):
    del settings.PRESIGNED_TRANSFERS
    assert app_settings.region == "us-east-1"
    with pytest.raises(ImproperlyConfigured, match="BUCKET"):
        app_settings.bucket  # noqa: B018


def test_non_dict_setting_is_improperly_configured(settings):
    settings.PRESIGNED_TRANSFERS = ["BUCKET", "b"]
    with pytest.raises(ImproperlyConfigured, match="PRESIGNED_TRANSFERS should be a dict"):
        app_settings.bucket  # noqa: B018


def test_durations_are_whole_seconds_and_a_bad_one_names_its_setting(settings):
    settings.PRESIGNED_TRANSFERS = {
        "BUCKET": "b",
        "UPLOAD_EXPIRY": 90.7,
        "DOWNLOAD_EXPIRY": True,
        "MULTIPART_EXPIRY": "a day",
    }
    assert app_settings.upload_expiry == 90
    assert type(app_settings.upload_expiry) is int
    with pytest.raises(ImproperlyConfigured, match=r"\['DOWNLOAD_EXPIRY'\].*True"):
        app_settings.download_expiry  # noqa: B018
    with pytest.raises(ImproperlyConfigured, match=r"\['MULTIPART_EXPIRY'\].*'a day'"):
        app_settings.multipart_expiry  # noqa: B018
