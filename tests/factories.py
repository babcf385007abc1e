"""Small builders shared by the unit tests (no fixtures here; conftest has those)."""

from __future__ import annotations

import itertools
import json
import secrets
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from presigned_transfers.models import Upload
from tests.samples import PDF

BUCKET = "test-bucket"

_numbers = itertools.count(1)


def make_upload(owner: Any, **fields: Any) -> Upload:
    """An Upload row straight in the database (no S3 involved)."""
    number = next(_numbers)
    values: dict[str, Any] = {
        "owner": owner,
        "key": f"uploads/{owner.pk}/{secrets.token_hex(16)}_file{number}.pdf",
        "original_filename": f"file{number}.pdf",
        "content_type": "application/pdf",
        "declared_size": len(PDF),
        "policy": "default",
        "expires_at": timezone.now() + timedelta(minutes=20),
    }
    values.update(fields)
    if values.get("status") == Upload.Status.COMPLETE:
        values.setdefault("verified_size", values["declared_size"])
        values.setdefault("confirmed_at", timezone.now())
    return Upload.objects.create(**values)


def put_object(s3: Any, upload: Upload, body: bytes = PDF, content_type: str | None = None) -> None:
    """Store *body* where the upload's signed POST writes (its staging key), as a browser would."""
    s3.put_object(
        Bucket=BUCKET,
        Key=upload.upload_key,
        Body=body,
        ContentType=content_type or upload.content_type,
    )


def object_exists(s3: Any, key: str) -> bool:
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0


def post_json(client: Any, url: str, data: Any, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json", **extra)


def sign_over_http(
    client: Any,
    body: bytes = PDF,
    *,
    filename: str = "report.pdf",
    content_type: str = "application/pdf",
    **fields: Any,
) -> dict[str, Any]:
    """``POST upload-url`` for *body* as the picker sends it; its 201 answer's JSON."""
    data = {"filename": filename, "content_type": content_type, "size": len(body), **fields}
    response = post_json(client, reverse("presigned_transfers:upload-url"), data)
    assert response.status_code == 201, response.content
    answer: dict[str, Any] = response.json()
    return answer


def confirm_over_http(client: Any, upload_id: str) -> Any:
    """``POST confirm-upload``; the response, whatever it is."""
    return post_json(
        client, reverse("presigned_transfers:confirm-upload"), {"upload_id": upload_id}
    )


def assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "details"?}}``, JSON, no-store."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert not response.has_header("Location")
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}
    assert {"code", "message"} <= set(error)
    assert isinstance(error["code"], str)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    if "details" in error:
        assert isinstance(error["details"], dict)
        assert error["details"]
    return error
