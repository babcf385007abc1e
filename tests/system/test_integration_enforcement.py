"""What S3 itself refuses, proven against a real S3 server (SeaweedFS) over HTTP.

moto accepts every POST whatever its policy, so none of this could be shown with it.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.urls import reverse

from presigned_transfers.models import Upload
from tests.factories import confirm_over_http, sign_over_http

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

PDF = b"%PDF-1.4\n" + b"x" * 200 + b"\n%%EOF\n"


def sign(client, *, size=None, content_type="application/pdf", filename="doc.pdf"):
    body = PDF if size is None else b"x" * size
    return sign_over_http(client, body, content_type=content_type, filename=filename)


confirm = confirm_over_http


def s3_error_code(response: requests.Response) -> str:
    text = response.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


def test_a_correct_upload_is_accepted(presigned_bucket, user_client):
    signed = sign(user_client)
    response = presigned_bucket.post(signed["url"], signed["fields"], PDF)
    assert response.status_code == 204
    assert presigned_bucket.get(signed["fields"]["key"]) == PDF


def test_s3_refuses_a_file_larger_than_signed(presigned_bucket, user_client):
    signed = sign(user_client)
    response = presigned_bucket.post(signed["url"], signed["fields"], PDF + b"one more byte")
    assert response.status_code == 400
    assert s3_error_code(response) == "EntityTooLarge"
    assert presigned_bucket.keys() == []


def test_s3_refuses_a_file_larger_than_the_policy(presigned_bucket, user_client, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {"default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 64}},
    }
    too_big = user_client.post(
        reverse("presigned_transfers:upload-url"),
        json.dumps({"filename": "a.pdf", "content_type": "application/pdf", "size": 65}),
        content_type="application/json",
    )
    assert too_big.status_code == 413
    # A client that lies about the size gets a policy for 64 bytes, and S3 holds it to that.
    signed = sign(user_client, size=64)
    response = presigned_bucket.post(signed["url"], signed["fields"], b"%PDF" + b"x" * 100)
    assert response.status_code == 400
    assert s3_error_code(response) == "EntityTooLarge"
    assert presigned_bucket.keys() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Content-Type", "text/html"),
        ("key", "uploads/999/someone-elses-file.pdf"),
        ("acl", "public-read"),
    ],
)
def test_s3_refuses_a_changed_field(presigned_bucket, user_client, field, value):
    signed = sign(user_client)
    fields = {**signed["fields"], field: value}
    response = presigned_bucket.post(signed["url"], fields, PDF)
    assert response.status_code == 403
    assert s3_error_code(response) == "AccessDenied"
    assert presigned_bucket.keys() == []


@pytest.mark.parametrize("change", ["longer", "shorter", "the kept key"])
def test_s3_refuses_any_key_but_the_signed_one(presigned_bucket, user_client, change):
    # The policy pins the key with one exact condition: not a prefix either way, and never
    # the key downloads read.
    signed = sign(user_client)
    key = signed["fields"]["key"]
    other = {
        "longer": key + "x",
        "shorter": key[:-1],
        "the kept key": key.removeprefix("incoming/"),
    }[change]
    assert other != key
    response = presigned_bucket.post(signed["url"], {**signed["fields"], "key": other}, PDF)
    assert response.status_code == 403
    assert s3_error_code(response) == "AccessDenied"
    assert presigned_bucket.keys() == []


def test_s3_refuses_an_extra_field(presigned_bucket, user_client):
    signed = sign(user_client)
    fields = {**signed["fields"], "x-amz-meta-owner": "mallory"}
    response = presigned_bucket.post(signed["url"], fields, PDF)
    assert response.status_code == 403
    assert presigned_bucket.keys() == []


def test_s3_refuses_an_expired_policy(presigned_bucket, user_client, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "UPLOAD_EXPIRY": 1}
    signed = sign(user_client)
    time.sleep(2.2)
    response = presigned_bucket.post(signed["url"], signed["fields"], PDF)
    assert response.status_code == 403
    assert "expired" in response.text.lower()
    assert presigned_bucket.keys() == []


def _tampered_policy(policy_b64: str) -> str:
    policy = json.loads(base64.b64decode(policy_b64))
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[0] == "content-length-range":
            condition[2] = 10**9
    return base64.b64encode(json.dumps(policy).encode()).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: {**f, "policy": _tampered_policy(f["policy"])}, id="policy"),
        pytest.param(
            lambda f: {**f, "x-amz-signature": f["x-amz-signature"][::-1]}, id="signature"
        ),
        pytest.param(
            lambda f: {k: v for k, v in f.items() if k != "x-amz-signature"}, id="no-signature"
        ),
    ],
)
def test_s3_refuses_a_tampered_policy_or_signature(presigned_bucket, user_client, tamper):
    signed = sign(user_client)
    response = presigned_bucket.post(signed["url"], tamper(signed["fields"]), PDF + b"x" * 1000)
    assert response.status_code == 403
    assert s3_error_code(response) == "SignatureDoesNotMatch"
    assert presigned_bucket.keys() == []


def _complete_upload(presigned_bucket, user_client) -> str:
    signed = sign(user_client)
    assert presigned_bucket.post(signed["url"], signed["fields"], PDF).status_code == 204
    assert confirm(user_client, signed["upload_id"]).status_code == 200
    return signed["upload_id"]


def _download_url(user_client, upload_id) -> str:
    response = user_client.get(reverse("presigned_transfers:download-url", args=[upload_id]))
    assert response.status_code == 200, response.content
    return response.json()["url"]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_download_url_works_then_expires(presigned_bucket, user_client, settings):
    upload_id = _complete_upload(presigned_bucket, user_client)
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "DOWNLOAD_EXPIRY": 4}
    response = user_client.get(reverse("presigned_transfers:download-url", args=[upload_id]))
    url, expires_at = response.json()["url"], response.json()["expires_at"]
    assert requests.get(url, timeout=30).content == PDF
    # Wait until just past the reported expiry (the clock is the same machine's).
    remaining = datetime.fromisoformat(expires_at).timestamp() - time.time()
    time.sleep(max(0.0, remaining) + 1.5)
    expired = requests.get(url, timeout=30)
    assert expired.status_code == 403
    assert "expired" in expired.text.lower()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda u: _with_query(u, **{"X-Amz-Signature": "0" * 64}), id="signature"),
        pytest.param(
            lambda u: _with_query(
                u, **{"response-content-disposition": "inline; filename=evil.html"}
            ),
            id="disposition",
        ),
        pytest.param(lambda u: _with_query(u, **{"X-Amz-Expires": "604800"}), id="expiry"),
        pytest.param(lambda u: u.replace("doc.pdf", "other.pdf"), id="key"),
    ],
)
def test_s3_refuses_a_tampered_download_url(presigned_bucket, user_client, tamper):
    upload_id = _complete_upload(presigned_bucket, user_client)
    url = _download_url(user_client, upload_id)
    response = requests.get(tamper(url), timeout=30)
    assert response.status_code in (403, 404)
    assert response.content != PDF
    assert requests.get(url, timeout=30).content == PDF


def test_confirm_refuses_an_upload_that_never_happened(presigned_bucket, user_client):
    signed = sign(user_client)
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_missing"
    assert Upload.objects.get(pk=signed["upload_id"]).status == "pending"


def test_confirm_refuses_and_deletes_a_smaller_file(presigned_bucket, user_client):
    signed = sign(user_client, size=len(PDF) + 50)
    assert presigned_bucket.post(signed["url"], signed["fields"], PDF).status_code == 204
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "size_mismatch"
    assert presigned_bucket.keys() == []
    assert Upload.objects.get(pk=signed["upload_id"]).status == "failed"
    # Idempotent: the same answer again.
    again = confirm(user_client, signed["upload_id"])
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "size_mismatch"


def test_confirm_refuses_and_deletes_an_object_of_another_type(presigned_bucket, user_client):
    signed = sign(user_client)
    # Someone with bucket access (or a bug elsewhere) puts an object of another type there.
    presigned_bucket.client.put_object(
        Bucket=presigned_bucket.bucket,
        Key=signed["fields"]["key"],
        Body=PDF,
        ContentType="text/html",
    )
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "content_type_mismatch"
    assert presigned_bucket.keys() == []
    assert Upload.objects.get(pk=signed["upload_id"]).status == "failed"


def test_without_an_acl_uploads_still_work(presigned_bucket, user_client, settings):
    # ACL None is for buckets with ACLs disabled. (AWS also refuses an "acl" field added to
    # such a form as an extra input; SeaweedFS 4.48 ignores ACLs, so that is not shown here.)
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "ACL": None}
    signed = sign(user_client)
    assert "acl" not in signed["fields"]
    other_key = {**signed["fields"], "key": signed["fields"]["key"] + ".html"}
    assert presigned_bucket.post(signed["url"], other_key, PDF).status_code == 403
    assert presigned_bucket.post(signed["url"], signed["fields"], PDF).status_code == 204
    assert confirm(user_client, signed["upload_id"]).status_code == 200
