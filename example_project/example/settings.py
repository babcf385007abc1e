"""Settings of the demo site, read from the environment and a ``.env`` file (django-environ).

``.env`` is looked for in example_project/ and then in the repository root (see .env.example
there for every variable); ``DJANGO_ENV_FILE`` names another file, or ``""`` for none. Real
environment variables win over the file.

With ``S3_BUCKET`` empty, ``manage.py demo`` starts an embedded SeaweedFS and passes its
endpoint, bucket and keys to the dev server through these same variables.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent  # example_project/
REPO_ROOT = BASE_DIR.parent
DEMO_DATA_DIR = Path(os.environ.get("DEMO_DATA_DIR") or BASE_DIR / ".demo-data")

env = environ.Env()
_env_file = os.environ.get("DJANGO_ENV_FILE")
if _env_file is None:
    for _candidate in (BASE_DIR / ".env", REPO_ROOT / ".env"):
        if _candidate.is_file():
            env.read_env(_candidate)
            break
elif _env_file:
    env.read_env(_env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The fallback key is for the local demo only; set DJANGO_SECRET_KEY anywhere else.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or (
    "demo-only-not-secret-" + "x" * 40 if DEBUG else ""
)
ALLOWED_HOSTS = [
    host
    for host in env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
    if host
] or ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "presigned_transfers",
    "example",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "example.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"

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
                "example.middleware.csp_nonce",
            ]
        },
    }
]

# An empty value in .env means "the default", like a missing one.
DATABASES = {
    "default": env.db_url_config(
        env("DATABASE_URL", default="") or f"sqlite:///{DEMO_DATA_DIR / 'db.sqlite3'}"
    )
}

# The rate limits count in this cache. Local memory is right for the demo's single process;
# production needs a shared, atomic cache such as Redis (CACHE_URL=redis://...), and the
# checks that refuse (or, with DEBUG on, warn about) local memory are only silenced for it here.
CACHES = {
    "default": env.cache_url_config(env("CACHE_URL", default="") or "locmemcache://presigned-demo")
}
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    SILENCED_SYSTEM_CHECKS = [
        "presigned_transfers.E012",
        "presigned_transfers.W006",
        "django_ratelimit.E003",
    ]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "upload"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DEMO_DATA_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# With S3_BUCKET empty, `manage.py demo` runs an embedded S3 server (SeaweedFS) with this bucket
# and hands its endpoint and keys to the dev server in S3_* / AWS_* variables.
EMBEDDED_S3 = not env("S3_BUCKET", default="")
DEMO_BUCKET = "presigned-demo"

# Credentials are not settings: boto3 reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# AWS_SESSION_TOKEN from the environment (the .env file included), or a role.
PRESIGNED_TRANSFERS = {
    "BUCKET": env("S3_BUCKET", default="") or DEMO_BUCKET,
    "REGION": env("AWS_REGION", default="") or "us-east-1",
    "ENDPOINT_URL": env("S3_ENDPOINT_URL", default="") or None,
    "ADDRESSING_STYLE": env("S3_ADDRESSING_STYLE", default="") or "auto",
    "POLICIES": {
        "default": {
            "CONTENT_TYPES": [
                "application/pdf",
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/webp",
            ],
            "MAX_SIZE": 20 * 1024 * 1024,
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"presigned_transfers": {"handlers": ["console"], "level": "INFO"}},
}
