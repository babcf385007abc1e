"""No credential in any response: every body and header of the whole flow, admin included.

The flow runs against the real SeaweedFS server, with temporary (STS-style) credentials:
an access key id, a secret and a session token. What the test holds to:

* the **secret** never appears anywhere: not in a body, a header, a log record, nor inside
  the base64 POST policy, in any encoding;
* the **access key id** and the **session token** appear only where SigV4 itself puts them
  for S3 to verify a signature: the ``x-amz-credential`` / ``x-amz-security-token`` form
  fields of a signed POST (and the same two conditions inside its policy), and the
  ``X-Amz-Credential`` / ``X-Amz-Security-Token`` parameters of a presigned GET URL. No
  presigned URL can work without them; they are useless without the secret. Anywhere
  else (list, detail, confirm, delete, errors, admin pages, logs) they never appear.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from presigned_transfers import storage
from presigned_transfers.models import Upload
from tests import samples
from tests.conftest import reset_app_state

SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKE/session+token/for=tests/0123456789abcdef"

#: Where SigV4 must carry the key id and the token; removed before searching a response.
_SIGNATURE_PARTS = [
    re.compile(r"X-Amz-(Credential|Security-Token)=[^&\"'\s<>]*", re.IGNORECASE),
    re.compile(r"\"x-amz-(credential|security-token)\": \"[^\"]*\"", re.IGNORECASE),
]


def encodings(secret: str) -> set[str]:
    """*secret* as it could show up: raw, URL-encoded, JSON-escaped, base64 at any offset."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    raw = secret.encode()
    for pad in range(3):
        encoded = base64.b64encode(b"\x00" * pad + raw).decode()
        # Drop the characters that depend on the neighbouring bytes.
        forms.add(encoded[(pad * 4 + 2) // 3 + 1 : -3])
    return {form for form in forms if len(form) >= 8}


class Recorder:
    """Collects everything the server and S3 sent back, labelled."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def django(self, label, response):
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.seen.append((label, f"{response.status_code}\n{headers}\n\n{body.decode()}"))
        return response

    def s3(self, label, response: requests.Response):
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append((label, f"{response.status_code}\n{headers}\n\n{response.text}"))
        return response


def check_signed_post(fields, key_id, token):
    """The POST policy names the key id and the token only in their own conditions."""
    document = base64.b64decode(fields["policy"]).decode()
    assert fields["x-amz-credential"].startswith(f"{key_id}/")
    assert fields.get("x-amz-security-token") == token
    conditions = json.loads(document)["conditions"]
    credential = [c for c in conditions if isinstance(c, dict) and "x-amz-credential" in c]
    assert credential == [{"x-amz-credential": fields["x-amz-credential"]}]
    others = [c for c in conditions if c not in credential and "x-amz-security-token" not in c]
    assert key_id not in json.dumps(others)
    assert token is None or token not in json.dumps(others)


def check_presigned_url(url, key_id, token):
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Credential"][0].startswith(f"{key_id}/")
    assert query.get("X-Amz-Security-Token") == ([token] if token else None)


def assert_no_leaks(seen, *, key_id, secret, token):
    assert seen
    for label, text in seen:
        for form in encodings(secret):
            assert form not in text, f"the secret appears in {label}"
        stripped = text
        for pattern in _SIGNATURE_PARTS:
            stripped = pattern.sub("", stripped)
        # The policy is checked on its own (check_signed_post); drop it here.
        stripped = re.sub(r"\"policy\": \"[^\"]*\"", "", stripped)
        for name, value in (("access key id", key_id), ("session token", token)):
            for form in encodings(value) if value else ():
                assert form not in stripped, f"the {name} appears in {label}"


@pytest.fixture
def sts_credentials(moto_s3, monkeypatch):
    """Temporary credentials as a role gets them: key id, secret and session token.

    Set after moto started (it puts fake keys of its own into the environment).
    """
    credentials = ("ASIATESTFAKETEMPKEY1", "temp/secret/never+shown/0000000000002", SESSION_TOKEN)
    for name, value in zip(
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        credentials,
        strict=True,
    ):
        monkeypatch.setenv(name, value)
    reset_app_state()
    yield credentials
    reset_app_state()


def s3_post(url, fields, content):
    """POST multipart/form-data like a browser: every field first, the file last."""
    return requests.post(
        url,
        data=dict(fields),
        files={"file": ("file.pdf", content, "application/pdf")},
        headers={"Origin": "https://app.example.com"},
        timeout=30,
    )


def bucket_keys():
    from presigned_transfers.conf import app_settings

    listing = storage.get_client().list_objects_v2(Bucket=app_settings.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def whole_flow(user, admin_user, settings, caplog, *, key_id, secret, token):
    """Every endpoint and admin page, the S3 POST and GET; then search what came back."""
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "SERVER_SIDE_ENCRYPTION": "AES256",
    }
    record = Recorder()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(reverse("admin:login"))  # any page: sets the CSRF cookie
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}

    def post(name, data):
        url = reverse(f"presigned_transfers:{name}")
        response = browser.post(url, data, content_type="application/json", **csrf)
        return record.django(name, response)

    def get(label, client, name, *args, **params):
        return record.django(label, client.get(reverse(name, args=args), params))

    caplog.set_level(logging.DEBUG, logger="presigned_transfers")
    caplog.set_level(logging.INFO, logger="django")

    # Sign, upload to S3 like a browser, confirm (twice: idempotent).
    body = samples.PDF + b"payload" * 100
    sign = post(
        "upload-url",
        {"filename": "r\u00e9sum\u00e9.pdf", "content_type": "application/pdf", "size": len(body)},
    )
    assert sign.status_code == 201
    signed = sign.json()
    check_signed_post(signed["fields"], key_id, token)
    assert record.s3("S3 POST", s3_post(signed["url"], signed["fields"], body)).status_code == 204
    upload_id = signed["upload_id"]
    assert post("confirm-upload", {"upload_id": upload_id}).status_code == 200
    assert post("confirm-upload", {"upload_id": upload_id}).status_code == 200

    # A refused upload (an executable sent as a PDF) and other error answers.
    bad = post(
        "upload-url",
        {"filename": "x.pdf", "content_type": "application/pdf", "size": len(samples.PE_EXE)},
    ).json()
    record.s3("S3 POST (exe)", s3_post(bad["url"], bad["fields"], samples.PE_EXE))
    assert post("confirm-upload", {"upload_id": bad["upload_id"]}).status_code == 422
    assert post("confirm-upload", {"upload_id": bad["upload_id"]}).status_code == 422
    post("confirm-upload", {"upload_id": "00000000-0000-0000-0000-000000000000"})
    post("upload-url", {"filename": "x.exe", "content_type": "application/x-msdownload", "size": 5})
    tampered = {**signed["fields"], "key": "uploads/someone-else/file.pdf"}
    record.s3("S3 POST (tampered)", s3_post(signed["url"], tampered, body))

    # List, detail, download URL, download redirect and the S3 GET it leads to.
    get("list", browser, "presigned_transfers:upload-list")
    get("detail", browser, "presigned_transfers:upload-detail", upload_id)
    download = get("download-url", browser, "presigned_transfers:download-url", upload_id)
    check_presigned_url(download.json()["url"], key_id, token)
    redirect = get("download", browser, "presigned_transfers:download", upload_id)
    assert redirect.status_code == 302
    check_presigned_url(redirect["Location"], key_id, token)
    fetched = record.s3("S3 GET", requests.get(download.json()["url"], timeout=30))
    assert (fetched.status_code, fetched.content) == (200, body)

    # Errors: not found, not complete, no CSRF token, anonymous.
    get("404", browser, "presigned_transfers:download-url", "nope")
    get("409", browser, "presigned_transfers:download-url", bad["upload_id"])
    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.force_login(user)
    record.django("no csrf", no_csrf.post(reverse("presigned_transfers:upload-url")))
    get("anonymous", Client(), "presigned_transfers:upload-list")

    # The admin: list, search, change page, download, delete confirmation.
    staff = Client()
    staff.force_login(admin_user)
    get("admin list", staff, "admin:presigned_transfers_upload_changelist")
    get("admin search", staff, "admin:presigned_transfers_upload_changelist", q="pdf")
    get("admin change", staff, "admin:presigned_transfers_upload_change", upload_id)
    admin_download = get(
        "admin download", staff, "admin:presigned_transfers_upload_download", upload_id
    )
    assert admin_download.status_code == 302
    check_presigned_url(admin_download["Location"], key_id, token)
    get("admin delete page", staff, "admin:presigned_transfers_upload_delete", bad["upload_id"])

    # Delete over the API: the object goes too.
    detail = reverse("presigned_transfers:upload-detail", args=[upload_id])
    assert record.django("delete", browser.delete(detail, **csrf)).status_code == 200
    assert upload_id not in {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
    assert signed["fields"]["key"] not in bucket_keys()

    # Storage down: the 503 says so without details of the request.
    waiting = post(
        "upload-url", {"filename": "y.pdf", "content_type": "application/pdf", "size": 10}
    ).json()
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "ENDPOINT_URL": "http://127.0.0.1:9",
    }
    assert post("confirm-upload", {"upload_id": waiting["upload_id"]}).status_code == 503

    assert_no_leaks(record.seen, key_id=key_id, secret=secret, token=token)
    events = {getattr(r, "event", None) for r in caplog.records}
    assert events >= {"sign", "confirm", "refuse", "download", "delete"}
    logged = [
        (f"log record {r.name}", r.getMessage() + json.dumps(r.__dict__, default=str))
        for r in caplog.records
    ]
    assert_no_leaks(logged, key_id=key_id, secret=secret, token=token)
    return record


@pytest.mark.s3
@pytest.mark.django_db
def test_no_credential_in_any_response_over_the_whole_flow_on_seaweedfs(
    presigned_bucket, user, admin_user, settings, caplog
):
    """Long-lived keys (an IAM user), real S3: SeaweedFS checks every signature."""
    from tests.conftest import TEST_ACCESS_KEY, TEST_SECRET_KEY

    record = whole_flow(
        user,
        admin_user,
        settings,
        caplog,
        key_id=TEST_ACCESS_KEY,
        secret=TEST_SECRET_KEY,
        token=None,
    )
    assert len(record.seen) >= 25


@pytest.mark.django_db
def test_no_credential_in_any_response_with_a_session_token(
    sts_credentials, user, admin_user, settings, caplog
):
    """Temporary credentials (a role): the session token is where SigV4 needs it, only.

    moto, because SeaweedFS 4.48 refuses header-signed requests that carry a session
    token it did not issue (it accepts them in POST forms).
    """
    key_id, secret, token = sts_credentials
    record = whole_flow(
        user, admin_user, settings, caplog, key_id=key_id, secret=secret, token=token
    )
    assert len(record.seen) >= 25


def test_the_scanner_finds_what_it_looks_for():
    """The checks above would fail if a credential slipped into a response."""
    secret = "test/secret/key/never+shown/00000000001"
    leaks = [
        f"x {secret} y",
        f"url?a={quote(secret, safe='')}",
        json.dumps({"v": secret}),
        base64.b64encode(b'{"s": "' + secret.encode() + b'"}').decode(),
    ]
    for leak in leaks:
        with pytest.raises(AssertionError, match="secret"):
            assert_no_leaks([("t", leak)], key_id="AKIAX0000000", secret=secret, token="tok")
    with pytest.raises(AssertionError, match="access key id"):
        assert_no_leaks(
            [("t", '{"owner": "AKIATESTFAKEKEY00001"}')],
            key_id="AKIATESTFAKEKEY00001",
            secret=secret,
            token="tokentoken",
        )
    with pytest.raises(AssertionError, match="session token"):
        assert_no_leaks(
            [("t", "token=tokentoken")],
            key_id="AKIATESTFAKEKEY00001",
            secret=secret,
            token="tokentoken",
        )
    # ... but not where SigV4 must put them.
    assert_no_leaks(
        [
            (
                "t",
                "https://s3/x?X-Amz-Credential=AKIATESTFAKEKEY00001%2F2026&X-Amz-Security-Token=tokentoken&X-Amz-Signature=abc",
            )
        ],
        key_id="AKIATESTFAKEKEY00001",
        secret=secret,
        token="tokentoken",
    )
