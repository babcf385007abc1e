"""locale/: the French, German and Spanish catalogs.

What a page and a JSON error say in each language; that every string the package marks for
translation is in every catalog, translated, with the same placeholders; and that the
committed ``.mo`` files are exactly the ``.po`` files compiled (a wheel carries the ``.mo``,
so an out-of-date one would ship old texts).
"""

from __future__ import annotations

import ast
import gettext
import html
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

import presigned_transfers
from presigned_transfers import ui
from presigned_transfers.models import Upload
from tests import CHECKOUT
from tests.factories import assert_json_error, make_upload, post_json

LANGUAGES = ("fr", "de", "es")
PACKAGE = Path(presigned_transfers.__file__).parent
LOCALE = PACKAGE / "locale"
UPLOAD_URL = reverse("presigned_transfers:upload-url")
CHANGELIST = reverse("admin:presigned_transfers_upload_changelist")
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"
NBSP = "\u00a0"

#: How each language quotes a name where the English writes “name”.
QUOTES = {"fr": (f"«{NBSP}", f"{NBSP}»"), "de": ("„", "“"), "es": ("«", "»")}

#: A few texts per language, written out here, not read from the catalogs under test.
EXPECTED = {
    "fr": {
        "allowed": "PDF, JPEG, PNG, GIF ou WebP",
        "label": "Choisir un fichier",
        "help": f"PDF, JPEG, PNG, GIF ou WebP, jusqu’à 20,0{NBSP}Mio. "  # noqa: RUF001
        "Vous pouvez aussi déposer un fichier ici.",
        "noscript": "L’envoi de fichiers nécessite JavaScript, qui est désactivé dans ce "  # noqa: RUF001
        "navigateur.",
        "cancel": "Annuler",
        "uploading": "Envoi de %(name)s…",
        "too_large": f"Le fichier est trop volumineux{NBSP}: la limite est de %(limit)s.",
        "unknown_policy": f"Il n’existe aucune règle d’envoi nommée «{NBSP}nope{NBSP}».",  # noqa: RUF001
        "file_too_large": f"Le fichier est trop volumineux{NBSP}: la limite est de 20,0{NBSP}Mio.",
        "not_authenticated": "Connectez-vous pour envoyer ou télécharger des fichiers.",
        "admin_column": "Nom du fichier",
        "admin_app": "Transferts présignés",
    },
    "de": {
        "allowed": "PDF, JPEG, PNG, GIF oder WebP",
        "label": "Datei auswählen",
        "help": f"PDF, JPEG, PNG, GIF oder WebP, bis 20,0{NBSP}MB. "
        "Sie können eine Datei auch hierher ziehen.",
        "noscript": "Zum Hochladen wird JavaScript benötigt, das in diesem Browser "
        "deaktiviert ist.",
        "cancel": "Abbrechen",
        "uploading": "%(name)s wird hochgeladen…",
        "too_large": "Die Datei ist zu groß: Die Grenze liegt bei %(limit)s.",
        "unknown_policy": "Es gibt keine Upload-Richtlinie namens „nope“.",
        "file_too_large": f"Die Datei ist zu groß: Die Grenze liegt bei 20,0{NBSP}MB.",
        "not_authenticated": "Melden Sie sich an, um Dateien hoch- oder herunterzuladen.",
        "admin_column": "Dateiname",
        "admin_app": "Vorsignierte Übertragungen",
    },
    "es": {
        "allowed": "PDF, JPEG, PNG, GIF o WebP",
        "label": "Elegir un archivo",
        "help": f"PDF, JPEG, PNG, GIF o WebP, hasta 20,0{NBSP}MB. "
        "También puede soltar un archivo aquí.",
        "noscript": "Para subir archivos se necesita JavaScript, que está desactivado en "
        "este navegador.",
        "cancel": "Cancelar",
        "uploading": "Subiendo %(name)s…",
        "too_large": "El archivo es demasiado grande: el límite es de %(limit)s.",
        "unknown_policy": "No existe ninguna política de subida llamada «nope».",
        "file_too_large": f"El archivo es demasiado grande: el límite es de 20,0{NBSP}MB.",
        "not_authenticated": "Inicie sesión para subir o descargar archivos.",
        "admin_column": "Nombre del archivo",
        "admin_app": "Transferencias prefirmadas",
    },
}
#: Script texts that read the same in a language as in English (nothing to translate).
SAME_AS_ENGLISH = {"fr": set(), "de": {"file_error"}, "es": {"file_error"}}
#: Catalog entries that read the same as in English: method names, a digest, formats.
_NAMES = {"POST", "PUT", "SHA-256"}
SAME_IN_CATALOG = {
    "fr": _NAMES | {"version", "%(label)s %(name)s"},
    "de": _NAMES | {"%(name)s: %(message)s"},
    "es": _NAMES | {"%(name)s: %(message)s", "%(label)s %(name)s"},
}


@pytest.fixture(autouse=True)
def _english_afterwards():
    """LocaleMiddleware activates a language for the thread; later tests expect English."""
    yield
    translation.deactivate()


@pytest.fixture
def locale_middleware(settings):
    """The host enables languages: LocaleMiddleware after sessions, before common."""
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.middleware.common.CommonMiddleware"), LOCALE_MIDDLEWARE
    )
    settings.MIDDLEWARE = middleware


def accept(lang):
    return {"HTTP_ACCEPT_LANGUAGE": f"{lang}-{lang.upper()},{lang};q=0.9,en;q=0.5"}


# --- a small .po reader ---------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], text[1:-1])


def read_po(path: Path) -> list[Entry]:
    """Every entry of a .po file, the header (``msgid ""``) first; obsolete ones left out."""
    entries: list[Entry] = []
    entry, target = Entry(), None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if entry.msgstr and (not line or line.startswith(("#", "msgctxt ", "msgid "))):
            entries.append(entry)  # the entry before is complete
            entry, target = Entry(), None
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            target = ("flags", None)
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += _unquote(line)
            else:
                setattr(entry, name, getattr(entry, name) + _unquote(line))
        else:
            keyword, _, value = line.partition(" ")
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match or keyword == "msgstr":
                index = int(match.group(1)) if match else 0
                entry.msgstr[index] = _unquote(value)
                target = ("msgstr", index)
            else:
                assert keyword in {"msgid", "msgctxt", "msgid_plural"}, line
                setattr(entry, keyword, _unquote(value))
                target = (keyword, None)
    return entries


def catalog(lang: str) -> list[Entry]:
    """The entries of a language's catalog, the header left out."""
    header, *entries = read_po(LOCALE / lang / "LC_MESSAGES" / "django.po")
    assert header.msgid == "" and f"Language: {lang}\n" in header.msgstr[0]
    return entries


def test_the_po_reader_reads_what_it_is_given(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: xx\\n"\n\n'
        '#: a.py:1\n#, python-format\nmsgid ""\n"Two %(n)s "\n"lines"\n'
        'msgstr "Deux \\"%(n)s\\""\n'
        'msgctxt "c"\nmsgid "one"\nmsgid_plural "many"\nmsgstr[0] "un"\nmsgstr[1] "beaucoup"\n\n'
        '#~ msgid "gone"\n#~ msgstr "parti"\n',
        encoding="utf-8",
    )
    header, first, second = read_po(po)
    assert header.msgstr == {0: "Language: xx\n"}
    assert (first.msgid, first.msgstr, first.flags) == (
        "Two %(n)s lines",
        {0: 'Deux "%(n)s"'},
        {"python-format"},
    )
    assert second.key == ("c", "one", "many")
    assert second.msgstr == {0: "un", 1: "beaucoup"}


# --- what the package marks for translation -------------------------------------------------

#: The keywords makemessages gives xgettext, with the positions of context, singular, plural.
_KEYWORDS = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


def _messages_in(tree: ast.AST) -> set[tuple[str | None, str, str | None]]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in _KEYWORDS:
            continue
        literal = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
        context, singular, plural = (
            None if position is None else literal[position] for position in _KEYWORDS[name]
        )
        if isinstance(singular, str):
            found.add((context, singular, plural))
    return found


def source_messages() -> set[tuple[str | None, str, str | None]]:
    """What ``makemessages`` extracts: gettext calls in the Python files and the templates."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found |= _messages_in(ast.parse(path.read_text(encoding="utf-8")))
    for path in PACKAGE.rglob("templates/**/*.html"):
        # Django's own template-to-gettext conversion (what makemessages feeds xgettext).
        converted = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for call in re.finditer(r"\b(?:n?p?gettext)\(", converted):
            closes = (m.end() for m in re.finditer(r"\)", converted[call.start() :]))
            for end in closes:
                try:
                    found |= _messages_in(ast.parse(converted[call.start() : call.start() + end]))
                    break
                except SyntaxError:
                    continue
    return found


def test_source_messages_finds_python_and_template_strings():
    found = source_messages()
    assert (None, "The file is too large.", None) in found  # gettext_lazy in exceptions.py
    assert (None, "Uploading %(name)s…", None) in found  # ui.py
    assert (None, "Uploading needs JavaScript, which is turned off in this browser.", None) in (
        found
    )  # {% translate %} in picker.html
    assert (None, "Remove %(name)s from the form", None) in found  # {% blocktranslate %}
    assert (None, "upload parts", None) in found  # a model's Meta
    tree = ast.parse('ngettext("one %(n)d", "%(n)d many", n)\npgettext("ctx", "word")\n_(name)')
    assert _messages_in(tree) == {(None, "one %(n)d", "%(n)d many"), ("ctx", "word", None)}


# --- the catalogs ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_of_the_package_is_in_the_catalog(lang):
    """A string added or changed in the code without a catalog update fails here.

    The fix: ``django-admin makemessages -l fr -l de -l es --no-obsolete`` in
    presigned_transfers/, translate the new entries, ``django-admin compilemessages``.
    """
    in_catalog = {entry.key for entry in catalog(lang)}
    in_source = source_messages()
    assert sorted(in_source - in_catalog, key=str) == [], "not in the catalog: run makemessages"
    assert sorted(in_catalog - in_source, key=str) == [], "no longer in the code: run makemessages"
    assert len(in_catalog) >= 120


_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +\-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def placeholders(text: str) -> Counter[str]:
    return Counter(
        f"%({name}){kind}" if name else f"%{kind}" for name, kind in _PLACEHOLDER.findall(text)
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_is_translated_with_the_same_placeholders(lang):
    for entry in catalog(lang):
        assert "fuzzy" not in entry.flags, entry.msgid  # msgfmt would leave it out
        forms = list(entry.msgstr.values())
        assert forms and all(text.strip() for text in forms), f"untranslated: {entry.msgid!r}"
        if entry.msgid_plural is None:
            assert placeholders(forms[0]) == placeholders(entry.msgid), entry.msgid
        else:
            assert placeholders(forms[-1]) == placeholders(entry.msgid_plural), entry.msgid
            allowed = set(placeholders(entry.msgid) | placeholders(entry.msgid_plural))
            assert all(set(placeholders(text)) <= allowed for text in forms), entry.msgid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_only_names_and_formats_read_the_same_as_in_english(lang):
    same = {entry.msgid for entry in catalog(lang) if entry.msgstr[0] == entry.msgid}
    assert same == SAME_IN_CATALOG[lang]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_typography(lang):
    """Names the English puts in “curly quotes” get the language's own marks; no ASCII quotes."""
    opening, closing = QUOTES[lang]
    quoted = 0
    for entry in catalog(lang):
        text = entry.msgstr[0]
        assert '"' not in text, text
        assert "'" not in text, text  # apostrophes are U+2019
        assert text.count(opening) == text.count(closing) == entry.msgid.count("“"), text
        quoted += entry.msgid.count("“")
        assert text.endswith(".") == entry.msgid.endswith("."), text
        assert text.endswith("…") == entry.msgid.endswith("…"), text
    assert quoted >= 15


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_committed_mo_file_is_the_po_file_compiled(lang):
    """What the wheel ships (the .mo) says exactly what the .po says, entry for entry."""
    directory = LOCALE / lang / "LC_MESSAGES"
    with (directory / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    header, *entries = read_po(directory / "django.po")
    # msgfmt leaves out the POT-Creation-Date (makemessages rewrites it on every run).
    expected: dict[object, str] = {
        "": "".join(
            line for line in header.msgstr[0].splitlines(True) if not line.startswith("POT-")
        )
    }
    for entry in entries:
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            expected.update({(msgid, index): text for index, text in entry.msgstr.items()})
    assert compiled == expected, "the .mo is stale: run django-admin compilemessages"


def _built_wheel(tmp_path: Path, checkout: Path) -> Path:
    """The wheel tox built and installed (``TOX_PACKAGE``), else one built here."""
    built = os.environ.get("TOX_PACKAGE", "")
    if built.endswith(".whl"):
        return Path(built)
    pytest.importorskip("setuptools")  # not seeded into virtualenvs of Python 3.12+
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(checkout / name, source / name)
    shutil.copytree(
        checkout / PACKAGE.name, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    build = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return tmp_path / result.stdout.strip().splitlines()[-1]


def test_the_wheel_carries_the_compiled_catalogs(tmp_path):
    """Installing needs no gettext tools: the wheel has the committed .mo files, byte for byte."""
    checkout = CHECKOUT
    with zipfile.ZipFile(_built_wheel(tmp_path, checkout)) as archive:
        for lang in LANGUAGES:
            path = f"presigned_transfers/locale/{lang}/LC_MESSAGES/django.mo"
            assert archive.read(path) == (checkout / path).read_bytes(), path


# --- a page in each language ----------------------------------------------------------------


def _attribute(rendered: str, name: str) -> str:
    return html.unescape(rendered.split(f'{name}="')[1].split('"')[0])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_picker_and_the_script_texts_are_translated(lang):
    expected = EXPECTED[lang]
    english = ui.client_messages()
    template = Template(
        "{% load presigned_transfers %}{% upload_picker %}{% presigned_transfers_script %}"
    )
    with translation.override(lang):
        rendered = template.render(Context({"csrf_token": "tok"}))
    assert f">{expected['label']}</label>" in rendered
    assert f">{expected['help']}</p>" in rendered
    assert f">{expected['noscript']}</p>" in rendered
    # The empty row the script clones, from file.html's {% translate %}.
    assert f'type="button" aria-label="">{expected["cancel"]}</button>' in rendered
    assert "Choose a file" not in rendered and "Cancel<" not in rendered
    config = json.loads(_attribute(rendered, "data-config"))
    assert config["allowedText"] == expected["allowed"]
    assert config["maxSizeText"] in expected["help"]
    messages = json.loads(_attribute(rendered, "data-messages"))
    assert set(messages) == set(english)
    assert messages["uploading"] == expected["uploading"]
    assert messages["too_large"] == expected["too_large"]
    assert messages["cancel"] == expected["cancel"]
    untranslated = {key for key, text in messages.items() if text == english[key]}
    assert untranslated == SAME_AS_ENGLISH[lang]
    for key, text in messages.items():
        assert placeholders(text) == placeholders(english[key]), key


def test_the_picker_stays_english_without_a_language():
    rendered = Template("{% load presigned_transfers %}{% upload_picker %}").render(Context({}))
    assert ">Choose a file</label>" in rendered


# --- JSON errors in each language -----------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_json_errors_answer_in_the_accept_language(lang, locale_middleware, client, user):
    expected = EXPECTED[lang]
    response = post_json(client, UPLOAD_URL, {"filename": "a.pdf"}, **accept(lang))
    error = assert_json_error(response, 401, "not_authenticated")
    assert error["message"] == expected["not_authenticated"]
    assert response["Content-Language"] == lang

    client.force_login(user)
    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10, "policy": "nope"}
    response = post_json(client, UPLOAD_URL, data, **accept(lang))
    error = assert_json_error(response, 422, "unknown_policy")
    assert error["message"] == expected["unknown_policy"]
    assert "Accept-Language" in response["Vary"]

    data = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10**12}
    response = post_json(client, UPLOAD_URL, data, **accept(lang))
    error = assert_json_error(response, 413, "file_too_large")
    assert error["message"] == expected["file_too_large"]
    assert not Upload.objects.exists()


def test_json_errors_stay_english_without_locale_middleware(client):
    """Languages are the host's choice: without LocaleMiddleware, Accept-Language is ignored."""
    response = post_json(client, UPLOAD_URL, {"filename": "a.pdf"}, **accept("fr"))
    error = assert_json_error(response, 401, "not_authenticated")
    assert error["message"] == "Sign in to upload or download files."


# --- the admin ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_admin_shows_translated_names(lang, locale_middleware, admin_client, user):
    make_upload(user, status=Upload.Status.COMPLETE, original_filename="done.pdf")
    response = admin_client.get(CHANGELIST, **accept(lang))
    assert response.status_code == 200
    page = response.content.decode()
    assert EXPECTED[lang]["admin_column"] in page  # the model field's verbose name
    assert EXPECTED[lang]["admin_app"] in page  # the app's verbose name
    assert "File name" not in page
