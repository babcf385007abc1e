"""Faults of the parts — S3, the rate-limit cache, the database — get a clear JSON answer
and leave no half state: nothing unverified is served, no object is left that no row names,
and a later confirm (or the cleanup's reconcile) completes what arrived.

S3 faults are real ones where a network can make them (a proxy in front of SeaweedFS that
refuses or black-holes connections, tests/proxy.py); a failure of one particular step of the
lifecycle is injected into the app's own storage functions, with SeaweedFS doing the rest.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from presigned_transfers import cleanup, exceptions, storage
from presigned_transfers.models import Upload
from tests import flows, samples
from tests.factories import assert_json_error, confirm_over_http, post_json, sign_over_http
from tests.proxy import FaultProxy

BODY = samples.PDF + b"%" * 3000


def sign(client, body=BODY):
    return sign_over_http(client, body)


confirm = confirm_over_http


@pytest.fixture
def outage_client(user):
    """A signed-in client that returns the answer even when Django's error reporting is told
    of an exception (the test client re-raises those by default)."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def download(client, upload_id):
    response = client.get(reverse("presigned_transfers:download-url", args=[upload_id]))
    assert response.status_code == 200, response.content
    return requests.get(response.json()["url"], timeout=30).content


def assert_nothing_unfindable(presigned_bucket):
    named = {key for upload in Upload.objects.all() for key in upload.object_keys}
    assert set(presigned_bucket.keys()) <= named


# --- S3 unreachable or timing out, for real --------------------------------------------------


@pytest.fixture
def proxied_s3(presigned_bucket, settings):
    """The test bucket reached through a FaultProxy; S3 errors surface after one try."""
    with FaultProxy(presigned_bucket.server.host, presigned_bucket.server.s3_port) as proxy:
        settings.PRESIGNED_TRANSFERS = {
            **settings.PRESIGNED_TRANSFERS,
            "ENDPOINT_URL": proxy.url,
            "S3_CONNECT_TIMEOUT": 1,
            "S3_READ_TIMEOUT": 1,
            "S3_MAX_ATTEMPTS": 1,
        }
        yield proxy


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
def test_s3_down_or_silent_during_confirm(presigned_bucket, proxied_s3, user_client):
    signed = sign(user_client)
    assert signed["url"].startswith(proxied_s3.url)
    assert presigned_bucket.post(signed["url"], signed["fields"], BODY).status_code == 204
    for mode in ("refuse", "hang"):
        proxied_s3.mode = mode
        assert_json_error(confirm(user_client, signed["upload_id"]), 503, "storage_unavailable")
        assert Upload.objects.get(pk=signed["upload_id"]).status == "pending"
    proxied_s3.mode = "forward"
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert download(user_client, signed["upload_id"]) == BODY
    assert_nothing_unfindable(presigned_bucket)


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
def test_s3_goes_away_between_read_and_copy(presigned_bucket, proxied_s3, user_client, monkeypatch):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], BODY).status_code == 204
    real = storage.read_start

    def read_then_fail(key, length):
        found = real(key, length)
        proxied_s3.mode = "refuse"
        return found

    monkeypatch.setattr(storage, "read_start", read_then_fail)
    assert_json_error(confirm(user_client, signed["upload_id"]), 503, "storage_unavailable")
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.status == "pending"
    assert set(presigned_bucket.keys()) == {upload.staging_key}  # asked of SeaweedFS directly
    monkeypatch.undo()
    proxied_s3.mode = "forward"
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert download(user_client, signed["upload_id"]) == BODY


# --- a failure injected into each step of the lifecycle ---------------------------------------


def _fail(*args, **kwargs):
    raise exceptions.StorageUnavailable(details={"reason": "injected"})


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["read_start", "copy_object"])
def test_a_failed_s3_step_leaves_the_upload_pending(
    presigned_bucket, user_client, monkeypatch, step
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], BODY).status_code == 204
    monkeypatch.setattr(storage, step, _fail)
    assert_json_error(confirm(user_client, signed["upload_id"]), 503, "storage_unavailable")
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert (upload.status, upload.etag) == ("pending", "")
    assert set(presigned_bucket.keys()) == {upload.staging_key}
    assert_json_error(
        user_client.get(reverse("presigned_transfers:download-url", args=[upload.pk])),
        409,
        "upload_not_complete",
    )
    monkeypatch.undo()
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert download(user_client, signed["upload_id"]) == BODY


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
def test_the_database_failing_after_the_copy_leaves_the_copy_to_the_pending_row(
    presigned_bucket, user_client, outage_client
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], BODY).status_code == 204

    def no_updates(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "presigned_transfers_upload" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(no_updates):
        response = confirm(outage_client, signed["upload_id"])
    error = assert_json_error(response, 503, "database_unavailable")
    assert response["Retry-After"]
    assert "connection" not in error["message"]  # no internals in the answer
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.status == "pending"
    # The copy stays (deleting it could delete what a confirm that locked the row right after
    # the rollback kept), named by the pending row, and nothing serves it until confirmed.
    assert set(presigned_bucket.keys()) == {upload.staging_key, upload.key}
    assert_nothing_unfindable(presigned_bucket)
    pending = user_client.get(reverse("presigned_transfers:download-url", args=[upload.pk]))
    assert pending.status_code != 200
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert download(user_client, signed["upload_id"]) == BODY


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
def test_the_staging_object_is_left_to_the_sweep_and_a_failed_sweep_tries_again(
    presigned_bucket, user_client, monkeypatch, settings
):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": 0}
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], BODY).status_code == 204
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    upload = Upload.objects.get(pk=signed["upload_id"])
    # Confirm makes two S3 requests (read, copy); the staging object waits for the sweep.
    assert set(presigned_bucket.keys()) == {upload.key, upload.staging_key}
    assert download(user_client, upload.pk) == BODY
    flows.expire(upload, seconds_ago=10)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "delete_objects", _fail)
        assert cleanup.cleanup().swept == 0
    assert Upload.objects.get(pk=upload.pk).staging_key == upload.staging_key
    assert cleanup.cleanup().swept == 1
    assert set(presigned_bucket.keys()) == {upload.key}
    assert Upload.objects.get(pk=upload.pk).staging_key == ""
    assert download(user_client, upload.pk) == BODY


@pytest.mark.django_db
def test_the_database_failing_at_sign_writes_nothing(outage_client, moto_s3):
    def no_inserts(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "presigned_transfers_upload" in sql:
            raise OperationalError("could not connect to server")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(no_inserts):
        response = post_json(
            outage_client,
            reverse("presigned_transfers:upload-url"),
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
        )
    assert_json_error(response, 503, "database_unavailable")
    assert not Upload.objects.exists()
    assert moto_s3.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


@pytest.mark.django_db
def test_the_database_down_for_every_query_still_answers_json(outage_client):
    def down(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(down):
        response = outage_client.get(reverse("presigned_transfers:upload-list"))
    assert_json_error(response, 503, "database_unavailable")


# --- the rate-limit cache ------------------------------------------------------------------

REDIS_AT_A_CLOSED_PORT = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}
NO_COUNT = {"default": {"BACKEND": "tests.caches.NoCountCache"}}


def _url_requests(upload):
    return [
        (
            "post",
            reverse("presigned_transfers:upload-url"),
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
        ),
        ("post", reverse("presigned_transfers:confirm-upload"), {"upload_id": str(upload.pk)}),
        ("get", reverse("presigned_transfers:download-url", args=[upload.pk]), None),
        ("get", reverse("presigned_transfers:download", args=[upload.pk]), None),
    ]


def _send(client, method, url, body):
    if method == "post":
        return client.post(url, json.dumps(body), content_type="application/json")
    return client.get(url)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "caches", [REDIS_AT_A_CLOSED_PORT, NO_COUNT], ids=["redis down", "no count"]
)
def test_rate_limit_cache_down_is_a_json_503(user_client, user, settings, moto_s3, caches):
    from tests.factories import make_upload

    upload = make_upload(user, status=Upload.Status.COMPLETE)
    before = Upload.objects.count()
    settings.CACHES = caches
    for method, url, body in _url_requests(upload):
        response = _send(user_client, method, url, body)
        error = assert_json_error(response, 503, "rate_limit_unavailable")
        assert int(response["Retry-After"]) > 0
        assert "redis" not in error["message"].lower()
    assert Upload.objects.count() == before


@pytest.mark.django_db
def test_rate_limit_fail_open_lets_requests_through(user_client, user, settings, moto_s3):
    from tests.factories import make_upload

    upload = make_upload(user, status=Upload.Status.COMPLETE)
    settings.CACHES = REDIS_AT_A_CLOSED_PORT
    settings.RATELIMIT_FAIL_OPEN = True
    responses = [_send(user_client, m, u, b) for m, u, b in _url_requests(upload)]
    assert [r.status_code for r in responses] == [201, 200, 200, 302]
