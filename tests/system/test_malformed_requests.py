"""Malformed requests the JSON API once answered with a 500, now refused with a JSON 4xx.

Found by the schemathesis run (tests/schemathesis/: ``Content-Type: multipart/form-data``
without a boundary answered 500) and by the probes it led to:

- Django's CSRF check (``JsonView._check_csrf``, Django's ``CsrfViewMiddleware``) reads a
  POST's form body (``request.POST``) for a ``csrfmiddlewaretoken`` before the view looks at the
  content type. Django's form parsers raise there — ``MultiPartParserError`` (no boundary),
  ``TooManyFieldsSent`` (more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``), ``RequestDataTooBig``
  (above ``DATA_UPLOAD_MAX_MEMORY_SIZE``) — and ``JsonView.dispatch`` answers them as a bug:
  500 ``server_error``, logged as an error, reported to error reporting.
- The list view reads ``request.GET``: a query string of more than 1000 fields raises
  ``TooManyFieldsSent`` there, the same 500.
- ``policy.validate_checksum`` matches ``^[A-Za-z0-9+/]{43}=$`` with ``re.match``: ``$`` also
  matches before a trailing newline, so ``"<43 characters>=\\n"`` is accepted and signed into
  the form (the document's pattern, ECMA-262, refuses it).

They answer ``400 unreadable_request`` (413 ``request_too_large`` for a body above Django's
limit) and write nothing; a checksum with a trailing newline is ``400 invalid_checksum``.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from presigned_transfers.models import Upload
from tests import flows
from tests.factories import post_json
from tests.openapi_doc import conforms

pytestmark = pytest.mark.django_db

TOKEN = "c" * 32


@pytest.fixture
def browser(user, moto_s3):
    """Signed in, with a CSRF cookie and the header the script sends; CSRF really checked
    (the test client skips Django's check otherwise, and with it the form parsing)."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    client.cookies["csrftoken"] = TOKEN
    return client


@pytest.fixture
def multipart_upload(user, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "MULTIPART_THRESHOLD": 5 * 1024 * 1024,
    }
    return flows.sign(user, bytes(6 * 1024 * 1024), transports=["multipart"])


def post_urls(upload):
    return [
        reverse("presigned_transfers:upload-url"),
        reverse("presigned_transfers:confirm-upload"),
        reverse("presigned_transfers:upload-parts", args=[upload.pk]),
    ]


def refused(response, before):
    """A documented JSON 4xx, and nothing written."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    conforms(response)
    assert sorted(Upload.objects.values_list("pk", "status", "updated_at")) == before


def state():
    return sorted(Upload.objects.values_list("pk", "status", "updated_at"))


@pytest.mark.parametrize(
    "endpoint", [0, 1, 2], ids=["upload-url", "confirm-upload", "upload-parts"]
)
def test_multipart_form_data_without_a_boundary(browser, multipart_upload, endpoint):
    before = state()
    response = browser.generic(
        "POST",
        post_urls(multipart_upload)[endpoint],
        b'{"upload_id": "x"}',
        content_type="multipart/form-data",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    refused(response, before)


@pytest.mark.parametrize(
    "endpoint", [0, 1, 2], ids=["upload-url", "confirm-upload", "upload-parts"]
)
def test_a_form_with_more_fields_than_django_parses(browser, multipart_upload, endpoint, settings):
    before = state()
    fields = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = browser.generic(
        "POST",
        post_urls(multipart_upload)[endpoint],
        fields.encode(),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    refused(response, before)


@pytest.mark.parametrize(
    "endpoint", [0, 1, 2], ids=["upload-url", "confirm-upload", "upload-parts"]
)
def test_a_form_larger_than_django_reads(browser, multipart_upload, endpoint, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = state()
    response = browser.generic(
        "POST",
        post_urls(multipart_upload)[endpoint],
        b"a=" + b"x" * 2048,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    refused(response, before)


def test_a_query_string_with_more_fields_than_django_parses(browser, settings):
    before = state()
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = browser.get(reverse("presigned_transfers:upload-list") + "?" + query)
    refused(response, before)


def test_a_checksum_with_a_trailing_newline_is_refused(browser):
    before = state()
    body = {
        "filename": "a.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "checksum_sha256": "A" * 43 + "=\n",
    }
    response = post_json(
        browser, reverse("presigned_transfers:upload-url"), body, HTTP_X_CSRFTOKEN=TOKEN
    )
    refused(response, before)
    assert response.json()["error"]["code"] == "invalid_checksum"


def test_the_same_requests_well_formed_are_answered(browser, multipart_upload, settings):
    """The requests above are refused for their malformation alone (this passes today)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    upload_url, confirm, _ = post_urls(multipart_upload)
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    signed = post_json(browser, upload_url, body, HTTP_X_CSRFTOKEN=TOKEN)
    assert signed.status_code == 201
    answer = post_json(browser, confirm, {"upload_id": "x"}, HTTP_X_CSRFTOKEN=TOKEN)
    assert answer.status_code == 404
    listed = browser.get(reverse("presigned_transfers:upload-list") + "?page=1&status=pending")
    assert listed.status_code == 200
    body["checksum_sha256"] = "A" * 43 + "="
    assert post_json(browser, upload_url, body, HTTP_X_CSRFTOKEN=TOKEN).status_code == 201
    for response in (signed, answer, listed):
        conforms(response)
