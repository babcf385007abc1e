from django.contrib import admin
from django.urls import include, path

# Mounted at an unusual prefix, so a hard-coded path anywhere fails a test.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("xfer-9f3/", include("presigned_transfers.urls")),
]
