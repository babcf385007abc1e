"""cleanup.py and ``manage.py presigned_cleanup``: moto, then SeaweedFS at the end.

A run reconciles stale pending uploads (verifies them as confirm would), removes what never
arrived or was refused, and sweeps leftover staging objects. The tests of cleanup beside
live confirms (row locks) are in tests/system/test_concurrency.py, on PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from presigned_transfers import cleanup, exceptions, services, signals, storage
from presigned_transfers.models import Upload
from tests import flows, samples

pytestmark = pytest.mark.django_db
HOUR = 3600


@pytest.fixture
def s3(moto_s3, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": HOUR}
    return moto_s3


def uploaded(
    user, *, status="pending", window_ended=None, updated=None, body=samples.PDF, sent=None
):
    """An upload of *user* signed for *body*, in the given state and age; *sent* is what
    arrived at its staging key (default: *body*; :data:`NOTHING`: nothing arrived)."""
    upload = flows.sign(user, body)
    arrived = body if sent is None else sent
    if arrived is not False:
        flows.put(upload, arrived)
    changes = {"status": status}
    if window_ended is not None:
        changes["expires_at"] = timezone.now() - timedelta(seconds=window_ended)
    if updated is not None:
        changes["updated_at"] = timezone.now() - timedelta(seconds=updated)
    Upload.objects.filter(pk=upload.pk).update(**changes)
    upload.refresh_from_db()
    return upload


NOTHING = False  # for uploaded(sent=...): the browser never sent the file


@pytest.fixture
def uploads(s3, user):
    return {
        "arrived, never confirmed": uploaded(user, window_ended=HOUR + 60),
        "arrived long ago": uploaded(user, window_ended=30 * 24 * HOUR),
        "never arrived": uploaded(user, window_ended=HOUR + 60, sent=NOTHING),
        "arrived, an executable": uploaded(user, window_ended=HOUR + 60, sent=samples.PE_EXE),
        "pending in grace": uploaded(user, window_ended=HOUR - 60, sent=NOTHING),
        "pending in window": uploaded(user),
        "old complete": uploaded(user, status="complete", window_ended=90 * 24 * HOUR),
        "old failed": uploaded(user, status="failed", window_ended=2 * HOUR, updated=HOUR + 60),
        "recent failed": uploaded(user, status="failed", window_ended=2 * HOUR, updated=60),
    }


RECONCILED = {"arrived, never confirmed", "arrived long ago"}
REMOVED = {"never arrived", "arrived, an executable", "old failed"}


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("presigned_cleanup", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_reconciles_what_arrived_and_removes_what_did_not(uploads, user):
    confirmed = []
    receiver = lambda upload, request, **kwargs: confirmed.append((upload.pk, request))  # noqa: E731
    signals.upload_confirmed.connect(receiver)
    try:
        out, _ = run()
    finally:
        signals.upload_confirmed.disconnect(receiver)
    for name, upload in uploads.items():
        row = Upload.objects.filter(pk=upload.pk).first()
        if name in REMOVED:
            assert row is None, name
            assert not flows.object_exists(upload.upload_key), name
            assert not flows.object_exists(upload.key), name
        else:
            assert row is not None, name
        if name in RECONCILED:
            # The file arrived intact: verified like a confirm and kept, never deleted.
            assert row.status == Upload.Status.COMPLETE, name
            assert row.verified_size == len(samples.PDF)
            assert row.etag
            assert storage.read_start(row.key, 100).head == samples.PDF[:100]
            signed = services.download_url(user=user, upload_id=row.pk)
            assert row.key in signed.url
    assert sorted(confirmed) == sorted((uploads[n].pk, None) for n in RECONCILED)
    assert "Completed 2 upload(s) whose file arrived but was never confirmed." in out
    assert (
        "Removed 3 upload(s): 1 never arrived (window ended more than 3600s ago), 2 refused." in out
    )


def test_dry_run_lists_and_changes_nothing(uploads):
    before = sorted(Upload.objects.values_list("pk", "status", "key", "staging_key"))
    out, _ = run("--dry-run")
    assert "Would complete 2 upload(s)" in out
    assert "Would remove 3 upload(s)" in out
    assert sorted(Upload.objects.values_list("pk", "status", "key", "staging_key")) == before
    for name, upload in uploads.items():
        assert (f"would remove {upload.pk}" in out) == (name in REMOVED), name
    assert flows.object_exists(uploads["arrived, an executable"].upload_key)
    assert not flows.object_exists(uploads["arrived, never confirmed"].key)


def test_grace_option_overrides_the_setting(uploads):
    run("--grace", "0")
    assert not Upload.objects.filter(pk=uploads["pending in grace"].pk).exists()
    assert not Upload.objects.filter(pk=uploads["recent failed"].pk).exists()
    assert Upload.objects.filter(pk=uploads["pending in window"].pk).exists()
    assert Upload.objects.get(pk=uploads["old complete"].pk).is_complete


def test_limit_and_batches(s3, user):
    stale = [uploaded(user, window_ended=2 * HOUR + i, sent=NOTHING) for i in range(7)]
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


def test_objects_are_deleted_in_one_request_per_batch_and_the_signal_is_sent(s3, user, monkeypatch):
    stale = [uploaded(user, window_ended=2 * HOUR, sent=NOTHING) for _ in range(3)]
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
    # Both keys of each upload: a copy an interrupted confirm left would go too.
    assert sorted(calls[0]) == sorted(k for u in stale for k in (u.key, u.staging_key))
    assert len(calls) == 1
    assert len(deleted) == 3
    assert [r.reason for r in report.removed] == ["expired"] * 3
    assert report.errors == {}


def test_an_object_that_cannot_be_deleted_keeps_its_row(s3, user, monkeypatch):
    stuck, fine = (uploaded(user, window_ended=2 * HOUR, sent=NOTHING) for _ in range(2))
    monkeypatch.setattr(
        storage, "delete_objects", lambda keys: {stuck.staging_key: "AccessDenied"} if keys else {}
    )
    with pytest.raises(CommandError, match="1 upload"):
        run()
    assert Upload.objects.filter(pk=stuck.pk).exists()
    assert not Upload.objects.filter(pk=fine.pk).exists()


def test_storage_down_keeps_every_row_pending(s3, user):
    stale = [uploaded(user, window_ended=2 * HOUR) for _ in range(2)]

    def down(*args, **kwargs):
        raise exceptions.StorageUnavailable(details={"reason": "EndpointConnectionError"})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "read_start", down)
        patch.setattr(storage, "delete_objects", down)
        report = cleanup.cleanup()
    assert report.removed == [] and report.reconciled == []
    assert report.errors == {u.pk: "EndpointConnectionError" for u in stale}
    assert set(Upload.objects.values_list("status", flat=True)) == {"pending"}
    assert all(flows.object_exists(u.staging_key) for u in stale)
    # The next run, with S3 back, completes them.
    assert sorted(cleanup.cleanup().reconciled) == sorted(u.pk for u in stale)


def test_a_failure_after_the_copy_keeps_the_upload_pending_and_the_copy_for_later(s3, user):
    """The copy is not taken back: a confirm that took the row lock right after the rollback
    may have kept the same bytes at that key. The pending row names it; the next run
    completes the upload from its staging object."""
    upload = uploaded(user, window_ended=2 * HOUR)

    def broken_save(*args, **kwargs):
        raise RuntimeError("the database went away")

    with pytest.MonkeyPatch.context() as patch, pytest.raises(RuntimeError):
        patch.setattr(Upload, "save", broken_save)
        cleanup.cleanup()
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert flows.object_exists(upload.staging_key)
    assert flows.object_exists(upload.key)
    assert cleanup.cleanup().reconciled == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == Upload.Status.COMPLETE
    assert flows.read(upload.key) == samples.PDF


def test_audit_records(s3, user, caplog):
    gone = uploaded(user, window_ended=2 * HOUR, sent=NOTHING)
    kept = uploaded(user, window_ended=2 * HOUR)
    with caplog.at_level(logging.INFO, logger="presigned_transfers"):
        cleanup.cleanup()
    [delete] = [r for r in caplog.records if getattr(r, "event", None) == "delete"]
    assert delete.upload_id == str(gone.pk)
    assert delete.user_id is None
    assert delete.by == "cleanup"
    assert delete.owner_id == user.pk
    assert delete.reason == "expired"
    assert gone.key not in delete.getMessage()
    [confirm] = [r for r in caplog.records if getattr(r, "event", None) == "confirm"]
    assert (confirm.upload_id, confirm.user_id, confirm.by) == (str(kept.pk), None, "reconcile")


def test_reconcile_refuses_what_confirm_would_refuse(s3, user):
    refused = []
    receiver = lambda upload, code, request, **kwargs: refused.append((code, request))  # noqa: E731
    signals.upload_refused.connect(receiver)
    short = uploaded(user, window_ended=2 * HOUR, sent=samples.PDF[:-1])
    try:
        report = cleanup.cleanup()
    finally:
        signals.upload_refused.disconnect(receiver)
    assert refused == [("size_mismatch", None)]
    assert [r.id for r in report.removed] == [short.pk]
    assert not flows.object_exists(short.staging_key)


def test_sweep_deletes_staging_objects_of_complete_uploads_once_their_window_closed(s3, user):
    closed = uploaded(user, window_ended=2 * HOUR)
    services.reconcile_upload(closed.pk)
    open_ = uploaded(user)
    services.confirm_upload(user=user, upload_id=open_.pk)
    # As if the browser POSTed its form again after confirm (the window of one has closed).
    flows.put(closed, samples.PE_EXE)
    flows.put(open_, samples.PE_EXE)
    report = cleanup.cleanup()
    assert report.swept == 1
    closed.refresh_from_db()
    open_.refresh_from_db()
    assert closed.staging_key == "" and not flows.object_exists(policy_staging(closed))
    # Still inside its window: a POST could still land, so it is swept later, not now.
    assert open_.staging_key and flows.object_exists(open_.staging_key)
    # Whatever sits at a staging key, downloads serve the kept object.
    for upload in (closed, open_):
        assert storage.read_start(upload.key, 100).head == samples.PDF[:100]
    assert cleanup.cleanup().swept == 0


def policy_staging(upload):
    from presigned_transfers import policy

    return policy.staging_key(upload.key)


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
    assert "Completed 0 upload(s)" in out
    assert "Removed 0 upload(s)" in out
    assert cleanup.cleanup(dry_run=True, limit=3).removed == []


def test_dry_run_with_limit(uploads):
    report = cleanup.cleanup(dry_run=True, limit=2)
    assert len(report.removed) + len(report.reconciled) == 2
    assert Upload.objects.count() == len(uploads)


def test_cutoff_follows_the_cleanup_grace(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "CLEANUP_GRACE": timedelta(minutes=10),
    }
    before = timezone.now()
    cut = cleanup.cutoff()
    assert before - timedelta(minutes=10) <= cut <= timezone.now() - timedelta(minutes=10)
    assert cleanup.cutoff(now=before, grace=0) == before


def test_storage_delete_objects_limits(s3):
    assert storage.delete_objects([]) == {}
    with pytest.raises(ValueError, match="1000"):
        storage.delete_objects(["k"] * 1001)


# --- SeaweedFS: real uploads, really kept or really gone -------------------------------------


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)  # real commits: confirm deletes staging on commit
def test_cleanup_against_seaweedfs(presigned_bucket, user, settings):
    """A browser that got S3's 204 and closed before confirming loses nothing."""
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": HOUR}

    def browser_upload(body, *, sent=None):
        created = services.create_upload(
            user=user, filename="doc.pdf", content_type="application/pdf", size=len(body)
        )
        response = presigned_bucket.post(created.post.url, created.post.fields, sent or body)
        assert response.status_code == 204, response.text
        return created.upload

    body = samples.PDF + b"x" * 500
    confirmed = browser_upload(body)
    services.confirm_upload(user=user, upload_id=confirmed.pk)
    tab_closed = [browser_upload(body) for _ in range(3)]
    never_sent = services.create_upload(
        user=user, filename="a.pdf", content_type="application/pdf", size=100
    ).upload
    executable = browser_upload(samples.ELF + b"\x00" * (len(body) - len(samples.ELF)))
    refused = browser_upload(body, sent=body[:-1])
    with pytest.raises(exceptions.UploadRefused):
        services.confirm_upload(user=user, upload_id=refused.pk)
    live = browser_upload(body)  # pending, its window still open
    in_grace = browser_upload(body)
    for upload in (*tab_closed, never_sent, executable):
        flows.expire(upload, seconds_ago=HOUR + 5)
    flows.expire(in_grace, seconds_ago=HOUR - 60)
    Upload.objects.filter(pk=refused.pk).update(
        updated_at=timezone.now() - timedelta(seconds=HOUR + 5)
    )
    Upload.objects.filter(pk=confirmed.pk).update(expires_at=timezone.now() - timedelta(days=400))

    keys_before = set(presigned_bucket.keys())
    # The confirmed one's staging object waits for the sweep too (confirm only reads and copies).
    staged = {u.staging_key for u in (confirmed, *tab_closed, executable, live, in_grace)}
    assert keys_before == {confirmed.key} | staged

    out, _ = run("--dry-run")
    assert "Would complete 3 upload(s)" in out
    assert (
        "Would remove 3 upload(s): 1 never arrived (window ended more than 3600s ago), 2 refused."
        in out
    )
    assert set(presigned_bucket.keys()) == keys_before

    out, _ = run()
    assert "Completed 3 upload(s)" in out
    assert "Removed 3 upload(s)" in out
    # The three reconciled now, and the confirmed one's.
    assert "Deleted 4 leftover staging object(s)." in out
    # The closed tabs' files are complete and downloadable, with the same bytes.
    for upload in tab_closed:
        upload.refresh_from_db()
        assert upload.is_complete and upload.etag
        url = services.download_url(user=user, upload_id=upload.pk).url
        assert requests.get(url, timeout=30).content == body
    # What never arrived, the executable and the refused one are gone; live ones untouched.
    remaining = set(Upload.objects.values_list("pk", flat=True))
    assert remaining == {confirmed.pk, live.pk, in_grace.pk, *(u.pk for u in tab_closed)}
    assert set(presigned_bucket.keys()) == {
        confirmed.key,
        live.staging_key,
        in_grace.staging_key,
        *(u.key for u in tab_closed),
    }
    assert presigned_bucket.get(confirmed.key) == body
    assert services.confirm_upload(user=user, upload_id=live.pk).is_complete
    assert "Completed 0 upload(s)" in run()[0]
