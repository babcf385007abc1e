"""Migrations are in step with the models."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migrations():
    out = StringIO()
    # Exits with status 1 (SystemExit) if a model change has no migration.
    call_command(
        "makemigrations", "presigned_transfers", "--check", "--dry-run", stdout=out, stderr=out
    )
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_apply_backwards_and_forwards():
    call_command("migrate", "presigned_transfers", "zero", verbosity=0)
    call_command("migrate", "presigned_transfers", verbosity=0)
