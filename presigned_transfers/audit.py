"""The audit trail: one structured log record per security-relevant event.

Records go to the ``presigned_transfers`` logger at INFO, with the attributes ``event``
(``sign``, ``confirm``, ``refuse``, ``download``, ``delete``), ``user_id`` (who acted;
``None`` for the system: the cleanup and its reconcile), ``upload_id`` and any details (``size``,
``type``, ``stage``, ``code``, ``by``, ``reason``, ``owner_id``) for structured log handlers.
Never a URL, a signature, an object key or a credential.
"""

from __future__ import annotations

import logging

from presigned_transfers.models import Upload
from presigned_transfers.types import UploadId, User

logger = logging.getLogger("presigned_transfers")


def record(
    event: str,
    *,
    user: User | None,
    upload: Upload | None = None,
    upload_id: UploadId | None = None,
    **details: object,
) -> None:
    """Write the audit record of *event*, done by *user* (``None``: the system) to an upload.

    Pass *upload_id* for an upload whose row is already deleted (its ``pk`` is ``None``).
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    user_id = user.pk if user is not None else None
    if upload is not None and upload.pk is not None:
        upload_id = upload.pk
    shown_id = str(upload_id) if upload_id is not None else None
    # What logger.info() does, less its search of the call stack for the caller
    # (findCaller), which would always find this function: its place is given instead.
    logger.handle(
        logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            _LINE,
            "%s user=%s upload=%s%s",
            (event, user_id, shown_id, "".join(f" {k}={v}" for k, v in details.items())),
            None,
            func="record",
            extra={"event": event, "user_id": user_id, "upload_id": shown_id, **details},
        )
    )


_LINE = record.__code__.co_firstlineno
