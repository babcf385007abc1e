"""Content sniffing at confirm: does an uploaded file's content match its declared type?

S3 pins the Content-Type a browser may *declare*, not what the bytes *are*: an executable
renamed ``report.pdf`` and sent as ``application/pdf`` passes every policy condition. At
confirm the server reads the object's first :data:`HEAD_BYTES` bytes (one ranged GET) and
asks a sniffer whether they fit the declared type.

The default sniffer, :func:`matches_declared_type`, uses the signature database of
`puremagic <https://pypi.org/project/puremagic/>`_ (maintained, pure Python, no libmagic):

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
from typing import Any

import puremagic
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
    """Every signature *head* matches, most confident first (empty if none does)."""
    if not head:
        return []
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [
        Match(
            content_type=canonical_type(item.mime_type),
            name=item.name or "",
            extension=item.extension or "",
        )
        for item in found
    ]


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
        return spec  # type: ignore[no-any-return]
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
    return sniffer  # type: ignore[no-any-return]
