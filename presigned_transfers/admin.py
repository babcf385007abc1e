"""Browse, search, download and delete uploads in the Django admin.

Deleting an upload here (one or many) deletes its object from the bucket too: see the
``post_delete`` receiver in :mod:`presigned_transfers.receivers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from presigned_transfers import exceptions, services
from presigned_transfers.models import Upload

if TYPE_CHECKING:
    # Generic in django-stubs only: Django's ModelAdmin cannot be subscripted at run time.
    _UploadModelAdmin = admin.ModelAdmin[Upload]
else:
    _UploadModelAdmin = admin.ModelAdmin


@admin.register(Upload)
class UploadAdmin(_UploadModelAdmin):
    list_display = (
        "original_filename",
        "owner",
        "size_column",
        "content_type",
        "status",
        "created_at",
        "download_link",
    )
    list_filter = ("status", "transport", "content_type", "policy", "created_at")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = (
        "id",
        "owner",
        "key",
        "staging_key",
        "original_filename",
        "content_type",
        "declared_size",
        "verified_size",
        "etag",
        "version_id",
        "transport",
        "checksum_sha256",
        "multipart_id",
        "part_size",
        "policy",
        "status",
        "failure_code",
        "created_at",
        "updated_at",
        "expires_at",
        "confirmed_at",
        "download_link",
    )

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        username = get_user_model().USERNAME_FIELD
        return ("original_filename", "key", f"owner__{username}", "=id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Uploads are created by the upload flow, never by hand.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Upload | None = None) -> bool:
        return False

    @admin.display(description=_("size"), ordering="declared_size")
    def size_column(self, obj: Upload) -> str:
        return obj.size_display

    @admin.display(description=_("download"))
    def download_link(self, obj: Upload) -> str:
        if not obj.is_complete:
            return "—"
        url = reverse("admin:presigned_transfers_upload_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<uuid:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="presigned_transfers_upload_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Staff download: a fresh presigned GET, for users with view permission."""
        upload = get_object_or_404(Upload, pk=object_id)
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        try:
            signed = services.sign_download(upload, user=request.user)
        except exceptions.TransferError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:presigned_transfers_upload_change", args=[upload.pk])
            )
        return HttpResponseRedirect(signed.url)
