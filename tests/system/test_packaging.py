"""What a host project installs is what the tests test: the built wheel, not the checkout."""

import os
import sys
from pathlib import Path

import pytest

import presigned_transfers
from tests import CHECKOUT

PACKAGE = Path(presigned_transfers.__file__).resolve().parent


@pytest.mark.skipif(
    not os.environ.get("TOX_PACKAGE", "").endswith(".whl"),
    reason="tox installs a wheel only in its test environments (TOX_PACKAGE names it)",
)
def test_tox_runs_the_tests_against_the_installed_wheel():
    assert not PACKAGE.is_relative_to(CHECKOUT / "presigned_transfers"), PACKAGE
    assert PACKAGE.is_relative_to(Path(sys.prefix).resolve()), (PACKAGE, sys.prefix)


def test_the_installed_package_carries_its_data_files():
    for name in ("py.typed", "openapi.json", "templates", "static", "locale"):
        assert (PACKAGE / name).exists(), name
    assert list((PACKAGE / "locale").glob("*/LC_MESSAGES/django.mo"))
    assert (PACKAGE / "static" / "presigned_transfers" / "presigned_transfers.js").is_file()


def test_the_installed_package_is_the_checkouts_source():
    """No module the checkout lacks (setuptools' build/ directory can carry a removed or moved
    one into the wheel) and none missing."""
    installed = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    source = CHECKOUT / "presigned_transfers"
    checkout = {p.relative_to(source).as_posix() for p in source.rglob("*.py")}
    assert installed == checkout, "rm -rf build/ and run tox again"
