"""signals.py: every signal is sent, once, with the documented arguments."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.urls import reverse

from presigned_transfers import services, signals
from presigned_transfers.models import Upload
from tests.factories import (
    confirm_over_http,
    make_upload,
    object_exists,
    post_json,
    put_object,
    sign_over_http,
)
from tests.samples import PDF

SIGNALS = {
    "upload_signed": {"sender", "upload", "request"},
    "upload_confirmed": {"sender", "upload", "request"},
    "upload_refused": {"sender", "upload", "code", "request"},
    "upload_deleted": {"sender", "upload"},
}


@pytest.fixture
def sent():
    """Every signal sent during the test, as (name, kwargs) with the status at send time."""
    log = []

    def make_receiver(name):
        def receiver(signal, **kwargs):
            assert signal is getattr(signals, name)
            upload = kwargs.get("upload")
            log.append((name, {**kwargs, "status_then": getattr(upload, "status", None)}))

        return receiver

    receivers = {name: make_receiver(name) for name in SIGNALS}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    yield log
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def _only(sent, name):
    matching = [kwargs for sent_name, kwargs in sent if sent_name == name]
    assert len(matching) == 1, sent
    kwargs = matching[0]
    assert set(kwargs) - {"status_then"} == SIGNALS[name]
    assert kwargs["sender"] is Upload
    assert isinstance(kwargs["upload"], Upload)
    return kwargs


def _sign(client):
    return sign_over_http(client, PDF, filename="a.pdf")["upload_id"]


_confirm = confirm_over_http


def test_every_signal_is_documented():
    for name in SIGNALS:
        assert f"``{name}``" in signals.__doc__
        for argument in SIGNALS[name]:
            assert f"``{argument}``" in signals.__doc__.split(f"``{name}``")[1].split("\n\n")[0]


def test_upload_signed(user_client, user, moto_s3, sent):
    upload_id = _sign(user_client)
    kwargs = _only(sent, "upload_signed")
    assert [name for name, _ in sent] == ["upload_signed"]
    assert str(kwargs["upload"].pk) == upload_id
    assert kwargs["status_then"] == Upload.Status.PENDING
    assert isinstance(kwargs["request"], HttpRequest)
    assert kwargs["request"].user == user


def test_upload_signed_without_a_request(user, moto_s3, sent):
    created = services.create_upload(
        user=user, filename="a.pdf", content_type="application/pdf", size=5
    )
    kwargs = _only(sent, "upload_signed")
    assert kwargs["upload"] == created.upload
    assert kwargs["request"] is None


def test_upload_signed_is_not_sent_for_a_refused_request(user_client, moto_s3, sent):
    response = post_json(
        user_client,
        reverse("presigned_transfers:upload-url"),
        {"filename": "a.exe", "content_type": "application/x-msdownload", "size": 5},
    )
    assert response.status_code == 415
    assert sent == []


def test_upload_confirmed_once(user_client, user, moto_s3, sent):
    upload_id = _sign(user_client)
    put_object(moto_s3, Upload.objects.get(pk=upload_id))
    sent.clear()
    assert _confirm(user_client, upload_id).status_code == 200
    assert _confirm(user_client, upload_id).status_code == 200
    kwargs = _only(sent, "upload_confirmed")
    assert [name for name, _ in sent] == ["upload_confirmed"]
    assert str(kwargs["upload"].pk) == upload_id
    assert kwargs["status_then"] == Upload.Status.COMPLETE
    assert kwargs["request"].user == user


def test_upload_confirmed_is_not_sent_before_the_file_arrives(user_client, moto_s3, sent):
    upload_id = _sign(user_client)
    sent.clear()
    assert _confirm(user_client, upload_id).status_code == 409
    assert sent == []


def test_upload_refused_once_with_its_code(user_client, user, moto_s3, sent):
    upload_id = _sign(user_client)
    upload = Upload.objects.get(pk=upload_id)
    put_object(moto_s3, upload, PDF, content_type="image/png")
    sent.clear()
    assert _confirm(user_client, upload_id).status_code == 422
    assert _confirm(user_client, upload_id).status_code == 422
    kwargs = _only(sent, "upload_refused")
    assert [name for name, _ in sent] == ["upload_refused"]
    assert kwargs["code"] == "content_type_mismatch"
    assert kwargs["upload"].pk == upload.pk
    assert kwargs["status_then"] == Upload.Status.FAILED
    assert kwargs["request"].user == user
    assert not object_exists(moto_s3, upload.key)


def test_upload_deleted_by_the_delete_endpoint(
    user_client, user, moto_s3, sent, django_capture_on_commit_callbacks
):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    put_object(moto_s3, upload)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(
            reverse("presigned_transfers:upload-detail", args=[upload.pk])
        )
    assert response.status_code == 200
    kwargs = _only(sent, "upload_deleted")
    assert kwargs["upload"].key == upload.key
    assert kwargs["upload"].original_filename == upload.original_filename
    assert not object_exists(moto_s3, upload.key)


def test_upload_deleted_by_a_queryset_delete(
    user, moto_s3, sent, django_capture_on_commit_callbacks
):
    uploads = [make_upload(user) for _ in range(3)]
    for upload in uploads:
        put_object(moto_s3, upload)
    with django_capture_on_commit_callbacks(execute=True):
        Upload.objects.filter(owner=user).delete()
    assert sorted(kwargs["upload"].key for _, kwargs in sent) == sorted(u.key for u in uploads)
    assert {name for name, _ in sent} == {"upload_deleted"}
    assert not any(object_exists(moto_s3, upload.key) for upload in uploads)


def test_upload_deleted_when_its_owner_is_deleted(
    user, other_user, moto_s3, sent, django_capture_on_commit_callbacks
):
    mine = make_upload(user)
    theirs = make_upload(other_user)
    put_object(moto_s3, mine)
    put_object(moto_s3, theirs)
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    kwargs = _only(sent, "upload_deleted")
    assert kwargs["upload"].key == mine.key
    assert not object_exists(moto_s3, mine.key)
    assert object_exists(moto_s3, theirs.key)
