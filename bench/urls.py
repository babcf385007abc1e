"""The benchmark server's URLs: the app (at an unusual prefix, as in the tests) and bench views."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("xfer/", include("presigned_transfers.urls")),
    path("floor/upload-url/", views.upload_url_floor),
    path("floor/confirm-db/", views.confirm_floor_db),
    path("floor/confirm-byte/", views.confirm_floor_byte),
    path("floor/confirm-sniff/", views.confirm_floor_sniff),
    path("floor/uploads/<str:upload_id>/download-url/", views.download_url_floor),
    path("proxied/upload/", views.proxied_upload),
]
