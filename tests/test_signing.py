"""signing.py: what presign_post and presign_get produce (conditions pinned, expiry bounds).

The SigV4 algorithm itself is tested in tests/test_sigv4.py; these tests look at the
output of the public functions: which conditions a POST policy pins, which parameters a
GET URL carries, and how long either lives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from presigned_transfers import exceptions, signing, storage
from presigned_transfers.conf import MAX_DOWNLOAD_EXPIRY, MAX_UPLOAD_EXPIRY
from tests.botocore_clock import frozen_botocore
from tests.conftest import TEST_ACCESS_KEY, TEST_SECRET_KEY, reset_app_state

KEY = "uploads/7/0123456789abcdef0123456789abcdef_report.pdf"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _post(**kwargs):
    args = {"key": KEY, "content_type": "application/pdf", "min_size": 1, "max_size": 1000}
    return signing.presign_post(**{**args, **kwargs})


def _policy(post):
    return json.loads(base64.b64decode(post.fields["policy"]))


def _expiration(policy):
    return datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )


def _query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _sigv4_key(secret, date, region):
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# --- presign_post ---------------------------------------------------------------------------


def test_post_pins_key_acl_type_size_and_bucket():
    post = _post(content_type="image/png", min_size=5, max_size=1234)
    conditions = _policy(post)["conditions"]
    # The key is pinned exactly, once (tests/system/test_integration_enforcement.py shows S3
    # refusing another key).
    assert [c for c in conditions if "key" in c or "$key" in c] == [{"key": KEY}]
    assert {"bucket": "test-bucket"} in conditions
    assert {"acl": "private"} in conditions
    assert ["eq", "$Content-Type", "image/png"] in conditions
    assert ["content-length-range", 5, 1234] in conditions
    ranges = [c for c in conditions if isinstance(c, list) and c[0] == "content-length-range"]
    assert ranges == [["content-length-range", 5, 1234]]
    # Nothing is left open: no prefix matches for any field.
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]


def test_post_pins_a_key_ending_in_the_filename_placeholder_exactly_too():
    # botocore pins only the prefix of such a key (S3 puts the file's name in place of
    # "${filename}"); ours pins every key exactly, once.
    key = "uploads/7/${filename}"
    conditions = _policy(_post(key=key))["conditions"]
    assert [c for c in conditions if "key" in c or "$key" in c] == [{"key": key}]


def test_post_fields_match_the_conditions():
    post = _post(content_type="image/png")
    assert post.fields["key"] == KEY
    assert post.fields["acl"] == "private"
    assert post.fields["Content-Type"] == "image/png"
    assert post.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    conditions = _policy(post)["conditions"]
    signed_fields = {
        name for condition in conditions if isinstance(condition, dict) for name in condition
    } | {c[1][1:] for c in conditions if isinstance(c, list) and c[0] == "eq"}
    # Every field the browser sends (but the policy and its signature) is in the policy.
    assert set(post.fields) - {"policy", "x-amz-signature"} <= signed_fields | {"key"}
    assert post.url == "https://test-bucket.s3.amazonaws.com/"


def test_post_policy_is_signed_with_the_configured_credentials():
    post = _post()
    credential = post.fields["x-amz-credential"]
    access_key, date, region, service, terminator = credential.split("/")
    assert (access_key, region, service, terminator) == (
        TEST_ACCESS_KEY,
        "us-east-1",
        "s3",
        "aws4_request",
    )
    assert post.fields["x-amz-date"].startswith(date)
    expected = hmac.new(
        _sigv4_key(TEST_SECRET_KEY, date, region),
        post.fields["policy"].encode(),
        hashlib.sha256,
    ).hexdigest()
    assert post.fields["x-amz-signature"] == expected
    conditions = _policy(post)["conditions"]
    assert {"x-amz-credential": credential} in conditions
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert {"x-amz-date": post.fields["x-amz-date"]} in conditions


def test_post_expires_after_the_configured_upload_expiry(settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "UPLOAD_EXPIRY": 300}
    before = datetime.now(timezone.utc).replace(microsecond=0)
    post = _post()
    after = datetime.now(timezone.utc)
    expiration = _expiration(_policy(post))
    assert before + timedelta(seconds=300) <= expiration <= after + timedelta(seconds=300)
    assert before + timedelta(seconds=300) <= post.expires_at <= after + timedelta(seconds=300)


def test_post_default_expiry_is_twenty_minutes():
    post = _post(now=NOW)
    assert post.expires_at == NOW + timedelta(minutes=20)
    assert _expiration(_policy(post)) == NOW + timedelta(minutes=20)


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (60, 60),
        (MAX_UPLOAD_EXPIRY, MAX_UPLOAD_EXPIRY),
        (MAX_UPLOAD_EXPIRY + 1, MAX_UPLOAD_EXPIRY),
        (7 * 24 * 3600, MAX_UPLOAD_EXPIRY),
        (-5, 1),
        (0, 20 * 60),
        (None, 20 * 60),
    ],
)
def test_post_expiry_is_bounded(expires_in, expected):
    post = _post(expires_in=expires_in, now=NOW)
    assert post.expires_at == NOW + timedelta(seconds=expected)
    assert _expiration(_policy(post)) == NOW + timedelta(seconds=expected)


def test_post_expiry_setting_above_the_hard_maximum_is_capped(settings):
    # The checks refuse this setting (E005); signing still never exceeds the maximum.
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "UPLOAD_EXPIRY": 86400}
    post = _post(now=NOW)
    assert post.expires_at == NOW + timedelta(seconds=MAX_UPLOAD_EXPIRY)
    assert _expiration(_policy(post)) == NOW + timedelta(seconds=MAX_UPLOAD_EXPIRY)


def test_post_with_sse_s3(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "AES256",
        "SSE_KMS_KEY_ID": "ignored-without-kms",
    }
    post = _post()
    assert post.fields["x-amz-server-side-encryption"] == "AES256"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in post.fields
    conditions = _policy(post)["conditions"]
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    assert not any("x-amz-server-side-encryption-aws-kms-key-id" in c for c in conditions)


def test_post_with_sse_kms(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "aws:kms",
        "SSE_KMS_KEY_ID": "alias/uploads",
    }
    post = _post()
    assert post.fields["x-amz-server-side-encryption"] == "aws:kms"
    assert post.fields["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/uploads"
    conditions = _policy(post)["conditions"]
    assert {"x-amz-server-side-encryption": "aws:kms"} in conditions
    assert {"x-amz-server-side-encryption-aws-kms-key-id": "alias/uploads"} in conditions


def test_post_with_kms_but_no_key_id_uses_the_bucket_default(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "aws:kms",
    }
    post = _post()
    assert post.fields["x-amz-server-side-encryption"] == "aws:kms"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in post.fields


def test_post_without_sse_has_no_encryption_fields():
    post = _post()
    assert not [name for name in post.fields if "encryption" in name]
    assert "encryption" not in json.dumps(_policy(post))


def test_fields_and_conditions_are_fresh_for_every_call():
    fields, conditions = signing.post_fields_and_conditions(
        content_type="image/png", min_size=1, max_size=2
    )
    fields["acl"] = "public-read"
    conditions.append({"acl": "public-read"})
    again_fields, again_conditions = signing.post_fields_and_conditions(
        content_type="image/png", min_size=1, max_size=2
    )
    assert again_fields == {"acl": "private", "Content-Type": "image/png"}
    assert {"acl": "public-read"} not in again_conditions


# --- presign_get ----------------------------------------------------------------------------


def test_get_url_points_at_the_object():
    signed = signing.presign_get(key=KEY)
    parts = urlsplit(signed.url)
    assert parts.scheme == "https"
    assert parts.netloc == "test-bucket.s3.amazonaws.com"
    assert parts.path == "/" + KEY
    query = _query(signed.url)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith(TEST_ACCESS_KEY + "/")
    assert query["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert query["X-Amz-SignedHeaders"] == "host"
    assert len(query["X-Amz-Signature"]) == 64
    assert "response-content-disposition" not in query


def test_get_url_forces_the_content_disposition():
    header = "attachment; filename=\"a.pdf\"; filename*=UTF-8''%C3%A4.pdf"
    signed = signing.presign_get(key=KEY, content_disposition=header)
    assert _query(signed.url)["response-content-disposition"] == header


def test_get_url_is_built_for_a_custom_endpoint(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "ENDPOINT_URL": "http://127.0.0.1:8333",
        "ADDRESSING_STYLE": "path",
        "REGION": "eu-west-1",
    }
    signed = signing.presign_get(key=KEY)
    parts = urlsplit(signed.url)
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:8333")
    assert parts.path == "/test-bucket/" + KEY
    assert "/eu-west-1/s3/aws4_request" in _query(signed.url)["X-Amz-Credential"]
    post = _post()
    assert post.url == "http://127.0.0.1:8333/test-bucket"


def test_get_default_expiry_is_fifteen_minutes():
    signed = signing.presign_get(key=KEY, now=NOW)
    assert _query(signed.url)["X-Amz-Expires"] == str(15 * 60)
    assert signed.expires_at == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (30, 30),
        (MAX_DOWNLOAD_EXPIRY, MAX_DOWNLOAD_EXPIRY),
        (MAX_DOWNLOAD_EXPIRY + 1, MAX_DOWNLOAD_EXPIRY),
        (8 * 24 * 3600, MAX_DOWNLOAD_EXPIRY),
        (-1, 1),
        (None, 15 * 60),
    ],
)
def test_get_expiry_is_bounded(expires_in, expected):
    signed = signing.presign_get(key=KEY, expires_in=expires_in, now=NOW)
    assert _query(signed.url)["X-Amz-Expires"] == str(expected)
    assert signed.expires_at == NOW + timedelta(seconds=expected)


def test_get_expiry_follows_the_setting_up_to_the_maximum(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "DOWNLOAD_EXPIRY": timedelta(minutes=2),
    }
    assert _query(signing.presign_get(key=KEY).url)["X-Amz-Expires"] == "120"
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "DOWNLOAD_EXPIRY": timedelta(days=30),
    }
    assert _query(signing.presign_get(key=KEY).url)["X-Amz-Expires"] == str(MAX_DOWNLOAD_EXPIRY)


def test_expiry_maxima_are_within_s3s_own_limit():
    assert MAX_UPLOAD_EXPIRY <= 7 * 24 * 3600
    assert MAX_DOWNLOAD_EXPIRY <= 7 * 24 * 3600


# --- the same endpoint as the app's boto3 client ------------------------------------------


@pytest.mark.parametrize(
    "s3",
    [
        {"REGION": "us-east-1"},
        {"REGION": "eu-west-2"},
        {"REGION": "eu-west-2", "ADDRESSING_STYLE": "virtual"},
        {"REGION": "eu-west-2", "ADDRESSING_STYLE": "path"},
        {"REGION": "cn-north-1"},
        {"REGION": "us-gov-west-1", "ADDRESSING_STYLE": "virtual"},
        {"REGION": "eu-west-2", "BUCKET": "uploads.example.com", "ADDRESSING_STYLE": "virtual"},
        {"ENDPOINT_URL": "http://127.0.0.1:8333", "ADDRESSING_STYLE": "path"},
        {"ENDPOINT_URL": "https://minio.example.com:9000/s3/", "ADDRESSING_STYLE": "virtual"},
        {"ENDPOINT_URL": "https://0123abcd.r2.cloudflarestorage.com", "REGION": "auto"},
        {"ENDPOINT_URL": "http://localhost:8333/prefix", "BUCKET": "my.bucket"},
    ],
)
def test_signed_urls_go_where_the_apps_boto3_client_goes(settings, s3):
    """Byte for byte what storage's boto3 client presigns for the same settings: POST, GET
    with a disposition and a version, PUT with signed headers and UploadPart."""
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, **s3}
    bucket, client = settings.PRESIGNED_TRANSFERS["BUCKET"], storage.get_client()
    disposition = "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
    fields, conditions = signing.post_fields_and_conditions(
        content_type="application/pdf", min_size=1, max_size=1000
    )
    with frozen_botocore(NOW):
        post = client.generate_presigned_post(
            bucket, KEY, Fields=fields, Conditions=conditions, ExpiresIn=600
        )
        get = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": KEY,
                "ResponseContentDisposition": disposition,
                "VersionId": "v1",
            },
            ExpiresIn=900,
        )
        put = client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": bucket,
                "Key": KEY,
                "ContentType": "a/b",
                "ContentLength": 3,
                "ACL": "private",
                "IfNoneMatch": "*",
            },
            ExpiresIn=600,
        )
        part = client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": bucket,
                "Key": KEY,
                "PartNumber": 2,  # in the order presign_part puts them in
                "UploadId": "u-1",
                "ContentLength": 5,
            },
            ExpiresIn=600,
        )
    signed_post = _post(max_size=1000, expires_in=600, now=NOW)
    assert (signed_post.url, signed_post.fields) == (post["url"], post["fields"])
    assert (
        signing.presign_get(
            key=KEY, content_disposition=disposition, version_id="v1", expires_in=900, now=NOW
        ).url
        == get
    )
    signed_put = signing.presign_put(key=KEY, content_type="a/b", size=3, expires_in=600, now=NOW)
    assert signed_put.headers == {
        "Content-Type": "a/b",
        "x-amz-acl": "private",
        "If-None-Match": "*",
    }
    assert signed_put.url == put
    assert (
        signing.presign_part(
            key=KEY, multipart_id="u-1", number=2, size=5, expires_in=600, now=NOW
        ).url
        == part
    )


def test_signed_urls_follow_botocores_own_configuration(monkeypatch):
    """The endpoint comes from the app's boto3 session, so botocore's configuration (here
    AWS_S3_US_EAST_1_REGIONAL_ENDPOINT) moves signed URLs and the boto3 client alike."""
    monkeypatch.setenv("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "regional")
    reset_app_state()
    with frozen_botocore(NOW):
        expected = storage.get_client().generate_presigned_url(
            "get_object", Params={"Bucket": "test-bucket", "Key": KEY}, ExpiresIn=900
        )
    url = signing.presign_get(key=KEY, expires_in=900, now=NOW).url
    assert url == expected
    assert urlsplit(url).netloc == "test-bucket.s3.us-east-1.amazonaws.com"


# --- credentials ----------------------------------------------------------------------------


def test_session_token_is_carried_where_s3_requires_it(monkeypatch):
    token = "FwoGZXIvYXdzEXAMPLE//session+token=="
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    reset_app_state()
    post = _post()
    assert post.fields["x-amz-security-token"] == token
    assert {"x-amz-security-token": token} in _policy(post)["conditions"]
    signed = signing.presign_get(key=KEY)
    assert _query(signed.url)["X-Amz-Security-Token"] == token
    for text in (signed.url, json.dumps(post.fields), json.dumps(_policy(post)), post.url):
        assert TEST_SECRET_KEY not in text


def test_the_secret_never_appears_in_the_output():
    post = _post()
    signed = signing.presign_get(key=KEY, content_disposition="attachment")
    everything = " ".join(
        [post.url, json.dumps(post.fields), json.dumps(_policy(post)), signed.url]
    )
    assert TEST_SECRET_KEY not in everything
    assert TEST_SECRET_KEY.replace("/", "%2F") not in everything
    assert "x-amz-security-token" not in everything.lower()


@pytest.mark.parametrize("sign", ["post", "get"])
def test_missing_credentials_are_storage_unavailable(monkeypatch, caplog, sign):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    reset_app_state()
    with pytest.raises(exceptions.StorageUnavailable) as caught:
        _post() if sign == "post" else signing.presign_get(key=KEY)
    assert caught.value.status == 503
    assert caught.value.details == {"reason": "LookupError"}
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "sign-failed: no usable AWS credentials"
    ]


@pytest.mark.parametrize(
    ("acl", "expected"),
    [("bucket-owner-full-control", "bucket-owner-full-control"), (None, None)],
)
def test_the_acl_setting_is_pinned_or_left_out(settings, acl, expected):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "ACL": acl}
    post = _post()
    conditions = _policy(post)["conditions"]
    assert post.fields.get("acl") == expected
    acl_conditions = [c for c in conditions if isinstance(c, dict) and "acl" in c]
    assert acl_conditions == ([{"acl": expected}] if expected else [])
