"""CSRF: every state-changing endpoint refuses a request without a valid token.

The endpoints are found from the URLconf, so a new one is covered without editing this file.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from presigned_transfers import urls
from presigned_transfers.models import Upload
from tests import flows, samples

pytestmark = pytest.mark.django_db
SAFE = {"get", "head", "options", "trace"}


def state_changing():
    """(url name, method) for every endpoint method that may change state."""
    found = []
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class
        for method in view.http_method_names:
            if method not in SAFE and hasattr(view, method):
                found.append((pattern.name, method))
    return found


ENDPOINTS = state_changing()


def test_the_endpoints_found():
    assert set(ENDPOINTS) == {
        ("upload-url", "post"),
        ("confirm-upload", "post"),
        ("upload-detail", "delete"),
        ("upload-parts", "post"),
    }


@pytest.fixture
def target(moto_s3, user):
    """An uploaded, pending upload of user's: what a forged request would act on."""
    upload = flows.sign(user, samples.PDF)
    flows.put(upload, samples.PDF)
    return upload


def url_and_body(name, upload):
    if name == "upload-parts":
        from django.conf import settings
        from django.test import override_settings

        from presigned_transfers import services

        big = 6 * 1024 * 1024
        with override_settings(
            PRESIGNED_TRANSFERS={
                **settings.PRESIGNED_TRANSFERS,
                "MULTIPART_THRESHOLD": 5 * 1024 * 1024,
                "CHECKSUM": None,
            }
        ):
            multipart = services.create_upload(
                user=upload.owner,
                filename="big.pdf",
                content_type="application/pdf",
                size=big,
                transports=["multipart"],
            ).upload
        assert multipart.transport == "multipart"
        url = reverse(f"presigned_transfers:{name}", args=[multipart.pk])
        return url, {"parts": [{"part_number": 1}]}
    if name == "upload-detail":
        return reverse(f"presigned_transfers:{name}", args=[upload.pk]), None
    if name == "confirm-upload":
        return reverse(f"presigned_transfers:{name}"), {"upload_id": str(upload.pk)}
    return reverse(f"presigned_transfers:{name}"), {
        "filename": "a.pdf",
        "content_type": "application/pdf",
        "size": 10,
    }


def send(client, method, url, body, **headers):
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def state():
    return sorted(Upload.objects.values_list("pk", "status"))


@pytest.fixture
def browser(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("admin:login"))  # sets the csrftoken cookie
    return client


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
@pytest.mark.parametrize(
    "forgery",
    ["no token", "wrong token", "token without cookie", "token of another session"],
)
def test_refused_without_a_valid_token(browser, target, user, name, method, forgery):
    url, body = url_and_body(name, target)
    before = state()
    headers = {}
    if forgery == "wrong token":
        headers["HTTP_X_CSRFTOKEN"] = "x" * 64
    elif forgery == "token without cookie":
        headers["HTTP_X_CSRFTOKEN"] = browser.cookies["csrftoken"].value
        del browser.cookies["csrftoken"]
    elif forgery == "token of another session":
        other = Client(enforce_csrf_checks=True)
        other.get(reverse("admin:login"))
        headers["HTTP_X_CSRFTOKEN"] = other.cookies["csrftoken"].value
    response = send(browser, method, url, body, **headers)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "csrf_failed"
    assert state() == before
    assert flows.object_exists(target.upload_key)


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_accepted_with_the_token(browser, target, name, method):
    url, body = url_and_body(name, target)
    token = browser.cookies["csrftoken"].value
    response = send(browser, method, url, body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_refused_even_without_the_csrf_middleware(browser, target, settings, name, method):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "django.middleware.csrf.CsrfViewMiddleware"
    ]
    url, body = url_and_body(name, target)
    before = state()
    response = send(browser, method, url, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert state() == before


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_cross_site_origin_is_refused_over_https(browser, target, name, method):
    """With HTTPS, Django also checks the Origin header: a token alone is not enough."""
    url, body = url_and_body(name, target)
    token = browser.cookies["csrftoken"].value
    response = send(
        browser,
        method,
        url,
        body,
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="https://evil.example",
        secure=True,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
