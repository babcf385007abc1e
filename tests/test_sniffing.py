"""sniffing.py, and content sniffing at confirm (services.confirm_upload)."""

from __future__ import annotations

import random

import puremagic
import puremagic.main
import pytest
from django.core.exceptions import ImproperlyConfigured

from presigned_transfers import exceptions, services, sniffing
from presigned_transfers.models import Upload
from tests import flows, samples

GOOD = [
    ("application/pdf", samples.PDF),
    ("image/jpeg", samples.JPEG_JFIF),
    ("image/jpeg", samples.JPEG_EXIF),
    ("image/jpeg", samples.JPEG_RAW),
    ("image/jpg", samples.JPEG_RAW),
    ("image/png", samples.PNG),
    ("image/gif", samples.GIF87),
    ("image/gif", samples.GIF89),
    ("image/webp", samples.WEBP_LOSSY),
    ("image/webp", samples.WEBP_LOSSLESS),
    ("image/webp", samples.WEBP_EXTENDED),
    ("image/bmp", samples.BMP),
    ("image/tiff", samples.TIFF_LE),
    ("image/tiff", samples.TIFF_BE),
    ("application/zip", samples.ZIP),
    ("application/gzip", samples.GZIP),
    ("application/x-gzip", samples.GZIP),
    # Types without a fixed signature are accepted when the content is not an executable.
    ("text/plain", b"hello, world\n"),
    ("text/csv", b"a,b\n1,2\n"),
    ("application/json", b"[1, 2]"),
    ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    # Declaring an executable as what it is is not a disguise.
    ("application/vnd.microsoft.portable-executable", samples.PE_EXE),
    ("application/x-msdownload", samples.PE_EXE),
]

BAD = [
    ("application/pdf", samples.PE_EXE),  # the classic: setup.exe renamed invoice.pdf
    ("image/png", samples.PE_EXE),
    ("image/jpeg", samples.ELF),
    ("application/pdf", samples.MACHO),
    ("text/plain", samples.PE_EXE),
    ("text/plain", samples.ELF),
    ("text/csv", samples.MACHO),
    ("image/jpeg", samples.PNG),
    ("image/png", samples.JPEG_JFIF),
    ("image/gif", samples.WEBP_LOSSY),
    ("image/webp", samples.GIF89),
    ("image/png", b"<html><script>alert(1)</script></html>"),
    ("application/pdf", b"just some text, not a PDF"),
    ("application/pdf", b""),
    ("application/zip", samples.GZIP),
]


@pytest.mark.parametrize(("content_type", "head"), GOOD)
def test_default_sniffer_accepts_content_of_the_declared_type(content_type, head):
    assert sniffing.matches_declared_type(head, content_type)


@pytest.mark.parametrize(("content_type", "head"), BAD)
def test_default_sniffer_refuses_content_of_another_type(content_type, head):
    assert not sniffing.matches_declared_type(head, content_type)


def test_every_default_policy_type_is_checked_strictly():
    from presigned_transfers.conf import DEFAULT_CONTENT_TYPES

    assert set(DEFAULT_CONTENT_TYPES) <= sniffing.STRICT_TYPES


def test_detect_and_describe():
    assert sniffing.detect(b"") == []
    assert sniffing.detect(b"\x00\x01nothing known here") == []
    assert sniffing.describe(samples.PNG) == "image/png"
    assert sniffing.describe(b"hello") is None
    assert sniffing.describe(samples.PE_EXE) == "application/vnd.microsoft.portable-executable"
    assert any(match.is_executable for match in sniffing.detect(samples.ELF))
    assert not any(match.is_executable for match in sniffing.detect(samples.PDF))


# --- the index of puremagic's signatures gives puremagic's answers ------------------------


def _puremagic(head):
    """What puremagic itself finds in *head*, field by field, in its order."""
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [(m.byte_match, m.offset, m.extension, m.mime_type, m.name, m.confidence) for m in found]


def _indexed(head):
    return [
        (m.byte_match, m.offset, m.extension, m.mime_type, m.name, sniffing._rank(m)[0])
        for m in sniffing._identify(head)
    ]


def _place(length, parts, filler):
    """*length* bytes of *filler* (a byte, or None for random ones) with *parts* written in:
    ``(offset, bytes)``, a negative offset counting from the end."""
    rng = random.Random(length)
    data = bytearray(rng.randbytes(length) if filler is None else filler * length)
    for offset, part in parts:
        start = offset if offset >= 0 else length + offset
        data[start : start + len(part)] = part
    return bytes(data[:length])


def _heads_for_every_signature():
    """Heads that hold each signature of puremagic's database where it looks for it.

    Every header signature: in a 4 KiB head of zeros, in a head of random bytes that ends
    with it, and in one a byte too short for it. Every footer signature at the end of a head.
    Every multi-part signature with each header signature that leads to it.
    """
    for row in puremagic.main.magic_header_array:
        end = row.offset + len(row.byte_match)
        yield _place(max(end, sniffing.HEAD_BYTES), [(row.offset, row.byte_match)], b"\0")
        yield _place(end, [(row.offset, row.byte_match)], None)
        yield _place(end - 1, [(row.offset, row.byte_match)], b"\xff")
    for row in puremagic.main.magic_footer_array:
        yield _place(sniffing.HEAD_BYTES, [(row.offset, row.byte_match)], b"\0")
        yield _place(len(row.byte_match) - row.offset, [(row.offset, row.byte_match)], None)
    for lead, options in puremagic.main.multi_part_dict.items():
        offsets = {
            row.offset for row in puremagic.main.magic_header_array if row.byte_match == lead
        }
        for offset in offsets:
            for row in options:
                parts = [(offset, lead), (row.offset, row.byte_match)]
                needed = max(offset + len(lead), row.offset + len(row.byte_match))
                yield _place(max(needed, sniffing.HEAD_BYTES), parts, b"\0")
                yield _place(max(needed, 64), parts, None)


def test_the_index_finds_what_puremagic_finds_for_every_signature():
    heads = list(_heads_for_every_signature())
    heads += [head for _, head in GOOD + BAD]
    heads += [samples.PDF[:n] for n in range(len(samples.PDF) + 1)]
    heads += [random.Random(n).randbytes(n) for n in (1, 7, 100, 4096, 40000)]
    assert len(heads) > 5000
    differing = [head[:64] for head in heads if _indexed(head) != _puremagic(head)]
    assert differing == []
    # And so the sniffer's verdicts are puremagic's: detect() is all they read.
    matched = sum(1 for head in heads if _puremagic(head))
    assert matched > 4000  # the heads do hold what they were built to


def test_the_index_follows_puremagic_for_signatures_its_database_may_gain(monkeypatch):
    # A header signature at a negative offset (none in puremagic 1.30) is compared as puremagic
    # compares it; one of length 9 ranks like one of 8 (puremagic's confidence caps at 0.8).
    extra = [
        puremagic.main.PureMagic(b"TAIL", -8, ".tail", "application/x-tail", "Tail mark"),
        puremagic.main.PureMagic(b"NINEBYTES", 3, ".nine", "application/x-nine", "Nine"),
        puremagic.main.PureMagic(b"EIGHTBYT", 3, ".eight", "application/x-eight", "Eight"),
    ]
    monkeypatch.setattr(
        puremagic.main, "magic_header_array", [*puremagic.main.magic_header_array, *extra]
    )
    sniffing._signatures.cache_clear()
    try:
        heads = [
            b"abcTAILxyzw",
            b"TAILwxyz",
            b"\0" * 40 + b"TAIL1234",
            b"abcNINEBYTES" + b"\0" * 20,
            b"abcEIGHTBYT" + b"\0" * 20,
            b"TAI",
        ]
        assert [_indexed(head) for head in heads] == [_puremagic(head) for head in heads]
        assert any(m[4] == "Tail mark" for m in _indexed(b"abcTAILxyzw"))
        assert [m[4] for m in _indexed(b"abcNINEBYTES")][:1] == ["Nine"]
    finally:
        sniffing._signatures.cache_clear()


def test_canonical_type():
    assert sniffing.canonical_type(" Image/JPG ") == "image/jpeg"
    assert sniffing.canonical_type("application/x-gzip") == "application/gzip"
    assert sniffing.canonical_type("text/plain") == "text/plain"


def accept_everything(head, content_type):
    return True


def refuse_everything(head, content_type):
    return False


def refuse_with_own_error(head, content_type):
    raise exceptions.UploadRefused("Scanned: infected.", code="virus_found")


NOT_CALLABLE = 42


def test_get_sniffer():
    assert sniffing.get_sniffer(True) is sniffing.matches_declared_type
    assert sniffing.get_sniffer(False) is None
    assert sniffing.get_sniffer(None) is None
    assert sniffing.get_sniffer(accept_everything) is accept_everything
    assert sniffing.get_sniffer("tests.test_sniffing.accept_everything") is accept_everything


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.test_sniffing.no_such_function", "cannot be imported"),
        ("not a dotted path", "cannot be imported"),
        ("tests.test_sniffing.NOT_CALLABLE", "not a callable"),
        (3, "should be True, False, a callable"),
    ],
)
def test_get_sniffer_refuses_what_it_cannot_call(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        sniffing.get_sniffer(spec)


# --- at confirm ----------------------------------------------------------------------------


def policies(**sniff_options):
    return {
        "default": {
            "CONTENT_TYPES": ["application/pdf", "image/png", "text/plain"],
            "MIN_SIZE": 0,
            "MAX_SIZE": 1024 * 1024,
            **sniff_options,
        }
    }


@pytest.fixture
def configure(settings, moto_s3):
    def configure(**options):
        settings.PRESIGNED_TRANSFERS = {**settings.PRESIGNED_TRANSFERS, **options}

    configure(POLICIES=policies())
    return configure


@pytest.mark.django_db
def test_an_executable_renamed_pdf_is_refused_and_deleted(configure, user):
    upload = flows.sign(user, samples.PE_EXE, filename="invoice.pdf")
    flows.put(upload, samples.PE_EXE)
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "content_mismatch"
    assert caught.value.status == 422
    assert "application/pdf" in caught.value.message
    assert caught.value.details == {
        "declared_type": "application/pdf",
        "detected_type": "application/vnd.microsoft.portable-executable",
    }
    assert not flows.object_exists(upload.upload_key)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert upload.failure_code == "content_mismatch"
    # Confirming again gives the same answer.
    with pytest.raises(exceptions.UploadRefused) as again:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert (again.value.code, again.value.status) == ("content_mismatch", 422)


@pytest.mark.django_db
def test_a_real_pdf_is_confirmed(configure, user):
    body = samples.PDF + b"x" * 10_000  # larger than the sniffed head
    upload = flows.sign(user, body)
    flows.put(upload, body)
    confirmed = services.confirm_upload(user=user, upload_id=upload.pk)
    assert confirmed.status == Upload.Status.COMPLETE
    assert flows.object_exists(upload.key)


@pytest.mark.django_db
def test_sniffing_reads_only_the_first_bytes(configure, user, monkeypatch):
    from presigned_transfers import storage

    asked = []
    real = storage.read_start
    monkeypatch.setattr(storage, "read_start", lambda key, n: asked.append(n) or real(key, n))
    body = samples.PNG + b"\x00" * 100_000
    upload = flows.sign(user, body, content_type="image/png", filename="a.png")
    flows.put(upload, body)
    services.confirm_upload(user=user, upload_id=upload.pk)
    assert asked == [sniffing.HEAD_BYTES]


@pytest.mark.django_db
def test_an_empty_object_is_not_read_at_all(configure, user, monkeypatch):
    from presigned_transfers import storage

    # Nothing to read: a HEAD tells size, type and ETag; no GET at all.
    monkeypatch.setattr(storage.get_client(), "get_object", pytest.fail)
    upload = flows.sign(user, b"", content_type="text/plain", filename="empty.txt")
    flows.put(upload, b"")
    assert services.confirm_upload(user=user, upload_id=upload.pk).is_complete
    pdf = flows.sign(user, b"", filename="empty.pdf")
    flows.put(pdf, b"")
    with pytest.raises(exceptions.UploadRefused, match="does not look like"):
        services.confirm_upload(user=user, upload_id=pdf.pk)


@pytest.mark.django_db
def test_a_policy_can_turn_sniffing_off(configure, user):
    configure(POLICIES=policies(SNIFF=False))
    upload = flows.sign(user, samples.PE_EXE)
    flows.put(upload, samples.PE_EXE)
    assert services.confirm_upload(user=user, upload_id=upload.pk).is_complete


@pytest.mark.django_db
def test_sniff_content_false_turns_sniffing_off_everywhere(configure, user):
    configure(SNIFF_CONTENT=False)
    upload = flows.sign(user, samples.PE_EXE)
    flows.put(upload, samples.PE_EXE)
    assert services.confirm_upload(user=user, upload_id=upload.pk).is_complete


@pytest.mark.django_db
def test_a_policy_can_name_its_own_sniffer(configure, user):
    configure(POLICIES=policies(SNIFF="tests.test_sniffing.refuse_everything"))
    upload = flows.sign(user, samples.PDF)
    flows.put(upload, samples.PDF)
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "content_mismatch"
    assert not flows.object_exists(upload.upload_key)


@pytest.mark.django_db
def test_a_sniffer_can_refuse_with_its_own_error(configure, user):
    configure(POLICIES=policies(SNIFF=refuse_with_own_error))
    upload = flows.sign(user, samples.PDF)
    flows.put(upload, samples.PDF)
    with pytest.raises(exceptions.UploadRefused, match="infected") as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "virus_found"
    upload.refresh_from_db()
    assert (upload.status, upload.failure_code) == (Upload.Status.FAILED, "virus_found")
    assert not flows.object_exists(upload.upload_key)


@pytest.mark.django_db
def test_an_upload_whose_policy_is_gone_is_sniffed_by_default(configure, user):
    upload = flows.sign(user, samples.PE_EXE)
    flows.put(upload, samples.PE_EXE)
    Upload.objects.filter(pk=upload.pk).update(policy="retired")
    with pytest.raises(exceptions.UploadRefused) as caught:
        services.confirm_upload(user=user, upload_id=upload.pk)
    assert caught.value.code == "content_mismatch"


# --- SeaweedFS: the real ranged GET ---------------------------------------------------------


@pytest.mark.s3
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "accepted"),
    [
        (samples.PE_EXE + b"\x00" * 10_000, "application/pdf", False),
        (samples.ELF + b"\x00" * 100, "image/png", False),
        (samples.PDF + b"x" * 10_000, "application/pdf", True),
        (samples.WEBP_LOSSY + b"\x00" * 100, "image/webp", True),
    ],
)
def test_sniffing_against_seaweedfs(presigned_bucket, user, body, content_type, accepted):
    created = services.create_upload(
        user=user, filename="upload.pdf", content_type=content_type, size=len(body)
    )
    response = presigned_bucket.post(created.post.url, created.post.fields, body)
    assert response.status_code == 204, response.text
    if accepted:
        assert services.confirm_upload(user=user, upload_id=created.upload.pk).is_complete
        assert presigned_bucket.get(created.upload.key) == body
    else:
        with pytest.raises(exceptions.UploadRefused, match="does not look like"):
            services.confirm_upload(user=user, upload_id=created.upload.pk)
        assert presigned_bucket.keys() == []
