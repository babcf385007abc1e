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

from tests import CHECKOUT

MANAGE_PY = CHECKOUT / "example_project" / "manage.py"

# A stand-in for tox: a parent in the terminal's foreground process group that runs the demo
# as its child and counts the SIGINTs it gets (tox turns one into an interrupt of the demo).
FOREGROUND_PARENT = """
import fcntl, os, signal, subprocess, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes our controlling terminal
interrupts = []
signal.signal(signal.SIGINT, lambda *args: interrupts.append(args[0]))
code = subprocess.call(sys.argv[1:])
print(f"parent: the demo exited with {code}; the parent got {len(interrupts)} SIGINT", flush=True)
"""


def processes_with(fragment: str) -> list[int]:
    """The ids of the processes whose command line contains ``fragment`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and fragment.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # it ended meanwhile
            continue
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_seaweedfs() -> None:
    from presigned_transfers.testing.seaweedfs import SeaweedFSError, weed_binary

    try:
        weed_binary()
    except SeaweedFSError as error:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))


class Demo:
    """``manage.py demo --port PORT`` in a subprocess, with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        env_file: Path | None = None,
        terminal: bool = False,
    ) -> None:
        """``terminal``: run it as ``tox -e demo`` in a terminal does, under FOREGROUND_PARENT,
        both in the foreground process group of a pty of their own."""
        self.data_dir = data_dir
        self.env_file = env_file
        self.terminal = terminal
        self._pty: int | None = None
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
        command = [sys.executable, str(MANAGE_PY), "demo", "--port", str(self.port)]
        if self.terminal:
            self._pty, terminal = os.openpty()
            self.process = subprocess.Popen(
                [sys.executable, "-c", FOREGROUND_PARENT, *command],
                env=self.environment(),
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                start_new_session=True,
            )
            os.close(terminal)
            reader = self._read_terminal
        else:
            # Not the test run's terminal: the demo would take its foreground (see demo.py).
            self.process = subprocess.Popen(
                command,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            reader = self._read_output
        self._reader = threading.Thread(target=reader, daemon=True)
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

    def _read_terminal(self) -> None:
        assert self._pty is not None
        while True:
            try:
                data = os.read(self._pty, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                return
            if not data:
                return
            self.output.append(data.decode(errors="replace").replace("\r\n", "\n"))

    def ctrl_c(self) -> None:
        """Type Ctrl-C in the demo's terminal: SIGINT to its foreground process group."""
        assert self._pty is not None
        os.write(self._pty, b"\x03")

    def _answers(self) -> bool:
        try:
            requests.get(self.url + "/sign-in/", timeout=2)
        except requests.ConnectionError:
            return False
        return True

    def log(self) -> str:
        return "".join(self.output)

    def stop(self, *signals: signal.Signals, between: float = 0.0, timeout: float = 30) -> int:
        """Send ``signals`` (SIGTERM, as a service manager would), ``between`` seconds apart;
        wait for the exit and return its status."""
        assert self.process is not None
        for index, signum in enumerate(signals or (signal.SIGTERM,)):
            time.sleep(between if index else 0)
            if self.process.poll() is not None:
                break
            self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:  # pragma: no cover - a failure path
            self.process.kill()
            self.process.wait()
            raise AssertionError("The demo did not stop:\n" + self.log()) from None
        self._close()
        return self.process.returncode

    def _close(self) -> None:
        assert self.process is not None
        self._reader.join(10)
        if self._pty is not None:
            os.close(self._pty)
            self._pty = None
        elif self.process.stdout is not None:
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
