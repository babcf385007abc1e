"""The app at the tests' unusual prefix, plus the host pages the browser tests drive."""

from django.urls import path

from tests.browser import pages
from tests.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    *app_urlpatterns,
    path("pages/picker/", pages.picker, name="browser-picker"),
    path("pages/strict-csp/", pages.strict_csp, name="browser-strict-csp"),
    path("pages/files/", pages.files, name="browser-files"),
    path("pages/form/", pages.form, name="browser-form"),
]
