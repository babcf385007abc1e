from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from example import views
from presigned_transfers.views import OpenAPIView

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("files/", views.files, name="files"),
    path("files/<str:upload_id>/delete/", views.delete, name="delete"),
    path("documents/", views.documents, name="documents"),
    path("sign-in/", auth_views.LoginView.as_view(), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The app's JSON endpoints, at a prefix of our choosing.
    path("transfers/", include("presigned_transfers.urls")),
    # Its OpenAPI document, beside it (the app's URLconf leaves that to the host).
    path("transfers/openapi.json", OpenAPIView.as_view(), name="openapi"),
]
