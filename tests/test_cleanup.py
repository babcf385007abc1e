"""cleanup.py and ``manage.py presigned_cleanup``: moto, then SeaweedFS at the end.

The tests of cleanup beside live confirms (row locks) are in tests/test_concurrency.py,
on PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from presigned_transfers import cleanup, exceptions, services, signals, storage
from presigned_transfers.models import Upload
from tests import flows

pytestmark = pytest.mark.django_db
HOUR = 3600


@pytest.fixture
def s3(moto_s3, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": HOUR}
    return moto_s3


def uploaded(user, *, status="pending", window_ended=None, updated=None, body=flows.PDF):
    """An upload of *user* whose object is in the bucket, in the given state and age."""
    upload = flows.sign(user, body)
    flows.put(upload, body)
    changes = {"status": status}
    if window_ended is not None:
        changes["expires_at"] = timezone.now() - timedelta(seconds=window_ended)
    if updated is not None:
        changes["updated_at"] = timezone.now() - timedelta(seconds=updated)
    Upload.objects.filter(pk=upload.pk).update(**changes)
    upload.refresh_from_db()
    return upload


@pytest.fixture
def uploads(s3, user):
    return {
        "stale pending": uploaded(user, window_ended=HOUR + 60),
        "very stale pending": uploaded(user, window_ended=30 * 24 * HOUR),
        "pending in grace": uploaded(user, window_ended=HOUR - 60),
        "pending in window": uploaded(user),
        "old complete": uploaded(user, status="complete", window_ended=90 * 24 * HOUR),
        "old failed": uploaded(user, status="failed", window_ended=2 * HOUR, updated=HOUR + 60),
        "recent failed": uploaded(user, status="failed", window_ended=2 * HOUR, updated=60),
    }


DUE = {"stale pending", "very stale pending", "old failed"}


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("presigned_cleanup", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_removes_exactly_the_due_uploads_from_bucket_and_database(uploads):
    out, _ = run()
    for name, upload in uploads.items():
        row = Upload.objects.filter(pk=upload.pk).exists()
        obj = flows.object_exists(upload.key)
        if name in DUE:
            assert not row, name
            assert not obj, name
        else:
            assert row, name
            assert obj or upload.status == "failed", name
    assert "Removed 3 upload(s): 2 pending past their window (+3600s grace), 1 failed." in out


def test_dry_run_lists_and_changes_nothing(uploads):
    out, _ = run("--dry-run")
    assert "Would remove 3 upload(s)" in out
    for name, upload in uploads.items():
        assert Upload.objects.filter(pk=upload.pk).exists()
        assert (str(upload.pk) in out) == (name in DUE), name
    assert out.count("would remove ") == 3
    assert flows.object_exists(uploads["stale pending"].key)


def test_grace_option_overrides_the_setting(uploads):
    run("--grace", "0")
    assert not Upload.objects.filter(pk=uploads["pending in grace"].pk).exists()
    assert not Upload.objects.filter(pk=uploads["recent failed"].pk).exists()
    assert Upload.objects.filter(pk=uploads["pending in window"].pk).exists()
    assert Upload.objects.filter(pk=uploads["old complete"].pk).exists()


def test_limit_and_batches(s3, user):
    stale = [uploaded(user, window_ended=2 * HOUR + i) for i in range(7)]
    out, _ = run("--batch-size", "2", "--limit", "5")
    assert "Removed 5 upload(s)" in out
    left = Upload.objects.filter(pk__in=[u.pk for u in stale])
    assert left.count() == 2
    # The oldest windows go first.
    assert set(left.values_list("pk", flat=True)) == {stale[0].pk, stale[1].pk}
    out, _ = run("--batch-size", "3", "-v", "2")
    assert "Removed 2 upload(s)" in out
    assert out.count("removed ") == 2
    assert not left.exists()


def test_each_object_is_deleted_once_and_the_signal_is_sent(s3, user, monkeypatch):
    stale = [uploaded(user, window_ended=2 * HOUR) for _ in range(3)]
    calls = []
    real = storage.delete_objects
    monkeypatch.setattr(storage, "delete_objects", lambda keys: calls.append(keys) or real(keys))
    monkeypatch.setattr(storage, "delete_object", pytest.fail)
    deleted = []
    receiver = lambda upload, **kwargs: deleted.append(upload.original_filename)  # noqa: E731
    signals.upload_deleted.connect(receiver)
    try:
        report = cleanup.cleanup()
    finally:
        signals.upload_deleted.disconnect(receiver)
    assert sorted(calls[0]) == sorted(u.key for u in stale)
    assert len(calls) == 1
    assert len(deleted) == 3
    assert [r.reason for r in report.removed] == ["expired"] * 3
    assert report.errors == {}


def test_an_object_that_cannot_be_deleted_keeps_its_row(s3, user, monkeypatch):
    stuck, fine = (uploaded(user, window_ended=2 * HOUR) for _ in range(2))
    monkeypatch.setattr(
        storage, "delete_objects", lambda keys: {stuck.key: "AccessDenied"} if keys else {}
    )
    with pytest.raises(CommandError, match="1 upload"):
        run()
    assert Upload.objects.filter(pk=stuck.pk).exists()
    assert not Upload.objects.filter(pk=fine.pk).exists()


def test_storage_down_keeps_every_row(s3, user, monkeypatch, capsys):
    stale = [uploaded(user, window_ended=2 * HOUR) for _ in range(2)]

    def down(keys):
        raise exceptions.StorageUnavailable(details={"reason": "EndpointConnectionError"})

    monkeypatch.setattr(storage, "delete_objects", down)
    report = cleanup.cleanup()
    assert report.removed == []
    assert report.errors == {u.pk: "EndpointConnectionError" for u in stale}
    assert Upload.objects.count() == 2


def test_audit_records(s3, user, caplog):
    stale = uploaded(user, window_ended=2 * HOUR)
    with caplog.at_level(logging.INFO, logger="presigned_transfers"):
        cleanup.cleanup()
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "delete"]
    assert record.upload_id == str(stale.pk)
    assert record.user_id is None
    assert record.by == "cleanup"
    assert record.owner_id == user.pk
    assert record.reason == "expired"
    assert stale.key not in record.getMessage()


def test_bad_batch_sizes(s3):
    with pytest.raises(ValueError, match="batch_size"):
        cleanup.cleanup(batch_size=0)
    with pytest.raises(CommandError, match="at most 1000"):
        run("--batch-size", "1001")
    with pytest.raises(CommandError):
        run("--batch-size", "0")
    with pytest.raises(CommandError):
        run("--grace", "-1")


def test_nothing_to_do(s3):
    out, _ = run()
    assert "Removed 0 upload(s)" in out
    assert cleanup.cleanup(dry_run=True, limit=3).removed == []


def test_dry_run_with_limit(uploads):
    report = cleanup.cleanup(dry_run=True, limit=2)
    assert len(report.removed) == 2
    assert Upload.objects.count() == len(uploads)


def test_storage_delete_objects_limits(s3):
    assert storage.delete_objects([]) == {}
    with pytest.raises(ValueError, match="1000"):
        storage.delete_objects(["k"] * 1001)


# --- SeaweedFS: real uploads, really gone --------------------------------------------------


@pytest.mark.s3
def test_cleanup_against_seaweedfs(real_s3, user, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": HOUR}

    def browser_upload(body, *, sent=None):
        created = services.create_upload(
            user=user, filename="doc.pdf", content_type="application/pdf", size=len(body)
        )
        response = real_s3.post(created.post.url, created.post.fields, sent or body)
        assert response.status_code == 204, response.text
        return created.upload

    body = flows.PDF + b"x" * 500
    confirmed = browser_upload(body)
    services.confirm_upload(user=user, upload_id=confirmed.pk)
    stale = [browser_upload(body) for _ in range(3)]
    never_sent = services.create_upload(
        user=user, filename="a.pdf", content_type="application/pdf", size=100
    ).upload
    refused = browser_upload(body, sent=body[:-1])
    with pytest.raises(exceptions.UploadRefused):
        services.confirm_upload(user=user, upload_id=refused.pk)
    live = browser_upload(body)  # pending, its window still open
    in_grace = browser_upload(body)
    for upload in (*stale, never_sent):
        flows.expire(upload, seconds_ago=HOUR + 5)
    flows.expire(in_grace, seconds_ago=HOUR - 60)
    Upload.objects.filter(pk=refused.pk).update(
        updated_at=timezone.now() - timedelta(seconds=HOUR + 5)
    )
    confirmed_age = timezone.now() - timedelta(days=400)
    Upload.objects.filter(pk=confirmed.pk).update(expires_at=confirmed_age)

    keys_before = set(real_s3.keys())
    assert keys_before == {u.key for u in (confirmed, *stale, live, in_grace)}

    out, _ = run("--dry-run")
    assert "Would remove 5 upload(s): 4 pending past their window (+3600s grace), 1 failed." in out
    assert set(real_s3.keys()) == keys_before

    out, _ = run()
    assert "Removed 5 upload(s)" in out
    # The stale objects are really gone from the bucket; the live ones are untouched.
    assert set(real_s3.keys()) == {confirmed.key, live.key, in_grace.key}
    assert real_s3.get(confirmed.key) == body
    remaining = set(Upload.objects.values_list("pk", flat=True))
    assert remaining == {confirmed.pk, live.pk, in_grace.pk}
    # The live upload can still be confirmed, the confirmed one downloaded.
    assert services.confirm_upload(user=user, upload_id=live.pk).is_complete
    assert services.download_url(user=user, upload_id=confirmed.pk).url
    # Nothing more to do.
    assert "Removed 0 upload(s)" in run()[0]
