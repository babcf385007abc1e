"""Django settings for the benchmarks: a production-like configuration read from the environment.

The benchmark scripts set these variables for the gunicorn server they start:

    BENCH_DATABASE_URL   sqlite:////tmp/x/bench.sqlite3 or postgres://postgres@127.0.0.1:5432/db
    BENCH_S3_ENDPOINT    the SeaweedFS endpoint, e.g. http://127.0.0.1:17345
    BENCH_BUCKET         the bucket on it
    BENCH_CONN_MAX_AGE   persistent connections' age (default 600; 0 under ASGI)
    BENCH_DB_POOL        PostgreSQL only: the size of Django's connection pool per process
                         (psycopg_pool; persistent connections are then off)
    BENCH_CPU_DIR        bench_endpoints.py: where CpuMeter writes its counters
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   SeaweedFS's identity (boto3's provider chain)

Differences from a default project, each applying to our views and the floor views alike:

- ``DEBUG = False``; persistent database connections (``CONN_MAX_AGE``), as in production;
- SQLite in WAL mode with ``transaction_mode = "IMMEDIATE"`` (two gunicorn workers write to
  one file: without it, a transaction that reads first fails to upgrade to a write lock);
- rate limits are off (``RATE_LIMITS`` all ``None``): a load generator hammering one user
  would otherwise measure 429s. The local-memory cache is never used for it, so the checks
  that refuse it are silenced;
- the app's audit log records go to a ``NullHandler`` (records are made, never written).
"""

import os

import environ

env = environ.Env()

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "presigned_transfers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

if os.environ.get("BENCH_CPU_DIR"):
    # Outermost: each request's CPU time, for bench_endpoints.py (see bench/middleware.py).
    # Only there: it is sync-only, which under ASGI would put the whole chain in one thread.
    MIDDLEWARE.insert(0, "bench.middleware.CpuMeter")

ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"

DATABASES = {"default": env.db("BENCH_DATABASE_URL", default="sqlite:////tmp/bench.sqlite3")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("BENCH_CONN_MAX_AGE", default=600)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif os.environ.get("BENCH_DB_POOL"):
    # Django's own pool (Django 5.1+, psycopg_pool): how to reuse connections under ASGI.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 2, "max_size": int(os.environ["BENCH_DB_POOL"]), "timeout": 30}
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
RATELIMIT_USE_CACHE = "default"
SILENCED_SYSTEM_CHECKS = ["presigned_transfers.E012", "django_ratelimit.E003"]

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

MB = 1024 * 1024
PRESIGNED_TRANSFERS = {
    "BUCKET": os.environ.get("BENCH_BUCKET", "bench"),
    "ENDPOINT_URL": os.environ.get("BENCH_S3_ENDPOINT"),
    "ADDRESSING_STYLE": "path",
    "REGION": "us-east-1",
    "RATE_LIMITS": {"upload-url": None, "confirm-upload": None, "download-url": None},
    "POLICIES": {
        "default": {
            "CONTENT_TYPES": ["application/pdf", "image/jpeg", "image/png"],
            "MIN_SIZE": 1,
            "MAX_SIZE": 20 * MB,
        },
        # Confirm without content sniffing: its ranged GET reads 1 byte, not 4 KiB.
        "nosniff": {
            "CONTENT_TYPES": ["application/pdf"],
            "MIN_SIZE": 1,
            "MAX_SIZE": 20 * MB,
            "SNIFF": False,
        },
        # bench_transfer.py: files up to 2 GB, with and without content sniffing.
        "large": {
            "CONTENT_TYPES": ["application/octet-stream"],
            "MIN_SIZE": 1,
            "MAX_SIZE": 2048 * MB,
        },
        "large-nosniff": {
            "CONTENT_TYPES": ["application/octet-stream"],
            "MIN_SIZE": 1,
            "MAX_SIZE": 2048 * MB,
            "SNIFF": False,
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"presigned_transfers": {"handlers": ["null"], "level": "INFO"}},
}
