"""The pytest plugin presigned_transfers.testing: its fixtures and its upload helper, on the
real SeaweedFS. (tests/system/test_host_project.py runs it in a project that has nothing else.)"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from django.test import Client

from presigned_transfers import signals
from presigned_transfers.models import Upload
from presigned_transfers.testing import PresignedBucket, SeaweedFS, UploadFailed, plugin, upload
from tests import samples

MiB = 1024 * 1024


def test_the_plugin_is_loaded_through_its_entry_point(request):
    # As in a host project: not listed in any conftest, found through `pytest11`.
    assert request.config.pluginmanager.get_plugin("presigned_transfers") is plugin
    # pytest imports entry-point plugins before coverage starts: run the module's own lines
    # again so that they are measured (the fixtures pytest registered stay the same).
    importlib.reload(plugin)
    assert request.config.pluginmanager.get_plugin("presigned_transfers") is plugin


def test_importing_the_plugin_imports_nothing_but_pytest():
    # pytest imports it in every project that has the package, whether it uses it or not.
    code = (
        "import sys, presigned_transfers.testing.plugin\n"
        "heavy = {'django', 'boto3', 'botocore', 'requests', 'urllib3'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
        "print(sorted(m for m in sys.modules if m.startswith('presigned_transfers')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(
        ["presigned_transfers", "presigned_transfers.testing", "presigned_transfers.testing.plugin"]
    )


def test_the_public_names_come_from_their_modules():
    import presigned_transfers.testing as testing
    from presigned_transfers.testing import bucket, flow, seaweedfs

    importlib.reload(testing)  # imported with the plugin, before coverage started

    assert testing.upload is flow.upload
    assert testing.UploadFailed is flow.UploadFailed
    assert testing.PresignedBucket is bucket.PresignedBucket
    assert testing.SeaweedFS is seaweedfs.SeaweedFS
    assert testing.weed_binary is seaweedfs.weed_binary
    assert set(testing.__all__) <= set(dir(testing))
    assert all(getattr(testing, name) is not None for name in testing.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        testing.nothing  # noqa: B018


@pytest.mark.s3
def test_the_bucket_is_fresh_and_the_app_points_at_it(presigned_bucket, seaweedfs, settings):
    assert isinstance(presigned_bucket, PresignedBucket)
    assert isinstance(seaweedfs, SeaweedFS) and seaweedfs.running
    config = settings.PRESIGNED_TRANSFERS
    assert config["BUCKET"] == presigned_bucket.bucket
    assert config["ENDPOINT_URL"] == seaweedfs.endpoint_url == presigned_bucket.endpoint_url
    assert config["ADDRESSING_STYLE"] == "path"
    assert presigned_bucket.keys() == []
    # The doctor's CORS rule; without CORS_ORIGINS or a live server, the test client's origin.
    from presigned_transfers import doctor

    rules = presigned_bucket.client.get_bucket_cors(Bucket=presigned_bucket.bucket)["CORSRules"]
    assert rules == [doctor.cors_rule(["http://testserver"])]


@pytest.mark.s3
def test_cors_origins_come_from_the_settings(settings, request):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "CORS_ORIGINS": ["https://www.example.com"],
    }
    bucket = request.getfixturevalue("presigned_bucket")
    rules = bucket.client.get_bucket_cors(Bucket=bucket.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://www.example.com"]
    bucket.allow_origins("http://127.0.0.1:8000")
    rules = bucket.client.get_bucket_cors(Bucket=bucket.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["http://127.0.0.1:8000"]


@pytest.mark.s3
def test_two_tests_get_two_buckets(request):
    first = request.getfixturevalue("presigned_bucket")
    first.client.put_object(Bucket=first.bucket, Key="a", Body=b"1")
    assert first.keys() == ["a"]
    assert first.get("a") == b"1"


@pytest.mark.s3
def test_upload_by_post_is_verified_kept_and_signalled(presigned_upload, presigned_bucket, user):
    confirmed = []

    def receiver(upload, **kwargs):
        confirmed.append(upload.pk)

    signals.upload_confirmed.connect(receiver)
    try:
        done = presigned_upload(user, "Q3 report.pdf", samples.PDF, "application/pdf")
    finally:
        signals.upload_confirmed.disconnect(receiver)
    assert isinstance(done, Upload)
    assert done.status == Upload.Status.COMPLETE
    assert done.owner == user
    assert done.transport == "post"
    assert confirmed == [done.pk]
    # Kept at its key, copied from where the signed form wrote, with the file's SHA-256 (the
    # script's: CHECKSUM is "sha256").
    assert presigned_bucket.get(done.key) == samples.PDF
    assert presigned_bucket.keys() == sorted([done.key, done.upload_key])
    assert done.checksum_sha256


@pytest.mark.s3
@pytest.mark.parametrize(
    ("transport", "size"), [("put", 1000), ("multipart", 11 * MiB)], ids=["put", "multipart"]
)
def test_upload_by_put_and_in_parts(presigned_bucket, client, user, settings, transport, size):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "TRANSPORT": "put",
        "MULTIPART_THRESHOLD": 5 * MiB,
        "MULTIPART_PART_SIZE": 5 * MiB,
    }
    body = samples.PDF + b"x" * (size - len(samples.PDF))
    done = upload(client, user, "big.pdf", body, "application/pdf")
    assert done.status == Upload.Status.COMPLETE
    assert done.transport == transport
    assert presigned_bucket.get(done.key) == body
    if transport == "multipart":
        assert done.part_count == 3
        assert done.checksum_sha256.endswith("-3")


@pytest.mark.s3
def test_confirm_false_leaves_the_upload_pending(presigned_upload, presigned_bucket, user):
    pending = presigned_upload(user, "a.pdf", samples.PDF, "application/pdf", confirm=False)
    assert pending.status == Upload.Status.PENDING
    assert presigned_bucket.keys() == [pending.upload_key]  # arrived at the staging key


@pytest.mark.s3
def test_each_refusal_raises_upload_failed_with_its_stage_and_code(
    presigned_upload, presigned_bucket, user, settings
):
    with pytest.raises(UploadFailed) as refused:
        presigned_upload(user, "tool.exe", samples.PE_EXE, "application/x-msdownload")
    assert (refused.value.stage, refused.value.status) == ("signing", 415)
    assert refused.value.code == "file_type_not_allowed"

    with pytest.raises(UploadFailed) as refused:  # not a PDF: sniffing refuses it at confirm
        presigned_upload(user, "fake.pdf", b"MZ not a pdf at all", "application/pdf")
    assert (refused.value.stage, refused.value.status) == ("confirming", 422)
    assert refused.value.code == "content_mismatch"
    assert presigned_bucket.keys() == []  # refused and deleted

    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "BUCKET": "no-such-bucket"}
    with pytest.raises(UploadFailed) as refused:  # S3's own answer
        presigned_upload(user, "a.pdf", samples.PDF, "application/pdf")
    assert refused.value.stage == "storage"
    assert refused.value.status == 404
    assert refused.value.code == "NoSuchBucket"
    assert "storage: HTTP 404 NoSuchBucket" in str(refused.value)


@pytest.mark.s3
def test_upload_sends_the_csrf_token_as_the_script_does(presigned_bucket, user):
    strict = Client(enforce_csrf_checks=True)
    done = upload(strict, user, "a.pdf", samples.PDF, "application/pdf")
    assert done.status == Upload.Status.COMPLETE


@pytest.mark.s3
def test_the_bucket_post_is_a_browser_form(presigned_upload, presigned_bucket, user, client):
    client.force_login(user)
    from django.urls import reverse

    signed = client.post(
        reverse("presigned_transfers:upload-url"),
        {"filename": "a.pdf", "content_type": "application/pdf", "size": len(samples.PDF)},
        content_type="application/json",
    ).json()
    # S3 enforces the signed size: one byte more is refused, the right bytes are taken.
    refused = presigned_bucket.post(signed["url"], signed["fields"], samples.PDF + b"!")
    assert refused.status_code == 400
    assert "EntityTooLarge" in refused.text
    assert presigned_bucket.post(signed["url"], signed["fields"], samples.PDF).status_code == 204
