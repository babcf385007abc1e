"""``manage.py demo``: the whole demo on a fresh machine, with no AWS account.

1. S3: with ``S3_BUCKET`` set (environment or .env) the demo uses that bucket and starts
   nothing. Otherwise it starts an embedded SeaweedFS on loopback, data in ``.demo-data/``,
   and creates the bucket with a CORS rule for the demo's origins (exposing ETag).
2. SQLite (or ``DATABASE_URL``): migrations.
3. A demo user (staff, so the admin works) with a fresh password, printed.
4. Django's dev server on ``--port`` (8000), in a child process that gets the S3 settings
   through its environment.

Ctrl-C, SIGTERM or SIGHUP stops the dev server and then SeaweedFS, cleanly, and exits with
status 0. A second signal while stopping is ignored, so the stop is never cut short.

Started by a parent in the terminal's foreground process group (``tox -e demo``), the demo takes
the terminal's foreground for a process group of its own while it runs, as a shell does for a
job: Ctrl-C then reaches the demo, its dev server and SeaweedFS, not tox. tox, on its own Ctrl-C,
sends its command SIGINT, SIGTERM 0.3 s later and SIGKILL 0.2 s after that (SeaweedFS takes
seconds to stop), and reports an environment that has not ended within a second as skipped and
the run as failed. Not interrupted, it sees the demo end with status 0 and reports OK.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEMO_USERNAME = "demo"
MANAGE_PY = Path(__file__).resolve().parents[3] / "manage.py"


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _demo_keys(data_dir: Path) -> dict[str, str]:
    """The embedded S3 server's access key pair, made once and kept with its data."""
    path = data_dir / "s3-credentials.json"
    if path.is_file():
        return json.loads(path.read_text())
    keys = {
        "access_key": "DEMO" + secrets.token_hex(8).upper(),
        "secret_key": secrets.token_urlsafe(30),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh)
    return keys


class _Stop(Exception):
    """SIGINT (Ctrl-C), SIGTERM or SIGHUP arrived."""


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: its terminal closed
_JOB_SIGNALS = (signal.SIGTTOU, signal.SIGTSTP)


def _on_stop_signal(signum: int, frame: Any) -> None:
    # The first signal stops the demo; the ones after it must not cut the stop short.
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise _Stop


def _runs_under_a_parent_in_the_foreground() -> bool:
    """Whether a parent shares our terminal's foreground process group (tox, not a shell)."""
    try:
        if not os.isatty(0) or os.tcgetpgrp(0) != os.getpgrp() or os.getpgrp() == os.getpid():
            return False
        # With TOSTOP the parent, in the background, would be stopped when it prints our output.
        return not termios.tcgetattr(0)[3] & termios.TOSTOP
    except OSError:  # no controlling terminal
        return False


def _stop_when_orphaned(parent: int, done: threading.Event) -> None:
    while not done.wait(0.5):
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


@contextlib.contextmanager
def _terminal_foreground() -> Iterator[None]:
    """Own the terminal's foreground in a process group of our own, then hand it back."""
    if not _runs_under_a_parent_in_the_foreground():
        yield
        return
    parent_group = os.getpgrp()
    # tcsetpgrp from a background group raises SIGTTOU, which would stop us: ignore it. Ctrl-Z
    # would stop our group while the parent keeps the shell waiting: ignore it too (the dev
    # server and SeaweedFS, started inside, inherit both ignored dispositions).
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _JOB_SIGNALS}
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpid())
    except OSError:  # pragma: no cover - stay as we were: the parent's Ctrl-C reaches us too
        with contextlib.suppress(OSError):
            os.setpgid(0, parent_group)
        owned = False
    else:
        owned = True
    # Out of the parent's group, a signal to that group no longer reaches us: stop when the
    # parent is gone (killed tox), as we would have with it.
    done = threading.Event()
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(), done), daemon=True).start()
    try:
        yield
    finally:
        done.set()
        with contextlib.suppress(OSError):  # the parent may be gone
            # Hand it back unless the shell took it back already (its job, the parent, ended).
            if owned and os.tcgetpgrp(0) == os.getpgrp():
                os.tcsetpgrp(0, parent_group)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Command(BaseCommand):
    help = (
        "Start the demo: an embedded S3 server (SeaweedFS) unless S3_BUCKET is set, "
        "migrations, a demo user, and the dev server. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Dev server port (8000).")
        parser.add_argument(
            "--host", default="127.0.0.1", help="Dev server address (127.0.0.1, loopback only)."
        )

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not _port_is_free(host, port):
            raise CommandError(f"Port {port} on {host} is in use; choose another with --port.")
        data_dir = Path(settings.DEMO_DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        previous = {signum: signal.signal(signum, _on_stop_signal) for signum in _STOP_SIGNALS}
        try:
            with _terminal_foreground():
                self._run(host, port, data_dir)
        except _Stop:
            pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Demo stopped.")

    def _run(self, host: str, port: int, data_dir: Path) -> None:
        origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
        env = dict(os.environ)
        seaweed = None
        try:
            bucket = settings.PRESIGNED_TRANSFERS["BUCKET"]
            if not settings.EMBEDDED_S3:
                storage = f"your bucket {bucket!r} (S3_BUCKET); no S3 server started"
                self.stdout.write(
                    f"Using {storage}. Its CORS rule must allow {' and '.join(origins)}."
                )
            else:
                seaweed = self._start_seaweedfs(data_dir, bucket, origins, env)
                storage = f"SeaweedFS at {seaweed.endpoint_url}, bucket {bucket!r}"
            call_command("migrate", interactive=False, verbosity=0)
            password = self._demo_user()
            self.stdout.write(
                self.style.SUCCESS("\npresigned_transfers demo\n")
                + f"  Site:      http://{host}:{port}/\n"
                + f"  Sign in:   user {DEMO_USERNAME!r}, password {password!r}\n"
                + f"  Admin:     http://{host}:{port}/admin/ (same user)\n"
                + f"  Storage:   {storage}\n"
                + f"  Data:      {data_dir}\n"
                + "  Stop:      Ctrl-C\n"
            )
            self.stdout.flush()
            self._serve(host, port, env)
        finally:
            for signum in _STOP_SIGNALS:  # nothing interrupts the stop, even on an error
                signal.signal(signum, signal.SIG_IGN)
            if seaweed is not None:
                seaweed.stop()
                self.stdout.write("SeaweedFS stopped.")

    def _start_seaweedfs(
        self, data_dir: Path, bucket: str, origins: list[str], env: dict[str, str]
    ) -> Any:
        from presigned_transfers.testing.seaweedfs import SeaweedFS, SeaweedFSError

        keys = _demo_keys(data_dir)
        seaweed = SeaweedFS(
            data_dir / "seaweedfs",
            access_key=keys["access_key"],
            secret_key=keys["secret_key"],
        )
        self.stdout.write("Starting SeaweedFS (an S3 server on loopback)...")
        try:
            seaweed.start()
            seaweed.create_bucket(bucket, cors_origins=origins)
        except SeaweedFSError as error:
            seaweed.stop()
            raise CommandError(str(error)) from error
        except BaseException:
            seaweed.stop()
            raise
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(name, None)
        env.update(
            {
                "S3_BUCKET": bucket,
                "S3_ENDPOINT_URL": seaweed.endpoint_url,
                "S3_ADDRESSING_STYLE": "path",
                "AWS_REGION": seaweed.region,
                "AWS_ACCESS_KEY_ID": keys["access_key"],
                "AWS_SECRET_ACCESS_KEY": keys["secret_key"],
                # A developer's own ~/.aws must not change what the demo talks to.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        return seaweed

    def _demo_user(self) -> str:
        user_model = get_user_model()
        user, _ = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: DEMO_USERNAME}
        )
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        return password

    def _serve(self, host: str, port: int, env: dict[str, str]) -> None:
        command = [
            sys.executable,
            str(MANAGE_PY),
            "runserver",
            f"{host}:{port}" if ":" not in host else f"[{host}]:{port}",
            "--noreload",
            "--insecure",  # serve static files even with DEBUG off
        ]
        child = subprocess.Popen(command, env=env)
        try:
            code = child.wait()
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if code not in (0, *(-signum for signum in _STOP_SIGNALS)):
            raise CommandError(f"The dev server exited with status {code}.")
