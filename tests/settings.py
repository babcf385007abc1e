"""Settings for the test suite.

Zero setup by default: SQLite and a local-memory cache. Production-like runs choose
PostgreSQL and Redis with environment variables:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
    CACHE_URL=redis://127.0.0.1:6379/0
"""

import importlib.util

import environ

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "presigned_transfers",
]
# Django REST framework is optional. Where it is installed (`tox -e drf`), so are the DRF tests'
# own app (tests/drf/: a host project's models) and DRF; elsewhere tests/drf/ is not collected.
if importlib.util.find_spec("rest_framework") is not None:
    INSTALLED_APPS += ["rest_framework", "tests.drf"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": ""}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://presigned-tests")}
RATELIMIT_USE_CACHE = "default"
# Without CACHE_URL the tests use a local-memory cache on purpose: one process, no setup.
# It is not shared between processes, so the checks that refuse it for production are
# silenced here; the PostgreSQL + Redis run (CACHE_URL=redis://...) runs them for real.
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    SILENCED_SYSTEM_CHECKS = ["presigned_transfers.E012", "django_ratelimit.E003"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PRESIGNED_TRANSFERS = {
    "BUCKET": "test-bucket",
    "REGION": "us-east-1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"presigned_transfers": {"handlers": ["null"], "level": "INFO"}},
}
