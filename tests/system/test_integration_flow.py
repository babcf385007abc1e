"""The whole flow over real HTTP: a live Django server, a real S3 server (SeaweedFS), no mocks.

upload-url -> multipart POST to S3 -> 204 -> confirm-upload -> download-url -> GET the bytes.
"""

from __future__ import annotations

import os
from urllib.parse import unquote

import pytest
import requests

from presigned_transfers.models import Upload
from tests.live import LiveClient

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, client, user):
    client.force_login(user)
    with LiveClient(live_server, client.cookies["sessionid"].value) as site:
        yield site


def test_full_flow_over_http(presigned_bucket, site, user):
    content = b"%PDF-1.7\n" + os.urandom(4096) + b"\n%%EOF\n"
    filename = 'Überprüfung "Q3"; été.pdf'

    signed = site.post_json(
        "upload-url",
        {"filename": filename, "content_type": "application/pdf", "size": len(content)},
    )
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["url"].startswith(presigned_bucket.endpoint_url)
    assert list(body["fields"])[-1] != "file"

    uploaded = presigned_bucket.post(body["url"], body["fields"], content, filename="ignored.pdf")
    assert uploaded.status_code == 204, uploaded.text

    confirmed = site.post_json("confirm-upload", {"upload_id": body["upload_id"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["upload"]["status"] == "complete"
    assert confirmed.json()["upload"]["size"] == len(content)

    row = Upload.objects.get(pk=body["upload_id"])
    assert row.owner == user and row.verified_size == len(content)
    assert row.key.startswith(f"uploads/{user.pk}/")

    listed = site.get("upload-list").json()["uploads"]
    assert [item["id"] for item in listed] == [body["upload_id"]]

    download = site.get("download-url", body["upload_id"])
    assert download.status_code == 200, download.text
    fetched = requests.get(download.json()["url"], timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == content
    disposition = fetched.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Uberprufung _Q3__ ete.pdf"')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == filename

    # The no-JavaScript variant redirects to the same object.
    redirect = site.get("download", body["upload_id"], allow_redirects=False)
    assert redirect.status_code == 302
    assert requests.get(redirect.headers["Location"], timeout=30).content == content

    deleted = site.http.delete(site.url("upload-detail", body["upload_id"]), timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert presigned_bucket.keys() == []
    assert not Upload.objects.filter(pk=body["upload_id"]).exists()


def test_csrf_is_enforced_over_http(presigned_bucket, site):
    site.http.headers["X-CSRFToken"] = "wrong-token-wrong-token-wrong-to"
    response = site.post_json(
        "upload-url", {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert not Upload.objects.exists()
