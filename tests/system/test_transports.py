"""The three transports against SeaweedFS over HTTP: what the server signs, what S3 refuses,
how multipart completes, and who may touch an upload.

- post: the presigned POST form (with the file's SHA-256 pinned when the client sends one);
- put: one presigned PUT with its Content-Type, exact Content-Length, checksum and
  ``If-None-Match: *`` signed in;
- multipart: the server creates the upload, signs UploadPart URLs with each part's exact
  length (and checksum), and completes it itself from exactly the planned parts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
import requests
from django.test import Client
from django.urls import reverse

from presigned_transfers import cleanup, exceptions, storage
from presigned_transfers.models import Upload
from tests import flows, samples
from tests.factories import assert_json_error, confirm_over_http, post_json

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def pdf(size: int) -> bytes:
    return (samples.PDF + os.urandom(size))[:size]


@pytest.fixture
def configure(presigned_bucket, settings):
    def configure(**options):
        settings.PRESIGNED_TRANSFERS = {
            **settings.PRESIGNED_TRANSFERS,
            "POLICIES": {"default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 64 * MiB}},
            "MULTIPART_THRESHOLD": 5 * MiB,
            "MULTIPART_PART_SIZE": 5 * MiB,
            **options,
        }

    configure()
    return configure


def sign(client, body, *, transports=("multipart", "put", "post"), checksum=True, **extra):
    payload = {
        "filename": "big report.pdf",
        "content_type": "application/pdf",
        "size": len(body),
        "transports": list(transports),
        **extra,
    }
    if checksum:
        payload["checksum_sha256"] = sha256(body)
    response = post_json(client, reverse("presigned_transfers:upload-url"), payload)
    assert response.status_code == 201, response.content
    return response.json()


confirm = confirm_over_http


def parts_url(upload_id):
    return reverse("presigned_transfers:upload-parts", args=[upload_id])


def sign_parts(client, upload_id, body, numbers, part_size=5 * MiB, *, checksums=True):
    parts = []
    for number in numbers:
        chunk = body[(number - 1) * part_size : number * part_size]
        part = {"part_number": number}
        if checksums:
            part["checksum_sha256"] = sha256(chunk)
        parts.append(part)
    return post_json(client, parts_url(upload_id), {"parts": parts})


def put_part(answer, body, part_size=5 * MiB):
    number = answer["part_number"]
    chunk = body[(number - 1) * part_size : number * part_size]
    assert len(chunk) == answer["size"]
    return requests.put(answer["url"], data=chunk, headers=answer["headers"], timeout=60)


def send_parts(client, upload_id, body, numbers):
    signed = sign_parts(client, upload_id, body, numbers)
    assert signed.status_code == 200, signed.content
    for answer in signed.json()["parts"]:
        assert put_part(answer, body).status_code == 200


def downloaded(client, upload_id):
    response = client.get(reverse("presigned_transfers:download-url", args=[upload_id]))
    assert response.status_code == 200, response.content
    return requests.get(response.json()["url"], timeout=60)


# --- multipart ------------------------------------------------------------------------------


def test_multipart_in_parallel_parts_completes_verifies_and_keeps(
    configure, presigned_bucket, user_client
):
    body = pdf(11 * MiB + 123)  # three parts: 5 MiB, 5 MiB, 1 MiB + 123 B
    signed = sign(user_client, body)
    assert signed["transport"] == "multipart"
    assert (signed["part_size"], signed["part_count"], signed["checksum"]) == (5 * MiB, 3, "sha256")
    assert "url" not in signed and "fields" not in signed
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.staging_key == ""  # in place: completion seals it
    # Parts signed in one batch, sent in any order.
    answers = sign_parts(user_client, upload.pk, body, [3, 1, 2]).json()["parts"]
    assert [(a["part_number"], a["size"]) for a in answers] == [
        (3, MiB + 123),
        (1, 5 * MiB),
        (2, 5 * MiB),
    ]
    for answer in answers:
        assert put_part(answer, body).status_code == 200
    listed = user_client.get(parts_url(upload.pk)).json()
    assert [p["part_number"] for p in listed["parts"]] == [1, 2, 3]
    assert (listed["status"], listed["size"], listed["part_count"]) == ("pending", len(body), 3)

    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 200, response.content
    done = response.json()["upload"]
    assert (done["status"], done["size"], done["transport"]) == ("complete", len(body), "multipart")
    # S3's composite SHA-256 of the parts, as the browser's part hashes predict it.
    digests = b"".join(
        hashlib.sha256(body[i : i + 5 * MiB]).digest() for i in range(0, len(body), 5 * MiB)
    )
    expected = base64.b64encode(hashlib.sha256(digests).digest()).decode() + "-3"
    assert done["checksum_sha256"] == expected
    fetched = downloaded(user_client, upload.pk)
    assert fetched.content == body
    assert fetched.headers["Content-Disposition"].startswith(
        'attachment; filename="big report.pdf"'
    )
    # Sealed: a part URL no longer works once the upload is complete.
    assert put_part(answers[0], body).status_code == 404
    assert storage.open_multipart_uploads("uploads/") == []


def test_s3_refuses_a_part_of_another_length_or_checksum(configure, user_client):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    [answer] = sign_parts(user_client, signed["upload_id"], body, [1]).json()["parts"]
    chunk = body[: 5 * MiB]
    longer = requests.put(answer["url"], data=chunk + b"x", headers=answer["headers"], timeout=60)
    assert longer.status_code == 403
    other = bytes(reversed(chunk))
    wrong = requests.put(answer["url"], data=other, headers=answer["headers"], timeout=60)
    assert wrong.status_code == 400 and "BadDigest" in wrong.text
    no_checksum = requests.put(answer["url"], data=chunk, timeout=60)
    assert no_checksum.status_code == 403  # the checksum header is signed in
    assert user_client.get(parts_url(signed["upload_id"])).json()["parts"] == []


def test_a_missing_part_is_named_and_can_be_sent_then(configure, presigned_bucket, user_client):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    send_parts(user_client, signed["upload_id"], body, [1, 3])
    error = assert_json_error(confirm(user_client, signed["upload_id"]), 409, "parts_missing")
    assert error["details"] == {"missing": [2]}
    assert Upload.objects.get(pk=signed["upload_id"]).status == "pending"
    send_parts(user_client, signed["upload_id"], body, [2])
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert downloaded(user_client, signed["upload_id"]).content == body


def test_a_part_outside_the_plan_is_refused(configure, presigned_bucket, user_client):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    for parts in ([{"part_number": 4}], [{"part_number": 0}], [{"part_number": True}], [], "x"):
        response = post_json(user_client, parts_url(signed["upload_id"]), {"parts": parts})
        assert_json_error(response, 400, "invalid_parts")
    twice = [{"part_number": 1, "checksum_sha256": sha256(b"a")}] * 2
    assert_json_error(
        post_json(user_client, parts_url(signed["upload_id"]), {"parts": twice}),
        400,
        "invalid_parts",
    )
    # Without its checksum (the upload is pinned to checksums): refused too.
    response = post_json(
        user_client, parts_url(signed["upload_id"]), {"parts": [{"part_number": 1}]}
    )
    assert_json_error(response, 400, "invalid_parts")
    # A part S3 holds beyond the plan (nothing the app signs can make one): not completed.
    upload = Upload.objects.get(pk=signed["upload_id"])
    send_parts(user_client, upload.pk, body, [1, 2, 3])
    presigned_bucket.client.upload_part(
        Bucket=presigned_bucket.bucket,
        Key=upload.key,
        UploadId=upload.multipart_id,
        PartNumber=4,
        Body=b"x",
        ChecksumSHA256=sha256(b"x"),
    )
    error = assert_json_error(confirm(user_client, str(upload.pk)), 409, "parts_mismatch")
    assert error["details"]["unexpected"] == [4]
    assert not flows.object_exists(upload.key)


def test_nobody_else_can_sign_list_complete_or_abort(
    configure, presigned_bucket, user_client, other_user
):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    send_parts(user_client, signed["upload_id"], body, [1, 2, 3])
    intruder = Client()
    intruder.force_login(other_user)
    upload_id = signed["upload_id"]
    answers = [
        sign_parts(intruder, upload_id, body, [1]),
        intruder.get(parts_url(upload_id)),
        confirm(intruder, upload_id),
        intruder.delete(reverse("presigned_transfers:upload-detail", args=[upload_id])),
    ]
    missing = post_json(user_client, parts_url("9b0c0000-0000-4000-8000-000000000000"), {})
    for answer in answers:
        error = assert_json_error(answer, 404, "not_found")
        assert error == missing.json()["error"]  # exactly what a missing upload gets
    upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "pending"
    assert len(storage.list_parts(upload.key, upload.multipart_id)) == 3
    # Anonymous: 401 everywhere.
    assert_json_error(Client().get(parts_url(upload_id)), 401, "not_authenticated")


def test_cancel_aborts_the_multipart_upload(configure, presigned_bucket, user_client):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    send_parts(user_client, signed["upload_id"], body, [1])
    assert len(storage.open_multipart_uploads("uploads/")) == 1
    response = user_client.delete(
        reverse("presigned_transfers:upload-detail", args=[signed["upload_id"]])
    )
    assert response.status_code == 200
    assert storage.open_multipart_uploads("uploads/") == []
    assert presigned_bucket.keys() == []
    assert not Upload.objects.exists()


def test_a_completion_whose_commit_failed_is_verified_on_the_next_confirm(
    configure, presigned_bucket, user_client, monkeypatch
):
    body = pdf(11 * MiB)
    signed = sign(user_client, body)
    send_parts(user_client, signed["upload_id"], body, [1, 2, 3])
    real_read = storage.read_start

    def completed_then_crash(key, length):
        raise exceptions.StorageUnavailable(details={"reason": "injected after completion"})

    monkeypatch.setattr(storage, "read_start", completed_then_crash)
    assert_json_error(confirm(user_client, signed["upload_id"]), 503, "storage_unavailable")
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.status == "pending"
    assert presigned_bucket.keys() == [upload.key]  # S3 completed it; the row did not record it
    monkeypatch.setattr(storage, "read_start", real_read)
    done = confirm(user_client, signed["upload_id"])
    assert done.status_code == 200, done.content
    assert downloaded(user_client, upload.pk).content == body


def test_a_sniffed_executable_sent_in_parts_is_refused(configure, presigned_bucket, user_client):
    body = (samples.ELF + os.urandom(11 * MiB))[: 11 * MiB]
    signed = sign(user_client, body)
    send_parts(user_client, signed["upload_id"], body, [1, 2, 3])
    assert_json_error(confirm(user_client, signed["upload_id"]), 422, "content_mismatch")
    assert presigned_bucket.keys() == []
    assert storage.open_multipart_uploads("uploads/") == []


def test_reconcile_completes_a_multipart_upload_whose_tab_closed(
    configure, presigned_bucket, user_client
):
    body = pdf(11 * MiB)
    kept = sign(user_client, body)
    send_parts(user_client, kept["upload_id"], body, [1, 2, 3])
    partial = sign(user_client, body)
    send_parts(user_client, partial["upload_id"], body, [1])
    for upload_id in (kept["upload_id"], partial["upload_id"]):
        flows.expire(Upload.objects.get(pk=upload_id), seconds_ago=7200)
    report = cleanup.cleanup()
    assert [str(pk) for pk in report.reconciled] == [kept["upload_id"]]
    assert [str(r.id) for r in report.removed] == [partial["upload_id"]]
    assert downloaded(user_client, kept["upload_id"]).content == body
    assert storage.open_multipart_uploads("uploads/") == []


def test_cleanup_aborts_multipart_uploads_no_row_knows_of(configure, presigned_bucket, settings):
    stray = presigned_bucket.client.create_multipart_upload(
        Bucket=presigned_bucket.bucket, Key="uploads/9/x.pdf"
    )
    young = cleanup.cleanup()
    assert young.aborted == 0  # it may be an upload whose row is being written right now
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "MULTIPART_EXPIRY": 60}
    from datetime import timedelta

    from django.utils import timezone

    report = cleanup.cleanup(grace=0, now=timezone.now() + timedelta(minutes=2))
    assert report.aborted == 1
    assert storage.open_multipart_uploads("uploads/") == []
    assert stray["UploadId"]


# --- put ------------------------------------------------------------------------------------


def test_put_pins_type_length_checksum_and_creates_once(configure, presigned_bucket, user_client):
    configure(TRANSPORT="put")
    body = pdf(4000)
    signed = sign(user_client, body)
    assert signed["transport"] == "put"
    assert signed["headers"] == {
        "Content-Type": "application/pdf",
        "x-amz-acl": "private",
        "x-amz-checksum-sha256": sha256(body),
        "If-None-Match": "*",
    }
    url, headers = signed["url"], signed["headers"]
    assert requests.put(url, data=body + b"x", headers=headers, timeout=30).status_code == 403
    retyped = {**headers, "Content-Type": "text/html"}
    assert requests.put(url, data=body, headers=retyped, timeout=30).status_code == 403
    other = bytes(reversed(body))
    assert requests.put(url, data=other, headers=headers, timeout=30).status_code == 400
    assert presigned_bucket.keys() == []
    assert requests.put(url, data=body, headers=headers, timeout=30).status_code == 200
    # The URL makes the object once: a second PUT, even of other bytes, gets 412.
    assert requests.put(url, data=body, headers=headers, timeout=30).status_code == 412
    done = confirm(user_client, signed["upload_id"]).json()["upload"]
    assert (done["transport"], done["checksum_sha256"]) == ("put", sha256(body))
    assert downloaded(user_client, signed["upload_id"]).content == body


def test_a_client_that_offers_only_post_on_a_put_only_provider(configure, user_client):
    configure(TRANSPORT="put")
    response = post_json(
        user_client,
        reverse("presigned_transfers:upload-url"),
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
    )
    assert_json_error(response, 422, "transport_unsupported")
    assert not Upload.objects.exists()


# --- post with a checksum -------------------------------------------------------------------


def test_post_with_a_checksum_refuses_other_bytes_even_posted_again(
    configure, presigned_bucket, user_client
):
    body = pdf(4000)
    signed = sign(user_client, body, transports=["post"])
    assert signed["fields"]["x-amz-checksum-sha256"] == sha256(body)
    other = bytes(reversed(body))
    refused = presigned_bucket.post(signed["url"], signed["fields"], other)
    assert refused.status_code == 400 and "BadDigest" in refused.text
    assert presigned_bucket.post(signed["url"], signed["fields"], body).status_code == 204
    done = confirm(user_client, signed["upload_id"]).json()["upload"]
    assert done["checksum_sha256"] == sha256(body)
    # After confirm, the still-valid form takes no other bytes at all.
    assert presigned_bucket.post(signed["url"], signed["fields"], other).status_code == 400


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"checksum_sha256": "abc"}, "invalid_checksum"),
        ({"checksum_sha256": 5}, "invalid_checksum"),
        ({"transports": "post"}, "invalid_transports"),
        ({"transports": [1]}, "invalid_transports"),
        ({"transports": []}, "invalid_transports"),
    ],
)
def test_bad_transport_requests_are_refused(configure, user_client, payload, code):
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10, **payload}
    response = post_json(user_client, reverse("presigned_transfers:upload-url"), body)
    assert_json_error(response, 400, code)
    assert not Upload.objects.exists()


def test_the_server_picks_the_transport(configure, user_client, settings):
    small, large = 1000, 6 * MiB

    def transport(size, offered, **options):
        configure(**options)
        payload = {"filename": "a.pdf", "content_type": "application/pdf", "size": size}
        if offered is not None:
            payload["transports"] = offered
        response = post_json(user_client, reverse("presigned_transfers:upload-url"), payload)
        return json.loads(response.content).get("transport") or response.json()["error"]["code"]

    assert transport(small, None) == "post"  # today's clients, unchanged
    assert transport(large, None) == "post"
    assert transport(large, ["multipart", "post"]) == "multipart"
    assert transport(small, ["multipart", "post"]) == "post"
    assert transport(large, ["multipart", "put", "post"], TRANSPORT="post") == "post"
    assert transport(small, ["multipart", "put", "post"], TRANSPORT="put") == "put"
    assert transport(large, ["multipart", "put", "post"], TRANSPORT="put") == "multipart"
    assert transport(small, ["put"]) == "put"
