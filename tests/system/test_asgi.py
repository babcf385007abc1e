"""The app under a real ASGI server: uvicorn, in a process of its own, on the real SeaweedFS.

Under ASGI Django runs each request's sync view in a thread of its own (one per request, not
a pool), so what a WSGI worker does in one thread is spread over many: database connections
(one per thread), the row lock and transaction of a confirm, the signals sent after it, the
S3 clients. The server (``tests/asgi_app.py``, settings ``tests/asgi_settings.py``) sees a
database of its own — a SQLite file, or a scratch PostgreSQL database when ``DATABASE_URL``
names PostgreSQL — migrated and given two users by a setup process; it writes every signal
it sends to a file this module reads. Users sign in through Django's own login form (the
admin's), so the session and CSRF cookies are the ones Django set under ASGI.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import django
import pytest
import requests
from django.conf import settings as django_settings
from django.urls import reverse

from tests import CHECKOUT, samples
from tests.live import LiveClient

pytestmark = pytest.mark.s3

ROOT = CHECKOUT
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
#: SQLite before Django 5.1 has no "IMMEDIATE" transactions (and SQLite has no row locks), so
#: nothing serializes two confirms of one upload: both read it pending and copy it, the one
#: whose commit then finds the write lock taken answers 503 database_unavailable and removes
#: the copy it wrote — the very object the other one kept (seen on Django 4.2: the row
#: complete, its object gone). README, Production: SQLite needs IMMEDIATE under threads.
SQLITE_UNSERIALIZED = not ON_POSTGRES and django.VERSION < (5, 1)
CONCURRENT = 10

#: The checkout goes at the END of the server's sys.path, as tox.ini's .pth does for the tests:
#: ``tests`` comes from it, ``presigned_transfers`` from the installed package. (``python -m``
#: and a working directory in the checkout would put the checkout first.)
_PATH = f"import sys; sys.path.append({str(ROOT)!r})\n"
_SETUP = (
    _PATH
    + """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("migrate", verbosity=0)
User = get_user_model()
User.objects.create_user("alice", "alice@example.com", "pw-alice", is_staff=True)
User.objects.create_user("mallory", "mallory@example.com", "pw-mallory", is_staff=True)
"""
)


def _uvicorn_installed() -> None:
    try:
        import uvicorn  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        message = "uvicorn is not installed; pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AsgiServer:
    """The running uvicorn server, its database and bucket, and the signals it sent."""

    url: str
    bucket: str
    s3: Any
    database_url: str
    signal_log: Path

    def signals(self, upload_id: str | None = None) -> list[dict[str, Any]]:
        if not self.signal_log.exists():
            return []
        entries = [json.loads(line) for line in self.signal_log.read_text().splitlines()]
        return [e for e in entries if upload_id is None or e["upload"] == upload_id]

    def row(self, upload_id: str) -> list[tuple[Any, ...]]:
        """The upload's rows in the server's database: (status, confirmed_at is set)."""
        query = (
            "SELECT status, confirmed_at IS NOT NULL FROM presigned_transfers_upload WHERE id = %s"
        )
        if ON_POSTGRES:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return conn.execute(query, (upload_id,)).fetchall()
        path = self.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            # Django stores UUIDs on SQLite as 32 hex digits.
            return conn.execute(query.replace("%s", "?"), (uuid.UUID(upload_id).hex,)).fetchall()

    def sign_in(self, username: str) -> LiveClient:
        """A client signed in through Django's login form, sending CSRF like the JavaScript."""
        http = requests.Session()
        page = http.get(f"{self.url}/admin/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert page.status_code == 200 and token, page.text[:500]
        answer = http.post(
            f"{self.url}/admin/login/?next=/admin/",
            data={
                "username": username,
                "password": f"pw-{username}",
                "csrfmiddlewaretoken": token.group(1),
                "next": "/admin/",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text[:500]
        client = LiveClient(SimpleNamespace(url=self.url), http.cookies["sessionid"])
        client.http.cookies.set("csrftoken", http.cookies["csrftoken"])
        client.http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
        return client


@pytest.fixture(scope="module")
def asgi_server(seaweedfs, tmp_path_factory) -> Iterator[AsgiServer]:
    _uvicorn_installed()
    work = tmp_path_factory.mktemp("asgi")
    bucket = f"asgi-{uuid.uuid4().hex[:12]}"
    seaweedfs.create_bucket(bucket)
    pg_name = None
    if ON_POSTGRES:
        import psycopg

        admin_url = os.environ["DATABASE_URL"]
        pg_name = f"asgi_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        database_url = admin_url.rsplit("/", 1)[0] + "/" + pg_name
    else:
        database_url = f"sqlite:///{work / 'db.sqlite3'}"
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.asgi_settings",
        "ASGI_DATABASE_URL": database_url,
        "ASGI_BUCKET": bucket,
        "ASGI_S3_ENDPOINT": seaweedfs.endpoint_url,
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "ASGI_SIGNAL_LOG": str(work / "signals.jsonl"),
    }
    env.pop("COV_CORE_SOURCE", None)  # no coverage collection in the server process
    process = None
    try:
        subprocess.run([sys.executable, "-c", _SETUP], cwd=work, env=env, check=True, timeout=120)
        log = open(work / "uvicorn.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PATH + "from uvicorn.main import main\nmain()",
                "tests.asgi_app:application",
                "--host=127.0.0.1",
                f"--port={port}",
                "--lifespan=off",
                "--log-level=warning",
                "--no-access-log",
            ],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (work / "uvicorn.log").read_text()
            try:
                if requests.get(f"{url}/admin/login/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (work / "uvicorn.log").read_text()
            time.sleep(0.1)
        yield AsgiServer(
            url=url,
            bucket=bucket,
            s3=seaweedfs.client(),
            database_url=database_url,
            signal_log=work / "signals.jsonl",
        )
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                process.kill()
                process.wait()
            log.close()
            server_log = (work / "uvicorn.log").read_text()
            # A traceback in the server's log is a bug, even behind a JSON 500.
            assert "Traceback" not in server_log, server_log
        if pg_name:
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _upload(
    server: AsgiServer, client: LiveClient, body: bytes, filename: str = "report.pdf"
) -> str:
    """Sign and POST *body* to S3 as the browser does; the upload's id (not confirmed)."""
    signed = client.post_json(
        "upload-url",
        {"filename": filename, "content_type": "application/pdf", "size": len(body)},
    )
    assert signed.status_code == 201, signed.text
    form = signed.json()
    posted = requests.post(
        form["url"],
        data=form["fields"],
        files={"file": (filename, body, "application/pdf")},
        timeout=30,
    )
    assert posted.status_code == 204, posted.text
    return str(form["upload_id"])


def test_sign_upload_confirm_download(asgi_server):
    body = samples.PDF + b"asgi" * 100
    with asgi_server.sign_in("alice") as alice:
        upload_id = _upload(asgi_server, alice, body)
        confirmed = alice.post_json("confirm-upload", {"upload_id": upload_id})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["upload"]["status"] == "complete"
        assert confirmed.json()["upload"]["size"] == len(body)
        link = alice.get("download-url", upload_id)
        assert link.status_code == 200, link.text
        download = requests.get(link.json()["url"], timeout=30)
        listed = alice.get("upload-list")
    assert download.status_code == 200
    assert download.content == body
    assert download.headers["Content-Disposition"].startswith('attachment; filename="report.pdf"')
    assert {u["id"]: u["status"] for u in listed.json()["uploads"]}[upload_id] == "complete"
    assert asgi_server.row(upload_id) == [("complete", True)]

    sent = asgi_server.signals(upload_id)
    receivers = ["sync", "async"] if django.VERSION >= (5, 0) else ["sync"]
    assert [(e["signal"], e["receiver"]) for e in sent] == [
        (name, kind) for name in ("upload_signed", "upload_confirmed") for kind in receivers
    ]
    import presigned_transfers

    for entry in sent:
        assert entry["package"] == presigned_transfers.__file__  # the package under test
        # The request Django built from the ASGI scope; the sync view ran in a thread of its
        # own, not in the event loop's; confirm announces after its transaction committed.
        assert entry["request"] == "ASGIRequest"
        assert entry["receiver"] == "async" or entry["main_thread"] is False
    confirmed_sync = [
        e for e in sent if e["signal"] == "upload_confirmed" and e["receiver"] == "sync"
    ]
    assert confirmed_sync[0]["status"] == "complete"
    assert confirmed_sync[0]["in_atomic_block"] is False


@pytest.mark.skipif(
    SQLITE_UNSERIALIZED,
    reason="SQLite before Django 5.1 cannot serialize concurrent confirms (no BEGIN "
    "IMMEDIATE, no row locks); PostgreSQL or Django 5.1+ run this test",
)
def test_concurrent_confirms_send_one_signal(asgi_server):
    body = samples.PDF + b"x" * 5000
    with asgi_server.sign_in("alice") as alice:
        upload_id = _upload(asgi_server, alice, body, "concurrent.pdf")
        cookies, headers = alice.http.cookies, alice.http.headers
        barrier = threading.Barrier(CONCURRENT, timeout=30)
        answers: list[requests.Response | BaseException] = [None] * CONCURRENT  # type: ignore[list-item]

        def confirm(i: int) -> None:
            http = requests.Session()
            http.cookies.update(cookies)
            http.headers.update(headers)
            try:
                barrier.wait()
                answers[i] = http.post(
                    alice.url("confirm-upload"), json={"upload_id": upload_id}, timeout=60
                )
            except BaseException as error:
                answers[i] = error
            finally:
                http.close()

        threads = [threading.Thread(target=confirm, args=(i,)) for i in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
        assert answer.status_code == 200, answer.text
        assert answer.json()["upload"]["status"] == "complete"
        assert answer.json()["upload"]["id"] == upload_id
    confirmed = [
        e
        for e in asgi_server.signals(upload_id)
        if e["signal"] == "upload_confirmed" and e["receiver"] == "sync"
    ]
    assert len(confirmed) == 1
    assert asgi_server.row(upload_id) == [("complete", True)]
    # One copy kept, at the upload's key (staging keys start with "incoming/").
    kept = [
        key
        for key in _keys(asgi_server)
        if key.endswith("_concurrent.pdf") and not key.startswith("incoming/")
    ]
    assert len(kept) == 1
    assert asgi_server.s3.get_object(Bucket=asgi_server.bucket, Key=kept[0])["Body"].read() == body


def test_delete_removes_the_object_after_commit(asgi_server):
    body = samples.PDF + b"delete me"
    with asgi_server.sign_in("alice") as alice:
        upload_id = _upload(asgi_server, alice, body)
        assert alice.post_json("confirm-upload", {"upload_id": upload_id}).status_code == 200
        before = set(_keys(asgi_server))
        deleted = alice.http.delete(alice.url("upload-detail", upload_id), timeout=30)
        gone = alice.get("upload-detail", upload_id)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": upload_id}
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert asgi_server.row(upload_id) == []
    removed = before - set(_keys(asgi_server))
    assert removed and all(key.endswith("_report.pdf") for key in removed)
    assert "upload_deleted" in [e["signal"] for e in asgi_server.signals(upload_id)]


def _keys(server: AsgiServer) -> list[str]:
    listing = server.s3.list_objects_v2(Bucket=server.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_session_and_csrf(asgi_server):
    anonymous = requests.post(
        asgi_server.url + reverse("presigned_transfers:upload-url"),
        json={"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
        timeout=10,
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    with asgi_server.sign_in("alice") as alice:
        payload = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
        without_token = alice.http.post(
            alice.url("upload-url"), json=payload, headers={"X-CSRFToken": ""}, timeout=10
        )
        wrong_token = alice.http.post(
            alice.url("upload-url"), json=payload, headers={"X-CSRFToken": "x" * 32}, timeout=10
        )
        with_token = alice.post_json("upload-url", payload)
    for refused in (without_token, wrong_token):
        assert refused.status_code == 403
        assert refused.headers["Content-Type"] == "application/json"
        assert refused.json()["error"]["code"] == "csrf_failed"
    assert with_token.status_code == 201, with_token.text
    assert asgi_server.row(with_token.json()["upload_id"]) == [("pending", False)]


def test_errors_are_json(asgi_server):
    with asgi_server.sign_in("alice") as alice:
        upload_id = _upload(asgi_server, alice, samples.PDF)
        invalid = alice.http.post(
            alice.url("confirm-upload"),
            data=b"{not json",
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        wrong_method = alice.http.put(alice.url("confirm-upload"), json={}, timeout=10)
        too_large = alice.http.post(
            alice.url("upload-url"),
            data=b'{"filename": "' + b"a" * 20000 + b'"}',
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    with asgi_server.sign_in("mallory") as mallory:
        someone_elses = mallory.post_json("confirm-upload", {"upload_id": upload_id})
        its_link = mallory.get("download-url", upload_id)
    expected = [
        (invalid, 400, "invalid_json"),
        (wrong_method, 405, "method_not_allowed"),
        (too_large, 413, "request_too_large"),
        (someone_elses, 404, "not_found"),
        (its_link, 404, "not_found"),
    ]
    for answer, status, code in expected:
        assert (answer.status_code, answer.headers["Content-Type"]) == (
            status,
            "application/json",
        ), answer.text
        assert answer.json()["error"]["code"] == code
    assert wrong_method.headers["Allow"]
    # Mallory's attempts changed nothing: the upload is still alice's, pending.
    assert asgi_server.row(upload_id) == [("pending", False)]
