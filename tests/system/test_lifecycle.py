"""The lifecycle invariant, against a real S3 server (SeaweedFS) over HTTP:

the bytes any download serves — the JSON download URL, the redirect, the admin's link — are
exactly the bytes confirm verified, whatever a client does with its signed form before or
after confirm, and whoever races it; and every object an upload leaves is findable.

The mechanism is S3's documented conditional copy (``x-amz-copy-source-if-match``, AWS and
SeaweedFS alike): confirm reads the staging object once (size, type, first bytes, ETag),
then copies exactly that version to a key no signed form names.
"""

from __future__ import annotations

import hashlib

import pytest
import requests
from django.test import Client
from django.urls import reverse

from presigned_transfers import storage
from presigned_transfers.models import Upload
from tests import flows, samples
from tests.factories import confirm_over_http, sign_over_http

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

SIZE = 6000
VERIFIED = samples.PDF + b"%" * (SIZE - len(samples.PDF))
ELF = samples.ELF + b"\x00" * (SIZE - len(samples.ELF))  # same size, same declared type
OTHER_PDF = samples.PDF + b"#" * (SIZE - len(samples.PDF))


def sign(client, body=VERIFIED, content_type="application/pdf"):
    return sign_over_http(client, body, content_type=content_type)


confirm = confirm_over_http


@pytest.fixture
def staff_client(django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


def served(user_client, staff_client, upload_id):
    """What each download path serves for *upload_id*: {path: bytes or status}."""
    results = {}
    response = user_client.get(reverse("presigned_transfers:download-url", args=[upload_id]))
    results["json"] = (
        requests.get(response.json()["url"], timeout=30).content
        if response.status_code == 200
        else response.status_code
    )
    response = user_client.get(reverse("presigned_transfers:download", args=[upload_id]))
    results["redirect"] = (
        requests.get(response["Location"], timeout=30).content
        if response.status_code == 302
        else response.status_code
    )
    response = staff_client.get(
        reverse("admin:presigned_transfers_upload_download", args=[upload_id])
    )
    location = response.get("Location", "")
    results["admin"] = (
        requests.get(location, timeout=30).content if location.startswith("http") else "refused"
    )
    return results


def assert_everything_findable(presigned_bucket):
    """Every object in the bucket is one an upload row names (cleanup can find it)."""
    named = {key for upload in Upload.objects.all() for key in upload.object_keys}
    assert set(presigned_bucket.keys()) <= named


def test_a_form_posted_again_after_confirm_changes_nothing_served(
    presigned_bucket, user_client, staff_client
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.etag == hashlib.md5(VERIFIED).hexdigest()  # noqa: S324 - S3's ETag

    # The same signed fields, still inside their window, with an executable of the same size:
    # S3 takes it (204) — at the staging key, which no download reads.
    replay = presigned_bucket.post(signed["url"], signed["fields"], ELF)
    assert replay.status_code == 204
    assert presigned_bucket.get(upload.staging_key) == ELF
    # A smaller file is taken too (the size range starts at the policy's minimum).
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED[:100]).status_code == 204
    # Another type is not: the form pins it.
    retyped = {**signed["fields"], "Content-Type": "application/x-executable"}
    assert presigned_bucket.post(signed["url"], retyped, ELF).status_code == 403

    assert served(user_client, staff_client, upload.pk) == dict.fromkeys(
        ("json", "redirect", "admin"), VERIFIED
    )
    # Confirming again answers the same, and still serves the verified bytes.
    again = confirm(user_client, signed["upload_id"])
    assert again.status_code == 200 and again.json()["upload"]["size"] == SIZE
    assert presigned_bucket.get(upload.key) == VERIFIED
    assert_everything_findable(presigned_bucket)


def test_a_form_posted_before_confirm_is_what_confirm_verifies(
    presigned_bucket, user_client, staff_client
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    assert presigned_bucket.post(signed["url"], signed["fields"], ELF).status_code == 204
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "content_mismatch"
    assert presigned_bucket.keys() == []
    assert set(served(user_client, staff_client, signed["upload_id"]).values()) <= {409, "refused"}


def _post_again_after_each_read(monkeypatch, presigned_bucket, signed, bodies):
    """After confirm reads the staging object, a client POSTs its form again (the race)."""
    real = storage.read_start
    queue = list(bodies)

    def read_then_race(key, length):
        found = real(key, length)
        if queue:
            assert (
                presigned_bucket.post(signed["url"], signed["fields"], queue.pop(0)).status_code
                == 204
            )
        return found

    monkeypatch.setattr(storage, "read_start", read_then_race)


def test_a_race_between_read_and_copy_never_keeps_unverified_bytes(
    presigned_bucket, user_client, staff_client, monkeypatch
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    # Between confirm's read of the PDF and its copy, the executable replaces it: the copy
    # is conditioned on the PDF's ETag, so S3 refuses it (412); confirm reads again, sees
    # the executable, and refuses that.
    _post_again_after_each_read(monkeypatch, presigned_bucket, signed, [ELF])
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "content_mismatch"
    assert presigned_bucket.keys() == []
    assert set(served(user_client, staff_client, signed["upload_id"]).values()) <= {409, "refused"}


def test_a_race_with_other_valid_bytes_keeps_those_it_verified(
    presigned_bucket, user_client, staff_client, monkeypatch
):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    _post_again_after_each_read(monkeypatch, presigned_bucket, signed, [OTHER_PDF])
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    upload = Upload.objects.get(pk=signed["upload_id"])
    # What was verified on the second read is what is kept, recorded and served.
    assert upload.etag == hashlib.md5(OTHER_PDF).hexdigest()  # noqa: S324
    assert set(served(user_client, staff_client, upload.pk).values()) == {OTHER_PDF}


def test_an_object_that_keeps_changing_is_not_kept(presigned_bucket, user_client, monkeypatch):
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    _post_again_after_each_read(
        monkeypatch, presigned_bucket, signed, [OTHER_PDF, VERIFIED, OTHER_PDF]
    )
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_changed"
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.status == Upload.Status.PENDING
    assert not flows.object_exists(upload.key)
    monkeypatch.undo()
    # Once it holds still, a confirm keeps it.
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    assert presigned_bucket.get(upload.key) == OTHER_PDF


def test_downloads_are_pinned_to_the_kept_version_in_a_versioned_bucket(
    presigned_bucket, user_client, staff_client
):
    presigned_bucket.client.put_bucket_versioning(
        Bucket=presigned_bucket.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], VERIFIED).status_code == 204
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.version_id
    url = user_client.get(reverse("presigned_transfers:download-url", args=[upload.pk])).json()
    assert f"versionId={upload.version_id}" in url["url"]
    # Even a write to the kept key itself (no signed form can make one) is not served.
    presigned_bucket.client.put_object(Bucket=presigned_bucket.bucket, Key=upload.key, Body=ELF)
    assert set(served(user_client, staff_client, upload.pk).values()) == {VERIFIED}
