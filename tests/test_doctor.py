"""doctor.py and ``manage.py presigned_doctor``, against moto and against SeaweedFS."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.management import CommandError, call_command
from urllib3.exceptions import NewConnectionError

from presigned_transfers import doctor, s3http, storage
from presigned_transfers.doctor import BucketDoctor, Status
from tests import CHECKOUT
from tests.conftest import reset_app_state
from tests.proxy import FaultProxy

SITE = "https://app.example.com"
ALL_ON = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)
AES256 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def statuses(findings):
    return {f.check: f.status for f in findings}


def by_check(findings):
    return {f.check: f for f in findings}


def run(*args):
    out = StringIO()
    try:
        call_command("presigned_doctor", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def client_error(code, status=400):
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Operation",
    )


def send_by_requests(method, url, *, headers, body):
    """The probes' sender, by ``requests``: moto answers requests' calls, not raw urllib3's."""
    response = requests.request(
        method, url, headers=dict(headers), data=body, timeout=10, allow_redirects=False
    )
    return s3http.Answer(
        status=response.status_code, headers=response.headers, body=response.content
    )


def s3_error(status, code):
    body = f"<Error><Code>{code}</Code><Message>{code} here</Message></Error>".encode()
    return s3http.Answer(status=status, headers={}, body=body)


@pytest.fixture
def sent(monkeypatch):
    """Every request the probes send, as (method, url, headers, body); they go to moto."""
    requests_sent = []

    def send(method, url, *, headers, body):
        requests_sent.append((method, url, dict(headers), body))
        return send_by_requests(method, url, headers=headers, body=body)

    monkeypatch.setattr(doctor, "_send", send)
    return requests_sent


def refusing(monkeypatch, refuse):
    """Make the probes' requests answer ``refuse(method, headers)`` when it returns one."""

    def send(method, url, *, headers, body):
        return refuse(method, dict(headers)) or send_by_requests(
            method, url, headers=headers, body=body
        )

    monkeypatch.setattr(doctor, "_send", send)


@pytest.fixture
def bucket(moto_s3, settings, sent):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": [SITE]}
    return moto_s3


@pytest.fixture
def no_checksum(settings):
    """moto stores a PUT whatever its signed SHA-256 (the doctor says so: put-url warns)."""
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CHECKSUM": None}


def make_healthy(client, name="test-bucket"):
    client.put_bucket_lifecycle_configuration(
        Bucket=name, LifecycleConfiguration={"Rules": doctor.lifecycle_rules()}
    )
    client.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=ALL_ON)
    client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=AES256)
    client.put_bucket_acl(Bucket=name, ACL="log-delivery-write")
    client.put_bucket_logging(
        Bucket=name,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": name, "TargetPrefix": "logs/"}},
    )
    client.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [doctor.cors_rule([SITE])]})


# --- moto: each check, both ways ------------------------------------------------------------


def test_a_fresh_bucket(bucket):
    findings = BucketDoctor().run()
    assert statuses(findings) == {
        "bucket": Status.OK,
        "region": Status.OK,
        "public-access-block": Status.ERROR,
        "policy-status": Status.OK,
        "cors": Status.ERROR,
        "lifecycle": Status.WARNING,
        "encryption": Status.ERROR,
        "logging": Status.WARNING,
        "versioning": Status.OK,
        "put-object": Status.OK,
        "copy-object": Status.OK,
        "get-object": Status.OK,
        "delete-object": Status.OK,
        "missing-object": Status.OK,
        "post-object": Status.OK,
        # moto stores bytes of any SHA-256: found out, and said.
        "put-url": Status.WARNING,
        "multipart": Status.OK,
    }
    found = by_check(findings)
    assert "does not verify checksums" in found["put-url"].message
    assert (
        found["put-url"].hint
        == "Set PRESIGNED_TRANSFERS['CHECKSUM'] = None: this provider does not check it."
    )
    assert (
        "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets are off"
        in (found["public-access-block"].message)
    )
    assert "put-public-access-block" in found["public-access-block"].hint
    assert "no CORS configuration" in found["cors"].message
    assert f"--apply-cors {SITE}" in found["cors"].hint
    assert "put-bucket-encryption" in found["encryption"].hint
    assert "Server access logging" in found["logging"].hint
    # Every finding that is not OK says how to fix it.
    assert all(f.hint for f in findings if f.status in (Status.ERROR, Status.WARNING))
    # The probe objects were cleaned up, the multipart uploads completed or aborted.
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


def test_a_healthy_bucket(bucket, no_checksum):
    make_healthy(bucket)
    out, error = run()
    assert error is None
    assert "Summary: 17 ok." in out
    assert set(statuses(BucketDoctor().run()).values()) == {Status.OK}


def test_the_command_fails_with_the_fixes(bucket):
    out, error = run()
    assert isinstance(error, CommandError)
    assert "3 check(s) failed" in str(error)
    assert "[   ERROR   ] cors: The bucket has no CORS configuration" in out
    assert "fix: Run manage.py presigned_doctor --apply-cors" in out
    assert "Summary: 11 ok, 3 warning, 3 error." in out


def test_json_output(bucket, no_checksum):
    make_healthy(bucket)
    out, error = run("--json")
    data = json.loads(out)
    assert error is None
    assert data["summary"]["ok"] == 17
    assert {f["check"] for f in data["findings"]} >= {"bucket", "cors", "missing-object"}


def test_public_access_block_partly_off(bucket):
    config = {**ALL_ON, "BlockPublicPolicy": False}
    bucket.put_public_access_block(Bucket="test-bucket", PublicAccessBlockConfiguration=config)
    finding = BucketDoctor().check_public_access_block()
    assert finding.status is Status.ERROR
    assert finding.message == "Block Public Access is not fully on: BlockPublicPolicy is off."


def test_a_public_bucket_policy(bucket):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::test-bucket/*",
            }
        ],
    }
    bucket.put_bucket_policy(Bucket="test-bucket", Policy=json.dumps(policy))
    finding = BucketDoctor().check_policy_status()
    assert finding.status is Status.ERROR
    assert "makes the bucket public" in finding.message


@pytest.mark.parametrize(
    ("rules", "status", "message"),
    [
        ([doctor.cors_rule(["*"])], Status.ERROR, "wildcard origin '*'"),
        (
            [doctor.cors_rule([SITE]), doctor.cors_rule(["https://*.example.org"])],
            Status.ERROR,
            "wildcard origin 'https://*.example.org'",
        ),
        ([doctor.cors_rule(["https://other.example.com"])], Status.ERROR, f"{SITE} may not POST"),
        (
            [{**doctor.cors_rule([SITE]), "AllowedMethods": ["GET", "PUT"]}],
            Status.ERROR,
            f"{SITE} may not POST",
        ),
        (
            [{**doctor.cors_rule([SITE]), "ExposeHeaders": []}],
            Status.WARNING,
            f"ETag is not exposed to {SITE}",
        ),
        (
            # S3 applies the first matching rule: a later rule exposing ETag does not help.
            [
                {"AllowedOrigins": [SITE], "AllowedMethods": ["POST"]},
                doctor.cors_rule([SITE]),
            ],
            Status.WARNING,
            "ETag is not exposed",
        ),
        (
            [doctor.cors_rule([SITE, "http://localhost:8000"])],
            Status.WARNING,
            "development origins are allowed: http://localhost:8000",
        ),
        # Browsers also PUT (TRANSPORT "auto": the parts of large files), with the headers
        # their URL was signed with; S3 refuses a preflight asking for another.
        (
            [{**doctor.cors_rule([SITE]), "AllowedMethods": ["POST"]}],
            Status.ERROR,
            f"{SITE} may not PUT.",
        ),
        (
            [{**doctor.cors_rule([SITE]), "AllowedHeaders": ["Content-Type"]}],
            Status.ERROR,
            f"{SITE} may not PUT with the header(s) x-amz-acl, x-amz-checksum-sha256, "
            "If-None-Match.",
        ),
        (
            [{**doctor.cors_rule([SITE]), "AllowedHeaders": []}],
            Status.ERROR,
            f"{SITE} may not PUT with the header(s) Content-Type, x-amz-acl,",
        ),
        (
            # One "*" per allowed header, case-insensitive, as S3 matches them.
            [
                {
                    **doctor.cors_rule([SITE]),
                    "AllowedHeaders": ["content-type", "X-Amz-*", "if-none-match"],
                }
            ],
            Status.OK,
            f"CORS lets {SITE} POST and PUT",
        ),
        (
            # S3 skips a rule that does not allow the preflight's headers.
            [
                {"AllowedOrigins": [SITE], "AllowedMethods": ["PUT"], "AllowedHeaders": ["x"]},
                doctor.cors_rule([SITE]),
            ],
            Status.OK,
            f"CORS lets {SITE} POST and PUT",
        ),
        (
            [doctor.cors_rule([SITE])],
            Status.OK,
            f"CORS lets {SITE} POST and PUT, with the headers TRANSPORT 'auto' sends, and "
            "exposes ETag; no wildcard origin.",
        ),
    ],
)
def test_cors(bucket, rules, status, message):
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": rules})
    finding = BucketDoctor().check_cors()
    assert finding.status is status
    assert message in finding.message


@pytest.mark.parametrize(
    ("transport", "methods", "status", "message"),
    [
        # Providers without POST Object: browsers only PUT.
        ("put", ["PUT"], Status.OK, f"CORS lets {SITE} PUT, with the headers TRANSPORT 'put'"),
        ("put", ["POST"], Status.ERROR, f"{SITE} may not PUT."),
        # POST only: browsers send forms, and no header of their own.
        ("post", ["POST"], Status.OK, f"CORS lets {SITE} POST, with the headers"),
        ("post", ["PUT"], Status.ERROR, f"{SITE} may not POST."),
    ],
)
def test_cors_follows_the_transport(bucket, settings, transport, methods, status, message):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": transport}
    rule = {**doctor.cors_rule([SITE]), "AllowedMethods": methods}
    if transport == "post":
        rule["AllowedHeaders"] = []
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": [rule]})
    finding = BucketDoctor().check_cors()
    assert (finding.status, message in finding.message) == (status, True), finding.message


def test_cors_needs_the_encryption_headers_a_put_is_signed_with(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "aws:kms",
        "SSE_KMS_KEY_ID": "alias/uploads",
        "CHECKSUM": None,
        "CONDITIONAL_WRITES": False,
    }
    rule = {**doctor.cors_rule([SITE]), "AllowedHeaders": ["Content-Type", "x-amz-acl"]}
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": [rule]})
    finding = BucketDoctor().check_cors()
    assert finding.status is Status.ERROR
    assert finding.message.endswith(
        "may not PUT with the header(s) x-amz-server-side-encryption, "
        "x-amz-server-side-encryption-aws-kms-key-id."
    )


def test_cors_localhost_is_fine_in_debug(bucket, settings):
    settings.DEBUG = True
    rules = [doctor.cors_rule([SITE, "http://127.0.0.1:8000"])]
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": rules})
    assert BucketDoctor().check_cors().status is Status.OK


def test_cors_without_configured_origins(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": []}
    bucket.put_bucket_cors(
        Bucket="test-bucket", CORSConfiguration={"CORSRules": [doctor.cors_rule([SITE])]}
    )
    finding = BucketDoctor().check_cors()
    assert finding.status is Status.WARNING
    assert "CORS_ORIGINS is not set" in finding.message
    # --origin names them on the command line instead.
    assert BucketDoctor(origins=[SITE]).check_cors().status is Status.OK


def test_apply_cors_puts_its_rule_first_and_keeps_others(bucket):
    other = {"ID": "cdn", "AllowedOrigins": ["https://cdn.example.com"], "AllowedMethods": ["GET"]}
    old = {**doctor.cors_rule(["https://old.example.com"])}
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": [other, old]})
    out, _ = run("--apply-cors", SITE, "https://www.example.com")
    assert "Wrote the CORS configuration of 'test-bucket'" in out
    rules = bucket.get_bucket_cors(Bucket="test-bucket")["CORSRules"]
    assert [rule.get("ID") for rule in rules] == ["presigned-transfers", "cdn"]
    assert rules[0]["AllowedOrigins"] == [SITE, "https://www.example.com"]
    assert rules[0]["AllowedMethods"] == ["POST", "PUT"]
    assert rules[0]["AllowedHeaders"] == ["*"]
    assert rules[0]["ExposeHeaders"] == ["ETag"]
    assert "[    ok     ] cors:" in out


def test_apply_cors_defaults_to_the_setting(bucket):
    run("--apply-cors")
    rules = bucket.get_bucket_cors(Bucket="test-bucket")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [SITE]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--apply-cors", "*"], "wildcard"),
        (["--apply-cors", "https://example.com/"], "has a path"),
        (["--origin", "example.com"], "is not an origin"),
    ],
)
def test_bad_origins_are_refused(bucket, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("presigned_doctor", *args, stdout=StringIO())


def test_apply_cors_needs_origins(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": []}
    with pytest.raises(CommandError, match="needs the origins"):
        call_command("presigned_doctor", "--apply-cors", stdout=StringIO())


def test_encryption_on_and_pinned(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "AES256",
    }
    finding = BucketDoctor().check_encryption()
    assert finding.status is Status.WARNING
    assert "every POST policy pins AES256" in finding.message
    bucket.put_bucket_encryption(Bucket="test-bucket", ServerSideEncryptionConfiguration=AES256)
    finding = BucketDoctor().check_encryption()
    assert (finding.status, finding.message) == (Status.OK, "Default encryption is on (AES256).")


def test_logging_on(bucket):
    make_healthy(bucket)
    finding = BucketDoctor().check_logging()
    assert (finding.status, finding.message) == (
        Status.OK,
        "Server access logging goes to test-bucket/logs/.",
    )


def test_region_mismatch(bucket, settings):
    eu = storage.get_client()
    eu.create_bucket(
        Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "BUCKET": "eu-bucket"}
    finding = BucketDoctor().check_region()
    assert finding.status is Status.ERROR
    assert "eu-west-1" in finding.message
    assert finding.hint == "Set PRESIGNED_TRANSFERS['REGION'] = 'eu-west-1'."


def test_a_missing_bucket_skips_the_rest(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "BUCKET": "no-such-bucket"}
    findings = BucketDoctor().run()
    assert findings[0].status is Status.ERROR
    assert "There is no bucket 'no-such-bucket'" in findings[0].message
    assert {f.status for f in findings[1:]} == {Status.SKIPPED}
    assert len(findings) == 17


def test_unreachable_endpoint(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "ENDPOINT_URL": "http://127.0.0.1:9",
    }
    doc = BucketDoctor()
    doc.client.head_bucket = lambda **kw: (_ for _ in ()).throw(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    )
    first = doc.run()[0]
    assert first.status is Status.ERROR
    assert "Could not talk to S3" in first.message
    assert "ENDPOINT_URL" in first.hint


def test_unsupported_and_denied_apis(bucket, monkeypatch):
    doc = BucketDoctor()

    def not_implemented(**kwargs):
        raise client_error("NotImplemented", 501)

    def denied(**kwargs):
        raise client_error("AccessDenied", 403)

    monkeypatch.setattr(doc.client, "get_public_access_block", not_implemented)
    monkeypatch.setattr(doc.client, "get_bucket_logging", denied)
    monkeypatch.setattr(
        doc.client,
        "get_bucket_encryption",
        lambda **kw: (_ for _ in ()).throw(client_error("InternalError", 500)),
    )
    found = by_check(doc.run())
    assert found["public-access-block"].status is Status.UNSUPPORTED
    assert "does not implement" in found["public-access-block"].message
    assert found["logging"].status is Status.WARNING
    assert "may not read this setting (AccessDenied)" in found["logging"].message
    assert found["encryption"].status is Status.ERROR
    assert "InternalError" in found["encryption"].message


def test_head_bucket_denied(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, "head_bucket", lambda **kw: (_ for _ in ()).throw(client_error("403", 403))
    )
    finding = doc.check_bucket()
    assert finding.status is Status.ERROR
    assert "s3:ListBucket" in finding.hint


@pytest.mark.parametrize(
    ("operation", "code", "check", "message"),
    [
        ("put_object", "AccessDenied", "put-object", "PutObject failed: AccessDenied."),
        ("put_object", "AccessControlListNotSupported", "put-object", "refuses acl=private"),
        ("copy_object", "AccessDenied", "copy-object", "CopyObject failed: AccessDenied."),
        ("get_object", "AccessDenied", "get-object", "GetObject failed: AccessDenied."),
        ("delete_object", "AccessDenied", "delete-object", "DeleteObject failed: AccessDenied."),
        ("head_object", "403", "missing-object", "answers 403, not 404"),
        ("head_object", "InternalError", "missing-object", "HEAD of a missing key"),
    ],
)
def test_object_permissions(bucket, monkeypatch, operation, code, check, message):
    doc = BucketDoctor()

    def refuse(**kwargs):
        raise client_error(code, 403)

    monkeypatch.setattr(doc.client, operation, refuse)
    findings = by_check(doc.check_objects())
    assert findings[check].status is Status.ERROR
    assert message in findings[check].message
    assert findings[check].hint
    if operation == "put_object":
        skipped = ("copy-object", "get-object", "delete-object", "missing-object")
        assert {findings[n].status for n in skipped} == {Status.SKIPPED}
    if operation == "copy_object":
        assert findings["get-object"].status is Status.SKIPPED
        assert "s3:GetObject on arn:aws:s3:::test-bucket/incoming/*" in findings[check].hint
        assert "s3:PutObject on arn:aws:s3:::test-bucket/uploads/*" in findings[check].hint
    if operation == "head_object" and code == "403":
        assert "s3:ListBucket" in findings[check].hint


def test_an_object_that_survives_deletion(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(doc.client, "delete_object", lambda **kw: {})
    finding = by_check(doc.check_objects())["missing-object"]
    assert finding.status is Status.ERROR
    assert "still there" in finding.message


def test_a_corrupted_read(bucket, monkeypatch):
    doc = BucketDoctor()
    real = doc.client.get_object

    def corrupt(**kwargs):
        response = real(**kwargs)
        response["Body"].read()
        response["Body"] = __import__("io").BytesIO(b"something else")
        return response

    monkeypatch.setattr(doc.client, "get_object", corrupt)
    finding = by_check(doc.check_objects())["get-object"]
    assert finding.status is Status.ERROR
    assert "differs" in finding.message


def test_the_probe_mirrors_the_post_policy(bucket, settings, monkeypatch):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "aws:kms",
        "SSE_KMS_KEY_ID": "alias/uploads",
    }
    doc = BucketDoctor()
    seen, copied = {}, {}
    monkeypatch.setattr(doc.client, "put_object", lambda **kw: seen.update(kw) or {"ETag": '"e"'})
    monkeypatch.setattr(doc.client, "copy_object", lambda **kw: copied.update(kw))
    doc.check_objects()
    # Where a browser's POST lands, pinned as the POST policy pins it...
    assert seen["ACL"] == "private"
    assert seen["ServerSideEncryption"] == "aws:kms"
    assert seen["SSEKMSKeyId"] == "alias/uploads"
    assert seen["Key"].startswith("incoming/uploads/presigned-doctor/")
    # ... then copied as confirm keeps it: conditioned on its ETag, pinned the same way.
    assert copied["CopySource"] == {"Bucket": "test-bucket", "Key": seen["Key"]}
    assert copied["Key"] == seen["Key"].removeprefix("incoming/")
    assert copied["CopySourceIfMatch"] == '"e"'
    assert (copied["ACL"], copied["ServerSideEncryption"], copied["SSEKMSKeyId"]) == (
        "private",
        "aws:kms",
        "alias/uploads",
    )


def test_no_write_test(bucket, monkeypatch):
    monkeypatch.setattr(storage.get_client(), "put_object", pytest.fail)
    out, _ = run("--no-write-test")
    assert "[  skipped  ] put-object: Skipped (--no-write-test)." in out


# --- SeaweedFS ------------------------------------------------------------------------------


@pytest.mark.s3
def test_doctor_against_seaweedfs(presigned_bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": [SITE]}
    found = by_check(BucketDoctor().run())
    assert statuses(found.values()) == {
        "bucket": Status.OK,
        "region": Status.OK,
        # SeaweedFS answers 501 NotImplemented: said so, not failed.
        "public-access-block": Status.UNSUPPORTED,
        "policy-status": Status.OK,  # SeaweedFS answers NoSuchBucketPolicy
        "cors": Status.ERROR,
        "lifecycle": Status.WARNING,  # NoSuchLifecycleConfiguration
        "encryption": Status.ERROR,
        "logging": Status.WARNING,
        "versioning": Status.OK,
        "put-object": Status.OK,
        "copy-object": Status.OK,
        "get-object": Status.OK,
        "delete-object": Status.OK,
        "missing-object": Status.OK,
        "post-object": Status.OK,
        "put-url": Status.OK,
        "multipart": Status.OK,
    }
    assert "does not implement" in found["public-access-block"].message
    assert "Versioning is off" in found["versioning"].message

    # Fix what SeaweedFS can fix: CORS and lifecycle through the command, default
    # encryption by hand.
    presigned_bucket.client.put_bucket_encryption(
        Bucket=presigned_bucket.bucket, ServerSideEncryptionConfiguration=AES256
    )
    out, error = run("--apply-cors", SITE, "--apply-lifecycle")
    assert error is None, out
    assert "[    ok     ] cors:" in out
    assert "[    ok     ] lifecycle:" in out
    assert "[    ok     ] encryption: Default encryption is on (AES256)." in out
    assert "[unsupported] public-access-block:" in out
    rules = presigned_bucket.client.get_bucket_cors(Bucket=presigned_bucket.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [SITE]
    assert presigned_bucket.keys() == []  # the probe objects are gone
    assert not presigned_bucket.client.list_multipart_uploads(Bucket=presigned_bucket.bucket).get(
        "Uploads"
    )


@pytest.mark.s3
def test_doctor_sees_wrong_credentials_on_seaweedfs(presigned_bucket, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    reset_app_state()
    findings = BucketDoctor().run()
    assert findings[0].status is Status.ERROR
    assert {f.status for f in findings[1:]} == {Status.SKIPPED}


@pytest.mark.parametrize(
    ("operation", "check"),
    [
        ("head_bucket", "bucket"),
        ("get_public_access_block", "public-access-block"),
        ("get_bucket_policy_status", "policy-status"),
        ("get_bucket_cors", "cors"),
    ],
)
def test_unexpected_errors_are_reported_not_raised(bucket, monkeypatch, operation, check):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, operation, lambda **kw: (_ for _ in ()).throw(client_error("SlowDown", 503))
    )
    finding = by_check(doc.run())[check]
    assert finding.status is Status.ERROR
    assert "SlowDown" in finding.message
    assert finding.hint


def test_a_private_bucket_policy(bucket):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::test-bucket/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    bucket.put_bucket_policy(Bucket="test-bucket", Policy=json.dumps(policy))
    finding = BucketDoctor().check_policy_status()
    assert (finding.status, finding.message) == (
        Status.OK,
        "The bucket policy does not make it public.",
    )


def test_the_probe_with_aes256(bucket, settings, monkeypatch):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "AES256",
    }
    doc = BucketDoctor()
    seen = {}
    real = doc.client.put_object
    monkeypatch.setattr(doc.client, "put_object", lambda **kw: seen.update(kw) or real(**kw))
    assert {f.status for f in doc.check_objects()} == {Status.OK}
    assert seen["ServerSideEncryption"] == "AES256"
    assert "SSEKMSKeyId" not in seen


def test_missing_object_check_cannot_connect(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client,
        "head_object",
        lambda **kw: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="http://x")),
    )
    finding = by_check(doc.check_objects())["missing-object"]
    assert finding.status is Status.ERROR
    assert "HEAD failed" in finding.message


def test_apply_cors_surfaces_unexpected_errors(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, "get_bucket_cors", lambda **kw: (_ for _ in ()).throw(client_error("Boom"))
    )
    with pytest.raises(ClientError):
        doc.apply_cors([SITE])


def test_apply_cors_with_json_prints_only_json(bucket, no_checksum):
    make_healthy(bucket)
    out, error = run("--apply-cors", SITE, "--json")
    assert error is None
    assert json.loads(out)["summary"]["ok"] == 17


def test_no_credentials_says_where_boto3_looks(bucket, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    reset_app_state()
    out, error = run()
    assert isinstance(error, CommandError)
    assert "bucket: No AWS credentials were found." in out
    for place in ("AWS_ACCESS_KEY_ID", "~/.aws/credentials", "AWS_PROFILE", "instance metadata"):
        assert place in out
    assert "ENDPOINT_URL, REGION" not in out


def test_versioning_on_is_reported(bucket):
    bucket.put_bucket_versioning(
        Bucket="test-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    finding = by_check(BucketDoctor().run())["versioning"]
    assert finding.status is Status.OK
    assert "pinned to the version confirm kept" in finding.message


def test_without_a_bucket_setting(settings):
    settings.PRESIGNED_TRANSFERS = {}
    with pytest.raises(CommandError, match=r"\['BUCKET'\] is not set"):
        call_command("presigned_doctor", stdout=StringIO())


# --- lifecycle ------------------------------------------------------------------------------


def put_lifecycle(client, *rules):
    client.put_bucket_lifecycle_configuration(
        Bucket="test-bucket", LifecycleConfiguration={"Rules": list(rules)}
    )


def abort_rule(prefix="uploads/", days=7, rule_id="abort", status="Enabled"):
    return {
        "ID": rule_id,
        "Status": status,
        "Filter": {"Prefix": prefix},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }


def expire_rule(prefix="incoming/", days=7, rule_id="expire"):
    return {
        "ID": rule_id,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "Expiration": {"Days": days},
    }


def test_lifecycle_without_rules(bucket):
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    assert "no enabled rule aborts incomplete multipart uploads under 'uploads/'" in finding.message
    assert "billed until it is aborted" in finding.message
    assert "no enabled rule expires the objects under 'incoming/'" in finding.message
    # The exact rules to add, and why their days are what they are.
    assert "presigned_doctor --apply-lifecycle" in finding.hint
    assert json.dumps(doctor.lifecycle_rules()) in finding.hint
    assert '"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}' in finding.hint
    assert '"Filter": {"Prefix": "incoming/"}, "Expiration": {"Days": 7}' in finding.hint
    assert "UPLOAD_EXPIRY + CLEANUP_GRACE" in finding.hint
    assert "MULTIPART_EXPIRY + CLEANUP_GRACE" in finding.hint


def test_lifecycle_with_the_apps_rules(bucket):
    put_lifecycle(bucket, *doctor.lifecycle_rules())
    finding = BucketDoctor().check_lifecycle()
    assert (finding.status, finding.message) == (
        Status.OK,
        "Lifecycle: rule 'presigned-transfers-abort-multipart' aborts incomplete multipart "
        "uploads under 'uploads/' after 7 day(s); rule 'presigned-transfers-expire-staging' "
        "expires staging objects under 'incoming/' after 7 day(s).",
    )


def test_lifecycle_rule_for_the_whole_bucket_counts(bucket):
    put_lifecycle(bucket, abort_rule(prefix=""), expire_rule())
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.OK
    assert "rule 'abort' aborts incomplete multipart uploads under 'uploads/'" in finding.message


@pytest.mark.parametrize(
    "rules",
    [
        [abort_rule(status="Disabled"), expire_rule()],  # disabled
        [abort_rule(prefix="uploads/other/"), expire_rule()],  # only part of the prefix
        [abort_rule(prefix="incoming/"), expire_rule()],  # another prefix
    ],
)
def test_lifecycle_rules_that_do_not_cover_the_prefix(bucket, rules):
    put_lifecycle(bucket, *rules)
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    assert "no enabled rule aborts incomplete multipart uploads" in finding.message
    assert "expires the objects under 'incoming/'" not in finding.message


def test_lifecycle_expiry_narrowed_by_a_tag_does_not_count(bucket):
    tagged = {
        "ID": "tagged",
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": "incoming/", "Tags": [{"Key": "k", "Value": "v"}]}},
        "Expiration": {"Days": 7},
    }
    put_lifecycle(bucket, abort_rule(), tagged)
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    assert "no enabled rule expires the objects under 'incoming/'" in finding.message


def test_lifecycle_rules_that_act_too_soon(bucket, settings):
    # A multipart upload may be sent for 24 h and completed by the cleanup an hour later:
    # aborting it after a day could lose it. A staging object is needed for 20 min + 3 days.
    # Each gets a day more than that, rounded up, for the cleanup's cron interval.
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CLEANUP_GRACE": 3 * 86400}
    put_lifecycle(bucket, abort_rule(days=1), expire_rule(days=3))
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    assert "rule 'abort' aborts multipart uploads after 1 day(s), while the app may still" in (
        finding.message
    )
    assert "rule 'expire' expires staging objects after 3 day(s), while the cleanup may" in (
        finding.message
    )
    assert "Give rule 'abort' DaysAfterInitiation 5 or more." in finding.hint
    assert "Give rule 'expire' Days 5 or more." in finding.hint
    # Their own rules are not what --apply-lifecycle writes: it is not offered.
    assert "--apply-lifecycle" not in finding.hint
    # What --apply-lifecycle writes waits long enough.
    assert [
        rule.get("Expiration", rule.get("AbortIncompleteMultipartUpload"))
        for rule in doctor.lifecycle_rules()
    ] == [{"DaysAfterInitiation": 7}, {"Days": 7}]
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "CLEANUP_GRACE": 10 * 86400,
        "MULTIPART_EXPIRY": 7 * 86400,
    }
    assert [
        rule.get("Expiration", rule.get("AbortIncompleteMultipartUpload"))
        for rule in doctor.lifecycle_rules()
    ] == [{"DaysAfterInitiation": 18}, {"Days": 12}]


def test_lifecycle_rule_that_expires_kept_uploads(bucket):
    put_lifecycle(
        bucket, abort_rule(), expire_rule(), expire_rule(prefix="", days=30, rule_id="all")
    )
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    assert (
        "rule 'all' expires the objects under the whole bucket after 30 day(s), kept uploads "
        "under 'uploads/' among them" in finding.message
    )
    assert "Narrow rule 'all' to a prefix no kept key starts with" in finding.hint


def test_lifecycle_with_transport_post_needs_no_abort_rule(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "post"}
    put_lifecycle(bucket, expire_rule())
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.OK
    assert "TRANSPORT 'post' opens no multipart upload to abort" in finding.message


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        ("NotImplemented", Status.UNSUPPORTED, "does not implement"),
        ("AccessDenied", Status.WARNING, "s3:GetLifecycleConfiguration, read-only"),
    ],
)
def test_lifecycle_unsupported_or_not_readable(bucket, monkeypatch, code, status, text):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client,
        "get_bucket_lifecycle_configuration",
        lambda **kw: (_ for _ in ()).throw(client_error(code, 403)),
    )
    finding = by_check(doc.run())["lifecycle"]
    assert finding.status is status
    assert text in finding.message + finding.hint


def test_lifecycle_legacy_rules_count(bucket, monkeypatch):
    doc = BucketDoctor()
    legacy = [
        {
            "ID": "a",
            "Prefix": "",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        {"ID": "e", "Prefix": "incoming/", "Status": "Enabled", "Expiration": {"Days": 7}},
    ]
    monkeypatch.setattr(
        doc.client, "get_bucket_lifecycle_configuration", lambda **kw: {"Rules": legacy}
    )
    assert doc.check_lifecycle().status is Status.OK


def test_apply_lifecycle_puts_its_rules_first_and_keeps_others(bucket):
    logs = expire_rule(prefix="logs/", days=30, rule_id="logs")
    stale = abort_rule(days=1, rule_id="presigned-transfers-abort-multipart")
    put_lifecycle(bucket, logs, stale)
    out, _ = run("--apply-lifecycle")
    assert "Wrote the lifecycle configuration of 'test-bucket'" in out
    rules = bucket.get_bucket_lifecycle_configuration(Bucket="test-bucket")["Rules"]
    assert [rule["ID"] for rule in rules] == [
        "presigned-transfers-abort-multipart",
        "presigned-transfers-expire-staging",
        "logs",
    ]
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules[1]["Expiration"] == {"Days": 7}
    assert rules[2]["Expiration"] == {"Days": 30}
    assert "[    ok     ] lifecycle:" in out


def test_apply_lifecycle_moves_a_legacy_prefix_into_a_filter(bucket, monkeypatch):
    doc = BucketDoctor()
    legacy = {"ID": "old", "Prefix": "tmp/", "Status": "Enabled", "Expiration": {"Days": 1}}
    monkeypatch.setattr(
        doc.client, "get_bucket_lifecycle_configuration", lambda **kw: {"Rules": [legacy]}
    )
    written = doc.apply_lifecycle()
    assert written["Rules"][2] == {
        "ID": "old",
        "Filter": {"Prefix": "tmp/"},
        "Status": "Enabled",
        "Expiration": {"Days": 1},
    }
    assert (
        bucket.get_bucket_lifecycle_configuration(Bucket="test-bucket")["Rules"][2]["ID"] == "old"
    )


@pytest.mark.parametrize(
    ("args", "operation", "action"),
    [
        (
            ["--apply-lifecycle"],
            "put_bucket_lifecycle_configuration",
            "s3:PutLifecycleConfiguration",
        ),
        (["--apply-cors", SITE], "put_bucket_cors", "s3:PutBucketCORS"),
    ],
)
def test_apply_refused_is_a_clear_error(bucket, monkeypatch, args, operation, action):
    client = storage.get_client()
    monkeypatch.setattr(
        client, operation, lambda **kw: (_ for _ in ()).throw(client_error("AccessDenied", 403))
    )
    with pytest.raises(CommandError, match=f"AccessDenied. It needs {action}"):
        call_command("presigned_doctor", *args, stdout=StringIO())


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            client_error("SlowDown", 503),
            "Could not write the lifecycle configuration of 'test-bucket': SlowDown.",
        ),
        (
            EndpointConnectionError(endpoint_url="http://x"),
            "Could not write the lifecycle configuration of 'test-bucket': Could not connect",
        ),
    ],
)
def test_apply_lifecycle_cannot_read_or_write(bucket, monkeypatch, failure, message):
    monkeypatch.setattr(
        storage.get_client(),
        "get_bucket_lifecycle_configuration",
        lambda **kw: (_ for _ in ()).throw(failure),
    )
    with pytest.raises(CommandError, match=message):
        call_command("presigned_doctor", "--apply-lifecycle", stdout=StringIO())


# --- post-object: the browser's POST form ---------------------------------------------------


def test_post_object_sends_the_form_a_browser_gets(bucket, sent):
    finding = BucketDoctor().check_post()
    assert finding.status is Status.OK
    assert "A presigned POST form, as browsers get it, stored a probe at incoming/" in (
        finding.message
    )
    [(method, url, headers, body)] = sent
    assert (method, url) == ("POST", "https://test-bucket.s3.amazonaws.com/")
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    for field in ("policy", "x-amz-signature", "x-amz-checksum-sha256", "acl", "Content-Type"):
        assert f'name="{field}"'.encode() in body
    # The file comes last, as browsers send it (S3 ignores fields after it).
    assert body.index(b'name="file"') > body.index(b'name="x-amz-signature"')
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


NO_POST = s3_error(501, "NotImplemented")


@pytest.mark.parametrize("transport", ["auto", "post"])
def test_post_object_not_implemented_recommends_put(bucket, monkeypatch, settings, transport):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": transport}
    refusing(monkeypatch, lambda method, headers: NO_POST if method == "POST" else None)
    finding = by_check(BucketDoctor().run())["post-object"]
    assert finding.status is Status.ERROR
    assert "This provider does not implement POST Object (501 NotImplemented" in finding.message
    assert finding.hint.startswith("Set PRESIGNED_TRANSFERS['TRANSPORT'] = 'put'")


def test_post_object_not_needed_with_transport_put(bucket, monkeypatch, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "put"}
    refusing(monkeypatch, lambda method, headers: NO_POST if method == "POST" else None)
    finding = BucketDoctor().check_post()
    assert finding.status is Status.OK
    assert "not needed: TRANSPORT 'put' never signs one" in finding.message


def test_post_object_works_with_transport_put_too(bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "put"}
    finding = BucketDoctor().check_post()
    assert finding.status is Status.OK
    assert "(TRANSPORT 'put' does not use it)" in finding.message


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDenied", "Allow s3:PutObject on arn:aws:s3:::test-bucket/incoming/*"),
        ("SignatureDoesNotMatch", "REGION, ENDPOINT_URL"),
        ("RequestTimeTooSkewed", "clock"),
        ("AccessControlListNotSupported", "['ACL'] to None"),
        ("InternalError", "Look the error code up"),
    ],
)
def test_post_object_refused(bucket, monkeypatch, code, hint):
    refusing(monkeypatch, lambda method, headers: s3_error(403, code))
    finding = BucketDoctor().check_post()
    assert finding.status is Status.ERROR
    assert f"S3 refused the presigned POST form: 403 {code}: {code} here." == finding.message
    assert hint in finding.hint


def test_probes_cannot_connect(bucket, monkeypatch):
    def unreachable(method, url, *, headers, body):
        raise NewConnectionError(None, "Connection refused")

    monkeypatch.setattr(doctor, "_send", unreachable)
    found = by_check(BucketDoctor().check_transfers())
    for check in ("post-object", "put-url", "multipart"):
        assert found[check].status is Status.ERROR
        assert "Could not talk to S3" in found[check].message
        assert "ENDPOINT_URL" in found[check].hint
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


def test_probes_without_credentials(bucket, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    reset_app_state()  # forget the credentials found before
    doc = BucketDoctor(client=storage.get_client())
    finding = doc._guarded("post-object", doc.check_post)
    assert (finding.status, finding.message) == (
        Status.ERROR,
        "No usable AWS credentials to sign with.",
    )
    assert "AWS_ACCESS_KEY_ID" in finding.hint


# --- put-url: the browser's PUT --------------------------------------------------------------


def test_put_url_proves_its_headers(bucket, sent, no_checksum):
    finding = BucketDoctor().check_put()
    assert (finding.status, finding.message) == (
        Status.OK,
        "A presigned PUT with If-None-Match: *, as browsers send it, stored a probe; a second "
        "PUT of its URL was refused (412).",
    )
    first, again = sent
    assert first[0] == "PUT" and first[2]["If-None-Match"] == "*"
    assert first[2]["x-amz-acl"] == "private"
    assert again[1] == first[1]
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


def test_put_url_sends_the_signed_checksum(bucket, sent):
    BucketDoctor().check_put()
    right, _, wrong = sent
    assert right[2]["x-amz-checksum-sha256"] == wrong[2]["x-amz-checksum-sha256"]
    assert right[3] != wrong[3] and len(right[3]) == len(wrong[3])


def test_put_url_finds_an_ignored_if_none_match(bucket, monkeypatch, no_checksum):
    calls = []

    def send(method, url, *, headers, body):
        calls.append(method)
        if len(calls) == 2:  # the second PUT of the same URL: as if the header were ignored
            return s3http.Answer(status=200, headers={}, body=b"")
        return send_by_requests(method, url, headers=headers, body=body)

    monkeypatch.setattr(doctor, "_send", send)
    finding = BucketDoctor().check_put()
    assert finding.status is Status.WARNING
    assert "the provider ignores If-None-Match: *" in finding.message
    assert finding.hint == (
        "Set PRESIGNED_TRANSFERS['CONDITIONAL_WRITES'] = False: this provider does not honour it."
    )


@pytest.mark.parametrize(
    ("refused", "message", "hint"),
    [
        (
            {"x-amz-checksum-sha256"},
            "This provider refuses the signed x-amz-checksum-sha256 (400 InvalidArgument",
            "Set PRESIGNED_TRANSFERS['CHECKSUM'] = None. The app then signs no such header.",
        ),
        (
            {"If-None-Match"},
            "This provider refuses the signed If-None-Match (400 InvalidArgument",
            "Set PRESIGNED_TRANSFERS['CONDITIONAL_WRITES'] = False. The app then signs no such",
        ),
        (
            {"x-amz-checksum-sha256", "If-None-Match"},
            "refuses the signed x-amz-checksum-sha256 and If-None-Match (400 InvalidArgument",
            "Set PRESIGNED_TRANSFERS['CHECKSUM'] = None. Set PRESIGNED_TRANSFERS"
            "['CONDITIONAL_WRITES'] = False.",
        ),
    ],
)
def test_put_url_names_the_header_a_provider_refuses(bucket, monkeypatch, refused, message, hint):
    def refuse(method, headers):
        if method == "PUT" and refused & set(headers):
            return s3_error(400, "InvalidArgument")
        return None

    refusing(monkeypatch, refuse)
    finding = BucketDoctor().check_put()
    assert finding.status is Status.ERROR
    assert message in finding.message
    assert hint in finding.hint
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


def test_put_url_refused_with_or_without_its_headers(bucket, monkeypatch):
    tried = []

    def refuse(method, headers):
        tried.append(sorted(h for h in headers if h in ("x-amz-checksum-sha256", "If-None-Match")))
        return s3_error(400, "InvalidRequest")

    refusing(monkeypatch, refuse)
    finding = BucketDoctor().check_put()
    assert tried == [
        ["If-None-Match", "x-amz-checksum-sha256"],
        ["If-None-Match"],
        ["x-amz-checksum-sha256"],
        [],
    ]
    assert finding.status is Status.ERROR
    assert finding.message.startswith("S3 refused the presigned PUT: 400 InvalidRequest")
    assert "Look the error code up" in finding.hint
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


def test_put_url_refused_for_another_reason(bucket, monkeypatch, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "post"}
    tried = []

    def refuse(method, headers):
        tried.append(method)
        return s3_error(403, "AccessDenied")

    refusing(monkeypatch, refuse)
    finding = BucketDoctor().check_put()
    # Not tried again without its headers; with TRANSPORT "post" only a warning.
    assert tried == ["PUT"]
    assert finding.status is Status.WARNING
    assert finding.message == "S3 refused the presigned PUT: 403 AccessDenied: AccessDenied here."
    assert "Allow s3:PutObject on arn:aws:s3:::test-bucket/incoming/*" in finding.hint


def test_put_url_probe_left_behind(bucket, monkeypatch, no_checksum):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client,
        "delete_object",
        lambda **kw: (_ for _ in ()).throw(client_error("AccessDenied")),
    )
    finding = doc.check_put()
    assert finding.status is Status.WARNING
    assert "could not be deleted" in finding.message
    assert "s3:DeleteObject" in finding.hint


# --- multipart ------------------------------------------------------------------------------


def test_multipart_runs_an_upload_as_the_app_does(bucket, sent, monkeypatch):
    doc = BucketDoctor()
    calls = {}
    for name in (
        "create_multipart_upload",
        "list_parts",
        "list_multipart_uploads",
        "complete_multipart_upload",
        "abort_multipart_upload",
    ):
        real = getattr(doc.client, name)
        monkeypatch.setattr(
            doc.client,
            name,
            lambda real=real, name=name, **kw: calls.setdefault(name, []).append(kw) or real(**kw),
        )
    finding = doc.check_multipart()
    assert finding.status is Status.OK, finding
    assert "with SHA-256 checksums" in finding.message
    assert "completed it (If-None-Match: *) and aborted another" in finding.message
    create = calls["create_multipart_upload"][0]
    assert create["Key"].startswith("uploads/presigned-doctor/")  # in place, as the app writes
    assert (create["ChecksumAlgorithm"], create["ACL"]) == ("SHA256", "private")
    [(method, url, headers, _)] = sent
    assert method == "PUT" and "partNumber=1" in url and "x-amz-checksum-sha256" in headers
    complete = calls["complete_multipart_upload"][0]
    assert complete["IfNoneMatch"] == "*"
    assert (
        complete["MultipartUpload"]["Parts"][0]["ChecksumSHA256"]
        == (headers["x-amz-checksum-sha256"])
    )
    assert len(calls["abort_multipart_upload"]) == 1
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


@pytest.mark.parametrize(
    ("operation", "message", "hint"),
    [
        ("create_multipart_upload", "CreateMultipartUpload failed", "s3:PutObject on"),
        (
            "list_parts",
            "ListParts failed",
            "s3:ListMultipartUploadParts on arn:aws:s3:::test-bucket/uploads/*",
        ),
        (
            "list_multipart_uploads",
            "ListMultipartUploads failed",
            "s3:ListBucketMultipartUploads on arn:aws:s3:::test-bucket:",
        ),
        ("complete_multipart_upload", "CompleteMultipartUpload failed", "s3:PutObject on"),
        (
            "abort_multipart_upload",
            "AbortMultipartUpload failed",
            "s3:AbortMultipartUpload on arn:aws:s3:::test-bucket/uploads/*",
        ),
    ],
)
def test_multipart_denied(bucket, monkeypatch, operation, message, hint):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, operation, lambda **kw: (_ for _ in ()).throw(client_error("AccessDenied", 403))
    )
    finding = doc.check_multipart()
    assert finding.status is Status.ERROR
    assert finding.message == f"{message}: AccessDenied."
    assert hint in finding.hint
    if operation != "abort_multipart_upload":  # what it opened, it aborted
        assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


def test_multipart_part_refused(bucket, monkeypatch):
    refusing(monkeypatch, lambda method, headers: s3_error(403, "AccessDenied"))
    finding = BucketDoctor().check_multipart()
    assert finding.status is Status.ERROR
    assert "S3 refused a part sent by its presigned URL: 403 AccessDenied" in finding.message
    assert "s3:PutObject on arn:aws:s3:::test-bucket/uploads/*" in finding.hint
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


@pytest.mark.parametrize(
    ("operation", "parameter", "message", "hint"),
    [
        (
            "create_multipart_upload",
            "ChecksumAlgorithm",
            "refuses multipart uploads with SHA-256 checksums",
            "['CHECKSUM'] = None",
        ),
        (
            "complete_multipart_upload",
            "IfNoneMatch",
            "refuses to complete a multipart upload with If-None-Match: *",
            "['CONDITIONAL_WRITES'] = False",
        ),
    ],
)
def test_multipart_names_the_setting_a_provider_refuses(
    bucket, monkeypatch, operation, parameter, message, hint
):
    doc = BucketDoctor()
    real = getattr(doc.client, operation)

    def picky(**kwargs):
        if parameter in kwargs:
            raise client_error("NotImplemented", 501)
        return real(**kwargs)

    monkeypatch.setattr(doc.client, operation, picky)
    finding = doc.check_multipart()
    assert finding.status is Status.ERROR
    assert message in finding.message
    assert hint in finding.hint
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


@pytest.mark.parametrize("operation", ["create_multipart_upload", "complete_multipart_upload"])
def test_multipart_refused_with_or_without_the_option(bucket, monkeypatch, operation):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, operation, lambda **kw: (_ for _ in ()).throw(client_error("InvalidRequest"))
    )
    finding = doc.check_multipart()
    assert finding.status is Status.ERROR
    assert finding.message.endswith("failed: InvalidRequest.")
    assert "Look the error code up" in finding.hint
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


def test_multipart_acl_refused(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client,
        "create_multipart_upload",
        lambda **kw: (_ for _ in ()).throw(client_error("AccessControlListNotSupported")),
    )
    assert "['ACL'] to None" in doc.check_multipart().hint


@pytest.mark.parametrize(
    ("operation", "answer", "message"),
    [
        ("list_parts", {"Parts": []}, "S3 accepted a part but lists none for the upload."),
        ("list_multipart_uploads", {"Uploads": []}, "does not list the multipart upload"),
    ],
)
def test_multipart_listing_that_misses_it(bucket, monkeypatch, operation, answer, message):
    doc = BucketDoctor()
    monkeypatch.setattr(doc.client, operation, lambda **kw: answer)
    finding = doc.check_multipart()
    assert finding.status is Status.ERROR
    assert message in finding.message
    assert finding.hint
    assert not bucket.list_multipart_uploads(Bucket="test-bucket").get("Uploads")


def test_multipart_failing_is_a_warning_with_transport_post(bucket, monkeypatch, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "post"}
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, "list_parts", lambda **kw: (_ for _ in ()).throw(client_error("AccessDenied"))
    )
    assert doc.check_multipart().status is Status.WARNING


def test_transfer_probes_skipped_when_nothing_can_be_written(bucket, monkeypatch, sent):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, "put_object", lambda **kw: (_ for _ in ()).throw(client_error("AccessDenied"))
    )
    found = by_check(doc.run())
    for check in ("post-object", "put-url", "multipart"):
        assert found[check].status is Status.SKIPPED
    assert sent == []


def test_no_write_test_sends_no_probe(bucket, sent):
    out, _ = run("--no-write-test")
    for check in ("post-object", "put-url", "multipart"):
        assert f"[  skipped  ] {check}: Skipped (--no-write-test)." in out
    assert sent == []


def test_access_denied_names_every_action_the_app_needs(bucket, monkeypatch):
    doc = BucketDoctor()
    monkeypatch.setattr(
        doc.client, "head_bucket", lambda **kw: (_ for _ in ()).throw(client_error("403", 403))
    )
    hint = doc.check_bucket().hint
    assert "s3:ListBucket and s3:ListBucketMultipartUploads on arn:aws:s3:::test-bucket;" in hint
    assert (
        "s3:PutObject, s3:GetObject and s3:DeleteObject on arn:aws:s3:::test-bucket/incoming/* "
        "and arn:aws:s3:::test-bucket/uploads/*;" in hint
    )
    assert (
        "s3:AbortMultipartUpload and s3:ListMultipartUploadParts on "
        "arn:aws:s3:::test-bucket/uploads/*" in hint
    )


# --- SeaweedFS: the transports, lifecycle and CORS ------------------------------------------


@pytest.mark.s3
def test_transfer_probes_against_seaweedfs(presigned_bucket):
    found = by_check(BucketDoctor().check_transfers())
    assert statuses(found.values()) == {
        "post-object": Status.OK,
        "put-url": Status.OK,
        "multipart": Status.OK,
    }
    # SeaweedFS enforces what the app signs: proven, not assumed.
    assert found["put-url"].message == (
        "A presigned PUT with x-amz-checksum-sha256 and If-None-Match: *, as browsers send it, "
        "stored a probe; a second PUT of its URL was refused (412) and bytes of another "
        "SHA-256 were refused (BadDigest)."
    )
    assert presigned_bucket.keys() == []
    assert not presigned_bucket.client.list_multipart_uploads(Bucket=presigned_bucket.bucket).get(
        "Uploads"
    )


@pytest.mark.s3
def test_a_provider_without_post_object(presigned_bucket, settings):
    """Behind a proxy that answers POST Object 501, as Cloudflare R2 does."""
    with FaultProxy(presigned_bucket.server.host, presigned_bucket.server.s3_port) as proxy:
        proxy.mode = "no-post"
        settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "ENDPOINT_URL": proxy.url}
        out, error = run()
        assert isinstance(error, CommandError)
        assert (
            "[   ERROR   ] post-object: This provider does not implement POST Object "
            "(501 NotImplemented: POST Object is not implemented)" in out
        )
        assert "fix: Set PRESIGNED_TRANSFERS['TRANSPORT'] = 'put'" in out
        # Everything else goes through: the PUT and the parts work.
        assert "[    ok     ] put-url:" in out
        assert "[    ok     ] multipart:" in out

        settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "TRANSPORT": "put"}
        found = by_check(BucketDoctor().check_transfers())
        assert found["post-object"].status is Status.OK
        assert found["post-object"].message == (
            "S3 refused the presigned POST form (501 NotImplemented: POST Object is not "
            "implemented); not needed: TRANSPORT 'put' never signs one."
        )
        assert {f.status for f in found.values()} == {Status.OK}
    assert presigned_bucket.keys() == []


@pytest.mark.s3
def test_apply_lifecycle_on_seaweedfs(presigned_bucket):
    finding = BucketDoctor().check_lifecycle()
    assert finding.status is Status.WARNING
    out, _ = run("--apply-lifecycle")
    assert "[    ok     ] lifecycle: Lifecycle: rule 'presigned-transfers-abort-multipart'" in out
    rules = presigned_bucket.client.get_bucket_lifecycle_configuration(
        Bucket=presigned_bucket.bucket
    )["Rules"]
    assert {rule["ID"]: rule.get("Filter") for rule in rules} == {
        "presigned-transfers-abort-multipart": {"Prefix": "uploads/"},
        "presigned-transfers-expire-staging": {"Prefix": "incoming/"},
    }
    assert BucketDoctor().check_lifecycle().status is Status.OK


@pytest.mark.s3
def test_apply_cors_rule_lets_browsers_put_on_seaweedfs(presigned_bucket, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": [SITE]}
    out, _ = run("--apply-cors", SITE)
    assert "[    ok     ] cors: CORS lets https://app.example.com POST and PUT" in out
    # The preflight of a browser's PUT, with the headers its URL was signed with.
    url = f"{presigned_bucket.endpoint_url}/{presigned_bucket.bucket}/incoming/uploads/x.pdf"
    preflight = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,if-none-match,x-amz-acl,"
        "x-amz-checksum-sha256",
    }
    allowed = requests.options(url, headers={"Origin": SITE, **preflight}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    other = requests.options(
        url, headers={"Origin": "https://evil.example", **preflight}, timeout=10
    )
    assert other.status_code == 403


# --- the README says what the doctor writes -------------------------------------------------


def readme_json(after):

    text = CHECKOUT.joinpath("README.md").read_text()
    block = text[text.index(after) :]
    start = block.index("```json\n") + len("```json\n")
    return json.loads(block[start : block.index("```", start)])


def test_the_readme_shows_the_rules_the_doctor_writes(settings):
    settings.PRESIGNED_TRANSFERS = {"BUCKET": "my-private-bucket"}
    assert readme_json("**The bucket** needs a CORS rule") == [
        doctor.cors_rule(["https://www.example.com"])
    ]
    assert readme_json("**Lifecycle rules.**") == {"Rules": doctor.lifecycle_rules()}
    policy = readme_json("**The IAM policy**")
    granted = {
        (action, resource)
        for statement in policy["Statement"]
        for action in statement["Action"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    }
    hint = BucketDoctor(client=object()).iam_hint()
    for action, resource in granted:
        assert action in hint and resource in hint
    assert {action for action, _ in granted} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
    }
