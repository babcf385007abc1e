"""SERVER_SIDE_ENCRYPTION: pinned into every POST policy and its fields, enforced by S3."""

from __future__ import annotations

import base64
import json

import pytest

from presigned_transfers import services
from tests import samples

pytestmark = pytest.mark.django_db


def policy_document(fields):
    return json.loads(base64.b64decode(fields["policy"]))


def sign(user, body=samples.PDF):
    return services.create_upload(
        user=user, filename="doc.pdf", content_type="application/pdf", size=len(body)
    )


@pytest.fixture
def sse(settings):
    def sse(algorithm, key_id=None):
        settings.PRESIGNED_TRANSFERS = {
            **settings.PRESIGNED_TRANSFERS,
            "SERVER_SIDE_ENCRYPTION": algorithm,
            "SSE_KMS_KEY_ID": key_id,
        }

    return sse


def test_no_encryption_fields_by_default(moto_s3, user):
    fields = sign(user).post.fields
    assert not [name for name in fields if "server-side-encryption" in name]
    conditions = policy_document(fields)["conditions"]
    assert not [c for c in conditions if "server-side-encryption" in json.dumps(c)]


def test_aes256_is_pinned(moto_s3, user, sse):
    sse("AES256")
    fields = sign(user).post.fields
    assert fields["x-amz-server-side-encryption"] == "AES256"
    assert {"x-amz-server-side-encryption": "AES256"} in policy_document(fields)["conditions"]


def test_kms_with_a_key_is_pinned(moto_s3, user, sse):
    sse("aws:kms", "arn:aws:kms:us-east-1:111122223333:key/1234abcd")
    fields = sign(user).post.fields
    conditions = policy_document(fields)["conditions"]
    assert fields["x-amz-server-side-encryption"] == "aws:kms"
    assert fields["x-amz-server-side-encryption-aws-kms-key-id"].endswith("key/1234abcd")
    assert {"x-amz-server-side-encryption": "aws:kms"} in conditions
    assert {
        "x-amz-server-side-encryption-aws-kms-key-id": (
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd"
        )
    } in conditions


def test_kms_without_a_key_uses_the_account_default(moto_s3, user, sse):
    sse("aws:kms")
    fields = sign(user).post.fields
    assert fields["x-amz-server-side-encryption"] == "aws:kms"
    assert "x-amz-server-side-encryption-aws-kms-key-id" not in fields


# --- SeaweedFS --------------------------------------------------------------------------------


@pytest.mark.s3
def test_aes256_against_seaweedfs(presigned_bucket, user, sse):
    sse("AES256")
    created = sign(user)
    response = presigned_bucket.post(created.post.url, created.post.fields, samples.PDF)
    assert response.status_code == 204, response.text
    staged = presigned_bucket.client.head_object(
        Bucket=presigned_bucket.bucket, Key=created.upload.staging_key
    )
    assert staged["ServerSideEncryption"] == "AES256"
    assert services.confirm_upload(user=user, upload_id=created.upload.pk).is_complete
    # The copy confirm keeps is encrypted the same way (a copy does not inherit it).
    kept = presigned_bucket.client.head_object(
        Bucket=presigned_bucket.bucket, Key=created.upload.key
    )
    assert kept["ServerSideEncryption"] == "AES256"
    assert presigned_bucket.get(created.upload.key) == samples.PDF


@pytest.mark.s3
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: f.pop("x-amz-server-side-encryption"), id="field removed"),
        pytest.param(
            lambda f: f.update({"x-amz-server-side-encryption": "aws:kms"}), id="field changed"
        ),
    ],
)
def test_seaweedfs_refuses_a_post_without_the_pinned_encryption(
    presigned_bucket, user, sse, tamper
):
    sse("AES256")
    created = sign(user)
    fields = dict(created.post.fields)
    tamper(fields)
    response = presigned_bucket.post(created.post.url, fields, samples.PDF)
    assert response.status_code == 403, response.text
    assert presigned_bucket.keys() == []
