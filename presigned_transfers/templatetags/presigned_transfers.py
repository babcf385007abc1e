"""``{% load presigned_transfers %}``: the upload picker, download links and the script.

::

    {% load presigned_transfers %}
    <head>{% presigned_transfers_css %}{% presigned_transfers_script %}</head>
    ...
    {% upload_picker policy="images" multiple=True %}
    {% download_link upload %}

The tags are thin wrappers over :mod:`presigned_transfers.ui`.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from presigned_transfers import ui
from presigned_transfers.models import Upload

register = template.Library()

_COUNTER = "_presigned_transfers_pickers"


def _csp_nonce(context: template.Context) -> object:
    """``csp_nonce`` from the context (Django 6's ``csp`` context processor, or your own), or
    else ``request.csp_nonce`` (django-csp, which then puts the nonce in its header)."""
    nonce = context.get("csp_nonce")
    if not nonce:
        nonce = getattr(context.get("request"), "csp_nonce", None)
    return nonce


@register.simple_tag(takes_context=True)
def presigned_transfers_script(context: template.Context) -> SafeString:
    """One ``<script src=... defer>`` per file of the script, with the page's CSP nonce if any."""
    return ui.script_tag(_csp_nonce(context), ui.csrf_token(context))


@register.simple_tag(takes_context=True)
def presigned_transfers_css(context: template.Context) -> SafeString:
    """``<link rel="stylesheet">`` for the default look, with the page's CSP nonce if any."""
    return ui.css_tag(_csp_nonce(context))


def _next_picker_id(context: template.Context) -> str:
    """``presigned-picker-1``, ``-2``, ... unique within one request (or one render)."""
    request = context.get("request")
    count: int
    if request is not None:
        count = getattr(request, _COUNTER, 0) + 1
        setattr(request, _COUNTER, count)
    else:
        count = (context.render_context.get(_COUNTER) or 0) + 1
        context.render_context[_COUNTER] = count
    return f"presigned-picker-{count}"


@register.inclusion_tag("presigned_transfers/picker.html", takes_context=True)
def upload_picker(
    context: template.Context,
    policy: str | None = None,
    multiple: bool = False,
    label: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """An accessible file picker that uploads straight to the bucket.

    ``policy`` names an entry of ``PRESIGNED_TRANSFERS["POLICIES"]`` (the default policy if
    omitted), ``multiple=True`` accepts several files, ``label`` replaces the visible label
    and ``id`` the element id (``presigned-picker-N`` by default). A user who may not use
    the policy (its ``PERMISSION`` or ``ALLOW``) sees a short notice instead.
    """
    return ui.picker_context(
        context,
        picker_id=id or _next_picker_id(context),
        policy=policy,
        multiple=bool(multiple),
        label=label,
        user=ui.context_user(context),
    )


@register.simple_tag
def download_link(upload: Upload | str, label: str | None = None) -> SafeString:
    """A link to download *upload* (an :class:`Upload` or its id) that works without JS."""
    return ui.download_link(upload, label)
