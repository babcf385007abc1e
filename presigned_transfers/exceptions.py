"""Every error the app raises on purpose.

A :class:`TransferError` carries the HTTP status, a stable machine-readable ``code`` and a
human-readable ``message``; the views turn it into the one JSON error shape::

    {"error": {"code": "file_too_large", "message": "...", "details": {...}}}
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class TransferError(Exception):
    """Raised when a request cannot be served; the base class of all the app's refusals."""

    status = 400
    code = "invalid_request"
    default_message: Any = _("The request is not valid.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = str(message if message is not None else self.default_message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(TransferError):
    """Raised when the request body or a parameter is malformed or missing."""


class NotAuthenticated(TransferError):
    """Raised when an anonymous client calls an endpoint that needs a signed-in user."""

    status = 401
    code = "not_authenticated"
    default_message = _("Sign in to upload or download files.")


class CsrfFailed(TransferError):
    """Raised when a state-changing request lacks a valid CSRF token."""

    status = 403
    code = "csrf_failed"
    default_message = _("The CSRF token is missing or incorrect. Reload the page and try again.")


class UploadNotFound(TransferError):
    """Raised when an upload does not exist *or belongs to someone else* (never 403)."""

    status = 404
    code = "not_found"
    default_message = _("No such upload.")


class MethodNotAllowed(TransferError):
    """Raised when an endpoint is called with the wrong HTTP method."""

    status = 405
    code = "method_not_allowed"
    default_message = _("This method is not allowed here.")


class UploadStateConflict(TransferError):
    """Raised when an upload is not in the state the request needs (e.g. not yet complete)."""

    status = 409
    code = "upload_not_complete"
    default_message = _("This upload is not complete yet.")


class RequestTooLarge(TransferError):
    """Raised when the JSON request body itself is larger than the app accepts."""

    status = 413
    code = "request_too_large"
    default_message = _("The request body is too large.")


class FileTooLarge(TransferError):
    """Raised when the declared or stored file size is above the policy's maximum."""

    status = 413
    code = "file_too_large"
    default_message = _("The file is too large.")


class UnsupportedMediaType(TransferError):
    """Raised when the request body is not JSON."""

    status = 415
    code = "unsupported_media_type"
    default_message = _("Send the request body as application/json.")


class FileTypeNotAllowed(TransferError):
    """Raised when the file's content type is not in the policy's allowlist."""

    status = 415
    code = "file_type_not_allowed"
    default_message = _("This type of file is not allowed.")


class UploadRefused(TransferError):
    """Raised when a request is well-formed but breaks a rule: too small, unknown policy,
    quota, or an uploaded object that does not match what was signed."""

    status = 422
    code = "upload_refused"
    default_message = _("The upload was refused.")


class RateLimited(TransferError):
    """Raised when a user has made too many requests to one endpoint."""

    status = 429
    code = "rate_limited"
    default_message = _("Too many requests. Wait a moment and try again.")

    def __init__(self, message: Any = None, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, details={"retry_after": retry_after}, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(TransferError):
    """Raised when a part the app needs is down: the rate-limit cache or the database.

    ``code`` says which (``rate_limit_unavailable``, ``database_unavailable``); the answer
    carries ``Retry-After``.
    """

    status = 503
    code = "service_unavailable"
    default_message = _("The service is unavailable right now. Try again in a moment.")

    def __init__(self, message: Any = None, *, retry_after: int = 10, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class StorageUnavailable(TransferError):
    """Raised when the S3 endpoint cannot be reached or answers with an unexpected error."""

    status = 503
    code = "storage_unavailable"
    default_message = _("File storage is unavailable right now. Try again later.")
    #: Seconds a client should wait before trying again (the answer's ``Retry-After``).
    retry_after = 5


class ServerError(TransferError):
    """Raised when something unexpected fails in a JSON view, so even a bug answers in JSON."""

    status = 500
    code = "server_error"
    default_message = _("Something went wrong on our side. Try again later.")
