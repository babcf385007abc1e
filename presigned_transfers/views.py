"""Thin class-based JSON views over :mod:`presigned_transfers.services`.

Every response is JSON; every failure has the shape
``{"error": {"code": ..., "message": ..., "details"?: {...}}}`` with the right status.
Anonymous clients get 401 (never a redirect to a login page), state-changing requests need a
valid CSRF token (403 JSON otherwise, whether or not the project's CSRF middleware is on), and
the URL endpoints are rate limited per user (429 with ``Retry-After``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import (
    ImproperlyConfigured,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.signals import got_request_exception, setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django_ratelimit.core import get_usage

from presigned_transfers import exceptions, openapi, services, signing
from presigned_transfers.conf import app_settings
from presigned_transfers.models import Upload

logger = logging.getLogger("presigned_transfers")

#: What django-ratelimit's ``get_usage`` answers when its cache gave no count.
_CACHE_FAILED = {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, raising our error instead of rendering an HTML page."""

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        raise exceptions.CsrfFailed(details={"reason": reason})


def _no_view(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError


#: One for every request, as the project's middleware is: it caches what it derives from
#: CSRF_TRUSTED_ORIGINS, so it is made anew when a CSRF setting changes (tests).
_CSRF_CHECK = _CsrfCheck(_no_view)


@receiver(setting_changed, dispatch_uid="presigned_transfers.views.csrf")
def _renew_csrf_check(*, setting: str, **kwargs: Any) -> None:
    global _CSRF_CHECK
    if setting.startswith("CSRF_"):
        _CSRF_CHECK = _CsrfCheck(_no_view)


def _allowed_methods(view: View) -> list[str]:
    """The methods *view* answers, upper case (what Django's ``View`` works out itself)."""
    return [method.upper() for method in view.http_method_names if hasattr(view, method)]


def error_response(error: exceptions.TransferError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    if isinstance(error, exceptions.MethodNotAllowed):
        response["Allow"] = ", ".join(error.details.get("allowed", ()))
    response["Cache-Control"] = "no-store"
    return response


def serialize_upload(upload: Upload) -> dict[str, Any]:
    """What a client may know about an upload: never its key or bucket."""
    data: dict[str, Any] = {
        "id": str(upload.pk),
        "filename": upload.original_filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "status": upload.status,
        "policy": upload.policy,
        "created_at": upload.created_at.isoformat(),
        "confirmed_at": upload.confirmed_at.isoformat() if upload.confirmed_at else None,
        "transport": upload.transport,
        # What S3 verified (for multipart its composite "<base64>-<parts>"); None without.
        "checksum_sha256": (upload.checksum_sha256 or None) if upload.is_complete else None,
    }
    if upload.is_complete:
        data["download_url"] = reverse("presigned_transfers:download", args=[upload.pk])
    return data


class JsonView(View):
    """Base view: JSON in, JSON out, one error shape, auth, CSRF and rate limiting."""

    #: Key of ``RATE_LIMITS`` for this view, or ``None`` for no rate limit.
    rate_limit_group: ClassVar[str | None] = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            handler = self._handler(request)
            if not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
                self._check_csrf(request)
            self._check_rate_limit(request)
            response = handler(request, *args, **kwargs)
        except exceptions.TransferError as error:
            response = error_response(error)
        except RequestDataTooBig:
            # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE), met reading a form body (the
            # CSRF check looks for a form token) before the view could refuse it as not JSON.
            response = error_response(exceptions.RequestTooLarge())
        except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent):
            # A form body or query string Django's parsers cannot read: a client's error.
            response = error_response(
                exceptions.InvalidRequest(
                    _("The request cannot be read: send JSON, and at most a short query string."),
                    code="unreadable_request",
                )
            )
        except (OperationalError, InterfaceError):
            # The database is down or unreachable: nothing was written (every change is one
            # transaction), and the client may simply try again.
            logger.exception("Database unavailable in %s", type(self).__name__)
            got_request_exception.send(sender=type(self), request=request)
            response = error_response(
                exceptions.ServiceUnavailable(
                    _("The database is unavailable right now. Try again in a moment."),
                    code="database_unavailable",
                )
            )
        except Exception:
            # A bug or an outage (database, cache): still JSON, never the project's HTML 500
            # page. Django's own reporting (error e-mails, Sentry, the test client) is told.
            logger.exception("Unexpected error in %s", type(self).__name__)
            got_request_exception.send(sender=type(self), request=request)
            response = error_response(exceptions.ServerError())
        response.setdefault("Cache-Control", "no-store")
        return response

    # CSRF is checked above, so Django's middleware must skip these views: View.as_view()
    # copies this mark from dispatch onto the view function. Set directly, not with
    # method_decorator(csrf_exempt), which wraps the bound method anew on every request
    # (the ignore: mypy knows no attributes set on a function).
    dispatch.csrf_exempt = True  # type: ignore[attr-defined]

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = JsonResponse({"allowed": _allowed_methods(self)})
        response["Allow"] = ", ".join(_allowed_methods(self))
        return response

    def _handler(self, request: HttpRequest) -> Callable[..., HttpResponse]:
        method = (request.method or "").lower()
        if method in self.http_method_names and hasattr(self, method):
            handler: Callable[..., HttpResponse] = getattr(self, method)
            return handler
        raise exceptions.MethodNotAllowed(details={"allowed": _allowed_methods(self)})

    @staticmethod
    def _check_csrf(request: HttpRequest) -> None:
        if "CSRF_COOKIE" not in request.META:  # the project's middleware read it already
            _CSRF_CHECK.process_request(request)
        _CSRF_CHECK.process_view(request, _no_view, (), {})

    def _check_rate_limit(self, request: HttpRequest) -> None:
        if self.rate_limit_group is None:
            return
        rate = app_settings.rate_limits.get(self.rate_limit_group)
        if not rate:
            return
        try:
            usage = get_usage(
                request,
                group=f"presigned_transfers.{self.rate_limit_group}",
                key="user",
                rate=rate,
                increment=True,
            )
        except ImproperlyConfigured:
            raise
        except Exception:
            # The cache (Redis, Memcached) is down or unreachable: nothing can be counted.
            if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
                logger.warning("Rate-limit cache unavailable; request let through", exc_info=True)
                return
            logger.error("Rate-limit cache unavailable", exc_info=True)
            usage = _CACHE_FAILED
        # django-ratelimit answers _CACHE_FAILED itself when its cache gave no count (and
        # RATELIMIT_FAIL_OPEN is off): a 429 would tell the user it was their fault.
        if usage == _CACHE_FAILED:
            raise exceptions.ServiceUnavailable(
                _("Requests cannot be counted right now. Try again in a moment."),
                code="rate_limit_unavailable",
            )
        if usage is not None and usage["should_limit"]:
            raise exceptions.RateLimited(retry_after=max(1, int(usage["time_left"])))

    @staticmethod
    def json_body(request: HttpRequest) -> dict[str, Any]:
        """The request's JSON object; refuses non-JSON, oversized and malformed bodies."""
        media_type = (request.content_type or "").lower()
        if media_type != "application/json":
            raise exceptions.UnsupportedMediaType()
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = app_settings.max_request_body
        # isascii(): str.isdigit() is also true for "²", which int() refuses.
        if not (length.isascii() and length.isdigit()) or int(length) > limit:
            raise exceptions.RequestTooLarge(details={"max_bytes": limit})
        try:
            body = request.body
        except RequestDataTooBig as error:
            raise exceptions.RequestTooLarge(details={"max_bytes": limit}) from error
        if len(body) > limit:
            raise exceptions.RequestTooLarge(details={"max_bytes": limit})
        try:
            data = json.loads(body.decode(request.encoding or "utf-8"))
        # RecursionError: nesting deeper than the decoder's limit fits in a few kilobytes.
        except (UnicodeDecodeError, ValueError, LookupError, RecursionError) as error:
            raise exceptions.InvalidRequest(
                _("The request body is not valid JSON."), code="invalid_json"
            ) from error
        if not isinstance(data, dict):
            raise exceptions.InvalidRequest(
                _("The request body must be a JSON object."), code="invalid_json"
            )
        return data


class UploadUrlView(JsonView):
    """``POST {filename, content_type, size, policy?, transports?, checksum_sha256?}`` -> how
    to send one file: a signed POST form, a signed PUT, or a multipart plan."""

    rate_limit_group = "upload-url"

    def post(self, request: HttpRequest) -> JsonResponse:
        data = self.json_body(request)
        created = services.create_upload(
            user=request.user,
            filename=data.get("filename"),
            content_type=data.get("content_type"),
            size=data.get("size"),
            policy_name=data.get("policy"),
            transports=data.get("transports"),
            checksum=data.get("checksum_sha256"),
            request=request,
        )
        upload = created.upload
        answer: dict[str, Any] = {"upload_id": str(upload.pk), "transport": upload.transport}
        signed = created.signed
        if isinstance(signed, signing.SignedPost):
            answer.update(url=signed.url, fields=signed.fields)
        elif isinstance(signed, signing.SignedPut):
            answer.update(url=signed.url, headers=signed.headers)
        else:
            answer.update(
                part_size=upload.part_size,
                part_count=upload.part_count,
                checksum=upload.checksum or None,
            )
        answer["expires_at"] = upload.expires_at.isoformat()
        return JsonResponse(answer, status=201)


class UploadPartsView(JsonView):
    """Multipart uploads: ``POST {parts: [{part_number, checksum_sha256?}]}`` -> presigned
    UploadPart URLs; ``GET`` -> the parts S3 holds (to resume after a reload)."""

    rate_limit_group = "upload-parts"

    def post(self, request: HttpRequest, upload_id: str) -> JsonResponse:
        # The upload first: someone else's or a malformed id is a 404 whatever the body.
        upload = services.get_owned_upload(request.user, upload_id)
        data = self.json_body(request)
        signed = services.sign_upload_parts(upload, data.get("parts"))
        return JsonResponse(
            {
                "parts": [
                    {
                        "part_number": part.number,
                        "size": part.size,
                        "url": part.put.url,
                        "headers": part.put.headers,
                    }
                    for part in signed
                ],
                "expires_at": signed[0].put.expires_at.isoformat(),
            }
        )

    def get(self, request: HttpRequest, upload_id: str) -> JsonResponse:
        state = services.uploaded_parts(user=request.user, upload_id=upload_id)
        upload = state.upload
        return JsonResponse(
            {
                "upload_id": str(upload.pk),
                "status": upload.status,
                "size": upload.declared_size,
                "part_size": upload.part_size,
                "part_count": upload.part_count,
                "checksum": upload.checksum or None,
                "expires_at": upload.expires_at.isoformat(),
                "parts": [
                    {"part_number": part.number, "size": part.size}
                    for part in sorted(state.parts.values(), key=lambda p: p.number)
                ],
            }
        )


class ConfirmUploadView(JsonView):
    """``POST {upload_id}`` -> the upload, once its object is checked in the bucket."""

    rate_limit_group = "confirm-upload"

    def post(self, request: HttpRequest) -> JsonResponse:
        data = self.json_body(request)
        upload_id = data.get("upload_id")
        if not isinstance(upload_id, str):
            raise exceptions.InvalidRequest(
                _("“upload_id” must be a string."), code="invalid_upload_id"
            )
        upload = services.confirm_upload(user=request.user, upload_id=upload_id, request=request)
        return JsonResponse({"upload": serialize_upload(upload)})


class DownloadUrlView(JsonView):
    """``GET`` -> ``{url, expires_at}``: a presigned GET that forces a download dialog."""

    rate_limit_group = "download-url"

    def get(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        signed = services.download_url(user=request.user, upload_id=upload_id)
        return JsonResponse({"url": signed.url, "expires_at": signed.expires_at.isoformat()})


class DownloadRedirectView(DownloadUrlView):
    """``GET`` -> 302 to the presigned GET, so a plain link works without JavaScript."""

    def get(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        signed = services.download_url(user=request.user, upload_id=upload_id)
        return HttpResponseRedirect(signed.url)


class UploadListView(JsonView):
    """``GET ?status=&page=`` -> the signed-in user's own uploads, newest first."""

    page_size = 50

    def get(self, request: HttpRequest) -> JsonResponse:
        uploads = Upload.objects.owned_by(request.user)
        status = request.GET.get("status")
        if status is not None:
            if status not in Upload.Status.values:
                raise exceptions.InvalidRequest(
                    _("“status” must be one of: %(values)s.")
                    % {"values": ", ".join(Upload.Status.values)},
                    code="invalid_status",
                )
            uploads = uploads.filter(status=status)
        page = request.GET.get("page", "1")
        if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 1_000_000:
            raise exceptions.InvalidRequest(
                _("“page” must be a positive number."), code="invalid_page"
            )
        start = (int(page) - 1) * self.page_size
        rows = list(uploads[start : start + self.page_size + 1])
        return JsonResponse(
            {
                "uploads": [serialize_upload(upload) for upload in rows[: self.page_size]],
                "next_page": int(page) + 1 if len(rows) > self.page_size else None,
            }
        )


class UploadDetailView(JsonView):
    """``GET`` -> one of the user's uploads; ``DELETE`` -> delete it and its object."""

    def get(self, request: HttpRequest, upload_id: str) -> JsonResponse:
        upload = services.get_owned_upload(request.user, upload_id)
        return JsonResponse({"upload": serialize_upload(upload)})

    def delete(self, request: HttpRequest, upload_id: str) -> JsonResponse:
        services.delete_upload(user=request.user, upload_id=upload_id)
        return JsonResponse({"deleted": upload_id})


class OpenAPIView(View):
    """``GET`` -> the OpenAPI 3.1 document of this JSON API, its server where the app is
    included (see :func:`presigned_transfers.openapi.document`).

    Not in ``presigned_transfers.urls``: a host project mounts it where, and for whom, it
    wants: ``path("files/openapi.json", OpenAPIView.as_view())``, wrapped in
    ``login_required`` to keep it from anonymous visitors. It says nothing the package does
    not: no setting, key or bucket.
    """

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(openapi.document(request))

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        return error_response(
            exceptions.MethodNotAllowed(details={"allowed": _allowed_methods(self)})
        )
