"""The app's own signal receivers, connected when the app is ready (``apps.py``).

However an :class:`~presigned_transfers.models.Upload` row goes — the delete endpoint, the
admin, a cascade from its owner, a queryset ``delete()``, the cleanup — its objects go too.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from presigned_transfers import exceptions, signals, storage
from presigned_transfers.models import Upload

logger = logging.getLogger("presigned_transfers")


def mark_objects_deleted(upload: Upload) -> None:
    """Tell :func:`delete_objects_with_row` that *upload*'s objects are gone already."""
    # A mark on this one instance, not a field: mypy knows no such attribute (the ignore).
    upload._objects_deleted = True  # type: ignore[attr-defined]


@receiver(post_delete, sender=Upload, dispatch_uid="presigned_transfers.upload_deleted")
def delete_objects_with_row(sender: type[Upload], instance: Upload, **kwargs: Any) -> None:
    """Delete the objects of a deleted row once its transaction commits; send upload_deleted."""
    if not getattr(instance, "_objects_deleted", False):
        # Read now: by the time the transaction commits, Django has set instance.pk to None.
        keys, pk = instance.object_keys, instance.pk
        multipart = instance.multipart_id if instance.status == Upload.Status.PENDING else ""

        def delete() -> None:
            try:
                if multipart:
                    storage.abort_multipart(keys[0], multipart)
                storage.remove(keys)
            except exceptions.StorageUnavailable:
                # The row is gone: the keys are all an operator has to find the orphans (the
                # cleanup aborts multipart uploads no row knows of).
                logger.exception("delete-failed upload=%s key=%s", pk, " ".join(keys))

        transaction.on_commit(delete)
    signals.upload_deleted.send(sender=Upload, upload=instance)
