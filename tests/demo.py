"""Run ``example_project/manage.py demo`` as a newcomer would, for the tests (no fixtures here)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

MANAGE_PY = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_seaweedfs() -> None:
    from presigned_transfers.seaweedfs import SeaweedFSError, weed_binary

    try:
        weed_binary()
    except SeaweedFSError as error:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))


class Demo:
    """``manage.py demo --port PORT`` in a subprocess, with its own data directory."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, env_file: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env_file = env_file
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.username = self.password = self.storage_url = ""

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "DJANGO_", "S3_", "PYTEST_", "COV_"))
            and key not in ("DATABASE_URL", "CACHE_URL")
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "example.settings",
                # Never a developer's own .env.
                "DJANGO_ENV_FILE": str(self.env_file) if self.env_file else "",
                "DEMO_DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self, timeout: float = 90) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "demo", "--port", str(self.port)],
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close()
                raise AssertionError("The demo exited early:\n" + self.log())
            match = re.search(r"user '([^']+)', password '([^']+)'", self.log())
            storage = re.search(r"Storage: +(?:SeaweedFS at (http://\S+),|your bucket)", self.log())
            if match and storage and self._answers():
                self.username, self.password = match.groups()
                self.storage_url = storage.group(1) or ""
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError("The demo did not answer in time:\n" + self.log())

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def _answers(self) -> bool:
        try:
            requests.get(self.url + "/sign-in/", timeout=2)
        except requests.ConnectionError:
            return False
        return True

    def log(self) -> str:
        return "".join(self.output)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager would; return the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:  # pragma: no cover - a failure path
                self.process.kill()
                self.process.wait()
                raise AssertionError("The demo ignored SIGTERM:\n" + self.log()) from None
        self._close()
        return self.process.returncode

    def _close(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        self._reader.join(10)
        self.process.stdout.close()

    def sign_in(self) -> requests.Session:
        session = requests.Session()
        session.get(self.url + "/sign-in/", timeout=10)
        response = session.post(
            self.url + "/sign-in/",
            data={
                "username": self.username,
                "password": self.password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": self.url + "/sign-in/"},
            timeout=10,
        )
        assert response.url == self.url + "/upload/", response.url
        return session
