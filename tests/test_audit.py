"""Audit records (logger ``presigned_transfers``): one per sign, confirm, refuse, download,
delete, with who and which upload as attributes, and never a URL, signature or key."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from presigned_transfers import exceptions, services
from tests import flows, samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.INFO, logger="presigned_transfers")

    def records():
        return [r for r in caplog.records if r.name == "presigned_transfers"]

    return records


def audit(record):
    return (record.event, record.user_id, record.upload_id)


def test_each_event_names_the_user_and_the_upload(moto_s3, user, records):
    upload = flows.sign(user, samples.PDF)
    flows.put(upload, samples.PDF)
    services.confirm_upload(user=user, upload_id=upload.pk)
    signed = services.download_url(user=user, upload_id=upload.pk)
    services.delete_upload(user=user, upload_id=upload.pk)
    bad = flows.sign(user, samples.PE_EXE)
    flows.put(bad, samples.PE_EXE)
    with pytest.raises(exceptions.UploadRefused):
        services.confirm_upload(user=user, upload_id=bad.pk)
    with pytest.raises(exceptions.TransferError):
        services.create_upload(user=user, filename="a", content_type="text/html", size=1)

    uid, up, bad_id = user.pk, str(upload.pk), str(bad.pk)
    assert [audit(r) for r in records()] == [
        ("sign", uid, up),
        ("confirm", uid, up),
        ("download", uid, up),
        ("delete", uid, up),
        ("sign", uid, bad_id),
        ("refuse", uid, bad_id),
        ("refuse", uid, None),
    ]
    refuse_confirm, refuse_sign = records()[-2:]
    assert (refuse_confirm.stage, refuse_confirm.code) == ("confirm", "content_mismatch")
    assert (refuse_sign.stage, refuse_sign.code) == ("sign", "file_type_not_allowed")
    sign = records()[0]
    assert (sign.size, sign.type) == (len(samples.PDF), "application/pdf")
    size = len(samples.PDF)
    assert sign.getMessage() == (
        f"sign user={uid} upload={up} size={size} type=application/pdf transport=post"
    )
    # Nothing that would let a reader of the logs fetch or forge anything.
    for record in records():
        text = record.getMessage() + " " + " ".join(map(str, record.__dict__.values()))
        assert signed.url not in text
        assert "X-Amz-Signature" not in text
        assert "x-amz-signature" not in text.lower()
        assert upload.key not in text
        assert "test-bucket" not in text


def test_admin_downloads_are_audited_as_the_staff_user(moto_s3, user, admin_client, records):
    upload = flows.sign(user, samples.PDF)
    flows.put(upload, samples.PDF)
    services.confirm_upload(user=user, upload_id=upload.pk)
    response = admin_client.get(
        reverse("admin:presigned_transfers_upload_download", args=[upload.pk])
    )
    assert response.status_code == 302
    [record] = [r for r in records() if r.event == "download"]
    assert record.user_id != user.pk  # the staff member, not the owner
    assert record.upload_id == str(upload.pk)


def test_the_endpoints_audit_too(moto_s3, user_client, user, records):
    response = user_client.post(
        reverse("presigned_transfers:upload-url"),
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
        content_type="application/json",
    )
    assert response.status_code == 201
    [record] = records()
    assert audit(record) == ("sign", user.pk, response.json()["upload_id"])
    assert response.json()["url"] not in record.getMessage()


def test_a_record_names_its_place_and_none_is_made_below_info(user, records, caplog):
    from presigned_transfers import audit as audit_module

    audit_module.record("delete", user=user, upload_id="u-1", reason="test")
    (made,) = records()
    assert (made.pathname, made.module, made.funcName) == (audit_module.__file__, "audit", "record")
    assert made.lineno > 0 and made.levelno == logging.INFO
    assert made.getMessage() == f"delete user={user.pk} upload=u-1 reason=test"
    caplog.set_level(logging.WARNING, logger="presigned_transfers")
    audit_module.record("delete", user=user, upload_id="u-2")
    assert len(records()) == 1
