"""services.py: the operations without HTTP: ownership, states, storage failures, audit log."""

from __future__ import annotations

import base64
import json
import logging
import uuid

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from urllib3.exceptions import NewConnectionError

from presigned_transfers import exceptions, services, storage
from presigned_transfers.models import Upload
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_upload, object_exists, put_object
from tests.samples import PDF


def _create(user, **kwargs):
    args = {"filename": "a.pdf", "content_type": "application/pdf", "size": len(PDF)}
    return services.create_upload(user=user, **{**args, **kwargs})


def _failing_client(monkeypatch, method, error):
    client = storage.get_client()

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(client, method, fail)
    return client


SERVER_ERROR = ClientError(
    {"Error": {"Code": "InternalError", "Message": "We encountered an internal error"}},
    "HeadObject",
)
UNREACHABLE = EndpointConnectionError(endpoint_url="https://test-bucket.s3.amazonaws.com/")


# --- get_owned_upload -----------------------------------------------------------------------


def test_get_owned_upload_for_the_owner(user):
    upload = make_upload(user)
    assert services.get_owned_upload(user, str(upload.pk)) == upload
    assert services.get_owned_upload(user, upload.pk) == upload
    assert services.get_owned_upload(user, str(upload.pk).upper()) == upload
    assert services.get_owned_upload(user, upload.pk, lock=True) == upload


@pytest.mark.parametrize("upload_id", ["", "nope", "1", None, 12, "../x", str(uuid.uuid4())])
def test_get_owned_upload_of_nothing_is_not_found(user, upload_id):
    make_upload(user)
    with pytest.raises(exceptions.UploadNotFound) as caught:
        services.get_owned_upload(user, upload_id)
    assert caught.value.status == 404


def test_get_owned_upload_of_someone_elses_is_not_found(user, other_user):
    upload = make_upload(user)
    with pytest.raises(exceptions.UploadNotFound):
        services.get_owned_upload(other_user, upload.pk)
    with pytest.raises(exceptions.UploadNotFound):
        services.get_owned_upload(AnonymousUser(), upload.pk)
    with pytest.raises(exceptions.UploadNotFound):
        services.get_owned_upload(None, upload.pk)


# --- create_upload --------------------------------------------------------------------------


def test_create_upload_records_a_pending_upload(user, moto_s3):
    created = _create(user, filename="C:\\tmp\\Rapport été.pdf", content_type="application/PDF")
    upload = created.upload
    assert upload.status == Upload.Status.PENDING
    assert upload.owner == user
    assert upload.original_filename == "Rapport été.pdf"
    assert upload.content_type == "application/pdf"
    assert upload.declared_size == len(PDF)
    assert upload.verified_size is None
    assert upload.expires_at == created.post.expires_at
    assert upload.key.startswith(f"uploads/{user.pk}/")
    assert upload.key.endswith("_Rapport_ete.pdf")
    # The signed form writes to the staging key; the kept key is named by no form.
    assert upload.staging_key == "incoming/" + upload.key
    assert created.post.fields["key"] == upload.staging_key
    document = json.loads(base64.b64decode(created.post.fields["policy"]))
    # The most S3 accepts is the declared size; confirm catches a smaller file.
    assert ["content-length-range", 1, len(PDF)] in document["conditions"]


def test_create_upload_gives_every_upload_its_own_key(user, moto_s3):
    keys = {_create(user).upload.key for _ in range(5)}
    assert len(keys) == 5


def test_create_upload_refusal_records_nothing(user, moto_s3):
    with pytest.raises(exceptions.FileTypeNotAllowed):
        _create(user, content_type="text/html")
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_create_upload_for_an_anonymous_user_signs_and_records_nothing(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("signed an upload for nobody")

    for name in ("presign_post", "presign_put"):
        monkeypatch.setattr(services.signing, name, never)
    monkeypatch.setattr(storage, "create_multipart", never)
    with pytest.raises(exceptions.NotAuthenticated):
        _create(AnonymousUser())
    assert not Upload.objects.exists()


# --- confirm_upload -------------------------------------------------------------------------


def test_confirm_upload_completes(user, moto_s3):
    upload = _create(user).upload
    put_object(moto_s3, upload)
    before = timezone.now()
    confirmed = services.confirm_upload(user=user, upload_id=str(upload.pk))
    assert confirmed.pk == upload.pk
    assert confirmed.status == Upload.Status.COMPLETE
    assert confirmed.verified_size == len(PDF)
    assert before <= confirmed.confirmed_at <= timezone.now()
    again = services.confirm_upload(user=user, upload_id=upload.pk)
    assert again.confirmed_at == confirmed.confirmed_at


def test_confirm_upload_refuses_a_size_the_policy_no_longer_allows(user, moto_s3, settings):
    upload = _create(user).upload
    put_object(moto_s3, upload)
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {"default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 10}},
    }
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "size_not_allowed"
    assert not object_exists(moto_s3, upload.key)
    upload.refresh_from_db()
    assert (upload.status, upload.failure_code) == (Upload.Status.FAILED, "size_not_allowed")


def test_confirm_upload_of_a_failed_upload_without_a_code(user, moto_s3):
    upload = make_upload(user, status=Upload.Status.FAILED, failure_code="")
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "upload_refused"


def test_confirm_upload_of_someone_elses_upload(user, other_user, moto_s3):
    upload = _create(user).upload
    put_object(moto_s3, upload)
    with pytest.raises(exceptions.UploadNotFound):
        services.confirm_upload(user=other_user, upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert object_exists(moto_s3, upload.upload_key)


def _failing_s3http(monkeypatch, failure):
    """Confirm's lean S3 requests (s3http) fail: an error answer, or no connection at all."""
    from presigned_transfers import s3http

    def send(method, url, headers, read):
        if isinstance(failure, Exception):
            raise failure
        return s3http.Answer(status=failure, headers={}, body=b"<Error><Code>InternalError</Code>")

    monkeypatch.setattr(s3http, "_send", send)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(500, "InternalError"), (NewConnectionError(None, "refused"), "NewConnectionError")],
)
def test_confirm_upload_when_storage_fails(user, moto_s3, monkeypatch, failure, reason):
    upload = _create(user).upload
    put_object(moto_s3, upload)
    _failing_s3http(monkeypatch, failure)
    with pytest.raises(exceptions.StorageUnavailable) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.status == 503
    assert caught.value.details == {"reason": reason}
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert object_exists(moto_s3, upload.upload_key)


def test_a_refusal_is_rolled_back_when_the_delete_fails(user, moto_s3, monkeypatch):
    upload = _create(user, size=len(PDF) + 1).upload
    put_object(moto_s3, upload)
    _failing_client(monkeypatch, "delete_objects", SERVER_ERROR)
    with pytest.raises(exceptions.StorageUnavailable):
        services.confirm_upload(user=user, upload_id=upload.pk)
    upload.refresh_from_db()
    # Not marked failed while its object is still there: the next confirm tries again.
    assert upload.status == Upload.Status.PENDING
    assert upload.failure_code == ""


def test_storage_error_reaches_the_client_as_503_json(user, user_client, moto_s3, monkeypatch):
    upload = _create(user).upload
    _failing_s3http(monkeypatch, NewConnectionError(None, "refused"))
    from tests.factories import assert_json_error, post_json

    response = post_json(user_client, "/xfer-9f3/confirm-upload/", {"upload_id": str(upload.pk)})
    error = assert_json_error(response, 503, "storage_unavailable")
    assert "amazonaws" not in json.dumps(error)


# --- download_url ---------------------------------------------------------------------------


def test_download_url_needs_the_owner_and_a_complete_upload(user, other_user, moto_s3):
    upload = make_upload(user, status=Upload.Status.COMPLETE, original_filename="x y.pdf")
    signed = services.download_url(user=user, upload_id=str(upload.pk))
    assert upload.key in signed.url
    assert "response-content-disposition=attachment" in signed.url
    with pytest.raises(exceptions.UploadNotFound):
        services.download_url(user=other_user, upload_id=str(upload.pk))
    pending = make_upload(user)
    with pytest.raises(exceptions.UploadStateConflict) as caught:
        services.download_url(user=user, upload_id=pending.pk)
    assert (caught.value.status, caught.value.code) == (409, "upload_not_complete")


# --- delete_upload --------------------------------------------------------------------------


def test_delete_upload(user, moto_s3, django_capture_on_commit_callbacks, monkeypatch):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    put_object(moto_s3, upload)
    calls = []
    client = storage.get_client()
    real_delete = client.delete_object

    def counting_delete(**kwargs):
        calls.append(kwargs["Key"])
        return real_delete(**kwargs)

    monkeypatch.setattr(client, "delete_object", counting_delete)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.delete_upload(user=user, upload_id=str(upload.pk))
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not object_exists(moto_s3, upload.key)
    # The object is deleted once, before the row; no second delete on commit.
    assert calls == [upload.key]
    assert callbacks == []


def test_delete_upload_deletes_its_staging_object_too(user, moto_s3, monkeypatch):
    upload = _create(user).upload
    put_object(moto_s3, upload)
    moto_s3.put_object(Bucket="test-bucket", Key=upload.key, Body=PDF)
    calls = []
    client = storage.get_client()
    real = client.delete_objects
    monkeypatch.setattr(client, "delete_objects", lambda **kw: calls.append(kw) or real(**kw))
    services.delete_upload(user=user, upload_id=upload.pk)
    assert not object_exists(moto_s3, upload.key)
    assert not object_exists(moto_s3, upload.staging_key)
    # Both keys in one request.
    assert [sorted(o["Key"] for o in c["Delete"]["Objects"]) for c in calls] == [
        sorted([upload.key, upload.staging_key])
    ]


def test_delete_upload_of_someone_elses(user, other_user, moto_s3):
    upload = make_upload(user)
    put_object(moto_s3, upload)
    with pytest.raises(exceptions.UploadNotFound):
        services.delete_upload(user=other_user, upload_id=upload.pk)
    assert Upload.objects.filter(pk=upload.pk).exists()
    assert object_exists(moto_s3, upload.key)


def test_delete_upload_keeps_the_row_when_storage_fails(user, moto_s3, monkeypatch):
    upload = make_upload(user)
    put_object(moto_s3, upload)
    _failing_client(monkeypatch, "delete_object", UNREACHABLE)
    with pytest.raises(exceptions.StorageUnavailable):
        services.delete_upload(user=user, upload_id=upload.pk)
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_row_deleted_elsewhere_deletes_its_object_after_commit(
    user, moto_s3, django_capture_on_commit_callbacks
):
    upload = make_upload(user)
    put_object(moto_s3, upload)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload.delete()
    # Not before the transaction commits (a rollback would keep the row).
    assert object_exists(moto_s3, upload.key)
    assert len(callbacks) == 1
    callbacks[0]()
    assert not object_exists(moto_s3, upload.key)


def test_a_failed_object_delete_after_commit_is_logged_not_raised(
    user, moto_s3, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    upload = make_upload(user)
    pk = upload.pk
    _failing_client(monkeypatch, "delete_object", UNREACHABLE)
    with (
        caplog.at_level(logging.ERROR, logger="presigned_transfers"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        upload.delete()
    assert not Upload.objects.filter(pk=pk).exists()
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert str(pk) in failures[0].getMessage()
    assert upload.key in failures[0].getMessage()


# --- misc -----------------------------------------------------------------------------------


def test_audit_log_records_each_event_without_secrets(user, moto_s3, caplog):
    with caplog.at_level(logging.INFO, logger="presigned_transfers"):
        upload = _create(user).upload
        with pytest.raises(exceptions.UploadStateConflict):
            services.confirm_upload(user=user, upload_id=upload.pk)
        put_object(moto_s3, upload)
        services.confirm_upload(user=user, upload_id=upload.pk)
        signed = services.download_url(user=user, upload_id=upload.pk)
        services.delete_upload(user=user, upload_id=upload.pk)
        with pytest.raises(exceptions.FileTooLarge):
            _create(user, size=10**12)
    records = [r for r in caplog.records if r.name == "presigned_transfers"]
    assert [r.event for r in records] == [
        "sign",
        "refuse",
        "confirm",
        "download",
        "delete",
        "refuse",
    ]
    assert {r.user_id for r in records} == {user.pk}
    assert [r.upload_id for r in records[:5]] == [str(upload.pk)] * 5
    assert records[1].code == "upload_missing"
    assert records[5].code == "file_too_large"
    for record in records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert signed.url not in text
        assert "X-Amz-Signature" not in text
        assert TEST_SECRET_KEY not in text
