"""Per-user quotas (services._check_quota), one request at a time.

The race-safety under concurrent requests is shown on PostgreSQL in
tests/system/test_concurrency.py.
"""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from presigned_transfers import exceptions, services
from presigned_transfers.models import Upload
from tests import flows

pytestmark = pytest.mark.django_db


@pytest.fixture
def quota(settings, moto_s3):
    def quota(max_bytes=None, max_files=None):
        settings.PRESIGNED_TRANSFERS = {
            **settings.PRESIGNED_TRANSFERS,
            "QUOTA": {"MAX_BYTES": max_bytes, "MAX_FILES": max_files},
        }

    return quota


def sign(user, size):
    return flows.sign(user, b"%PDF" + b"-" * (size - 4))


def refusal(user, size):
    with pytest.raises(exceptions.UploadRefused) as caught:
        sign(user, size)
    assert caught.value.code == "quota_exceeded"
    assert caught.value.status == 422
    return caught.value


def test_no_quota_by_default(quota, user):
    for _ in range(5):
        sign(user, 10_000)


def test_file_count(quota, user):
    quota(max_files=2)
    sign(user, 10)
    sign(user, 10)
    error = refusal(user, 10)
    assert error.details == {"limit": "max_files", "max_files": 2, "used_files": 2}
    assert "limit of 2 files" in error.message


def test_total_bytes(quota, user):
    quota(max_bytes=1000)
    sign(user, 600)
    error = refusal(user, 401)
    assert error.details == {"limit": "max_bytes", "max_bytes": 1000, "used_bytes": 600}
    assert "storage limit of 1000 bytes" in error.message
    sign(user, 400)
    refusal(user, 1)


def test_what_counts(quota, user, other_user):
    quota(max_files=2)
    in_window = sign(user, 10)
    complete = sign(user, 10)
    Upload.objects.filter(pk=complete.pk).update(status="complete")
    refusal(user, 10)
    # Another user's files never count.
    sign(other_user, 10)
    # A pending upload whose window has closed no longer counts; nor does a failed one.
    flows.expire(in_window, seconds_ago=1)
    failed = sign(user, 10)
    refusal(user, 10)
    Upload.objects.filter(pk=failed.pk).update(status="failed")
    sign(user, 10)
    refusal(user, 10)
    # Deleting a file frees its room.
    services.delete_upload(user=user, upload_id=complete.pk)
    sign(user, 10)


def test_a_late_confirm_counts_again(quota, user):
    """An upload confirmed after its window must fit: others may have taken its room."""
    quota(max_files=1)
    late = sign(user, 10)
    flows.put(late, b"%PDF" + b"-" * 6)
    flows.expire(late, seconds_ago=5)
    taker = sign(user, 10)  # allowed: the late one stopped counting
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=late.pk)
    assert caught.value.code == "quota_exceeded"
    late.refresh_from_db()
    assert (late.status, late.failure_code) == ("failed", "quota_exceeded")
    assert not flows.object_exists(late.key)
    # With room, a late confirm is fine.
    Upload.objects.filter(pk=taker.pk).delete()
    again = sign(user, 10)
    flows.put(again, b"%PDF" + b"-" * 6)
    flows.expire(again, seconds_ago=5)
    assert services.confirm_upload(user=user, upload_id=again.pk).is_complete


def test_the_endpoint_says_which_limit(quota, user_client, caplog):
    quota(max_files=1)
    url = reverse("presigned_transfers:upload-url")
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    assert user_client.post(url, body, content_type="application/json").status_code == 201
    with caplog.at_level(logging.INFO, logger="presigned_transfers"):
        response = user_client.post(url, body, content_type="application/json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["limit"] == "max_files"
    assert "1 files" in error["message"]
    assert Upload.objects.count() == 1
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "refuse"]
    assert (record.stage, record.code) == ("sign", "quota_exceeded")
