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


@pytest.mark.django_db(transaction=True)
def test_0002_stages_uploads_pending_at_upgrade_and_keeps_the_rest_downloading(user):
    """Rows from before staging: a pending one was signed for its key, which becomes its
    staging key; a complete one keeps its key and so keeps downloading."""
    from datetime import timedelta

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    executor = MigrationExecutor(connection)
    executor.migrate([("presigned_transfers", "0001_initial")])
    old = executor.loader.project_state([("presigned_transfers", "0001_initial")]).apps
    OldUpload = old.get_model("presigned_transfers", "Upload")
    common = {
        "owner_id": user.pk,
        "original_filename": "a.pdf",
        "content_type": "application/pdf",
        "declared_size": 10,
        "policy": "default",
        "expires_at": timezone.now() + timedelta(minutes=5),
    }
    pending = OldUpload.objects.create(key="uploads/1/aa_a.pdf", status="pending", **common)
    complete = OldUpload.objects.create(key="uploads/1/bb_a.pdf", status="complete", **common)
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([("presigned_transfers", "0002_verified_objects")])
        state = executor.loader.project_state([("presigned_transfers", "0002_verified_objects")])
        Upload = state.apps.get_model("presigned_transfers", "Upload")

        staged = Upload.objects.get(pk=pending.pk)
        assert staged.staging_key == "uploads/1/aa_a.pdf"  # what its signed form names
        assert staged.key == "uploads/1/aa_a.pdf.verified"  # where confirm will keep it
        kept = Upload.objects.get(pk=complete.pk)
        assert (kept.key, kept.staging_key) == ("uploads/1/bb_a.pdf", "")
        # And back.
        executor = MigrationExecutor(connection)
        executor.migrate([("presigned_transfers", "0001_initial")])
        old = executor.loader.project_state([("presigned_transfers", "0001_initial")]).apps
        assert old.get_model("presigned_transfers", "Upload").objects.get(pk=pending.pk).key == (
            "uploads/1/aa_a.pdf"
        )
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes("presigned_transfers")
        )
