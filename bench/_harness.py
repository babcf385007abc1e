"""What the server benchmarks share: a clean environment, SeaweedFS, a gunicorn server."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))

ACCESS_KEY = "BENCHACCESSKEY000001"
SECRET_KEY = "bench/secret/key/not/a/real/one/0000000"
BUCKET = "bench"


def clean_environment() -> None:
    """Keep the developer's own AWS setup out; give boto3 SeaweedFS's identity."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def start_seaweedfs(data_dir: Path):
    from presigned_transfers.testing.seaweedfs import SeaweedFS

    server = SeaweedFS(data_dir, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    server.start()
    server.create_bucket(BUCKET)
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, s3_endpoint: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": database_url,
        "BENCH_S3_ENDPOINT": s3_endpoint,
        "BENCH_BUCKET": BUCKET,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


class Gunicorn:
    """``gunicorn bench.wsgi`` on a free loopback port; sync workers."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int,
        log_file: Path,
        timeout: int = 120,
        config: str | None = None,
    ) -> None:
        self.port = free_port()
        self.env = env
        self.workers = workers
        self.log_file = log_file
        self.timeout = timeout
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            GUNICORN,
            "bench.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            "--worker-class=sync",
            f"--timeout={self.timeout}",
            "--backlog=2048",
            "--log-level=warning",
        ]
        if self.config:
            command.append(f"--config={self.config}")
        self._log = open(self.log_file, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_file}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/xfer/uploads/")
                if conn.getresponse().status == 401 and len(self.worker_pids()) == self.workers:
                    conn.close()
                    return
                conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer; see {self.log_file}")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}"
