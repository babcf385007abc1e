"""Property-based fuzzing of every JSON endpoint with bad input (hypothesis).

Wrong types, huge and negative numbers, unicode and control characters in filenames,
path traversal, missing fields, wrong methods, non-JSON and oversized bodies, odd
content types, anonymous and CSRF-less requests. For every input: no server error, no row
written or changed, and the answer is the documented JSON error shape
``{"error": {"code": str, "message": str, "details"?: {...}}}`` with a documented status, and
a status and code that presigned_transfers/openapi.json lists for the operation.

The tests count what they sent; the total (at least 10,000) is printed at the end of
the run and checked by the last test of this module.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from presigned_transfers import policy, services
from presigned_transfers.conf import DEFAULT_CONTENT_TYPES, MB
from presigned_transfers.models import Upload, UploadPart
from tests import flows, samples
from tests.openapi_doc import conforms

pytestmark = pytest.mark.django_db

#: Examples per test; they add up to more than 10,000.
BUDGET = {
    "test_upload_url_with_bad_fields": 3000,
    "test_upload_url_with_bad_bodies": 1500,
    "test_confirm_with_bad_bodies": 1500,
    "test_upload_id_in_the_path": 1500,
    "test_list_with_bad_query": 1000,
    "test_parts_with_bad_bodies": 800,
    "test_wrong_methods": 700,
    "test_anonymous": 500,
    "test_without_csrf_token": 500,
}
MINIMUM = 10_000
COUNTS: Counter[str] = Counter()
ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429}
MAX_BODY = 16 * 1024


def fuzz(name: str):
    return hypothesis_settings(
        max_examples=BUDGET[name],
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --- strategies -------------------------------------------------------------------------------

# Text with what breaks paths, headers, terminals and databases over-represented: control
# characters (NUL included), lone surrogates, bidi overrides, separators, traversal.
HOSTILE_CHARS = st.one_of(
    st.characters(),
    # Controls, format characters, separators and lone surrogates (st.characters() leaves
    # surrogates out by default; JSON can carry them, UTF-8 cannot).
    st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Cs"]),
    st.sampled_from(
        [
            *"\x00\x01\x1b\r\n\t\x7f\x85\u2028\u202e\ufeff\"'\\/%;.:*?<>|$`{}",
            *("\ud800", "\udfff", "\U0001f4a9", "\ufb01", "\uff0f", "\uff3c", "\u0301"),
        ]
    ),
)
HOSTILE_TEXT = st.one_of(
    st.text(HOSTILE_CHARS, max_size=60),
    st.sampled_from(
        [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "/absolute/path.pdf",
            "C:\\Users\\x\\a.pdf",
            "a\x00.pdf",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "….pdf",
            "CON",
            "NUL.pdf",
            ".",
            "..",
            "~",
            "$(reboot)",
            "<script>alert(1)</script>.pdf",
            "'; DROP TABLE presigned_transfers_upload; --",
            "\u202egpj.exe",
            "a" * 5000,
        ]
    ),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
#: Anything JSON can carry but a string (flat, so cheap to generate).
NOT_STRINGS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "name", ""]), st.integers(), max_size=2),
)

GOOD = {"filename": "report.pdf", "content_type": "application/pdf", "size": 1000}
ALLOWED = set(DEFAULT_CONTENT_TYPES)

BAD_FIELD = {
    "filename": st.one_of(
        NOT_STRINGS,
        st.just(""),
        st.text(" \t\n\r\x0b\x0c\u3000\u2029", max_size=20),
        # Longer than allowed (cheap to build: a hostile piece repeated).
        st.tuples(HOSTILE_TEXT.filter(bool), st.integers(1, 200)).map(
            lambda p: (p[0] * (4 * policy.MAX_FILENAME_LENGTH + 1))[
                : 4 * policy.MAX_FILENAME_LENGTH + p[1]
            ]
        ),
    ),
    "content_type": st.one_of(
        NOT_STRINGS,
        HOSTILE_TEXT.filter(lambda t: policy.normalize_content_type(t) not in ALLOWED),
        st.sampled_from(
            [
                "application/x-msdownload",
                "application/octet-stream",
                "text/html",
                "image/svg+xml",
                "*/*",
                "application/*",
                "application/pdf" + " " * 300,
                "",
            ]
        ),
    ),
    "size": st.one_of(
        st.none(),
        st.booleans(),
        st.floats(),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=2),
        st.integers(max_value=0),
        st.integers(min_value=20 * MB + 1),
        st.sampled_from([-1, -(2**63), 2**63, 2**64, 10**100, -(10**100)]),
    ),
    "policy": st.one_of(
        NOT_STRINGS.filter(lambda v: v is not None),
        # "" means the default policy, like a missing "policy".
        HOSTILE_TEXT.filter(lambda t: t not in ("default", "")),
    ),
    "transports": st.one_of(
        NOT_STRINGS.filter(lambda v: v is not None and not (isinstance(v, list) and v)),
        HOSTILE_TEXT,
        st.just([]),
        st.lists(NOT_STRINGS, min_size=1, max_size=3),
        st.lists(HOSTILE_TEXT, min_size=4, max_size=6),
        st.lists(st.sampled_from(["multipart", "RELAY", "ftp", ""]), min_size=1).filter(
            lambda v: "post" not in v and "put" not in v and len(v) <= 3
        ),
    ),
    "checksum_sha256": st.one_of(
        NOT_STRINGS.filter(lambda v: v is not None),
        HOSTILE_TEXT,
        st.sampled_from(["", "=" * 44, "A" * 43, "A" * 44, "A" * 45 + "=", "é" * 43 + "="]),
    ),
}


# Strategies are built once: building them inside a draw costs more than the request.
_FILENAMES = st.one_of(st.just("report.pdf"), HOSTILE_TEXT)
_EXTRA_KEYS = st.dictionaries(
    st.sampled_from(["id", "key", "owner", "x"]), JSON_SCALARS, max_size=2
)
_BROKEN = st.sets(st.sampled_from(sorted(BAD_FIELD)), min_size=1, max_size=3)
_MISSING = st.sets(st.sampled_from(["filename", "content_type", "size"]), max_size=2)


@st.composite
def bad_upload_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object for upload-url that breaks at least one rule."""
    body: dict[str, Any] = dict(GOOD)
    body["filename"] = draw(_FILENAMES)
    # Unknown keys are ignored; they come first so they cannot repair a broken field.
    body.update(draw(_EXTRA_KEYS))
    for field in sorted(draw(_BROKEN)):
        body[field] = draw(BAD_FIELD[field])
    for field in draw(_MISSING):
        body.pop(field, None)
    return body


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


BAD_BODIES = st.one_of(
    # Valid JSON, but not an object.
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(encode),
    # Not JSON at all.
    st.binary(max_size=300),
    st.text(HOSTILE_CHARS, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"filename": "a.pdf",}',
            b"\xff\xfe{\x00}\x00",
            b"\xef\xbb\xbf{}",
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b"NaN",
            b'"\\ud800"',
        ]
    ),
    # Larger than MAX_REQUEST_BODY.
    st.integers(min_value=MAX_BODY + 1, max_value=4 * MAX_BODY).map(
        lambda n: encode({"filename": "a" * n, "content_type": "application/pdf", "size": 1})
    ),
)
BAD_CONTENT_TYPES = st.sampled_from(
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "",
        "application/json-patch+json",
        "application/jsonx",
    ]
)
JSON_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=no-such-charset",
        "Application/JSON",
    ]
)


# --- fixtures and checks ----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def report_total(request):
    """Print how many inputs were sent (outside output capture, so every run shows it)."""
    failed_before = request.session.testsfailed
    yield
    total = sum(COUNTS.values())
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    if reporter is None or not total:
        return
    if request.session.testsfailed == failed_before:
        line = (
            f"fuzzed {total} inputs against the JSON endpoints: 0 server errors, 0 rows "
            "written, every answer the documented JSON error shape"
        )
    else:
        line = f"fuzzed {total} inputs against the JSON endpoints: FAILURES, see above"
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(line)


@pytest.fixture
def world(moto_s3, settings, user, other_user):
    """A signed-in client, and another user's upload that must stay untouched."""
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": dict.fromkeys(
            ("upload-url", "confirm-upload", "download-url", "upload-parts")
        ),
        "POLICIES": {"default": {"CONTENT_TYPES": list(ALLOWED), "MAX_SIZE": 20 * MB}},
        "MULTIPART_THRESHOLD": 5 * MB,
    }
    theirs = flows.sign(other_user, samples.PDF)
    flows.put(theirs, samples.PDF)
    big = {"filename": "big.pdf", "content_type": "application/pdf", "size": 11 * MB}
    multipart = {**big, "transports": ["multipart"]}
    mine = services.create_upload(user=user, **multipart).upload
    theirs_multipart = services.create_upload(user=other_user, **multipart).upload
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    before = sorted(Upload.objects.values_list("pk", "status", "updated_at"))
    return {
        "client": client,
        "theirs": theirs,
        "mine": mine,
        "theirs_multipart": theirs_multipart,
        "before": before,
    }


def check(world: dict[str, Any], response: Any, name: str) -> None:
    """The documented error, and nothing written."""
    COUNTS[name] += 1
    assert response.status_code in ERROR_STATUSES, (response.status_code, response.content)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert set(data) == {"error"}
    error = data["error"]
    assert set(error) <= {"code", "message", "details"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error.get("details", {}), dict)
    if response.status_code == 405:
        assert response["Allow"]
    # The status, code, headers and body are what presigned_transfers/openapi.json says.
    conforms(response)
    assert sorted(Upload.objects.values_list("pk", "status", "updated_at")) == world["before"]


def url(name: str, *args: Any) -> str:
    return reverse(f"presigned_transfers:{name}", args=args)


# --- the fuzz tests ---------------------------------------------------------------------------


@fuzz("test_upload_url_with_bad_fields")
@given(body=bad_upload_requests())
def test_upload_url_with_bad_fields(world, body):
    response = world["client"].post(
        url("upload-url"), encode(body), content_type="application/json"
    )
    check(world, response, "test_upload_url_with_bad_fields")
    assert response.status_code in (400, 413, 415, 422)


@fuzz("test_upload_url_with_bad_bodies")
@given(
    endpoint=st.sampled_from(["upload-url", "confirm-upload"]),
    body=BAD_BODIES,
    content_type=st.one_of(JSON_CONTENT_TYPES, BAD_CONTENT_TYPES),
)
def test_upload_url_with_bad_bodies(world, endpoint, body, content_type):
    response = world["client"].generic("POST", url(endpoint), body, content_type=content_type)
    check(world, response, "test_upload_url_with_bad_bodies")


THEIRS = "THEIRS"  # replaced by the id of another user's upload
_UPLOAD_IDS = st.one_of(
    JSON_VALUES,
    st.uuids().map(str),
    st.sampled_from([THEIRS, "{" + THEIRS + "}", "urn:uuid:" + THEIRS, THEIRS + "x", " " + THEIRS]),
    HOSTILE_TEXT,
)
_CONFIRM_BODIES = st.one_of(
    _UPLOAD_IDS.map(lambda v: {"upload_id": v}),
    st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=3),
    _UPLOAD_IDS.map(lambda v: {"upload_id": v, "status": "complete", "owner": 1}),
)


@fuzz("test_confirm_with_bad_bodies")
@given(body=_CONFIRM_BODIES)
def test_confirm_with_bad_bodies(world, body):
    theirs = str(world["theirs"].pk)
    if isinstance(body.get("upload_id"), str):
        body = {**body, "upload_id": body["upload_id"].replace(THEIRS, theirs)}
    response = world["client"].post(
        url("confirm-upload"), encode(body), content_type="application/json"
    )
    check(world, response, "test_confirm_with_bad_bodies")
    assert response.status_code in (400, 404, 413)


PATH_SEGMENTS = st.one_of(
    HOSTILE_TEXT,
    st.uuids().map(str),
    st.sampled_from(["..", ".", "%2e%2e", "00000000-0000-0000-0000-000000000000"]),
).filter(lambda s: s and "/" not in s)


@fuzz("test_upload_id_in_the_path")
@given(
    segment=PATH_SEGMENTS,
    target=st.sampled_from(
        [
            ("upload-detail", "get"),
            ("upload-detail", "delete"),
            ("download-url", "get"),
            ("download", "get"),
            ("upload-parts", "get"),
            ("upload-parts", "post"),
        ]
    ),
    theirs=st.booleans(),
)
def test_upload_id_in_the_path(world, segment, target, theirs):
    """Malformed ids, traversal, and another user's upload: always the JSON 404."""
    name, method = target
    if theirs:
        segment = str(world["theirs"].pk)
    path = url(name, "PLACEHOLDER").replace(
        "PLACEHOLDER", quote(segment.encode("utf-8", "surrogatepass"), safe="")
    )
    response = getattr(world["client"], method)(path)
    check(world, response, "test_upload_id_in_the_path")
    assert response.status_code == 404


@fuzz("test_list_with_bad_query")
@given(
    params=st.dictionaries(
        st.sampled_from(["status", "page", "page_size", "owner", "q"]),
        st.one_of(
            HOSTILE_TEXT,
            st.integers(min_value=-(10**20), max_value=10**20).map(str),
            st.sampled_from(["²", "١٢", "0", "-1", "1e3", " 1", "1_000", "٣", "Ⅻ", "999999999"]),
        ),
        min_size=1,
    ).filter(
        lambda p: (
            p.get("status") not in (None, "pending", "complete", "failed")
            or (p.get("page") is not None and not (p["page"].isascii() and p["page"].isdigit()))
        )
    )
)
def test_list_with_bad_query(world, params):
    query = "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in params.items()
    )
    response = world["client"].get(f"{url('upload-list')}?{query}")
    check(world, response, "test_list_with_bad_query")
    assert response.status_code == 400


_PART_ITEMS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"part_number": st.one_of(JSON_SCALARS, st.integers(-5, 10**6))},
        optional={"checksum_sha256": st.one_of(JSON_SCALARS, st.just("A" * 43 + "="))},
    ),
)
_PARTS_BODIES = st.one_of(
    st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
    st.lists(_PART_ITEMS, max_size=5).map(lambda parts: {"parts": parts}),
    st.lists(st.just({"part_number": 1}), min_size=101, max_size=103).map(lambda p: {"parts": p}),
    JSON_VALUES.map(lambda v: {"parts": v}),
)


@fuzz("test_parts_with_bad_bodies")
@given(body=_PARTS_BODIES, whose=st.sampled_from(["mine", "theirs", "not multipart"]))
def test_parts_with_bad_bodies(world, body, whose):
    """Signing parts: malformed lists, numbers outside the plan, someone else's upload."""
    target = {
        "mine": world["mine"],
        "theirs": world["theirs_multipart"],
        "not multipart": world["theirs"],
    }
    response = world["client"].post(
        url("upload-parts", target[whose].pk), encode(body), content_type="application/json"
    )
    check(world, response, "test_parts_with_bad_bodies")
    assert response.status_code in (400, 404, 409, 413)
    assert not UploadPart.objects.exists()


ALL_ENDPOINTS = {
    "upload-url": ("post",),
    "confirm-upload": ("post",),
    "upload-list": ("get",),
    "upload-detail": ("get", "delete"),
    "download-url": ("get",),
    "download": ("get",),
    "upload-parts": ("get", "post"),
}


def endpoint_url(world: dict[str, Any], name: str) -> str:
    if name == "upload-parts":
        return url(name, world["theirs_multipart"].pk)
    if name in ("upload-url", "confirm-upload", "upload-list"):
        return url(name)
    return url(name, world["theirs"].pk)


@fuzz("test_wrong_methods")
@given(
    name=st.sampled_from(sorted(ALL_ENDPOINTS)),
    method=st.sampled_from(
        ["GET", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "PROPFIND", "FOO", "BREW"]
    ),
    body=st.one_of(st.just(b""), BAD_BODIES),
)
def test_wrong_methods(world, name, method, body):
    if method.lower() in ALL_ENDPOINTS[name]:
        method = "PATCH"
    response = world["client"].generic(
        method, endpoint_url(world, name), body, content_type="application/json"
    )
    check(world, response, "test_wrong_methods")
    assert response.status_code == 405
    assert set(response["Allow"].lower().split(", ")) >= set(ALL_ENDPOINTS[name])


@fuzz("test_anonymous")
@given(
    name=st.sampled_from(sorted(ALL_ENDPOINTS)),
    body=st.one_of(bad_upload_requests().map(encode), BAD_BODIES, st.just(encode(GOOD))),
)
def test_anonymous(world, name, body):
    method = ALL_ENDPOINTS[name][-1]
    response = Client().generic(
        method.upper(), endpoint_url(world, name), body, content_type="application/json"
    )
    check(world, response, "test_anonymous")
    assert response.status_code == 401


@fuzz("test_without_csrf_token")
@given(
    target=st.sampled_from(
        [
            ("upload-url", "post"),
            ("confirm-upload", "post"),
            ("upload-detail", "delete"),
            ("upload-parts", "post"),
        ]
    ),
    body=st.one_of(bad_upload_requests().map(encode), BAD_BODIES, st.just(encode(GOOD))),
    token=st.one_of(
        st.none(), st.text(HOSTILE_CHARS.filter(lambda c: c.isprintable()), max_size=64)
    ),
)
def test_without_csrf_token(world, user, target, body, token):
    name, method = target
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    headers = (
        {}
        if token is None
        else {"HTTP_X_CSRFTOKEN": token.encode("utf-8", "replace").decode("latin-1")}
    )
    response = client.generic(
        method.upper(), endpoint_url(world, name), body, content_type="application/json", **headers
    )
    check(world, response, "test_without_csrf_token")
    assert response.status_code == 403


def test_fuzzed_at_least_10000_inputs():
    """Runs last in this module: the examples above add up to at least 10,000."""
    if set(COUNTS) != set(BUDGET):
        pytest.skip("only part of the fuzz tests ran")
    assert sum(COUNTS.values()) >= MINIMUM, COUNTS


# --- hostile but valid requests ---------------------------------------------------------------


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(filename="a\ud800b.pdf")  # a lone surrogate: a 500 before policy stripped them
@example(filename="\x00")
@example(filename="\u202egpj.exe")
@example(filename="../../etc/passwd")
@given(
    filename=HOSTILE_TEXT.filter(lambda t: t.strip() and len(t) <= 4 * policy.MAX_FILENAME_LENGTH)
)
def test_hostile_filenames_in_valid_requests_are_cleaned_before_storing(world, user, filename):
    """Accepted with a clean name: nothing a database, a key or a header would choke on."""
    body = {**GOOD, "filename": filename}
    response = world["client"].post(
        url("upload-url"), encode(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    upload = Upload.objects.get(pk=response.json()["upload_id"])
    stored = upload.original_filename
    assert stored == policy.clean_filename(filename)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in stored)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in stored)
    assert "/" not in stored and "\\" not in stored
    assert upload.key.startswith(f"uploads/{user.pk}/")
    assert ".." not in upload.key.split("/")
    assert upload.key.isascii()
    upload.delete()
