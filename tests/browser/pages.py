"""Host pages for the browser tests: what a project using the template tags would write.

Mounted next to the app (at the tests' unusual prefix) by ``tests.browser.urls``.
"""

from __future__ import annotations

import secrets

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines

from presigned_transfers.forms import MultipleUploadField, UploadField, UploadFormMixin
from presigned_transfers.models import Upload

_BASE = """{% load presigned_transfers %}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
{% presigned_transfers_css %}
{% presigned_transfers_script %}
</head>
<body>
<main>
<h1>{{ title }}</h1>
BODY
<p><a href="{% url 'browser-files' %}">My files</a></p>
</main>
</body>
</html>
"""

_PICKER = "{% upload_picker policy=policy multiple=multiple %}"

_FILES = """<table id="files">
<thead><tr><th>Name</th><th>Size</th><th>Download</th></tr></thead>
<tbody>{% for upload in uploads %}
<tr><td class="filename">{{ upload.original_filename }}</td><td>{{ upload.size_display }}</td>
<td>{% download_link upload %}</td></tr>{% empty %}
<tr><td colspan="3">No files yet.</td></tr>{% endfor %}
</tbody>
</table>"""

_FORM = """{% if saved %}<p id="saved">Saved: {{ saved }}</p>{% endif %}
<form method="post" id="form">{% csrf_token %}
{{ form.as_div }}
<button type="submit">Save</button>
</form>"""


def _render(request: HttpRequest, body: str, context: dict) -> HttpResponse:
    template = engines["django"].from_string(_BASE.replace("BODY", body))
    return HttpResponse(template.render(context, request))


@login_required
def picker(request: HttpRequest) -> HttpResponse:
    """``?policy=NAME&multiple=1``: one upload picker."""
    return _render(
        request,
        _PICKER,
        {
            "title": "Upload",
            "policy": request.GET.get("policy") or None,
            "multiple": bool(request.GET.get("multiple")),
        },
    )


@login_required
def strict_csp(request: HttpRequest) -> HttpResponse:
    """The picker on a page whose CSP allows no inline script or style at all."""
    from presigned_transfers.conf import app_settings

    nonce = secrets.token_urlsafe(16)
    response = _render(
        request,
        _PICKER,
        {"title": "Upload (strict CSP)", "policy": None, "multiple": False, "csp_nonce": nonce},
    )
    response["Content-Security-Policy"] = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        f"connect-src 'self' {app_settings.endpoint_url}; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return response


@login_required
def files(request: HttpRequest) -> HttpResponse:
    """The signed-in user's complete uploads, each with a download link."""
    uploads = Upload.objects.owned_by(request.user).complete()
    return _render(request, _FILES, {"title": "My files", "uploads": uploads})


class AttachmentForm(UploadFormMixin, forms.Form):
    title = forms.CharField(max_length=50)
    attachment = UploadField()


class GalleryForm(UploadFormMixin, forms.Form):
    title = forms.CharField(max_length=50)
    pictures = MultipleUploadField(picker_label="Choose pictures")


@login_required
def form(request: HttpRequest) -> HttpResponse:
    """A form with an UploadField (``?multiple=1``: a MultipleUploadField)."""
    form_class = GalleryForm if request.GET.get("multiple") else AttachmentForm
    form = form_class(request.POST or None, user=request.user)
    saved = None
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data.get("attachment") or form.cleaned_data.get("pictures")
        uploads = [chosen] if isinstance(chosen, Upload) else list(chosen)
        saved = ", ".join(upload.original_filename for upload in uploads)
    return _render(request, _FORM, {"title": "Form", "form": form, "saved": saved})
