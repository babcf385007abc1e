"""``example_project/manage.py demo``: one command starts S3, the database and the site."""

from __future__ import annotations

import os
import signal
import socket
from urllib.parse import urlsplit

import pytest
import requests

from tests.demo import Demo, processes_with, require_seaweedfs

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    require_seaweedfs()
    demo = Demo(tmp_path_factory.mktemp("demo"))
    demo.start()
    yield demo
    demo.stop()


def test_demo_answers_and_serves_the_upload_page(demo):
    assert demo.username == "demo" and len(demo.password) >= 12
    anonymous = requests.get(demo.url + "/upload/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/sign-in/?next=/upload/"

    session = demo.sign_in()
    page = session.get(demo.url + "/upload/", timeout=10)
    assert page.status_code == 200
    assert "data-presigned-picker" in page.text
    assert 'data-upload-url="/transfers/upload-url/"' in page.text
    # A strict CSP: the script and stylesheet carry this response's nonce, nothing is inline.
    csp = page.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert "unsafe-inline" not in csp and demo.storage_url in csp
    assert f'defer nonce="{nonce}"></script>' in page.text
    assert "<script>" not in page.text and " style=" not in page.text
    script = session.get(demo.url + "/static/presigned_transfers/presigned_transfers.js")
    assert script.status_code == 200 and "PresignedTransfers" in script.text


def test_demo_signs_uploads_for_its_own_bucket_with_cors(demo):
    session = demo.sign_in()
    signed = session.post(
        demo.url + "/transfers/upload-url/",
        json={"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
        headers={"X-CSRFToken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["url"].startswith(demo.storage_url)
    preflight = requests.options(
        demo.storage_url + "/presigned-demo/x",
        headers={"Origin": demo.url, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == demo.url
    for page in ("/files/", "/documents/", "/admin/"):
        assert session.get(demo.url + page, timeout=10).status_code == 200, page


def test_demo_serves_the_openapi_document_beside_the_app(demo):
    served = requests.get(demo.url + "/transfers/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json()["servers"][0]["url"] == demo.url + "/transfers"
    assert "/upload-url/" in served.json()["paths"]


def test_demo_refuses_a_busy_port(demo, tmp_path):
    busy = Demo(tmp_path, port=demo.port)
    with pytest.raises(AssertionError, match=f"Port {demo.port} on 127.0.0.1 is in use"):
        busy.start(timeout=30)


def _assert_all_stopped(demo):
    storage = urlsplit(demo.storage_url)
    assert "SeaweedFS stopped." in demo.log() and "Demo stopped." in demo.log()
    assert "Traceback" not in demo.log()
    for host, port in (("127.0.0.1", demo.port), (storage.hostname, storage.port)):
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect((host, port))
    assert processes_with(str(demo.data_dir / "seaweedfs")) == []


def test_sigterm_stops_the_site_and_seaweedfs(tmp_path):
    require_seaweedfs()
    demo = Demo(tmp_path)
    demo.start()
    assert processes_with(str(tmp_path / "seaweedfs")) != []
    assert demo.stop() == 0
    _assert_all_stopped(demo)


def test_sigint_then_what_tox_sends_after_it_still_stops_everything_cleanly(tmp_path):
    """SIGINT (Ctrl-C), then tox's second SIGINT and its SIGTERM while SeaweedFS is stopping:
    the later signals must not cut the stop short (they left SeaweedFS running, exit -15)."""
    require_seaweedfs()
    demo = Demo(tmp_path)
    demo.start()
    assert demo.stop(signal.SIGINT, signal.SIGINT, signal.SIGTERM, between=0.25) == 0
    _assert_all_stopped(demo)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_ctrl_c_under_tox_in_a_terminal_reaches_the_demo_not_tox(tmp_path):
    """As `tox -e demo` in a terminal: Ctrl-C stops the demo, which exits 0, and its parent
    never sees the SIGINT (tox would kill the demo within 0.5 s and report a failure)."""
    require_seaweedfs()
    demo = Demo(tmp_path, terminal=True)
    demo.start()
    demo.ctrl_c()
    assert demo.wait() == 0, demo.log()  # the parent's status
    assert "parent: the demo exited with 0; the parent got 0 SIGINT" in demo.log()
    _assert_all_stopped(demo)


def test_with_a_bucket_in_dotenv_the_demo_starts_no_s3_server(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "S3_BUCKET=my-real-bucket\nAWS_REGION=eu-west-1\n"
        "AWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE12\nAWS_SECRET_ACCESS_KEY=not-a-real-secret\n"
        "DJANGO_SECRET_KEY=from-the-dotenv-file-" + "x" * 40 + "\n"
    )
    demo = Demo(tmp_path / "data", env_file=env_file)
    demo.start()
    try:
        assert "Using your bucket 'my-real-bucket' (S3_BUCKET); no S3 server started." in demo.log()
        assert "SeaweedFS" not in demo.log()
        assert not (tmp_path / "data" / "seaweedfs").exists()
        session = demo.sign_in()
        signed = session.post(
            demo.url + "/transfers/upload-url/",
            json={"filename": "a.pdf", "content_type": "application/pdf", "size": 10},
            headers={"X-CSRFToken": session.cookies["csrftoken"]},
            timeout=10,
        )
        assert signed.status_code == 201, signed.text
        assert signed.json()["url"] == "https://my-real-bucket.s3.amazonaws.com/"
        assert "AKIAEXAMPLEEXAMPLE12/" in signed.json()["fields"]["x-amz-credential"]
        assert "/eu-west-1/s3/" in signed.json()["fields"]["x-amz-credential"]
    finally:
        assert demo.stop() == 0
    assert "SeaweedFS stopped." not in demo.log()
