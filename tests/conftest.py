"""Shared fixtures.

Real S3 comes from the package's own pytest plugin (presigned_transfers.testing.plugin,
loaded through its entry point as in any host project): ``seaweedfs``, ``presigned_bucket``
and ``presigned_upload``. SeaweedFS enforces POST policies, signatures and expiry the way AWS
S3 does, so tests that must prove S3 refuses something use those, never moto.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

# Django REST framework is optional (`presigned-transfers[drf]`): its tests (tests/drf/, run by
# `tox -e drf`) are not even collected where it is not installed, rather than skipped.
# tests/system/test_without_drf.py proves the app works without it.
collect_ignore_glob = []
if importlib.util.find_spec("rest_framework") is None:
    collect_ignore_glob.append("drf")
# The same for the live schemathesis run (tests/schemathesis/, `tox -e schemathesis`).
if importlib.util.find_spec("schemathesis") is None:
    collect_ignore_glob.append("schemathesis")

# Never let a developer's own AWS setup leak into the tests.
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/aws-config"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials"
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "AKIATESTFAKEKEY00001"
os.environ["AWS_SECRET_ACCESS_KEY"] = "test/secret/key/never+shown/00000000001"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

TEST_ACCESS_KEY = os.environ["AWS_ACCESS_KEY_ID"]
TEST_SECRET_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(scope="session")
def presigned_s3_credentials() -> tuple[str, str]:
    """The test SeaweedFS accepts the credentials in the environment, so the leak tests look
    for exactly the keys that sign."""
    return TEST_ACCESS_KEY, TEST_SECRET_KEY


def _reset_test_credentials() -> None:
    """Put the test credentials back, whatever an earlier test left in the environment.

    moto puts fake keys into the environment while it runs and restores them when it stops.
    A test that also ``monkeypatch.setenv``-s credentials under moto has them undone *after*
    moto stopped (monkeypatch is set up first, by pytest-django's autouse fixtures), which
    leaves moto's FOOBARKEY behind for every later test.
    """
    os.environ["AWS_ACCESS_KEY_ID"] = TEST_ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = TEST_SECRET_KEY
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After every fixture of a test is torn down, monkeypatch's undo included."""
    try:
        return (yield)
    finally:
        _reset_test_credentials()


def reset_app_state() -> None:
    """Forget everything the app built from settings or the environment (credentials): the
    parsed settings, the presigner, the boto3 session and clients, the connection pool."""
    from presigned_transfers import aws, conf, s3http, signing, storage

    conf.clear_caches()
    signing.reset()
    storage.reset()
    s3http.reset()
    aws.reset()


@pytest.fixture(autouse=True)
def _fresh_app_state():
    """Each test starts with parsed settings, boto3 clients and rate-limit counters forgotten."""
    from django.core.cache import caches

    reset_app_state()
    yield
    reset_app_state()
    caches["default"].clear()


def _send_through_requests(method, url, headers, read):
    """s3http's sender, by ``requests``: moto answers requests' calls, not raw urllib3's."""
    import requests
    from urllib3.exceptions import ProtocolError

    from presigned_transfers import s3http

    try:
        response = requests.request(method, url, headers=headers, timeout=10, allow_redirects=False)
    except requests.RequestException as error:  # what urllib3 itself would have raised
        raise ProtocolError(str(error)) from error
    body = response.content[:read] if read is not None and response.ok else response.content
    return s3http.Answer(status=response.status_code, headers=response.headers, body=body)


@pytest.fixture
def moto_s3(settings, monkeypatch):
    """An in-process moto S3 with the test bucket. Fast; proves nothing about enforcement.

    moto intercepts botocore and the ``requests`` library; the app's own lean S3 requests
    (:mod:`presigned_transfers.s3http`, raw urllib3) are routed through ``requests`` for it.
    Their real wire behaviour is proven against SeaweedFS (``presigned_bucket``).
    """
    from moto import mock_aws

    from presigned_transfers import s3http

    monkeypatch.setattr(s3http, "_send", _send_through_requests)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-bucket")
        settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "BUCKET": "test-bucket"}
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("mallory", "mallory@example.com", "pw-mallory")


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client
