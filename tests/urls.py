from django.contrib import admin
from django.urls import include, path

from presigned_transfers.views import OpenAPIView

# Mounted at an unusual prefix, so a hard-coded path anywhere fails a test. The OpenAPI view
# is mounted elsewhere, as a host may: it finds the app's prefix itself.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("xfer-9f3/", include("presigned_transfers.urls")),
    path("api-docs-7c1/openapi.json", OpenAPIView.as_view(), name="openapi"),
]
