"""presigned_transfers/openapi.json: valid OpenAPI 3.1, true to the URLconf and the views, and
served by OpenAPIView.

The document must not drift: every route and every method a view handles is documented, and
nothing else; every error code it lists is one the package raises, with that status, and every
code the package raises is listed; limits it states are the code's; answers of every operation
conform to it (tests/openapi_doc.py; schemathesis checks the same live in tests/schemathesis/).
"""

from __future__ import annotations

import ast
import inspect
import re
from collections import defaultdict
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, include, path, reverse
from openapi_spec_validator import validate

import presigned_transfers
from presigned_transfers import exceptions, openapi, policy, services, urls, views
from presigned_transfers.conf import S3_MAX_PARTS
from presigned_transfers.models import Upload
from presigned_transfers.views import OpenAPIView
from tests import CHECKOUT, flows, samples
from tests.factories import post_json
from tests.openapi_doc import DOC, conforms, error_codes, operation_of, operations, resolved

SAFE = {"get", "head", "options", "trace"}
ROOT = Path(presigned_transfers.__file__).parent

# For @pytest.mark.urls(__name__): the app included at the root, the document beside it.
urlpatterns = [
    path("", include("presigned_transfers.urls")),
    path("openapi.json", OpenAPIView.as_view()),
]


def route_path(pattern: URLPattern) -> str:
    """``uploads/<str:upload_id>/`` as the document writes it: ``/uploads/{upload_id}/``."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def handled(view_class: type) -> set[str]:
    """The methods a view answers: its handlers, and HEAD wherever it has GET (View.setup)."""
    methods = {m for m in view_class.http_method_names if hasattr(view_class, m)}
    return methods | ({"head"} if "get" in methods else set())


ROUTES = {route_path(p): p for p in urls.urlpatterns}


def test_the_document_is_valid_openapi_3_1():
    assert DOC["openapi"].startswith("3.1.")
    validate(DOC)


def test_its_version_is_the_package_version():
    assert DOC["info"]["version"] == presigned_transfers.__version__


def test_every_route_is_documented_and_nothing_else():
    assert set(DOC["paths"]) == set(ROUTES)
    for route, pattern in ROUTES.items():
        assert DOC["paths"][route]["x-url-name"] == pattern.name


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_method_a_view_handles_is_documented_and_nothing_else(route):
    view_class = ROUTES[route].callback.view_class
    documented = {m for m in DOC["paths"][route] if m in views.View.http_method_names}
    assert documented == handled(view_class)


def test_path_parameters_are_the_routes():
    for route, method, operation in operations():
        declared = {
            resolved(p)["name"]
            for p in operation.get("parameters", [])
            if resolved(p)["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", route)), (route, method)


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))


def test_head_answers_as_get():
    for item in DOC["paths"].values():
        if "get" in item:
            assert set(item["head"]["responses"]) == set(item["get"]["responses"])
            assert "content" not in str(item["head"]["responses"])


@pytest.mark.parametrize(("route", "method"), [(r, m) for r, m, _ in operations()])
def test_what_dispatch_adds_is_documented(route, method):
    """Sign-in, CSRF, rate limits and outages: from the view's class, for every operation."""
    view_class = ROUTES[route].callback.view_class
    operation = DOC["paths"][route][method]
    responses = operation["responses"]
    if method == "head":  # GET's answers without a body (test_head_answers_as_get)
        assert operation["security"] == DOC["paths"][route]["get"]["security"]
        return
    changes_state = method not in SAFE
    assert error_codes(responses["401"]) == ["not_authenticated"]
    assert error_codes(responses["500"]) == ["server_error"]
    assert "database_unavailable" in error_codes(responses["503"])
    assert ("403" in responses) == changes_state
    schemes = [set(requirement) for requirement in operation["security"]]
    assert schemes == (
        [{"session", "csrfCookie", "csrfHeader"}] if changes_state else [{"session"}]
    )
    rate_limited = view_class.rate_limit_group is not None
    assert ("429" in responses) == rate_limited
    assert ("rate_limit_unavailable" in error_codes(responses["503"])) == rate_limited
    if rate_limited:
        assert resolved(resolved(responses["429"])["headers"]["Retry-After"])["required"]
    handler = getattr(view_class, method)
    if "self.json_body(" in inspect.getsource(handler):
        assert "requestBody" in operation
        assert "invalid_json" in error_codes(responses["400"])
        assert error_codes(responses["413"])[-1:] == ["request_too_large"]
        assert "unsupported_media_type" in error_codes(responses["415"])
    else:
        assert "requestBody" not in operation


def raised_codes() -> dict[str, set[int]]:
    """{code: statuses} for every TransferError the package constructs (read from its source)."""
    classes = {
        name: cls
        for name, cls in vars(exceptions).items()
        if isinstance(cls, type) and issubclass(cls, exceptions.TransferError)
    }
    found: dict[str, set[int]] = defaultdict(set)
    for source in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in classes:
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            codes = (
                [c.value for c in ast.walk(keywords["code"]) if isinstance(c, ast.Constant)]
                if "code" in keywords
                else [classes[name].code]
            )
            status = keywords["status"].value if "status" in keywords else classes[name].status  # type: ignore[attr-defined]
            for code in codes:
                found[code].add(status)
    return found


def documented_codes() -> dict[str, set[int]]:
    """{code: statuses} of every error the document lists: its operations', and the 405 that
    answers methods it has no operation for."""
    found: dict[str, set[int]] = defaultdict(set)
    responses = [
        (status, response)
        for _, _, operation in operations()
        for status, response in operation["responses"].items()
    ]
    responses.append(("405", DOC["components"]["responses"]["MethodNotAllowed"]))
    for status, response in responses:
        for code in error_codes(response):
            found[code].add(int(status))
    return found


def test_the_raised_codes_are_collected():
    # The collector itself: codes raised in three ways (class default, literal, fallback).
    raised = raised_codes()
    assert raised["not_found"] == {404}
    assert raised["quota_exceeded"] == {422}
    assert raised["upload_refused"] == {422}  # code=code or "upload_refused"
    assert raised["database_unavailable"] == {503}


def test_every_documented_code_is_raised_with_its_status_and_every_raised_code_is_documented():
    raised, documented = raised_codes(), documented_codes()
    assert set(documented) == set(raised)
    for code, statuses in documented.items():
        assert statuses <= raised[code], code


def test_limits_are_the_codes():
    schemas = DOC["components"]["schemas"]
    request = schemas["UploadRequest"]["properties"]
    assert request["filename"]["maxLength"] == 4 * policy.MAX_FILENAME_LENGTH
    assert request["content_type"]["maxLength"] == policy.MAX_CONTENT_TYPE_LENGTH
    assert request["transports"]["maxItems"] == len(Upload.Transport.values)
    assert schemas["Checksum"]["pattern"] == policy._BASE64_SHA256.pattern
    assert schemas["Status"]["enum"] == list(Upload.Status.values)
    assert schemas["Transport"]["enum"] == list(Upload.Transport.values)
    assert schemas["Upload"]["properties"]["filename"]["maxLength"] == policy.MAX_FILENAME_LENGTH
    parts = DOC["paths"]["/uploads/{upload_id}/parts/"]["post"]["requestBody"]
    parts = parts["content"]["application/json"]["schema"]["properties"]["parts"]
    assert parts["maxItems"] == services.MAX_PARTS_PER_REQUEST
    assert parts["items"]["properties"]["part_number"]["maximum"] == S3_MAX_PARTS
    listed = DOC["paths"]["/uploads/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["properties"]["uploads"]["maxItems"] == views.UploadListView.page_size


def test_the_document_is_shipped_in_the_package():
    assert (ROOT / openapi.FILENAME).is_file()
    pyproject = (CHECKOUT / "pyproject.toml").read_text("utf-8")
    (package_data,) = re.findall(r"^presigned_transfers = \[(.*)\]$", pyproject, re.MULTILINE)
    assert f'"{openapi.FILENAME}"' in package_data


def test_document_returns_a_copy():
    openapi.document()["paths"].clear()
    assert openapi.document()["paths"]


# --- answers of every operation conform ---------------------------------------------------------


@pytest.mark.django_db
def test_answers_of_every_operation_conform(moto_s3, user_client, user, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "MULTIPART_THRESHOLD": 5 * 1024 * 1024,
        "MULTIPART_PART_SIZE": 5 * 1024 * 1024,
        "CHECKSUM": None,
    }
    client = user_client
    seen = set()
    exercised = set()

    def send(method, url, body=None, **extra):
        if body is not None:
            response = post_json(client, url, body)
        else:
            response = client.generic(method, url, **extra)
        conforms(response)
        seen.add((method, response.status_code))
        operation = operation_of(response.request["PATH_INFO"], method)
        if operation is not None:
            exercised.add(operation["operationId"])
        return response

    upload_url = reverse("presigned_transfers:upload-url")
    post = send(
        "POST",
        upload_url,
        {"filename": "a.pdf", "content_type": "application/pdf", "size": len(samples.PDF)},
    ).json()
    assert post["transport"] == "post"
    put = send(
        "POST",
        upload_url,
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 9, "transports": ["put"]},
    ).json()
    assert put["transport"] == "put"
    big = send(
        "POST",
        upload_url,
        {
            "filename": "b.pdf",
            "content_type": "application/pdf",
            "size": 6 * 1024 * 1024,
            "transports": ["multipart"],
        },
    ).json()
    assert big["transport"] == "multipart"
    for body in (
        {"filename": "", "content_type": "application/pdf", "size": 1},
        {"filename": "a.exe", "content_type": "application/x-msdownload", "size": 1},
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 10**12},
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 0},
        {"filename": "a.pdf", "content_type": "application/pdf", "size": 1, "policy": "nope"},
    ):
        send("POST", upload_url, body)
    send("POST", upload_url, {"filename": "x" * 20000, "content_type": "", "size": 1})
    send("POST", upload_url, body=None, data=b"filename=a", content_type="text/plain")

    confirm = reverse("presigned_transfers:confirm-upload")
    send("POST", confirm, {"upload_id": post["upload_id"]})  # 409 upload_missing
    flows.put(Upload.objects.get(pk=post["upload_id"]), samples.PDF)
    done = send("POST", confirm, {"upload_id": post["upload_id"]}).json()
    assert done["upload"]["status"] == "complete"
    send("POST", confirm, {"upload_id": big["upload_id"]})  # 409 parts_missing
    send("POST", confirm, {"upload_id": 7})
    send("POST", confirm, {"upload_id": "nope"})
    short = send(
        "POST",
        upload_url,
        {"filename": "s.pdf", "content_type": "application/pdf", "size": len(samples.PDF)},
    ).json()
    flows.put(Upload.objects.get(pk=short["upload_id"]), samples.PDF[:-1])
    refused = send("POST", confirm, {"upload_id": short["upload_id"]})
    assert refused.json()["error"]["code"] == "size_mismatch"

    parts = reverse("presigned_transfers:upload-parts", args=[big["upload_id"]])
    signed = send("POST", parts, {"parts": [{"part_number": 1}, {"part_number": 2}]}).json()
    assert [p["part_number"] for p in signed["parts"]] == [1, 2]
    send("POST", parts, {"parts": [{"part_number": 3}]})
    send("GET", parts)
    send("GET", reverse("presigned_transfers:upload-parts", args=[post["upload_id"]]))
    send("HEAD", parts)

    listed = reverse("presigned_transfers:upload-list")
    assert len(send("GET", listed).json()["uploads"]) == 4
    send("HEAD", listed)
    send("GET", listed + "?status=complete&page=1")
    send("GET", listed + "?status=gone")
    send("GET", listed + "?page=0")
    for name in ("upload-detail", "download-url", "download"):
        for pk in (post["upload_id"], put["upload_id"], "f" * 8):
            send("GET", reverse(f"presigned_transfers:{name}", args=[pk]))
            send("HEAD", reverse(f"presigned_transfers:{name}", args=[pk]))
        send("PUT", reverse(f"presigned_transfers:{name}", args=[post["upload_id"]]))
    for pattern in urls.urlpatterns:
        args = [post["upload_id"]] if pattern.pattern.converters else []
        send("OPTIONS", reverse(f"presigned_transfers:{pattern.name}", args=args))
    send("DELETE", reverse("presigned_transfers:upload-detail", args=[big["upload_id"]]))
    send("DELETE", reverse("presigned_transfers:upload-detail", args=[big["upload_id"]]))
    anonymous = Client().get(listed)
    assert anonymous.status_code == 401
    conforms(anonymous)

    statuses = {status for _, status in seen}
    assert statuses >= {200, 201, 302, 400, 404, 405, 409, 413, 415, 422}
    assert exercised == {operation["operationId"] for _, _, operation in operations()}


@pytest.mark.django_db
def test_a_rate_limited_answer_conforms(moto_s3, user_client, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": {"upload-url": "1/m"},
    }
    url = reverse("presigned_transfers:upload-url")
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    conforms(post_json(user_client, url, body))
    limited = post_json(user_client, url, body)
    assert limited.status_code == 429
    conforms(limited)


@pytest.mark.django_db
def test_a_csrf_refusal_conforms(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.delete(reverse("presigned_transfers:upload-detail", args=["x"]))
    assert response.status_code == 403
    conforms(response)


class _Answer:
    def __init__(self, status, body, path, method="GET"):
        self.status_code, self.content = status, body
        self.request = {"REQUEST_METHOD": method, "PATH_INFO": path}

    def has_header(self, name):
        return name == "Cache-Control"

    def __getitem__(self, name):
        return {"Cache-Control": "no-store", "Content-Type": "application/json"}[name]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b'{"error": {"code": "not_found", "message": "No such upload."}}'),  # no 404 here
        (400, b'{"error": {"code": "not_found", "message": "No such upload."}}'),  # not a 400 code
        (200, b'{"uploads": []}'),  # next_page is required
    ],
)
def test_conforms_catches_an_undocumented_answer(status, body):
    """conforms() itself can fail: a status, a code or a body the operation does not have."""
    listed = reverse("presigned_transfers:upload-list")
    conforms(_Answer(200, b'{"uploads": [], "next_page": null}', listed))
    with pytest.raises(AssertionError):
        conforms(_Answer(status, body, listed))


# --- the view ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_view_serves_the_document_with_its_server_where_the_app_is():
    response = Client().get(reverse("openapi"))  # anonymous: the document is no secret
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = response.json()
    assert served["servers"] == [
        {"url": "http://testserver/xfer-9f3", "description": "Where this site serves the API."}
    ]
    assert served["paths"] == DOC["paths"]
    # The document's paths, joined to its server, are the URLconf's.
    base = served["servers"][0]["url"].removeprefix("http://testserver")
    assert base + "/upload-url/" == reverse("presigned_transfers:upload-url")


@pytest.mark.django_db
def test_the_server_is_absolute_for_https_and_a_host():
    response = Client().get(reverse("openapi"), secure=True, HTTP_HOST="files.example.com")
    assert response.json()["servers"][0]["url"] == "https://files.example.com/xfer-9f3"


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_an_app_at_the_root_has_the_host_as_its_server():
    assert openapi.mount_path() == ""
    response = Client().get("/openapi.json")
    assert response.json()["servers"][0]["url"] == "http://testserver"


@pytest.mark.django_db
def test_the_security_schemes_name_the_projects_cookies_and_header(settings):
    settings.SESSION_COOKIE_NAME = "site_session"
    settings.CSRF_COOKIE_NAME = "site_csrf"
    settings.CSRF_HEADER_NAME = "HTTP_X_SITE_CSRF"
    schemes = Client().get(reverse("openapi")).json()["components"]["securitySchemes"]
    assert schemes["session"]["name"] == "site_session"
    assert schemes["csrfCookie"]["name"] == "site_csrf"
    assert schemes["csrfHeader"]["name"] == "X-Site-Csrf"
    assert DOC["components"]["securitySchemes"]["csrfHeader"]["name"] == "X-CSRFToken"


@pytest.mark.django_db
def test_with_csrf_in_the_session_there_is_no_csrf_cookie_to_send(settings):
    settings.CSRF_USE_SESSIONS = True
    served = Client().get(reverse("openapi")).json()
    assert "csrfCookie" not in served["components"]["securitySchemes"]
    assert "csrfCookie" not in str(served["paths"])
    assert "csrfHeader" in str(served["paths"])
    validate(served)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_view_answers_other_methods_with_a_json_405(method):
    response = getattr(Client(), method)(reverse("openapi"))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"
