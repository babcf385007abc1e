"""doctor.py and ``manage.py presigned_doctor``, against moto and against SeaweedFS."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.management import CommandError, call_command

from presigned_transfers import doctor, storage
from presigned_transfers.doctor import BucketDoctor, Status
from tests.conftest import reset_app_state

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


@pytest.fixture
def bucket(moto_s3, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": [SITE]}
    return moto_s3


def make_healthy(client, name="test-bucket"):
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
        "encryption": Status.ERROR,
        "logging": Status.WARNING,
        "versioning": Status.OK,
        "put-object": Status.OK,
        "copy-object": Status.OK,
        "get-object": Status.OK,
        "delete-object": Status.OK,
        "missing-object": Status.OK,
    }
    found = by_check(findings)
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
    # The probe object was cleaned up.
    assert bucket.list_objects_v2(Bucket="test-bucket").get("KeyCount", 0) == 0


def test_a_healthy_bucket(bucket):
    make_healthy(bucket)
    out, error = run()
    assert error is None
    assert "Summary: 13 ok." in out
    assert set(statuses(BucketDoctor().run()).values()) == {Status.OK}


def test_the_command_fails_with_the_fixes(bucket):
    out, error = run()
    assert isinstance(error, CommandError)
    assert "3 check(s) failed" in str(error)
    assert "[   ERROR   ] cors: The bucket has no CORS configuration" in out
    assert "fix: Run manage.py presigned_doctor --apply-cors" in out
    assert "Summary: 9 ok, 1 warning, 3 error." in out


def test_json_output(bucket):
    make_healthy(bucket)
    out, error = run("--json")
    data = json.loads(out)
    assert error is None
    assert data["summary"]["ok"] == 13
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
        ([doctor.cors_rule([SITE])], Status.OK, f"CORS lets {SITE} POST and exposes ETag"),
    ],
)
def test_cors(bucket, rules, status, message):
    bucket.put_bucket_cors(Bucket="test-bucket", CORSConfiguration={"CORSRules": rules})
    finding = BucketDoctor().check_cors()
    assert finding.status is status
    assert message in finding.message


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
    assert rules[0]["AllowedMethods"] == ["POST"]
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
    assert len(findings) == 13


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
def test_doctor_against_seaweedfs(real_s3, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "CORS_ORIGINS": [SITE]}
    found = by_check(BucketDoctor().run())
    assert statuses(found.values()) == {
        "bucket": Status.OK,
        "region": Status.OK,
        # SeaweedFS answers 501 NotImplemented: said so, not failed.
        "public-access-block": Status.UNSUPPORTED,
        "policy-status": Status.OK,  # SeaweedFS answers NoSuchBucketPolicy
        "cors": Status.ERROR,
        "encryption": Status.ERROR,
        "logging": Status.WARNING,
        "versioning": Status.OK,
        "put-object": Status.OK,
        "copy-object": Status.OK,
        "get-object": Status.OK,
        "delete-object": Status.OK,
        "missing-object": Status.OK,
    }
    assert "does not implement" in found["public-access-block"].message
    assert "Versioning is off" in found["versioning"].message

    # Fix what SeaweedFS can fix: CORS through the command, default encryption by hand.
    real_s3.client.put_bucket_encryption(
        Bucket=real_s3.bucket, ServerSideEncryptionConfiguration=AES256
    )
    out, error = run("--apply-cors", SITE)
    assert error is None, out
    assert "[    ok     ] cors:" in out
    assert "[    ok     ] encryption: Default encryption is on (AES256)." in out
    assert "[unsupported] public-access-block:" in out
    rules = real_s3.client.get_bucket_cors(Bucket=real_s3.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [SITE]
    assert real_s3.keys() == []  # the probe object is gone


@pytest.mark.s3
def test_doctor_sees_wrong_credentials_on_seaweedfs(real_s3, monkeypatch):
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


def test_apply_cors_with_json_prints_only_json(bucket):
    make_healthy(bucket)
    out, error = run("--apply-cors", SITE, "--json")
    assert error is None
    assert json.loads(out)["summary"]["ok"] == 13


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
