"""Django REST framework is optional: without it the app works and rest_framework.py says why not.

The DRF tests themselves are in tests/drf/ (``tox -e drf``). These run in every env, with DRF
blocked so that they prove the same thing whether or not it happens to be installed.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import pytest

INSTALL_HINT = 'pip install "presigned-transfers[drf]"'


def test_importing_the_drf_module_without_drf_names_the_extra(monkeypatch):
    # None in sys.modules makes `import rest_framework` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "rest_framework", None)
    monkeypatch.delitem(sys.modules, "presigned_transfers.rest_framework", raising=False)
    with pytest.raises(ImportError) as caught:
        importlib.import_module("presigned_transfers.rest_framework")
    assert INSTALL_HINT in str(caught.value)
    assert "Django REST framework" in str(caught.value)


_WITHOUT_DRF = textwrap.dedent(
    """
    import importlib, io, pkgutil, sys

    sys.modules["rest_framework"] = None  # not installed, as far as any import can tell

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    assert "rest_framework" not in settings.INSTALLED_APPS, settings.INSTALLED_APPS

    import presigned_transfers

    imported = []
    for module in pkgutil.walk_packages(presigned_transfers.__path__, "presigned_transfers."):
        if module.name == "presigned_transfers.rest_framework":
            continue
        importlib.import_module(module.name)
        imported.append(module.name)
    call_command("check", fail_level="ERROR", stdout=io.StringIO())

    from presigned_transfers.forms import UploadField
    UploadField(policy="default")

    try:
        import presigned_transfers.rest_framework
    except ImportError as error:
        print("refused:", error)
    else:
        raise AssertionError("presigned_transfers.rest_framework imported without DRF")
    loaded = [name for name in sys.modules if name.startswith("rest_framework.")]
    assert not loaded, loaded
    print("imported:", " ".join(imported))
    """
)


def test_the_app_works_without_drf(tmp_path):
    """Every module of the app imports, and the system checks pass, in a fresh interpreter."""
    # The child imports as this process does: the same sys.path in the same order (under tox
    # the installed wheel, then the checkout for `tests`).
    path = os.pathsep.join(entry for entry in sys.path if entry)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _WITHOUT_DRF],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert INSTALL_HINT in lines["refused"]
    imported = set(lines["imported"].split())
    # The modules a host project uses are all among them (not just an empty walk).
    assert {
        "presigned_transfers.models",
        "presigned_transfers.forms",
        "presigned_transfers.views",
        "presigned_transfers.urls",
        "presigned_transfers.admin",
        "presigned_transfers.templatetags.presigned_transfers",
    } <= imported
