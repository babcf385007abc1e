"""policy.py: filename sanitizing, keys, content types, validation, Content-Disposition."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from presigned_transfers import exceptions, policy
from presigned_transfers.conf import DEFAULT_CONTENT_TYPES, MB

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
FAST = hypothesis_settings(max_examples=300, deadline=None)
# Arbitrary text, with the characters that break headers and paths over-represented.
NASTY = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("\x00\r\n\t\"'\\/%;.\x7f\x85\u2028\u202e\uff0f\uff02\ufe68ﬁé")),
    ),
    max_size=300,
)
RFC5987_VALUE = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~%]+")
HEADER = re.compile(
    r"""(?P<type>[a-z]+); filename="(?P<fallback>[^"\\]*)"; filename\*=UTF-8''(?P<ext>\S+)"""
)


# --- clean_filename ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("/etc/passwd", "passwd"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", "file"),
        ("../..", "file"),
        ("", "file"),
        ("   ", "file"),
        (". .", "file"),
        ("dir/", "file"),
        ("a\x00b.pdf", "ab.pdf"),
        ("a\r\nb.pdf", "ab.pdf"),
        ("tab\there.pdf", "tabhere.pdf"),
        ("del\x7f\x85.pdf", "del.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("a\u2066b\u2069\u200e\u200f.pdf", "ab.pdf"),
        ("line\u2028sep\u2029.pdf", "linesep.pdf"),
        ("emoji\u200d.pdf", "emoji\u200d.pdf"),
        ("  padded.pdf  ", "padded.pdf"),
        ("...hidden", "hidden"),
        ('naïve "plan".pdf', 'naïve "plan".pdf'),
    ],
)
def test_clean_filename(raw, expected):
    assert policy.clean_filename(raw) == expected


def test_clean_filename_composes_unicode_nfc():
    decomposed = "Re\u0301sume\u0301.pdf"
    cleaned = policy.clean_filename(decomposed)
    assert cleaned == "R\u00e9sum\u00e9.pdf"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_clean_filename_truncates_long_names_keeping_the_extension():
    cleaned = policy.clean_filename("a" * 400 + ".pdf")
    assert len(cleaned) == policy.MAX_FILENAME_LENGTH
    assert cleaned.endswith("a.pdf")


def test_clean_filename_truncates_long_names_without_a_short_extension():
    long_ext = "x." + "e" * 300
    cleaned = policy.clean_filename(long_ext)
    assert cleaned == long_ext[: policy.MAX_FILENAME_LENGTH]
    assert policy.clean_filename("b" * 300) == "b" * policy.MAX_FILENAME_LENGTH
    # A cut that lands on a space or a dot does not leave it at the end.
    assert policy.clean_filename("c" * 254 + " d" * 40) == "c" * 254


@FAST
@given(NASTY)
def test_clean_filename_never_has_separators_control_chars_or_edge_dots(raw):
    cleaned = policy.clean_filename(raw)
    assert cleaned
    assert len(cleaned) <= policy.MAX_FILENAME_LENGTH
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", cleaned)
    assert cleaned not in (".", "..")
    assert cleaned == cleaned.strip()
    assert not cleaned.startswith(".")
    assert not cleaned.endswith(".")
    assert policy.clean_filename(cleaned) == cleaned


# --- key_filename and build_key -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Résumé (final).pdf", "Resume_final_.pdf"),
        ("ﬁle.pdf", "file.pdf"),
        ("\uff21\uff22\uff23.png", "ABC.png"),
        ("my report 2024.pdf", "my_report_2024.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a\"b'c;d%e.pdf", "a_b_c_d_e.pdf"),
        ("日本語", "file"),
        ("...", "file"),
        ("___.pdf", "pdf"),
    ],
)
def test_key_filename(raw, expected):
    assert policy.key_filename(raw) == expected


def test_key_filename_truncates_keeping_the_extension():
    safe = policy.key_filename("z" * 300 + ".jpeg")
    assert len(safe) == policy.MAX_KEY_FILENAME_LENGTH
    assert safe.endswith("z.jpeg")
    assert policy.key_filename("q" * 300) == "q" * policy.MAX_KEY_FILENAME_LENGTH


@FAST
@given(NASTY)
def test_key_filename_is_ascii_and_separator_free(raw):
    safe = policy.key_filename(raw)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", safe)
    assert not safe.startswith((".", "_"))
    assert len(safe) <= policy.MAX_KEY_FILENAME_LENGTH
    assert ".." not in safe


def test_build_key_follows_the_default_template():
    key = policy.build_key(owner_id=42, filename="Résumé.pdf", policy="default", now=NOW)
    assert re.fullmatch(r"uploads/42/[0-9a-f]{32}_Resume\.pdf", key)


def test_build_key_is_random_every_time():
    keys = {
        policy.build_key(owner_id=1, filename="same.pdf", policy="default", now=NOW)
        for _ in range(50)
    }
    assert len(keys) == 50


def test_build_key_quotes_the_owner_prefix():
    key = policy.build_key(owner_id="a/../b c", filename="x.pdf", policy="default", now=NOW)
    assert key.startswith("uploads/a%2F..%2Fb%20c/")
    assert key.count("/") == 2


def test_build_key_uses_a_custom_template(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "KEY_TEMPLATE": "{policy}/{date}/{owner_id}-{random}-{filename}",
    }
    key = policy.build_key(owner_id=7, filename="a b.png", policy="Big Images", now=NOW)
    assert re.fullmatch(r"Big_Images/2026/03/04/7-[0-9a-f]{32}-a_b\.png", key)


@FAST
@given(NASTY, st.one_of(st.integers(min_value=1), st.text(min_size=1, max_size=20)))
def test_build_key_never_contains_unsafe_characters(filename, owner_id):
    key = policy.build_key(owner_id=owner_id, filename=filename, policy="default", now=NOW)
    assert re.fullmatch(r"[A-Za-z0-9._~%/-]+", key)
    segments = key.split("/")
    assert len(segments) == 3
    assert ".." not in segments
    assert "." not in segments
    assert all(segments)


# --- content types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("image/png", "image/png"),
        ("Image/PNG", "image/png"),
        ("  application/pdf ; charset=binary", "application/pdf"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("image/svg+xml", "image/svg+xml"),
        ("image/png\n", "image/png"),
        ("", ""),
        ("image", ""),
        ("image/", ""),
        ("/png", ""),
        ("image/*", ""),
        ("*/*", ""),
        ("image/png\r\nX-Injected: 1", ""),
        ("image/png png", ""),
        ("imäge/png", ""),
        ("a/" + "b" * 200, ""),
    ],
)
def test_normalize_content_type(raw, expected):
    assert policy.normalize_content_type(raw) == expected


# --- validate_upload_request ----------------------------------------------------------------


def test_validate_accepts_and_normalizes():
    wanted = policy.validate_upload_request(
        filename="../Scan 1.PDF", content_type="Application/PDF; q=1", size=1234
    )
    assert wanted.filename == "Scan 1.PDF"
    assert wanted.content_type == "application/pdf"
    assert wanted.size == 1234
    assert wanted.policy.name == "default"
    assert wanted.policy.content_types == DEFAULT_CONTENT_TYPES


def test_validate_accepts_the_size_limits_inclusive():
    assert policy.validate_upload_request(filename="a.png", content_type="image/png", size=1)
    assert policy.validate_upload_request(filename="a.png", content_type="image/png", size=20 * MB)


def test_validate_uses_the_named_policy(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 10},
            "docs": {"CONTENT_TYPES": ["text/plain"], "MIN_SIZE": 5, "MAX_SIZE": 100},
        },
    }
    wanted = policy.validate_upload_request(
        filename="a.txt", content_type="text/plain", size=50, policy="docs"
    )
    assert wanted.policy.name == "docs"
    assert wanted.policy.max_size == 100
    with pytest.raises(exceptions.FileTypeNotAllowed):
        policy.validate_upload_request(filename="a.txt", content_type="text/plain", size=5)


GOOD = {"filename": "a.png", "content_type": "image/png", "size": 100}


@pytest.mark.parametrize(
    ("changes", "error_class", "code", "status"),
    [
        ({"filename": None}, exceptions.InvalidRequest, "invalid_filename", 400),
        ({"filename": 12}, exceptions.InvalidRequest, "invalid_filename", 400),
        ({"filename": ""}, exceptions.InvalidRequest, "invalid_filename", 400),
        ({"filename": "  \t "}, exceptions.InvalidRequest, "invalid_filename", 400),
        ({"filename": "a" * 1021}, exceptions.InvalidRequest, "invalid_filename", 400),
        ({"content_type": None}, exceptions.InvalidRequest, "invalid_content_type", 400),
        ({"content_type": ["image/png"]}, exceptions.InvalidRequest, "invalid_content_type", 400),
        (
            {"content_type": "image/" + "p" * 300},
            exceptions.InvalidRequest,
            "invalid_content_type",
            400,
        ),
        ({"size": None}, exceptions.InvalidRequest, "invalid_size", 400),
        ({"size": "100"}, exceptions.InvalidRequest, "invalid_size", 400),
        ({"size": 100.0}, exceptions.InvalidRequest, "invalid_size", 400),
        ({"size": True}, exceptions.InvalidRequest, "invalid_size", 400),
        ({"policy": 3}, exceptions.InvalidRequest, "invalid_policy", 400),
        ({"policy": "nope"}, exceptions.UploadRefused, "unknown_policy", 422),
        (
            {"content_type": "text/html"},
            exceptions.FileTypeNotAllowed,
            "file_type_not_allowed",
            415,
        ),
        ({"content_type": "nonsense"}, exceptions.FileTypeNotAllowed, "file_type_not_allowed", 415),
        ({"content_type": ""}, exceptions.FileTypeNotAllowed, "file_type_not_allowed", 415),
        ({"size": 20 * MB + 1}, exceptions.FileTooLarge, "file_too_large", 413),
        ({"size": 0}, exceptions.UploadRefused, "file_too_small", 422),
        ({"size": -5}, exceptions.UploadRefused, "file_too_small", 422),
    ],
)
def test_validate_refuses(changes, error_class, code, status):
    with pytest.raises(error_class) as caught:
        policy.validate_upload_request(**{**GOOD, **changes})
    error = caught.value
    assert error.code == code
    assert error.status == status
    assert error.message
    assert error.as_dict()["error"]["code"] == code


def test_validate_error_details():
    with pytest.raises(exceptions.FileTooLarge) as too_large:
        policy.validate_upload_request(**{**GOOD, "size": 10**12})
    assert too_large.value.details == {"max_size": 20 * MB}
    assert "20.0\xa0MB" in too_large.value.message
    with pytest.raises(exceptions.FileTypeNotAllowed) as wrong_type:
        policy.validate_upload_request(**{**GOOD, "content_type": "text/html"})
    assert wrong_type.value.details == {"allowed_types": list(DEFAULT_CONTENT_TYPES)}
    with pytest.raises(exceptions.UploadRefused) as too_small:
        policy.validate_upload_request(**{**GOOD, "size": 0})
    assert too_small.value.details == {"min_size": 1}


def test_validate_does_not_echo_a_huge_policy_name():
    with pytest.raises(exceptions.UploadRefused) as caught:
        policy.validate_upload_request(**GOOD, policy="x" * 5000)
    assert len(caught.value.message) < 200


# --- content_disposition --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            'naïve "plan".pdf',
            'attachment; filename="naive _plan_.pdf"; '
            "filename*=UTF-8''na%C3%AFve%20%22plan%22.pdf",
        ),
        (
            "日本語.pdf",
            "attachment; filename=\".pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf",
        ),
        (
            "日本語",
            "attachment; filename=\"download\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E",
        ),
        ("a;b%c.pdf", "attachment; filename=\"a_b_c.pdf\"; filename*=UTF-8''a%3Bb%25c.pdf"),
        (
            "100% sure;.pdf",
            "attachment; filename=\"100_ sure_.pdf\"; filename*=UTF-8''100%25%20sure%3B.pdf",
        ),
        (
            "evil\r\nSet-Cookie: a=b.pdf",
            'attachment; filename="evilSet-Cookie: a=b.pdf"; '
            "filename*=UTF-8''evilSet-Cookie%3A%20a%3Db.pdf",
        ),
        ("../../x.pdf", "attachment; filename=\"x.pdf\"; filename*=UTF-8''x.pdf"),
    ],
)
def test_content_disposition(name, expected):
    assert policy.content_disposition(name) == expected


def test_content_disposition_inline():
    assert policy.content_disposition("a.png", "inline").startswith('inline; filename="a.png"')


def test_content_disposition_fallback_has_no_lookalike_separators():
    # NFKD turns the full-width solidus and quotation mark into "/" and '"'.
    header = policy.content_disposition("a\uff0fb\uff02c\ufe68d.pdf")
    fallback = HEADER.fullmatch(header).group("fallback")
    assert "/" not in fallback
    assert '"' not in fallback
    assert "\\" not in fallback
    assert fallback.startswith("a")


@FAST
@given(NASTY)
def test_content_disposition_is_always_a_safe_header(name):
    header = policy.content_disposition(name)
    assert header.isascii()
    assert not re.search(r"[\x00-\x1f\x7f]", header)
    match = HEADER.fullmatch(header)
    assert match, header
    assert match.group("type") == "attachment"
    fallback = match.group("fallback")
    assert fallback
    assert not set(fallback) & set('"\\/%;')
    assert fallback == fallback.strip()
    assert RFC5987_VALUE.fullmatch(match.group("ext"))
    assert unquote(match.group("ext"), errors="strict") == policy.clean_filename(name)
