"""checks.py: the production settings (CORS_ORIGINS, CLEANUP_GRACE, SNIFF_CONTENT, SNIFF)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from presigned_transfers.checks import check_settings


def ids(settings, **options):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "b", **options}
    # E012 (the test run's local-memory rate-limit cache) is not what these tests are about.
    return [(m.id, m.msg) for m in check_settings() if m.id != "presigned_transfers.E012"]


def test_defaults_are_clean(settings):
    assert ids(settings) == []


@pytest.mark.parametrize(
    "origins",
    [
        [],
        ["https://www.example.com"],
        ["https://www.example.com", "http://localhost:8000", "http://127.0.0.1:8000"],
        ("https://a.example.com:8443",),
    ],
)
def test_good_cors_origins(settings, origins):
    assert ids(settings, CORS_ORIGINS=origins) == []


@pytest.mark.parametrize(
    ("origins", "problem"),
    [
        ("https://www.example.com", "should be a list of origins"),
        (None, "should be a list of origins"),
        (["*"], "is a wildcard"),
        (["https://*.example.com"], "is a wildcard"),
        (["www.example.com"], "is not an origin"),
        (["ftp://example.com"], "is not an origin"),
        (["https://example.com/"], "has a path"),
        (["https://example.com/app"], "has a path"),
        (["https://example.com?x=1"], "has a path"),
        (["https://Example.com"], "should be lower case"),
        ([42], "is not a string"),
    ],
)
def test_bad_cors_origins(settings, origins, problem):
    [(check_id, message)] = ids(settings, CORS_ORIGINS=origins)
    assert check_id == "presigned_transfers.E016"
    assert "PRESIGNED_TRANSFERS['CORS_ORIGINS']" in message
    assert problem in message


@pytest.mark.parametrize("grace", [0.5 * 3600, 3600, timedelta(hours=2), 300])
def test_good_cleanup_grace(settings, grace):
    assert ids(settings, CLEANUP_GRACE=grace) == []


@pytest.mark.parametrize("grace", [-1, "1h", None, True, timedelta(seconds=-5)])
def test_bad_cleanup_grace(settings, grace):
    [(check_id, message)] = ids(settings, CLEANUP_GRACE=grace)
    assert check_id == "presigned_transfers.E017"
    assert "CLEANUP_GRACE" in message


@pytest.mark.parametrize("grace", [0, 60, timedelta(minutes=4)])
def test_short_cleanup_grace_warns(settings, grace):
    [(check_id, _)] = ids(settings, CLEANUP_GRACE=grace)
    assert check_id == "presigned_transfers.W005"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_sniff_content_must_be_a_bool(settings, value):
    [(check_id, _)] = ids(settings, SNIFF_CONTENT=value)
    assert check_id == "presigned_transfers.E018"


def sniffer(head, content_type):
    return True


@pytest.mark.parametrize("sniff", [True, False, "tests.test_checks_production.sniffer", sniffer])
def test_good_policy_sniff(settings, sniff):
    policy = {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 10, "SNIFF": sniff}
    assert ids(settings, POLICIES={"default": policy}) == []


@pytest.mark.parametrize(
    ("sniff", "problem"),
    [
        ("tests.test_checks_production.missing", "cannot be imported"),
        ("tests.test_checks_production.ids_", "cannot be imported"),
        (7, "should be True, False"),
    ],
)
def test_bad_policy_sniff(settings, sniff, problem):
    policy = {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 10, "SNIFF": sniff}
    [(check_id, message)] = ids(settings, POLICIES={"default": policy})
    assert check_id == "presigned_transfers.E009"
    assert "SNIFF is not usable" in message
    assert problem in message
