"""A strict Content-Security-Policy for the demo's pages: no inline script or style at all.

The presigned_transfers tags need nothing inline: the script is a static file loaded with this
request's nonce. The browser must be allowed to ``connect`` to the bucket's origin.
(Django 6.0+ ships its own CSP middleware; this small one keeps the demo on Django 4.2+.)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse


def _storage_origin() -> str:
    endpoint = settings.PRESIGNED_TRANSFERS.get("ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        # The admin keeps Django's own defaults.
        if not request.path.startswith(reverse("admin:index")):
            response.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; "
                f"script-src 'nonce-{nonce}'; "
                f"style-src 'self' 'nonce-{nonce}'; "
                f"connect-src 'self' {_storage_origin()}; "
                "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                "frame-ancestors 'none'",
            )
        return response


def csp_nonce(request: HttpRequest) -> dict[str, str]:
    """Template context: ``csp_nonce``, which the presigned_transfers tags put on their tags."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
