"""views.py through the Django test client, with moto standing in for S3."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from presigned_transfers import policy
from presigned_transfers.models import Upload
from tests.factories import (
    assert_json_error,
    confirm_over_http,
    make_upload,
    object_exists,
    post_json,
    put_object,
    sign_over_http,
)
from tests.samples import PDF, PNG

UPLOAD_URL = reverse("presigned_transfers:upload-url")
CONFIRM = reverse("presigned_transfers:confirm-upload")
LIST = reverse("presigned_transfers:upload-list")


def detail_url(upload_id):
    return reverse("presigned_transfers:upload-detail", args=[upload_id])


def download_url_url(upload_id):
    return reverse("presigned_transfers:download-url", args=[upload_id])


def download_url(upload_id):
    return reverse("presigned_transfers:download", args=[upload_id])


def sign(client, *, filename="scan.pdf", content_type="application/pdf", body=PDF, **extra):
    return sign_over_http(client, body, filename=filename, content_type=content_type, **extra)


confirm = confirm_over_http


def upload_complete(client, s3, *, body=PDF, **kwargs):
    signed = sign(client, body=body, **kwargs)
    put_object(s3, Upload.objects.get(pk=signed["upload_id"]), body)
    response = confirm(client, signed["upload_id"])
    assert response.status_code == 200, response.content
    return signed["upload_id"]


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_urls_are_mounted_under_the_test_prefix():
    assert UPLOAD_URL == "/xfer-9f3/upload-url/"
    assert download_url("x") == "/xfer-9f3/uploads/x/download/"


# --- upload-url -----------------------------------------------------------------------------


def test_upload_url_signs_a_pinned_post(user_client, user, moto_s3):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    response = post_json(
        user_client,
        UPLOAD_URL,
        {"filename": "../My Scan.pdf", "content_type": "Application/PDF", "size": 1234},
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"upload_id", "transport", "url", "fields", "expires_at"}
    assert body["transport"] == "post"  # what a client that offers nothing gets

    upload = Upload.objects.get(pk=body["upload_id"])
    assert upload.owner == user
    assert upload.status == Upload.Status.PENDING
    assert upload.original_filename == "My Scan.pdf"
    assert upload.content_type == "application/pdf"
    assert upload.declared_size == 1234
    assert upload.policy == "default"
    assert upload.key.startswith(f"uploads/{user.pk}/")
    assert upload.key.endswith("_My_Scan.pdf")

    fields = body["fields"]
    # The form writes to the staging key, never to the key downloads read.
    assert fields["key"] == upload.staging_key == "incoming/" + upload.key
    assert fields["acl"] == "private"
    assert fields["Content-Type"] == "application/pdf"
    assert body["url"] == "https://test-bucket.s3.amazonaws.com/"

    document = json.loads(base64.b64decode(fields["policy"]))
    conditions = document["conditions"]
    assert {"key": upload.staging_key} in conditions
    assert ["eq", "$key", upload.staging_key] not in conditions  # once is enough
    assert {"acl": "private"} in conditions
    assert ["eq", "$Content-Type", "application/pdf"] in conditions
    assert ["content-length-range", 1, 1234] in conditions
    assert {"bucket": "test-bucket"} in conditions
    expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
    assert before < expiration <= before + timedelta(minutes=20, seconds=2)
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - expiration) < timedelta(seconds=2)
    assert expires_at == upload.expires_at


def test_upload_url_uses_a_named_policy(user_client, settings, moto_s3):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 100},
            "avatars": {"CONTENT_TYPES": ["image/png"], "MIN_SIZE": 10, "MAX_SIZE": 5000},
        },
    }
    body = sign(
        user_client, filename="me.png", content_type="image/png", body=PNG, policy="avatars"
    )
    upload = Upload.objects.get(pk=body["upload_id"])
    assert upload.policy == "avatars"
    conditions = json.loads(base64.b64decode(body["fields"]["policy"]))["conditions"]
    assert ["content-length-range", 10, len(PNG)] in conditions


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"content_type": "application/pdf", "size": 10}, 400, "invalid_filename"),
        ({"filename": "", "content_type": "application/pdf", "size": 10}, 400, "invalid_filename"),
        ({"filename": "a.pdf", "size": 10}, 400, "invalid_content_type"),
        ({"filename": "a.pdf", "content_type": "application/pdf"}, 400, "invalid_size"),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": "10"},
            400,
            "invalid_size",
        ),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 1.5},
            400,
            "invalid_size",
        ),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 10, "policy": []},
            400,
            "invalid_policy",
        ),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 10, "policy": "nope"},
            422,
            "unknown_policy",
        ),
        (
            {"filename": "a.exe", "content_type": "application/x-msdownload", "size": 10},
            415,
            "file_type_not_allowed",
        ),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 10**12},
            413,
            "file_too_large",
        ),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 0},
            422,
            "file_too_small",
        ),
    ],
)
def test_upload_url_validation_errors(user_client, moto_s3, data, status, code):
    response = post_json(user_client, UPLOAD_URL, data)
    assert_json_error(response, status, code)
    assert not Upload.objects.exists()


def test_upload_url_type_error_lists_the_allowed_types(user_client, moto_s3):
    response = post_json(
        user_client, UPLOAD_URL, {"filename": "a.html", "content_type": "text/html", "size": 5}
    )
    error = assert_json_error(response, 415, "file_type_not_allowed")
    assert "application/pdf" in error["details"]["allowed_types"]


# --- request bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", "filename=a.pdf&size=3"),
        ("text/plain", '{"filename": "a.pdf"}'),
        ("application/json-patch+json", "{}"),
        ("", "{}"),
    ],
)
def test_non_json_body_is_415(user_client, content_type, data):
    response = user_client.post(UPLOAD_URL, data=data, content_type=content_type)
    assert_json_error(response, 415, "unsupported_media_type")


def test_json_with_charset_parameter_is_accepted(user_client, moto_s3):
    data = json.dumps({"filename": "a.pdf", "content_type": "application/pdf", "size": 3})
    response = user_client.post(
        UPLOAD_URL, data=data, content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("   ", "application/json"),
        ("[1, 2]", "application/json"),
        ('"a string"', "application/json"),
        (b'{"filename": "\xff\xfe"}', "application/json"),
        ('{"a": 1}'.encode("utf-16"), "application/json; charset=utf-8"),
    ],
)
def test_malformed_json_is_400(user_client, data, content_type):
    body = data if isinstance(data, bytes) else data.encode()
    response = user_client.generic("POST", UPLOAD_URL, body, content_type=content_type)
    assert_json_error(response, 400, "invalid_json")


def test_deeply_nested_json_is_400_not_a_crash(user_client):
    # Well under the 16 KiB limit, but deeper than the JSON decoder's recursion limit.
    body = b"[" * 5000 + b"]" * 5000
    response = user_client.generic("POST", UPLOAD_URL, body, content_type="application/json")
    assert_json_error(response, 400, "invalid_json")


def test_oversized_body_is_413(user_client, settings):
    settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, "MAX_REQUEST_BODY": 256}
    data = {"filename": "a" * 300 + ".pdf", "content_type": "application/pdf", "size": 3}
    response = post_json(user_client, UPLOAD_URL, data)
    error = assert_json_error(response, 413, "request_too_large")
    assert error["details"] == {"max_bytes": 256}
    assert not Upload.objects.exists()


def test_default_body_limit_is_16k(user_client):
    data = json.dumps({"filename": "a.pdf", "padding": "x" * 16 * 1024})
    response = user_client.post(UPLOAD_URL, data=data, content_type="application/json")
    assert_json_error(response, 413, "request_too_large")


@pytest.mark.parametrize("length", ["12abc", "-1", "\u00b2", "\u0661\u0662"])
def test_bad_content_length_is_413(user_client, length):
    response = user_client.post(
        UPLOAD_URL, data="{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert_json_error(response, 413, "request_too_large")


def test_body_above_djangos_own_limit_is_413(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    data = {"filename": "a" * 200 + ".pdf", "content_type": "application/pdf", "size": 3}
    response = post_json(user_client, UPLOAD_URL, data)
    assert_json_error(response, 413, "request_too_large")


def test_missing_aws_credentials_are_a_json_503(user_client, user, monkeypatch):
    from tests.conftest import reset_app_state

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    reset_app_state()
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
    assert_json_error(post_json(user_client, UPLOAD_URL, data), 503, "storage_unavailable")
    assert not Upload.objects.exists()
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    assert_json_error(user_client.get(download_url_url(upload.pk)), 503, "storage_unavailable")
    assert_json_error(user_client.get(download_url(upload.pk)), 503, "storage_unavailable")


# --- authentication, methods, CSRF ----------------------------------------------------------


ENDPOINTS = [
    ("post", UPLOAD_URL),
    ("post", CONFIRM),
    ("get", LIST),
    ("get", "detail"),
    ("delete", "detail"),
    ("get", "download-url"),
    ("get", "download"),
]


def _url(name, upload_id):
    return {
        "detail": detail_url,
        "download-url": download_url_url,
        "download": download_url,
    }.get(name, lambda _: name)(upload_id)


@pytest.mark.parametrize(("method", "name"), ENDPOINTS)
def test_anonymous_gets_401_json_never_a_redirect(client, user, method, name, settings):
    settings.LOGIN_URL = "/accounts/login/"
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    url = _url(name, upload.pk)
    if method == "post":
        response = post_json(client, url, {"upload_id": str(upload.pk)})
    else:
        response = getattr(client, method)(url)
    assert_json_error(response, 401, "not_authenticated")
    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.COMPLETE


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("get", UPLOAD_URL, {"POST", "OPTIONS"}),
        ("put", UPLOAD_URL, {"POST", "OPTIONS"}),
        ("get", CONFIRM, {"POST", "OPTIONS"}),
        ("post", LIST, {"GET", "HEAD", "OPTIONS"}),
        ("patch", "detail", {"GET", "HEAD", "DELETE", "OPTIONS"}),
        ("post", "download-url", {"GET", "HEAD", "OPTIONS"}),
        ("delete", "download", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow(user_client, user, method, url, allowed):
    upload = make_upload(user)
    response = getattr(user_client, method)(_url(url, upload.pk))
    error = assert_json_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].split(", ")) == allowed
    assert set(error["details"]["allowed"]) == allowed
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_wrong_method_is_405_for_anonymous_too(client):
    response = client.get(UPLOAD_URL)
    assert_json_error(response, 405, "method_not_allowed")


@pytest.fixture
def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _with_token(client):
    token = "a" * 32
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    return {"HTTP_X_CSRFTOKEN": token}


def test_csrf_is_enforced_on_upload_url(csrf_client, moto_s3):
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
    error = assert_json_error(post_json(csrf_client, UPLOAD_URL, data), 403, "csrf_failed")
    assert error["details"]["reason"]
    assert not Upload.objects.exists()
    response = post_json(csrf_client, UPLOAD_URL, data, **_with_token(csrf_client))
    assert response.status_code == 201


def test_csrf_wrong_token_is_refused(csrf_client, moto_s3):
    csrf_client.cookies[django_settings.CSRF_COOKIE_NAME] = "a" * 32
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
    response = post_json(csrf_client, UPLOAD_URL, data, HTTP_X_CSRFTOKEN="b" * 32)
    assert_json_error(response, 403, "csrf_failed")


def test_csrf_is_enforced_on_confirm_and_delete(csrf_client, user, moto_s3):
    upload = make_upload(user)
    put_object(moto_s3, upload)
    assert_json_error(confirm(csrf_client, str(upload.pk)), 403, "csrf_failed")
    assert_json_error(csrf_client.delete(detail_url(upload.pk)), 403, "csrf_failed")
    upload.refresh_from_db()
    assert upload.status == Upload.Status.PENDING
    assert object_exists(moto_s3, upload.upload_key)
    response = csrf_client.delete(detail_url(upload.pk), **_with_token(csrf_client))
    assert response.status_code == 200
    assert not Upload.objects.filter(pk=upload.pk).exists()


def test_csrf_is_enforced_without_the_middleware(csrf_client, settings, moto_s3):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "django.middleware.csrf.CsrfViewMiddleware"
    ]
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
    assert_json_error(post_json(csrf_client, UPLOAD_URL, data), 403, "csrf_failed")
    assert not Upload.objects.exists()
    assert post_json(csrf_client, UPLOAD_URL, data, **_with_token(csrf_client)).status_code == 201


def test_safe_methods_need_no_csrf_token(csrf_client, user):
    make_upload(user)
    assert csrf_client.get(LIST).status_code == 200


# --- confirm --------------------------------------------------------------------------------


def test_confirm_marks_the_upload_complete(user_client, moto_s3):
    signed = sign(user_client, filename="scan.pdf")
    upload = Upload.objects.get(pk=signed["upload_id"])
    put_object(moto_s3, upload, PDF)
    response = confirm(user_client, signed["upload_id"])
    assert response.status_code == 200
    data = response.json()["upload"]
    assert data["id"] == signed["upload_id"]
    assert data["status"] == "complete"
    assert data["size"] == len(PDF)
    assert data["filename"] == "scan.pdf"
    assert data["content_type"] == "application/pdf"
    assert data["download_url"] == download_url(upload.pk)
    assert data["confirmed_at"]
    assert "key" not in data
    upload.refresh_from_db()
    assert upload.status == Upload.Status.COMPLETE
    assert upload.verified_size == len(PDF)
    assert upload.confirmed_at is not None


def test_confirm_is_idempotent(user_client, moto_s3):
    signed = sign(user_client)
    put_object(moto_s3, Upload.objects.get(pk=signed["upload_id"]))
    first = confirm(user_client, signed["upload_id"])
    second = confirm(user_client, signed["upload_id"])
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


def test_confirm_refuses_a_size_mismatch(user_client, moto_s3):
    signed = sign(user_client, body=PDF + b"more bytes announced than sent")
    upload = Upload.objects.get(pk=signed["upload_id"])
    put_object(moto_s3, upload, PDF)
    response = confirm(user_client, signed["upload_id"])
    error = assert_json_error(response, 422, "size_mismatch")
    assert str(len(PDF)) in error["message"]
    assert not object_exists(moto_s3, upload.upload_key)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.failure_code == "size_mismatch"
    assert upload.verified_size == len(PDF)


def test_confirm_refuses_a_content_type_mismatch(user_client, moto_s3):
    signed = sign(user_client)
    upload = Upload.objects.get(pk=signed["upload_id"])
    put_object(moto_s3, upload, PDF, content_type="text/html")
    assert_json_error(confirm(user_client, signed["upload_id"]), 422, "content_type_mismatch")
    assert not object_exists(moto_s3, upload.upload_key)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.failure_code == "content_type_mismatch"


def test_confirm_accepts_a_content_type_with_parameters(user_client, moto_s3):
    signed = sign(user_client)
    upload = Upload.objects.get(pk=signed["upload_id"])
    put_object(moto_s3, upload, PDF, content_type="Application/PDF; charset=binary")
    assert confirm(user_client, signed["upload_id"]).status_code == 200


def test_confirm_before_the_upload_is_409_and_stays_pending(user_client, moto_s3):
    signed = sign(user_client)
    response = confirm(user_client, signed["upload_id"])
    assert_json_error(response, 409, "upload_missing")
    upload = Upload.objects.get(pk=signed["upload_id"])
    assert upload.status == Upload.Status.PENDING
    assert upload.failure_code == ""
    # The file arrives later: confirm works then.
    put_object(moto_s3, upload)
    assert confirm(user_client, signed["upload_id"]).status_code == 200


def test_confirming_a_refused_upload_again_gives_the_same_refusal(user_client, moto_s3):
    signed = sign(user_client, body=PDF * 2)
    upload = Upload.objects.get(pk=signed["upload_id"])
    put_object(moto_s3, upload, PDF)
    first = confirm(user_client, signed["upload_id"])
    assert_json_error(first, 422, "size_mismatch")
    updated = Upload.objects.get(pk=upload.pk).updated_at
    # Even if a file is put there again, a refused upload stays refused.
    put_object(moto_s3, upload, PDF * 2)
    second = confirm(user_client, signed["upload_id"])
    assert_json_error(second, 422, "size_mismatch")
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.updated_at == updated


@pytest.mark.parametrize("upload_id", [None, 42, ["x"], {"id": "x"}])
def test_confirm_needs_a_string_upload_id(user_client, upload_id):
    assert_json_error(confirm(user_client, upload_id), 400, "invalid_upload_id")


@pytest.mark.parametrize("upload_id", ["", "not-a-uuid", "1", "../../etc/passwd"])
def test_confirm_of_a_malformed_id_is_404(user_client, upload_id):
    assert_json_error(confirm(user_client, upload_id), 404, "not_found")


def test_confirm_of_an_unknown_id_is_404(user_client):
    assert_json_error(confirm(user_client, str(uuid.uuid4())), 404, "not_found")


# --- download-url and download --------------------------------------------------------------


def test_download_url_for_a_complete_upload(user_client, moto_s3):
    upload_id = upload_complete(user_client, moto_s3, filename="Résumé final.pdf")
    upload = Upload.objects.get(pk=upload_id)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    response = user_client.get(download_url_url(upload_id))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == {"url", "expires_at"}
    parts = urlsplit(data["url"])
    assert parts.netloc == "test-bucket.s3.amazonaws.com"
    assert parts.path == "/" + upload.key
    params = query(data["url"])
    assert params["response-content-disposition"] == policy.content_disposition("Résumé final.pdf")
    assert params["response-content-disposition"].startswith(
        "attachment; filename=\"Resume final.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9"
    )
    assert params["X-Amz-Expires"] == "900"
    expires_at = datetime.fromisoformat(data["expires_at"])
    assert before + timedelta(minutes=15) <= expires_at <= before + timedelta(minutes=15, seconds=5)
    # The URL works: moto serves the object with the forced disposition.
    fetched = requests.get(data["url"], timeout=5)
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["Content-Disposition"] == params["response-content-disposition"]


@pytest.mark.parametrize("status", [Upload.Status.PENDING, Upload.Status.FAILED])
def test_download_url_needs_a_complete_upload(user_client, user, status):
    upload = make_upload(user, status=status)
    assert_json_error(user_client.get(download_url_url(upload.pk)), 409, "upload_not_complete")
    assert_json_error(user_client.get(download_url(upload.pk)), 409, "upload_not_complete")


def test_download_redirects_to_the_presigned_url(user_client, moto_s3):
    upload_id = upload_complete(user_client, moto_s3, filename="a b.pdf")
    upload = Upload.objects.get(pk=upload_id)
    response = user_client.get(download_url(upload_id))
    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    location = response["Location"]
    assert urlsplit(location).path == "/" + upload.key
    assert query(location)["response-content-disposition"] == policy.content_disposition("a b.pdf")
    assert "X-Amz-Signature" in query(location)


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "0", "123e4567-e89b-12d3-a456-42661417400"])
@pytest.mark.parametrize("view", ["detail", "download-url", "download"])
def test_malformed_upload_id_is_a_json_404(user_client, view, upload_id):
    response = user_client.get(_url(view, upload_id))
    assert_json_error(response, 404, "not_found")


def test_malformed_upload_id_delete_is_a_json_404(user_client):
    assert_json_error(user_client.delete(detail_url("nope")), 404, "not_found")


# --- list and detail ------------------------------------------------------------------------


def test_list_shows_only_own_uploads_newest_first(user_client, user, other_user):
    mine = [make_upload(user) for _ in range(3)]
    make_upload(other_user)
    response = user_client.get(LIST)
    assert response.status_code == 200
    data = response.json()
    assert [item["id"] for item in data["uploads"]] == [str(u.pk) for u in reversed(mine)]
    assert data["next_page"] is None


def test_list_serializes_without_the_key(user_client, user):
    complete = make_upload(user, status=Upload.Status.COMPLETE, original_filename="c.pdf")
    pending = make_upload(user, original_filename="p.pdf")
    items = {item["id"]: item for item in user_client.get(LIST).json()["uploads"]}
    assert set(items) == {str(complete.pk), str(pending.pk)}
    assert items[str(complete.pk)]["download_url"] == download_url(complete.pk)
    assert "download_url" not in items[str(pending.pk)]
    assert items[str(pending.pk)]["confirmed_at"] is None
    assert set(items[str(pending.pk)]) == {
        "id",
        "filename",
        "content_type",
        "size",
        "status",
        "policy",
        "created_at",
        "confirmed_at",
        "transport",
        "checksum_sha256",
    }
    text = json.dumps(items)
    assert complete.key not in text
    assert pending.key not in text
    assert "test-bucket" not in text


def test_list_pages(user_client, user):
    uploads = [make_upload(user) for _ in range(51)]
    first = user_client.get(LIST).json()
    assert len(first["uploads"]) == 50
    assert first["next_page"] == 2
    second = user_client.get(LIST, {"page": 2}).json()
    assert [item["id"] for item in second["uploads"]] == [str(uploads[0].pk)]
    assert second["next_page"] is None
    seen = {item["id"] for item in first["uploads"] + second["uploads"]}
    assert seen == {str(u.pk) for u in uploads}
    assert user_client.get(LIST, {"page": 3}).json() == {"uploads": [], "next_page": None}


def test_list_filters_by_status(user_client, user):
    complete = make_upload(user, status=Upload.Status.COMPLETE)
    make_upload(user)
    failed = make_upload(user, status=Upload.Status.FAILED, failure_code="size_mismatch")
    ids = [item["id"] for item in user_client.get(LIST, {"status": "complete"}).json()["uploads"]]
    assert ids == [str(complete.pk)]
    ids = [item["id"] for item in user_client.get(LIST, {"status": "failed"}).json()["uploads"]]
    assert ids == [str(failed.pk)]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "done"}, "invalid_status"),
        ({"status": ""}, "invalid_status"),
        ({"page": "0"}, "invalid_page"),
        ({"page": "-1"}, "invalid_page"),
        ({"page": "two"}, "invalid_page"),
        ({"page": "1.5"}, "invalid_page"),
        ({"page": "1000001"}, "invalid_page"),
        ({"page": ""}, "invalid_page"),
        ({"page": "\u00b2"}, "invalid_page"),
        ({"page": "\u0661"}, "invalid_page"),
        ({"page": " 1"}, "invalid_page"),
    ],
)
def test_list_bad_params_are_400(user_client, params, code):
    assert_json_error(user_client.get(LIST, params), 400, code)


def test_detail_shows_own_upload(user_client, user):
    upload = make_upload(user, original_filename="mine.pdf")
    response = user_client.get(detail_url(upload.pk))
    assert response.status_code == 200
    assert response.json()["upload"]["filename"] == "mine.pdf"
    assert response.json()["upload"]["id"] == str(upload.pk)


# --- delete ---------------------------------------------------------------------------------


def test_delete_removes_object_and_row(user_client, moto_s3, django_capture_on_commit_callbacks):
    upload_id = upload_complete(user_client, moto_s3)
    key = Upload.objects.get(pk=upload_id).key
    assert object_exists(moto_s3, key)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(detail_url(upload_id))
    assert response.status_code == 200
    assert response.json() == {"deleted": upload_id}
    assert not object_exists(moto_s3, key)
    assert not Upload.objects.filter(pk=upload_id).exists()
    assert_json_error(user_client.get(detail_url(upload_id)), 404, "not_found")


def test_delete_of_a_pending_upload_without_an_object(user_client, user, moto_s3):
    upload = make_upload(user)
    assert user_client.delete(detail_url(upload.pk)).status_code == 200
    assert not Upload.objects.filter(pk=upload.pk).exists()


# --- rate limits ----------------------------------------------------------------------------


def _limited(settings, group, rate="2/h"):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": {group: rate},
    }


def _call(client, group, upload_id):
    if group == "upload-url":
        data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
        return post_json(client, UPLOAD_URL, data)
    if group == "confirm-upload":
        return confirm(client, str(upload_id))
    return client.get(download_url_url(upload_id))


@pytest.mark.parametrize("group", ["upload-url", "confirm-upload", "download-url"])
def test_rate_limits_answer_429_with_retry_after(
    settings, moto_s3, user, user_client, other_user, group
):
    _limited(settings, group)
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    put_object(moto_s3, upload)
    for _ in range(2):
        assert _call(user_client, group, upload.pk).status_code in (200, 201)
    limited = _call(user_client, group, upload.pk)
    error = assert_json_error(limited, 429, "rate_limited")
    retry_after = int(limited["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert error["details"] == {"retry_after": retry_after}
    # Per user: someone else still gets through.
    other = Client()
    other.force_login(other_user)
    other_upload = make_upload(other_user, status=Upload.Status.COMPLETE)
    put_object(moto_s3, other_upload)
    assert _call(other, group, other_upload.pk).status_code in (200, 201)
    # Per endpoint: the user's other endpoints are not limited.
    for other_group in {"upload-url", "confirm-upload", "download-url"} - {group}:
        assert _call(user_client, other_group, upload.pk).status_code in (200, 201)


def test_download_redirect_is_rate_limited_with_download_url(settings, moto_s3, user, user_client):
    _limited(settings, "download-url")
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    assert user_client.get(download_url(upload.pk)).status_code == 302
    assert user_client.get(download_url_url(upload.pk)).status_code == 200
    limited = user_client.get(download_url(upload.pk))
    assert_json_error(limited, 429, "rate_limited")
    assert limited.has_header("Retry-After")


def test_rate_limited_requests_do_no_work(settings, moto_s3, user_client):
    _limited(settings, "upload-url", "1/h")
    sign(user_client)
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 3}
    assert_json_error(post_json(user_client, UPLOAD_URL, data), 429, "rate_limited")
    assert Upload.objects.count() == 1


def test_a_rate_limit_can_be_turned_off(settings, moto_s3, user_client):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": {"upload-url": None, "confirm-upload": "1/h"},
    }
    for _ in range(5):
        sign(user_client)
    assert Upload.objects.count() == 5


def test_lists_and_details_are_not_rate_limited(settings, user, user_client):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": dict.fromkeys(("upload-url", "confirm-upload", "download-url"), "1/h"),
    }
    upload = make_upload(user)
    for _ in range(3):
        assert user_client.get(LIST).status_code == 200
        assert user_client.get(detail_url(upload.pk)).status_code == 200


# --- ownership ------------------------------------------------------------------------------


@pytest.fixture
def signal_log():
    from presigned_transfers import signals

    sent = []

    def receiver(signal, **kwargs):
        sent.append(signal)

    names = ("upload_signed", "upload_confirmed", "upload_refused", "upload_deleted")
    for name in names:
        getattr(signals, name).connect(receiver, dispatch_uid=f"test-log-{name}")
    yield sent
    for name in names:
        getattr(signals, name).disconnect(dispatch_uid=f"test-log-{name}")


@pytest.mark.parametrize("status", [Upload.Status.PENDING, Upload.Status.COMPLETE])
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("post", CONFIRM),
        ("get", "detail"),
        ("delete", "detail"),
        ("get", "download-url"),
        ("get", "download"),
    ],
)
@pytest.mark.parametrize("intruder", ["other_user", "anonymous"])
def test_nobody_else_can_touch_an_upload(
    request,
    moto_s3,
    user,
    signal_log,
    django_capture_on_commit_callbacks,
    intruder,
    method,
    name,
    status,
):
    upload = make_upload(user, status=status)
    put_object(moto_s3, upload)
    before = Upload.objects.filter(pk=upload.pk).values().get()
    client = Client()
    if intruder == "other_user":
        client.force_login(request.getfixturevalue("other_user"))
    url = _url(name, upload.pk)
    with django_capture_on_commit_callbacks(execute=True):
        if method == "post":
            response = post_json(client, url, {"upload_id": str(upload.pk)})
        else:
            response = getattr(client, method)(url)
    if intruder == "anonymous":
        assert_json_error(response, 401, "not_authenticated")
    else:
        # Exactly what a missing upload gets: 404, never 403.
        error = assert_json_error(response, 404, "not_found")
        if method == "post":
            missing = post_json(client, url, {"upload_id": str(uuid.uuid4())})
        else:
            missing = getattr(client, method)(_url(name, uuid.uuid4()))
        assert missing.json()["error"] == error
    assert Upload.objects.filter(pk=upload.pk).values().get() == before
    assert object_exists(moto_s3, upload.key)
    assert signal_log == []
    assert upload.key not in response.content.decode()


def test_another_users_uploads_never_show_in_lists(user, other_user, client):
    theirs = make_upload(user, status=Upload.Status.COMPLETE)
    client.force_login(other_user)
    data = client.get(LIST).json()
    assert data == {"uploads": [], "next_page": None}
    assert str(theirs.pk) not in json.dumps(data)


# --- credentials never reach a client -------------------------------------------------------

ACCESS_KEY = "AKIAUNITTESTLEAKCHK1"
SECRET = "uNiT/TeSt+SeCrEt/never-in-a-response/0123"
TOKEN = "IQoJb3JpZ2luX2VjEUnitTest/Session+Token//with=chars"
SIGNATURE_FIELDS = {"x-amz-credential", "x-amz-security-token"}


@pytest.fixture
def sts_credentials(moto_s3):
    """Temporary (STS-style) credentials: an access key id, a secret and a session token."""
    from presigned_transfers import aws
    from tests.conftest import reset_app_state

    # Not monkeypatch: it is set up before moto_s3 (pytest-django's autouse fixtures use it),
    # so it would undo after moto and leave moto's fake keys in the environment.
    environment = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
    }
    with mock.patch.dict(os.environ, environment):
        reset_app_state()
        credentials = aws.get_session().get_credentials().get_frozen_credentials()
        assert (credentials.access_key, credentials.secret_key, credentials.token) == (
            ACCESS_KEY,
            SECRET,
            TOKEN,
        )
        yield moto_s3
    reset_app_state()


def _check_presigned_url(url):
    """A presigned URL carries the key id in X-Amz-Credential and the token where S3 needs it."""
    params = parse_qs(urlsplit(url).query)
    assert params["X-Amz-Credential"][0].startswith(ACCESS_KEY + "/")
    assert params["X-Amz-Security-Token"] == [TOKEN]
    scrubbed = {k: v for k, v in params.items() if k.lower() not in SIGNATURE_FIELDS}
    return json.dumps(scrubbed) + urlsplit(url).path


def _check_post_fields(fields):
    """The POST form carries them in x-amz-credential, x-amz-security-token and the policy."""
    assert fields["x-amz-credential"].startswith(ACCESS_KEY + "/")
    assert fields["x-amz-security-token"] == TOKEN
    document = json.loads(base64.b64decode(fields["policy"]))
    for condition in document["conditions"]:
        text = json.dumps(condition)
        if ACCESS_KEY in text or TOKEN in text:
            assert isinstance(condition, dict)
            assert set(condition) <= SIGNATURE_FIELDS
    assert SECRET not in json.dumps(document)
    return json.dumps(
        {k: v for k, v in fields.items() if k.lower() not in SIGNATURE_FIELDS | {"policy"}}
    )


def test_no_credential_reaches_a_response(sts_credentials, user, user_client, other_user):
    s3 = sts_credentials
    responses = []

    def record(response):
        responses.append(response)
        return response

    signed = record(
        post_json(
            user_client,
            UPLOAD_URL,
            {"filename": "a.pdf", "content_type": "application/pdf", "size": len(PDF)},
        )
    )
    upload_id = signed.json()["upload_id"]
    record(confirm(user_client, upload_id))  # not there yet
    put_object(s3, Upload.objects.get(pk=upload_id))
    record(confirm(user_client, upload_id))
    record(user_client.get(LIST))
    record(user_client.get(detail_url(upload_id)))
    record(user_client.get(download_url_url(upload_id)))
    record(user_client.get(download_url(upload_id)))
    record(post_json(user_client, UPLOAD_URL, {"filename": "x", "content_type": "x", "size": 1}))
    record(user_client.get(UPLOAD_URL))
    record(user_client.get(download_url_url("nope")))
    refused = sign(user_client, body=PDF * 2)
    put_object(s3, Upload.objects.get(pk=refused["upload_id"]), PDF)
    record(confirm(user_client, refused["upload_id"]))
    record(user_client.delete(detail_url(upload_id)))
    assert [r.status_code for r in responses] == [
        201,
        409,
        200,
        200,
        200,
        200,
        302,
        415,
        405,
        404,
        422,
        200,
    ]

    for response in responses:
        body = response.content.decode()
        headers = "\n".join(f"{name}: {value}" for name, value in response.items())
        everything = body + "\n" + headers
        # The secret: nowhere at all, in any encoding.
        for form in (SECRET, SECRET.replace("/", "%2F"), SECRET.replace("+", "%2B")):
            assert form not in everything
        assert base64.b64encode(SECRET.encode()).decode() not in everything
        # The key id and the token: only in the fields S3 requires them in.
        rest = headers.replace(response.get("Location", ""), "")
        if response.has_header("Location"):
            rest += _check_presigned_url(response["Location"])
        data = response.json() if body else {}
        if "fields" in data:
            rest += _check_post_fields(data.pop("fields"))
        if "url" in data and "X-Amz-Credential" in data["url"]:
            rest += _check_presigned_url(data.pop("url"))
        rest += json.dumps(data)
        for value in (ACCESS_KEY, TOKEN, TOKEN.replace("/", "%2F"), SECRET):
            assert value not in rest, (response, value)


def test_an_unexpected_error_is_still_json(user, monkeypatch):
    from django.test import Client

    from presigned_transfers import services

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "create_upload", broken)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.post(
        UPLOAD_URL,
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 3},
        content_type="application/json",
    )
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "server_error"
    assert "database went away" not in response.content.decode()


def test_options_answers_json_with_allow(user_client):
    response = user_client.options(UPLOAD_URL)
    assert response.status_code == 200
    assert response.json() == {"allowed": ["POST", "OPTIONS"]}
    assert response["Allow"] == "POST, OPTIONS"
