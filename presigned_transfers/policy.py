"""Pure rules: validating an upload request, building object keys, naming downloads.

No I/O and no database here, so every rule is cheap to test exhaustively.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from django.template.defaultfilters import filesizeformat
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from presigned_transfers import exceptions
from presigned_transfers.conf import (
    MB,
    S3_MAX_PARTS,
    S3_MAX_POST_SIZE,
    S3_MIN_PART_SIZE,
    SETTING_NAME,
    Policy,
    app_settings,
)
from presigned_transfers.types import OwnerId, User

#: Longest original filename accepted (bytes of UTF-8 are bounded by the column size).
MAX_FILENAME_LENGTH = 255
#: Longest sanitized filename put into an object key.
MAX_KEY_FILENAME_LENGTH = 100
MAX_CONTENT_TYPE_LENGTH = 255

#: C0 and C1 controls, plus the invisible bidirectional marks, embeddings, overrides and
#: isolates (a right-to-left override makes "evil\u202efdp.exe" display as "evilexe.pdf")
#: and the Unicode line and paragraph separators; and lone surrogates, which JSON can carry
#: ("\ud800") but UTF-8, so every database, cannot store.
_CONTROL_CHARS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: Leading and trailing dots and white space, in any mix (". ." is not a name).
_EDGE_DOTS_AND_SPACES = re.compile(r"^[\s.]+|[\s.]+$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_SEPARATORS = re.compile(r"[\\/]")
#: What must not reach a Content-Disposition's quoted ASCII fallback.
_HEADER_UNSAFE = re.compile(r'["\\/%;]')
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


@dataclass(frozen=True)
class UploadRequest:
    """A validated request to upload one file."""

    filename: str
    content_type: str
    size: int
    policy: Policy


def clean_filename(filename: str) -> str:
    """The name to remember and show: the last path component, without control characters.

    >>> clean_filename("C:\\\\Users\\\\me\\\\report\\x00.pdf")
    'report.pdf'
    """
    name = unicodedata.normalize("NFC", filename)
    name = _CONTROL_CHARS.sub("", name)
    name = _EDGE_DOTS_AND_SPACES.sub("", _SEPARATORS.split(name)[-1])
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = _EDGE_DOTS_AND_SPACES.sub("", name[:MAX_FILENAME_LENGTH])
    return name or "file"


def key_filename(filename: str) -> str:
    """An ASCII-only, separator-free version of *filename* safe in an object key.

    >>> key_filename("Résumé (final).pdf")
    'Resume_final_.pdf'
    """
    return _key_safe(clean_filename(filename))


def _key_safe(name: str) -> str:
    """:func:`key_filename` of a name :func:`clean_filename` has cleaned already."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    safe = _UNSAFE_KEY_CHARS.sub("_", ascii_name)
    # No "..": some S3-compatible servers refuse keys that look like path traversal.
    safe = _DOTS.sub(".", safe).strip("._") or "file"
    if len(safe) > MAX_KEY_FILENAME_LENGTH:
        stem, dot, ext = safe.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            safe = stem[: MAX_KEY_FILENAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            safe = safe[:MAX_KEY_FILENAME_LENGTH]
    return safe


def build_key(*, owner_id: OwnerId, filename: str, policy: str, now: datetime) -> str:
    """The object key for a new upload, from ``KEY_TEMPLATE``.

    Placeholders: ``{owner_id}``, ``{random}`` (32 hex characters), ``{filename}`` (see
    :func:`key_filename`), ``{policy}`` and ``{date}`` (``YYYY/MM/DD``).
    """
    owner = quote(str(owner_id), safe="")
    if not owner.strip("."):
        owner = owner.replace(".", "%2E")  # never a "." or ".." path segment
    key = app_settings.key_template.format(
        owner_id=owner,
        random=secrets.token_hex(16),
        # Already clean (validate_upload_request): only made key-safe.
        filename=_key_safe(filename),
        policy=key_filename(policy),
        date=now.strftime("%Y/%m/%d"),
    )
    if key.startswith(app_settings.staging_prefix):
        # A kept object must never sit where signed forms write (system check E021).
        raise ImproperlyConfigured(
            f"{SETTING_NAME}['KEY_TEMPLATE'] made the key {key!r}, which is under "
            f"{SETTING_NAME}['STAGING_PREFIX'] ({app_settings.staging_prefix!r}): keys of kept "
            "objects must not start with the staging prefix."
        )
    return key


def staging_key(key: str) -> str:
    """Where the browser's signed upload of the object to be kept at *key* lands first.

    Under ``STAGING_PREFIX``, which no stored key starts with (a system check makes sure of
    it), so a key named in a signed form is never a key downloads read.
    """
    return app_settings.staging_prefix + key


def named_policy(name: str | None) -> Policy:
    """The named policy (the default one for ``None``); :class:`ImproperlyConfigured` if none.

    For names from code (a template tag, a form field), where a missing policy is a bug; a
    client's request names its policy through :func:`validate_upload_request`.
    """
    rules = app_settings.get_policy(name)
    if rules is None:
        known = ", ".join(sorted(app_settings.policies)) or "none"
        raise ImproperlyConfigured(
            f"There is no upload policy called {name or app_settings.default_policy!r} in "
            f"{SETTING_NAME}['POLICIES'] (known: {known}); check {SETTING_NAME}"
            "['DEFAULT_POLICY'] or the policy= of the upload picker or UploadField."
        )
    return rules


def may_use(rules: Policy, user: User | None) -> bool:
    """Whether *user* may upload under *rules*: its ``PERMISSION`` and ``ALLOW``, if any."""
    if not rules.restricted:
        return True
    if user is None or not user.is_authenticated:
        return False
    if rules.permission is not None:
        # has_perm comes with PermissionsMixin, which a custom AUTH_USER_MODEL may not use:
        # a user without it has no permission at all.
        has_perm = getattr(user, "has_perm", None)
        if has_perm is None or not has_perm(rules.permission):
            return False
    if rules.allow is not None:
        allow = import_string(rules.allow) if isinstance(rules.allow, str) else rules.allow
        return bool(allow(user))
    return True


def normalize_content_type(value: str) -> str:
    """Lower-case, parameter-free media type, or ``""`` if it is not one."""
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type if _CONTENT_TYPE.match(media_type) else ""


def validate_upload_request(
    *,
    filename: object,
    content_type: object,
    size: object,
    policy: object = None,
    user: User | None = None,
) -> UploadRequest:
    """Check *user*'s request to upload one file against the named policy.

    Raises a :class:`~presigned_transfers.exceptions.TransferError` naming the first
    rule broken. A policy *user* may not use is refused exactly like one that does not exist.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise exceptions.InvalidRequest(
            _("“filename” must be a non-empty string."), code="invalid_filename"
        )
    if len(filename) > 4 * MAX_FILENAME_LENGTH:
        raise exceptions.InvalidRequest(_("“filename” is too long."), code="invalid_filename")
    if not isinstance(content_type, str) or len(content_type) > MAX_CONTENT_TYPE_LENGTH:
        raise exceptions.InvalidRequest(
            _("“content_type” must be a media type such as “image/png”."),
            code="invalid_content_type",
        )
    if isinstance(size, bool) or not isinstance(size, int):
        raise exceptions.InvalidRequest(
            _("“size” must be a whole number of bytes."), code="invalid_size"
        )
    if policy is not None and not isinstance(policy, str):
        raise exceptions.InvalidRequest(_("“policy” must be a string."), code="invalid_policy")

    rules = app_settings.get_policy(policy)
    if rules is None or not may_use(rules, user):
        raise exceptions.UploadRefused(
            _("There is no upload policy called “%(name)s”.") % {"name": str(policy)[:64]},
            code="unknown_policy",
        )
    media_type = normalize_content_type(content_type)
    if media_type not in rules.content_types:
        raise exceptions.FileTypeNotAllowed(
            _("Files of type “%(type)s” are not allowed. Allowed: %(allowed)s.")
            % {"type": content_type[:100], "allowed": ", ".join(rules.content_types)},
            details={"allowed_types": list(rules.content_types)},
        )
    if size > rules.max_size:
        raise exceptions.FileTooLarge(
            _("The file is too large: the limit is %(limit)s.")
            % {"limit": filesizeformat(rules.max_size)},
            details={"max_size": rules.max_size},
        )
    if size < rules.min_size:
        raise exceptions.UploadRefused(
            _("The file is too small: it must be at least %(limit)s.")
            % {"limit": filesizeformat(rules.min_size)},
            code="file_too_small",
            details={"min_size": rules.min_size},
        )
    return UploadRequest(
        filename=clean_filename(filename), content_type=media_type, size=size, policy=rules
    )


_BASE64_SHA256 = re.compile(r"^[A-Za-z0-9+/]{43}=$")  # fullmatch: no newline after


def validate_checksum(value: object) -> str | None:
    """A client's ``checksum_sha256``: the base64 of 32 bytes, or ``None`` when it sent none."""
    if value is None:
        return None
    if not isinstance(value, str) or not _BASE64_SHA256.fullmatch(value):
        raise exceptions.InvalidRequest(
            _("“checksum_sha256” must be the base64 of a SHA-256 digest (44 characters)."),
            code="invalid_checksum",
        )
    return value


def choose_transport(*, size: int, offered: object) -> str:
    """The transport for a file of *size* bytes, from those the client *offered*.

    ``TRANSPORT`` says what the provider allows: ``"auto"`` and ``"put"`` send files larger
    than ``MULTIPART_THRESHOLD`` in parts (when the client can), smaller ones by POST or PUT;
    ``"post"`` sends everything by POST. A client that offers nothing is today's client: POST.
    """
    if offered is None:
        offered = ["post"]
    if (
        not isinstance(offered, list)
        or not offered
        or len(offered) > 3
        or not all(isinstance(t, str) for t in offered)
    ):
        raise exceptions.InvalidRequest(
            _("“transports” must be a list of “post”, “put” and “multipart”."),
            code="invalid_transports",
        )
    setting = app_settings.transport
    single = "put" if setting == "put" else "post"
    if setting != "post" and size > app_settings.multipart_threshold and "multipart" in offered:
        return "multipart"
    if size > S3_MAX_POST_SIZE:
        raise exceptions.FileTooLarge(
            _("Files larger than %(limit)s need an uploader that sends them in parts.")
            % {"limit": filesizeformat(S3_MAX_POST_SIZE)},
            details={"max_size": S3_MAX_POST_SIZE},
        )
    if single in offered:
        return single
    if setting != "put" and "put" in offered:
        return "put"  # every S3 provider takes a PUT
    raise exceptions.UploadRefused(
        _("This uploader cannot send files the way this storage service needs (%(needed)s).")
        % {"needed": single.upper()},
        code="transport_unsupported",
    )


def part_size_for(size: int) -> int:
    """The part size of a multipart upload of *size* bytes: ``MULTIPART_PART_SIZE``, or more
    (in whole MiB) when that would take more than S3's 10,000 parts."""
    wanted = max(app_settings.multipart_part_size, S3_MIN_PART_SIZE, -(-size // S3_MAX_PARTS))
    return -(-wanted // MB) * MB


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """An RFC 6266 Content-Disposition value with an ASCII fallback and an RFC 5987 name.

    Quotes, backslashes, CR/LF and path separators can never reach the header.

    >>> content_disposition('naïve "plan".pdf')
    'attachment; filename="naive _plan_.pdf"; filename*=UTF-8\\'\\'na%C3%AFve%20%22plan%22.pdf'
    """
    name = clean_filename(filename)
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    # After NFKD, which turns look-alikes such as U+FF0F and U+FF02 into "/" and a quote.
    fallback = _HEADER_UNSAFE.sub("_", fallback).strip() or "download"
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
