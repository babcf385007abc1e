"""templatetags/presigned_transfers.py and ui.py: the exact HTML each tag renders."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, RequestContext, Template
from django.test import RequestFactory
from pytest_django.asserts import assertHTMLEqual, assertInHTML

from presigned_transfers import ui
from presigned_transfers.conf import Policy
from presigned_transfers.models import Upload
from tests import factories
from tests.markup import picker_inside

PREFIX = "/xfer-9f3"  # tests/urls.py mounts the app here
UPLOAD_ID = "3f1c2d4e-0000-4000-8000-000000000001"
DEFAULT_CONFIG = (
    '{"allowedText": "PDF, JPEG, PNG, GIF or WebP", "checksum": "sha256", "contentTypes": '
    '["application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp"], "maxSize": '
    '20971520, "maxSizeText": "20.0\xa0MB", "minSize": 1, "minSizeText": "1\xa0byte", '
    '"multipartThreshold": 67108864, "policy": "default", "transports": ["multipart", "put", '
    '"post"]}'
)
#: The empty file row the script clones (picker.html's <template>, from file.html).
SCRIPTS = [
    "core.js",
    "logic.js",
    "transport-post.js",
    "transport-put.js",
    "transport-multipart.js",
]


def render(source: str, context: dict | None = None, request=None) -> str:
    template = Template("{% load presigned_transfers %}" + source)
    if request is not None:
        return template.render(RequestContext(request, context or {}))
    return template.render(Context(context or {}))


def attr(value: str) -> str:
    return html.escape(value, quote=True)


def make_upload(owner, **fields) -> Upload:
    fields = {"original_filename": "report.pdf", "declared_size": 10, **fields}
    return factories.make_upload(owner, **fields)


# -- script and stylesheet ------------------------------------------------------------------


def test_script_tag_loads_every_file_in_order_the_last_with_the_messages():
    messages = attr(json.dumps(ui.client_messages(), ensure_ascii=False, sort_keys=True))
    rendered = render("{% presigned_transfers_script %}")
    assertHTMLEqual(
        rendered,
        "".join(
            f'<script src="/static/presigned_transfers/{name}" defer></script>' for name in SCRIPTS
        )
        + '<script src="/static/presigned_transfers/presigned_transfers.js" '
        f'data-messages="{messages}" defer></script>',
    )
    # Classic scripts (no type="module": a nonce would not cover a module's imports), in order.
    assert "type=" not in rendered
    sources = re.findall(r'src="/static/presigned_transfers/([^"]+)"', rendered)
    assert sources == [*SCRIPTS, "presigned_transfers.js"]
    assert [path.rsplit("/", 1)[1] for path in ui.SCRIPT_PATHS] == sources
    assert rendered.count("data-messages=") == 1
    assert "The file is too large: the limit is %(limit)s." in ui.client_messages().values()


def test_script_files_are_classic_scripts_on_one_namespace():
    """Each file exists, imports nothing (no ES modules) and registers on PresignedTransfers."""
    from pathlib import Path

    import presigned_transfers

    static = Path(presigned_transfers.__file__).parent / "static"
    for path in ui.SCRIPT_PATHS:
        source = (static / path).read_text()
        assert not re.search(r"^\s*(import|export)\b", source, re.MULTILINE), path
        assert "import(" not in source, path
        assert '"use strict";' in source, path
        assert "window.PresignedTransfers" in source, path


def test_script_and_css_tags_use_the_csp_nonce():
    rendered = render(
        "{% presigned_transfers_script %}{% presigned_transfers_css %}",
        {"csp_nonce": "r4nd0m+/="},
    )
    # Every script file and the stylesheet.
    assert rendered.count(' nonce="r4nd0m+/="') == len(ui.SCRIPT_PATHS) + 1 == 7
    assert rendered.count("<script ") == 6
    assertInHTML(
        '<link rel="stylesheet" href="/static/presigned_transfers/presigned_transfers.css" '
        'nonce="r4nd0m+/=">',
        rendered,
    )
    assert "<script " in rendered and rendered.endswith(">")
    assert ' defer nonce="r4nd0m+/="></script>' in rendered


def test_css_tag_without_nonce_and_nonce_is_escaped():
    assert render("{% presigned_transfers_css %}") == (
        '<link rel="stylesheet" href="/static/presigned_transfers/presigned_transfers.css">'
    )
    assert ' nonce="a&quot;b"' in render("{% presigned_transfers_css %}", {"csp_nonce": 'a"b'})


def test_nonce_from_the_request_as_django_csp_sets_it(rf):
    request = rf.get("/")
    request.csp_nonce = "from-request"
    rendered = render("{% presigned_transfers_css %}", request=request)
    assert rendered.endswith(' nonce="from-request">')
    # The context's own csp_nonce wins.
    rendered = render("{% presigned_transfers_css %}", {"csp_nonce": "ctx"}, request=request)
    assert rendered.endswith(' nonce="ctx">')


def test_script_carries_the_csrf_token_for_the_javascript_api(rf):
    from django.middleware.csrf import _does_token_match

    request = rf.get("/")
    rendered = render("{% presigned_transfers_script %}", {"csp_nonce": "n1"}, request=request)
    assert rendered.endswith(' defer nonce="n1"></script>')
    assert _does_token_match(_token(rendered), request.META["CSRF_COOKIE"])
    assert ' data-csrf-token="t0k" defer>' in render(
        "{% presigned_transfers_script %}", {"csrf_token": "t0k"}
    )


# -- upload picker ----------------------------------------------------------------------------


def test_upload_picker_exact_html():
    rendered = render("{% upload_picker %}", {"csrf_token": "tok123"})
    assertHTMLEqual(
        rendered,
        f"""
        <div class="presigned-picker" id="presigned-picker-1" data-presigned-picker
             data-upload-url="{PREFIX}/upload-url/"
             data-confirm-url="{PREFIX}/confirm-upload/"
             data-detail-url="{PREFIX}/uploads/00000000-0000-0000-0000-000000000000/"
             data-csrf-token="tok123"
             data-config="{attr(DEFAULT_CONFIG)}">
          {picker_inside("presigned-picker-1")}
        </div>
        """,
    )
    # The list is really empty (CSS :empty hides it) and the file input has no name: the
    # file never goes to Django with a form.
    assert "data-presigned-files></ul>" in rendered
    assert "name=" not in rendered


def test_upload_picker_policy_multiple_label_id(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1000},
            "images": {
                "CONTENT_TYPES": ["image/png", "image/avif", "application/x-custom-thing"],
                "MIN_SIZE": 100,
                "MAX_SIZE": 5 * 1024 * 1024,
            },
        },
    }
    rendered = render(
        '{% upload_picker policy="images" multiple=True label="Add photos" id="photos" %}',
        {"csrf_token": "tok"},
    )
    config = json.loads(html.unescape(rendered.split('data-config="')[1].split('"')[0]))
    assert config == {
        "policy": "images",
        "contentTypes": ["image/png", "image/avif", "application/x-custom-thing"],
        "minSize": 100,
        "maxSize": 5 * 1024 * 1024,
        "minSizeText": "100\xa0bytes",
        "maxSizeText": "5.0\xa0MB",
        "allowedText": "PNG, AVIF or application/x-custom-thing",
        **ui.transport_config(),
    }
    assert ui.transport_config() == {
        "multipartThreshold": 64 * 1024 * 1024,
        "checksum": "sha256",
        "transports": ["multipart", "put", "post"],
    }
    assertInHTML(
        '<label class="presigned-picker__label" for="photos-input">Add photos</label>', rendered
    )
    assertInHTML(
        '<input class="presigned-picker__input" type="file" id="photos-input" '
        'accept="image/png,image/avif,application/x-custom-thing" multiple '
        'aria-describedby="photos-help">',
        rendered,
    )
    assertInHTML(
        '<p class="presigned-picker__help" id="photos-help">PNG, AVIF or '
        "application/x-custom-thing, from 100\xa0bytes to 5.0\xa0MB. "
        "You can also drop files here.</p>",
        rendered,
    )
    assert ' data-multiple id="photos"' in rendered or " data-multiple>" in rendered


def test_unknown_policy_names_the_settings():
    with pytest.raises(ImproperlyConfigured, match=r"'nope'.*POLICIES.*known: default"):
        render('{% upload_picker policy="nope" %}')


def test_picker_ids_are_unique_per_request_and_per_render(rf):
    request = rf.get("/")
    first = render("{% upload_picker %}{% upload_picker %}", request=request)
    assert 'id="presigned-picker-1"' in first and 'id="presigned-picker-2"' in first
    # Another template rendered for the same request continues the count.
    assert 'id="presigned-picker-3"' in render("{% upload_picker %}", request=request)
    # Without a request, each render counts from 1.
    assert 'id="presigned-picker-2"' in render("{% upload_picker %}{% upload_picker %}")
    assert 'id="presigned-picker-1"' in render("{% upload_picker %}")


def _token(rendered: str) -> str:
    return rendered.split('data-csrf-token="')[1].split('"')[0]


def test_picker_csrf_token_from_context_request_or_none(rf):
    from django.middleware.csrf import _does_token_match

    assert _token(render("{% upload_picker %}", {"csrf_token": "abc"})) == "abc"
    request = rf.get("/")
    token = _token(render("{% upload_picker %}", request=request))
    assert _does_token_match(token, request.META["CSRF_COOKIE"])
    # Django's placeholder when a context has no request: ask the request if there is one.
    request = RequestFactory().get("/")
    token = _token(render("{% upload_picker %}", {"csrf_token": "NOTPROVIDED", "request": request}))
    assert _does_token_match(token, request.META["CSRF_COOKIE"])
    assert _token(render("{% upload_picker %}")) == ""


# -- download link ----------------------------------------------------------------------------


def test_download_link_for_an_id_exact_html():
    assertHTMLEqual(
        render("{% download_link upload_id %}", {"upload_id": UPLOAD_ID}),
        f"""<span class="presigned-download"><a class="presigned-download__link"
            href="{PREFIX}/uploads/{UPLOAD_ID}/download/"
            data-presigned-download="{PREFIX}/uploads/{UPLOAD_ID}/download-url/">Download</a>
            <span class="presigned-download__status" role="status" aria-live="polite"></span>
            </span>""",
    )


@pytest.mark.django_db
def test_download_link_for_a_complete_upload_names_the_file_escaped(user):
    upload = make_upload(
        user, original_filename='<b>"Ünïcode"</b>.pdf', status=Upload.Status.COMPLETE
    )
    rendered = render('{% download_link upload label="Get it" %}', {"upload": upload})
    assertHTMLEqual(
        rendered,
        f"""<span class="presigned-download"><a class="presigned-download__link"
            href="{PREFIX}/uploads/{upload.pk}/download/"
            data-presigned-download="{PREFIX}/uploads/{upload.pk}/download-url/"
            aria-label="Get it &lt;b&gt;&quot;Ünïcode&quot;&lt;/b&gt;.pdf">Get it</a>
            <span class="presigned-download__status" role="status" aria-live="polite"></span>
            </span>""",
    )
    assert "<b>" not in rendered


@pytest.mark.django_db
def test_download_link_for_an_incomplete_upload_is_not_a_link(user):
    upload = make_upload(user)
    assertHTMLEqual(
        render("{% download_link upload %}", {"upload": upload}),
        '<span class="presigned-download presigned-download--unavailable" '
        'aria-disabled="true">Download</span>',
    )


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "label"),
    [
        ("image/jpeg", "JPEG"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"),
        ("image/avif", "AVIF"),
        ("application/x-tar", "application/x-tar"),
        ("weird", "weird"),
    ],
)
def test_type_label(content_type, label):
    assert ui.type_label(content_type) == label


def test_policy_summary():
    policy = Policy("p", ("text/csv",), min_size=1, max_size=2048)
    assert ui.policy_summary(policy) == "CSV, up to 2.0\xa0KB."
    policy = Policy("p", ("text/csv", "text/plain"), min_size=10, max_size=2048)
    assert ui.policy_summary(policy) == "CSV or TXT, from 10\xa0bytes to 2.0\xa0KB."


def test_every_text_goes_through_gettext(monkeypatch):
    """The script's texts, the label and the help come from Django's translations."""
    english = ui.client_messages()
    monkeypatch.setattr(ui, "_", lambda text: "«" + text + "»")
    rendered = render("{% presigned_transfers_script %}{% upload_picker %}")
    messages = json.loads(html.unescape(rendered.split('data-messages="')[1].split('"')[0]))
    assert messages == {key: "«" + text + "»" for key, text in english.items()}
    assert ">«Choose a file»</label>" in rendered
    assert "«You can also drop a file here.»</p>" in rendered


def test_script_texts_have_the_placeholders_the_script_fills_in():
    messages = ui.client_messages()
    assert messages["uploading"] == "Uploading %(name)s…"
    assert messages["percent"] == "%(percent)s%%"
    assert "%(status)s" in messages["storage_refused"]
    assert "%(message)s" in messages["confirm_failed"]
    assert messages["resuming_status"] == "Resuming the upload of %(name)s…"
    assert "%(transport)s" in messages["transport_unsupported"]
    # The script has an English fallback for every text (pages that load it by hand).
    from pathlib import Path

    import presigned_transfers

    script = (
        Path(presigned_transfers.__file__).parent / "static/presigned_transfers/core.js"
    ).read_text()
    for key, text in messages.items():
        assert re.search(rf"\b{key}:\s", script), key
        assert text in script.replace('" +\n      "', ""), key
    # ... and no text of its own that the server does not translate.
    block = script.split("const messages = {", 1)[1].split("\n  };", 1)[0]
    fallback_keys = set(re.findall(r"^    (\w+):", block, re.MULTILINE))
    assert fallback_keys == set(messages)
