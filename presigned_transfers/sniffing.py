"""Content sniffing at confirm: does an uploaded file's content match its declared type?

S3 pins the Content-Type a browser may *declare*, not what the bytes *are*: an executable
renamed ``report.pdf`` and sent as ``application/pdf`` passes every policy condition. At
confirm the server reads the object's first :data:`HEAD_BYTES` bytes (one ranged GET) and
asks a sniffer whether they fit the declared type.

The default sniffer, :func:`matches_declared_type`, uses the signature database of
`puremagic <https://pypi.org/project/puremagic/>`_ (maintained, pure Python, no libmagic),
indexed once per process by where each signature lies, so a head is looked up rather than
compared with every signature (the same matches as ``puremagic.magic_string``, in ~40 µs
rather than ~0.6 ms):

* content that looks like a native executable (PE/DOS, ELF, Mach-O) is refused, whatever
  type was declared (unless an executable type was declared);
* a declared type in :data:`STRICT_TYPES` (PDF, JPEG, PNG, GIF, WebP, BMP, TIFF, ZIP, gzip)
  must be among the types the content matches;
* any other declared type is accepted: text formats (``text/plain``, ``text/csv``, JSON,
  SVG) have no fixed signature, and for many other formats a file's first bytes vary too
  much to refuse on them without false alarms.

The signatures come from the library; which types are checked strictly is this module's
decision, so it is a short list of formats whose every file starts with a fixed signature,
each one tested. A policy that needs more passes its own sniffer (below).

Each upload policy chooses its sniffer with ``"SNIFF"``: ``True`` (the default sniffer),
``False`` (no sniffing), or a callable or the dotted path of one, called as
``sniffer(head: bytes, content_type: str) -> bool``: ``True`` accepts, ``False`` refuses
(the object is deleted), and raising a
:class:`~presigned_transfers.exceptions.TransferError` refuses with that error's code and
message. The project-wide ``SNIFF_CONTENT = False`` turns sniffing off everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import puremagic
import puremagic.main
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

#: How many bytes of an object are read for sniffing. Every signature the default sniffer
#: relies on for the usual document and image types lies in the first few bytes.
HEAD_BYTES = 4096

Sniffer = Callable[[bytes, str], bool]

#: Other names in use for a media type, mapped to its registered (IANA) name; applied to
#: declared types and to the database's types alike.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
    "application/acrobat": "application/pdf",
    "application/x-gzip": "application/gzip",
    "application/x-zip-compressed": "application/zip",
}

#: Declared types whose content must match one of their signatures in the database.
STRICT_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "application/zip",
        "application/gzip",
    }
)

#: Media types of native executables in the signature database; names are matched too,
#: because some executable formats (ELF, Mach-O) have signatures without a media type.
_EXECUTABLE_TYPES = frozenset(
    {
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
    }
)
_EXECUTABLE_NAME_HINTS = ("executable", "mach-o", "elf ")


@dataclass(frozen=True)
class Match:
    """One signature the content matches."""

    content_type: str
    name: str
    extension: str

    @property
    def is_executable(self) -> bool:
        name = f"{self.name.lower()} "
        return self.content_type in _EXECUTABLE_TYPES or any(
            hint in name for hint in _EXECUTABLE_NAME_HINTS
        )


def canonical_type(content_type: str) -> str:
    """*content_type* in lower case, under its registered name."""
    content_type = content_type.strip().lower()
    return _ALIASES.get(content_type, content_type)


def detect(head: bytes) -> list[Match]:
    """Every signature *head* matches, most confident first (empty if none does).

    The same list, in the same order, as ``puremagic.magic_string(head)`` gives (see
    :func:`_identify`).
    """
    return [_match(row) for row in _identify(head)]


def _match(row: Any) -> Match:
    return Match(
        content_type=canonical_type(row.mime_type),
        name=row.name or "",
        extension=row.extension or "",
    )


@dataclass(frozen=True)
class _Signatures:
    """puremagic's signature database, indexed by where its signatures lie."""

    #: ``(end, offset, {bytes: ((position, row), ...)})`` per (offset, length) of header
    #: signatures, by ``end``: a head of n bytes can only match groups whose end is <= n.
    groups: tuple[tuple[int, int, dict[bytes, tuple[tuple[int, Any], ...]]], ...]
    #: Header signatures at a negative offset, if the database has any (none in 1.30):
    #: checked one by one, as puremagic does.
    unindexed: tuple[tuple[int, Any], ...]
    footers: tuple[Any, ...]
    multi_part: dict[bytes, list[Any]]
    max_head: int
    max_foot: int


@functools.cache
def _signatures() -> _Signatures:
    """The index, built once per process on first use (~1 ms).

    From the tables ``puremagic.magic_string`` itself reads (those of ``puremagic.main``).
    """
    magic = puremagic.main
    tables: dict[tuple[int, int], dict[bytes, list[tuple[int, Any]]]] = {}
    unindexed = []
    for position, row in enumerate(magic.magic_header_array):
        if row.offset < 0:
            unindexed.append((position, row))
            continue
        table = tables.setdefault((row.offset + len(row.byte_match), row.offset), {})
        table.setdefault(row.byte_match, []).append((position, row))
    return _Signatures(
        groups=tuple(
            (end, offset, {match: tuple(rows) for match, rows in table.items()})
            for (end, offset), table in sorted(tables.items())
        ),
        unindexed=tuple(unindexed),
        footers=tuple(magic.magic_footer_array),
        multi_part=magic.multi_part_dict,
        max_head=magic.max_head,
        max_foot=magic.max_foot,
    )


def _identify(string: bytes) -> list[Any]:
    """The signatures *string* matches, in the order ``puremagic.magic_string`` lists them.

    puremagic's own matching (``magic_string`` without a file name; its version 1.30) with
    one difference: instead of comparing the head with each of its ~1,400 header signatures
    in turn (~0.6 ms), it looks the head's bytes up at each (offset, length) the signatures
    have (~140 dictionary lookups). Every other step is puremagic's, in its order: footer
    signatures (compared with the last bytes of *string*), multi-part signatures, the
    confidence (by the length of the matched bytes) and the stable sort by it.
    ``tests/test_sniffing.py`` checks that the two agree for every signature in the database.
    """
    if not string:
        return []
    index = _signatures()
    header, footer = string[: index.max_head], string[-index.max_foot :]
    size = len(header)
    found: list[tuple[int, Any]] = []
    for end, offset, table in index.groups:
        if end > size:
            break
        rows = table.get(header[offset:end])
        if rows is not None:
            found += rows
    for position, row in index.unindexed:
        end = row.offset + len(row.byte_match)
        if end <= size and header[row.offset : end] == row.byte_match:
            found.append((position, row))
    found.sort(key=itemgetter(0))
    matches = [row for _, row in found]
    for row in index.footers:
        end = row.offset + len(row.byte_match)
        if (footer[row.offset : end] if end != 0 else footer[row.offset :]) == row.byte_match:
            matches.append(row)
    more = set()
    for matched in matches:
        for row in index.multi_part.get(matched.byte_match, ()):
            end = row.offset + len(row.byte_match)
            if row.offset < 0:
                area = footer[row.offset : end] if end != 0 else footer[row.offset :]
                if area == row.byte_match:
                    more.add(row._replace(byte_match=matched.byte_match + row.byte_match))
            elif end <= size and header[row.offset : end] == row.byte_match:
                more.add(row._replace(byte_match=header[matched.offset : end]))
    matches.extend(more)
    return sorted(matches, key=_rank, reverse=True)


def _rank(row: Any) -> tuple[float, int]:
    # puremagic's confidence without a file name (0.1 per matched byte, at most 0.8), computed
    # as it does, then the length of the match.
    length = len(row.byte_match)
    return (0.8 if length >= 9 else float(f"0.{length}"), length)


def matches_declared_type(head: bytes, content_type: str) -> bool:
    """The default sniffer: is *head* plausibly the start of a *content_type* file?"""
    declared = canonical_type(content_type)
    matches = detect(head)
    if declared not in _EXECUTABLE_TYPES and any(m.is_executable for m in matches):
        return False
    if declared in STRICT_TYPES:
        return any(m.content_type == declared for m in matches)
    return True


def describe(head: bytes) -> str | None:
    """The media type the content most looks like, if the database knows one."""
    for match in detect(head):
        if match.content_type:
            return match.content_type
    return None


def get_sniffer(spec: Any) -> Sniffer | None:
    """The sniffer a policy's ``SNIFF`` value names, or ``None`` for no sniffing.

    Raises :class:`ImproperlyConfigured` when a dotted path does not import.
    """
    if spec is True:
        return matches_declared_type
    if spec is False or spec is None:
        return None
    if callable(spec):
        sniffer: Sniffer = spec  # a callable given in the settings: taken to be a sniffer
        return sniffer
    if isinstance(spec, str):
        return _import_sniffer(spec)
    raise ImproperlyConfigured(
        f"An upload policy's SNIFF should be True, False, a callable or a dotted path to "
        f"one, not {spec!r}."
    )


@functools.cache
def _import_sniffer(path: str) -> Sniffer:
    try:
        sniffer = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"An upload policy's SNIFF names {path!r}, which cannot be imported: {error}"
        ) from error
    if not callable(sniffer):
        raise ImproperlyConfigured(f"An upload policy's SNIFF names {path!r}, not a callable.")
    imported: Sniffer = sniffer
    return imported
