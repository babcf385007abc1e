"""Settings of the ASGI server tests/system/test_asgi.py starts (uvicorn, in a process of its
own).

The test settings, with what a server in another process needs: a database it can open itself
(a SQLite file or a scratch PostgreSQL database, ``ASGI_DATABASE_URL``) and the bucket on the
tests' SeaweedFS (``ASGI_BUCKET``, ``ASGI_S3_ENDPOINT``). Persistent connections are off: under
ASGI, Django runs each request's sync view in a thread of its own, and a connection kept by a
thread that ends is never reused (Django's documentation says to turn them off under ASGI).
"""

import os

import django
import environ

from tests import settings as _base

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

env = environ.Env()

DATABASES = {"default": env.db("ASGI_DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Concurrent requests write from several threads: take the write lock when a transaction
    # starts, and wait for it, rather than fail to upgrade a read to a write (Django 5.1+;
    # before, test_asgi.py does not run its concurrent confirms on SQLite).
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    if django.VERSION >= (5, 1):
        DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

# With CACHE_URL (Redis, shared by every test run on the machine), rate-limit counts of this
# server's users stay apart from other runs' users of the same ids.
CACHES = {"default": {**_base.CACHES["default"], "KEY_PREFIX": f"asgi-test-{os.getpid()}"}}

PRESIGNED_TRANSFERS = {
    **_base.PRESIGNED_TRANSFERS,
    "BUCKET": env("ASGI_BUCKET"),
    "ENDPOINT_URL": env("ASGI_S3_ENDPOINT"),
    "ADDRESSING_STYLE": "path",
}
