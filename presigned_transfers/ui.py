"""What the template tags and the form widget render, as plain functions.

The tags in :mod:`presigned_transfers.templatetags.presigned_transfers` and the widget in
:mod:`presigned_transfers.forms` are thin wrappers over these. Nothing here needs inline
script or inline style, so pages with a strict Content-Security-Policy work: the script is a
few static files, classic scripts loaded with the page's CSP nonce when there is one, and
everything it needs is passed in ``data-`` attributes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.middleware.csrf import get_token
from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from presigned_transfers.conf import Policy, app_settings
from presigned_transfers.models import Upload
from presigned_transfers.policy import may_use, named_policy
from presigned_transfers.types import TemplateContext, User

#: The script's files, in the order they must run (each a classic deferred script, no ES
#: modules: a nonce alone does not cover a module's static imports). The last one defines the
#: public API (``window.PresignedTransfers``) and carries the texts and the CSRF token.
SCRIPT_PATHS = (
    "presigned_transfers/core.js",
    "presigned_transfers/logic.js",
    "presigned_transfers/transport-post.js",
    "presigned_transfers/transport-put.js",
    "presigned_transfers/transport-multipart.js",
    "presigned_transfers/presigned_transfers.js",
)
SCRIPT_PATH = SCRIPT_PATHS[-1]
CSS_PATH = "presigned_transfers/presigned_transfers.css"

#: A syntactically valid upload id, replaced by the script with a real one.
_ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"

#: Names users know for common media types (a fixed table: the same on every machine).
TYPE_LABELS = {
    "application/pdf": "PDF",
    "application/zip": "ZIP",
    "application/json": "JSON",
    "application/msword": "DOC",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.ms-excel": "XLS",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.ms-powerpoint": "PPT",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PPTX",
    "application/vnd.oasis.opendocument.text": "ODT",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/svg+xml": "SVG",
    "image/heic": "HEIC",
    "text/plain": "TXT",
    "text/csv": "CSV",
    "audio/mpeg": "MP3",
    "video/mp4": "MP4",
    "video/quicktime": "MOV",
}
_SHORT_SUBTYPE = re.compile(r"^[a-z0-9]{2,5}$")


def _nonce_attr(nonce: object) -> SafeString:
    return format_html(' nonce="{}"', nonce) if nonce else SafeString("")


def script_tag(nonce: object = None, csrf_token: str = "") -> SafeString:
    """The ``<script>`` elements that load the picker and download-link behaviour.

    One ``<script src defer>`` per file of :data:`SCRIPT_PATHS`, in order, each with the CSP
    nonce. The last one (``presigned_transfers.js``) carries the script's texts, translated for
    the current language, in ``data-messages``, and the page's CSRF token for the JavaScript
    API in ``data-csrf-token``.
    """
    nonce_attr = _nonce_attr(nonce)
    tags = [
        format_html('<script src="{}" defer{}></script>', static(path), nonce_attr)
        for path in SCRIPT_PATHS[:-1]
    ]
    tags.append(
        format_html(
            '<script src="{}" data-messages="{}"{} defer{}></script>',
            static(SCRIPT_PATH),
            json.dumps(client_messages(), ensure_ascii=False, sort_keys=True),
            format_html(' data-csrf-token="{}"', csrf_token) if csrf_token else "",
            nonce_attr,
        )
    )
    return SafeString("\n".join(tags))


def css_tag(nonce: object = None) -> SafeString:
    """The ``<link>`` element for the default look of the picker and download links."""
    return format_html('<link rel="stylesheet" href="{}"{}>', static(CSS_PATH), _nonce_attr(nonce))


def type_label(content_type: str) -> str:
    """A short, user-facing name for a media type: ``"image/jpeg"`` -> ``"JPEG"``."""
    if content_type in TYPE_LABELS:
        return TYPE_LABELS[content_type]
    subtype = content_type.partition("/")[2]
    return subtype.upper() if _SHORT_SUBTYPE.match(subtype) else content_type


def policy_summary(policy: Policy) -> str:
    """One sentence for humans: which files, how big."""
    types = get_text_list([type_label(t) for t in policy.content_types], _("or"))
    if policy.min_size > 1:
        return _("%(types)s, from %(min)s to %(max)s.") % {
            "types": types,
            "min": filesizeformat(policy.min_size),
            "max": filesizeformat(policy.max_size),
        }
    return _("%(types)s, up to %(max)s.") % {"types": types, "max": filesizeformat(policy.max_size)}


def client_messages() -> dict[str, str]:
    """Every text the script may show, translated here (it has no catalog of its own).

    Placeholders use Python's ``%(name)s`` syntax; the script fills them in.
    """
    return {
        "type_not_allowed": _("Files of type “%(type)s” are not allowed. Allowed: %(allowed)s."),
        "unknown_type": _("unknown"),
        "too_large": _("The file is too large: the limit is %(limit)s."),
        "too_small": _("The file is too small: it must be at least %(limit)s."),
        "network": _(
            "The file could not be sent to the storage service: the connection failed, or "
            "the storage service does not accept uploads from this site (CORS)."
        ),
        "storage_refused": _("The storage service refused the file (HTTP %(status)s)."),
        "server_unreachable": _(
            "The server could not be reached. Check your connection and try again."
        ),
        "server_error": _(
            "The server could not handle the request (HTTP %(status)s). Try again later."
        ),
        "confirm_failed": _("The file was sent but could not be confirmed: %(message)s"),
        "file_error": _("%(name)s: %(message)s"),
        "file_unreadable": _(
            "The file could not be read: it may have been changed or moved. Choose it again."
        ),
        "checksum_unavailable": _(
            "This browser cannot compute the file's checksum here (it needs a secure HTTPS page)."
        ),
        "transport_unsupported": _(
            "The server asked for an upload method this page cannot use (%(transport)s)."
        ),
        "waiting": _("Waiting…"),
        "preparing": _("Preparing…"),
        "resuming": _("Resuming…"),
        "retrying": _("Connection problem, trying again…"),
        "uploading": _("Uploading %(name)s…"),
        "resuming_status": _("Resuming the upload of %(name)s…"),
        "percent": _("%(percent)s%%"),
        "confirming": _("Checking…"),
        "done": _("Uploaded"),
        "done_status": _("%(name)s uploaded."),
        "cancelled": _("Cancelled"),
        "cancelled_status": _("Upload of %(name)s cancelled."),
        "cancel": _("Cancel"),
        "cancel_label": _("Cancel the upload of %(name)s"),
        "remove": _("Remove"),
        "remove_label": _("Remove %(name)s from the form"),
        "download": _("Download"),
        "download_label": _("Download %(name)s"),
        "download_failed": _("The download could not start: %(message)s"),
        "busy": _("Wait until the uploads finish, or cancel them, before submitting."),
    }


def context_user(context: TemplateContext) -> User | None:
    """The user a template is rendered for: ``request.user``, else ``user``, else ``None``."""
    request = context.get("request")
    user: User | None = getattr(request, "user", None) or context.get("user")
    return user


def transport_config() -> dict[str, Any]:
    """How the picker may send files: its ``data-config`` keys beyond the policy.

    ``multipartThreshold`` (``MULTIPART_THRESHOLD``): files larger than this go by multipart,
    smaller ones by post or put, and only those get a whole-file ``checksum_sha256`` (hashing
    a larger file at once would hold it in memory); ``checksum`` (``CHECKSUM``): ``"sha256"``
    or ``None``; ``transports``: what the script offers the server, which decides.
    """
    return {
        "multipartThreshold": app_settings.multipart_threshold,
        "checksum": app_settings.checksum,
        "transports": ["multipart", "put", "post"],
    }


def csrf_token(context: TemplateContext) -> str:
    """The page's CSRF token, or ``""`` when rendering without a request."""
    token = context.get("csrf_token")
    if token and str(token) != "NOTPROVIDED":
        return str(token)
    request = context.get("request")
    return get_token(request) if request is not None else ""


def picker_context(
    context: TemplateContext,
    *,
    picker_id: str,
    policy: str | None = None,
    multiple: bool = False,
    label: str | None = None,
    name: str | None = None,
    values: Iterable[str] = (),
    uploads: Iterable[Upload] = (),
    user: User | None = None,
) -> dict[str, Any]:
    """The context of ``presigned_transfers/picker.html``.

    *name* turns the picker into a form control: each upload id is kept in a hidden input
    of that name (*values* are the ids it starts with, *uploads* those the user may see).
    A *user* who may not use the policy (see ``PERMISSION`` and ``ALLOW``) gets a notice
    instead of a picker.
    """
    rules = named_policy(policy)
    if not may_use(rules, user):
        # Shown only to someone who may not upload under this policy: no control, no config.
        return {"picker_id": picker_id, "unavailable": True}
    if label is None:
        label = _("Choose files") if multiple else _("Choose a file")
    help_text = (
        policy_summary(rules)
        + " "
        + (_("You can also drop files here.") if multiple else _("You can also drop a file here."))
    )
    config = {
        "policy": rules.name,
        "contentTypes": list(rules.content_types),
        "minSize": rules.min_size,
        "maxSize": rules.max_size,
        "minSizeText": filesizeformat(rules.min_size),
        "maxSizeText": filesizeformat(rules.max_size),
        "allowedText": get_text_list([type_label(t) for t in rules.content_types], _("or")),
        **transport_config(),
    }
    return {
        "picker_id": picker_id,
        "label": label,
        "help_text": help_text,
        "multiple": multiple,
        "accept": ",".join(rules.content_types),
        "upload_url": reverse("presigned_transfers:upload-url"),
        "confirm_url": reverse("presigned_transfers:confirm-upload"),
        "detail_url": reverse("presigned_transfers:upload-detail", args=[_ID_PLACEHOLDER]),
        "picker_csrf_token": csrf_token(context),
        "config": json.dumps(config, ensure_ascii=False, sort_keys=True),
        "name": name,
        "values": list(values),
        "uploads": [
            {"upload": upload, "download_url": download_path(upload)}
            for upload in uploads
            if upload.is_complete
        ],
    }


def download_path(upload: Upload | uuid.UUID | str) -> str:
    """The redirecting download endpoint of *upload* (works as a plain link)."""
    pk = upload.pk if isinstance(upload, Upload) else upload
    return reverse("presigned_transfers:download", args=[pk])


def download_link(upload: Upload | uuid.UUID | str, label: str | None = None) -> SafeString:
    """A download link that works without JavaScript: it points at the 302 endpoint.

    With the script loaded, a click asks for the URL as JSON first, so an error (expired
    session, rate limit, missing file) is shown next to the link instead of a JSON page.
    """
    pk = upload.pk if isinstance(upload, Upload) else upload
    text = label or _("Download")
    if isinstance(upload, Upload) and not upload.is_complete:
        return format_html(
            '<span class="presigned-download presigned-download--unavailable" '
            'aria-disabled="true">{}</span>',
            text,
        )
    aria = (
        format_html(
            ' aria-label="{}"',
            _("%(label)s %(name)s") % {"label": text, "name": upload.original_filename},
        )
        if isinstance(upload, Upload)
        else ""
    )
    return format_html(
        '<span class="presigned-download">'
        '<a class="presigned-download__link" href="{}" data-presigned-download="{}"{}>{}</a>'
        ' <span class="presigned-download__status" role="status" aria-live="polite"></span>'
        "</span>",
        download_path(pk),
        reverse("presigned_transfers:download-url", args=[pk]),
        aria,
        text,
    )
