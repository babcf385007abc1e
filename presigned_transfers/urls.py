"""Include with ``path("<prefix>/", include("presigned_transfers.urls"))``."""

from django.urls import path

from presigned_transfers import views

app_name = "presigned_transfers"

urlpatterns = [
    path("upload-url/", views.UploadUrlView.as_view(), name="upload-url"),
    path("confirm-upload/", views.ConfirmUploadView.as_view(), name="confirm-upload"),
    path("uploads/", views.UploadListView.as_view(), name="upload-list"),
    # Upload ids are matched as plain strings so that a malformed id gets the JSON 404
    # from the view, not the project's HTML 404 page.
    path("uploads/<str:upload_id>/", views.UploadDetailView.as_view(), name="upload-detail"),
    path(
        "uploads/<str:upload_id>/download-url/",
        views.DownloadUrlView.as_view(),
        name="download-url",
    ),
    path(
        "uploads/<str:upload_id>/download/",
        views.DownloadRedirectView.as_view(),
        name="download",
    ),
    path("uploads/<str:upload_id>/parts/", views.UploadPartsView.as_view(), name="upload-parts"),
]
