"""Signals the app sends. Receivers must accept ``**kwargs``.

``upload_signed``
    Sent after a pending upload is recorded and its POST policy signed.
    Arguments: ``sender`` (the :class:`~presigned_transfers.models.Upload` class), ``upload``,
    ``request`` (the :class:`~django.http.HttpRequest`, or ``None``).

``upload_confirmed``
    Sent once per upload, when confirm-upload first finds the object in the bucket and it
    matches what was signed. Arguments: ``sender``, ``upload``, ``request``.

``upload_refused``
    Sent when confirm-upload refuses an uploaded object (wrong size, type or content) and
    deletes it. Arguments: ``sender``, ``upload``, ``code`` (the error code), ``request``.

``upload_deleted``
    Sent after an upload's row is deleted, however that happens (the delete endpoint, the
    admin, a cascade from the owner, the cleanup command). Its object is deleted when the
    transaction commits. Arguments: ``sender``, ``upload``.
"""

from django.dispatch import Signal

upload_signed = Signal()
upload_confirmed = Signal()
upload_refused = Signal()
upload_deleted = Signal()
