"""Confirm under S3 latency: WSGI sync workers, WSGI threads and ASGI, side by side.

    python bench/bench_latency.py                          # 3 rounds of 6 s per run, ~6 min
    python bench/bench_latency.py --rounds 3 --delay-ms 50
    python bench/bench_latency.py --servers sync,uvicorn-pool --duration 4 --rounds 1

Confirm asks S3 twice (a ranged GET of the first 4 KiB, a conditional server-side copy)
while it holds the upload's row lock; on AWS each round trip takes 20-50 ms, and a sync worker
serves nobody else meanwhile. This script puts a delaying TCP proxy (:class:`DelayProxy`)
between the Django server and SeaweedFS and loads ``POST confirm-upload`` with wrk, 50
connections (50 concurrent clients, two signed-in users), every request confirming a
different pending upload whose object was put at its staging key beforehand (not timed,
straight to SeaweedFS, not through the proxy). PostgreSQL (a scratch database the script
creates and drops): on SQLite confirm holds the database's only write lock across both S3
round trips, so confirms run one at a time whatever the server.

The delay: every byte the server sends towards S3 is held ``--delay-ms`` (default 30) before
the proxy passes it on, and a new connection waits as long before the proxy connects on (the
TCP handshake's round trip). So each S3 request on a kept-alive connection takes 30 ms
longer, one on a new connection 60 ms longer, and a confirm (two requests) at least 60 ms.
Answers come back undelayed. Without the delay the same proxy sits in the same place, so
the two runs of a server differ by the latency alone.

Servers (each started fresh for its pair of runs, on loopback, ``bench.settings``: DEBUG off,
rate limits off), 2 cores:

- ``sync``: gunicorn, 5 sync workers (gunicorn's 2 x cores + 1), persistent database
  connections (``CONN_MAX_AGE = 600``);
- ``gthread``: gunicorn, 2 workers x 16 threads (``--worker-class gthread``), persistent
  connections (one per thread: 32);
- ``uvicorn``: uvicorn (``bench.asgi``), 2 workers; Django runs each request's sync view in a
  thread of its own, so persistent connections are off (``CONN_MAX_AGE = 0``, as Django's
  docs advise under ASGI): a connection per request;
- ``uvicorn-pool``: the same with Django's PostgreSQL connection pool (``OPTIONS["pool"]``,
  Django 5.1+, psycopg_pool), 16 connections per worker.

A round runs the servers in a new random order; each server's two runs (no delay, the delay)
come back to back on the same server process, in the other order in the next round, after
a 2 s warm-up. Reported, medians over the rounds: confirms/s, wrk's p50 and p99, the server
processes' CPU time per confirm and the new S3 connections per confirm (counted at the
proxy: a thread that finds no idle connection in the pool opens one), and the per-round
ratio of confirms/s with the delay to without it.

Target (``TARGET``): the recommended deployment keeps >= 0.8x its confirms/s at 30 ms.

Needs gunicorn, uvicorn, psycopg (``pip install -e ".[bench,test]"``), wrk (``apt-get install
wrk``), PostgreSQL at 127.0.0.1:5432 (user postgres, trust).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness
from bench.bench_endpoints import (
    WRK_SCRIPT,
    Child,
    _cpu_ticks,
    create_pg_database,
    drop_pg_database,
)

UVICORN = str(Path(_harness.PYTHON).with_name("uvicorn"))
TARGET = 0.8
CONNECTIONS = 50
WRK_THREADS = 2

#: name: (label, command after the binary, extra environment)
SERVERS = {
    "sync": (
        "gunicorn, 5 sync workers",
        ["--workers=5", "--worker-class=sync"],
        {},
    ),
    "gthread": (
        "gunicorn gthread, 2 workers x 16 threads",
        ["--workers=2", "--worker-class=gthread", "--threads=16"],
        {},
    ),
    "uvicorn": (
        "uvicorn (ASGI), 2 workers, CONN_MAX_AGE 0",
        [],
        {"BENCH_CONN_MAX_AGE": "0"},
    ),
    "uvicorn-pool": (
        "uvicorn (ASGI), 2 workers, DB pool 16",
        [],
        {"BENCH_DB_POOL": "16"},
    ),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the delaying proxy -------------------------------------------------------------------------


class DelayProxy:
    """A TCP proxy on loopback (asyncio, in a thread of its own) that delays one direction.

    Every chunk from a client (the Django server) is passed on to the target ``delay``
    seconds after it arrived, in order; a new connection waits ``delay`` before the proxy
    connects to the target. What the target answers is passed back at once. ``delay`` may
    be changed between runs. Counts connections and the requests that start a chunk.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.delay = 0.0
        self.connections = 0
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        delay = self.delay
        if delay:
            await asyncio.sleep(delay)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def receive() -> None:
            while data := await reader.read(65536):
                if data[:4] in (b"GET ", b"PUT ", b"POST", b"HEAD", b"DELE"):
                    self.requests += 1
                queue.put_nowait((loop.time() + self.delay, data))
            queue.put_nowait((0.0, b""))

        async def send_up() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                up_writer.write(data)
                await up_writer.drain()
            with contextlib.suppress(OSError):
                up_writer.write_eof()

        async def send_down() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.ensure_future(job()) for job in (receive, send_up, send_down)]
        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.wait([tasks[2], tasks[0]], return_when=asyncio.FIRST_COMPLETED)
            if tasks[0].done() and not tasks[2].done():
                # The client is done sending; its last requests may still be on their way.
                await asyncio.wait([tasks[2]], timeout=120)
        for task in tasks:
            task.cancel()
        for stream in (writer, up_writer):
            with contextlib.suppress(Exception):
                stream.close()


# -- the servers --------------------------------------------------------------------------------


class Server:
    """One of :data:`SERVERS` on a free loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_file: Path) -> None:
        self.name = name
        self.label, args, extra = SERVERS[name]
        self.port = _harness.free_port()
        self.env = {**env, **extra}
        self.log_file = log_file
        if name.startswith("uvicorn"):
            self.workers = 2
            self.command = [
                UVICORN,
                "bench.asgi:application",
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--workers={self.workers}",
                "--backlog=2048",
                "--no-access-log",
                "--log-level=warning",
            ]
        else:
            self.workers = int(args[0].split("=")[1])
            self.command = [
                _harness.GUNICORN,
                "bench.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                *args,
                "--timeout=120",
                "--backlog=2048",
                "--log-level=warning",
            ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        children = [int(p) for p in path.read_text().split()] if path.exists() else []
        return [pid, *children]

    def start(self) -> None:
        self._log = open(self.log_file, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command, cwd=_harness.ROOT, env=self.env, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_file}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/xfer/uploads/")
                status = conn.getresponse().status
                conn.close()
                if status == 401 and len(self.pids()) > self.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer; see {self.log_file}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._log.close()


# -- the runs -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, seaweed, proxy: DelayProxy) -> None:
        self.args = args
        self.work = work
        self.proxy = proxy
        # The preparation side of bench_endpoints.py: users, sessions, pending uploads.
        self.prep = Child.__new__(Child)
        self.prep.args = argparse.Namespace(s3_endpoint=seaweed.endpoint_url)
        self.prep.pending_seconds = 0.0
        self.prep.put = self.prep._putter()
        self.users = [Child._user(f"bench-{i}") for i in range(WRK_THREADS)]
        self.sessions = ",".join(Child._login(user) for user in self.users)
        self.rate = 150.0
        self.files = 0

    def ids(self, duration: float, rate: float | None = None) -> str:
        """Fresh pending uploads for one run, one file of ids per wrk thread; their prefix."""
        n = int((rate or self.rate) * duration * 1.5 / WRK_THREADS) + 50
        self.files += 1
        prefix = self.work / f"ids-{self.files}-"
        for index, user in enumerate(self.users):
            ids = self.prep._pending(user, n, "default")
            Path(f"{prefix}{index}").write_text("\n".join(ids) + "\n")
        return str(prefix)

    def wrk(self, server: Server, duration: float, prefix: str) -> dict:
        env = {
            **os.environ,
            "WRK_METHOD": "POST",
            "WRK_PATH": "/xfer/confirm-upload/",
            "WRK_BODY": '{"upload_id": "{id}"}',
            "WRK_SESSIONS": self.sessions,
            "WRK_IDS": prefix,
            "WRK_CYCLE": "0",
        }
        command = [
            "wrk",
            f"--threads={WRK_THREADS}",
            f"--connections={CONNECTIONS}",
            f"--duration={duration:g}s",
            "--timeout=20s",
            f"--script={WRK_SCRIPT}",
            server.url,
        ]
        output = subprocess.run(command, env=env, capture_output=True, text=True)
        if output.returncode:
            raise RuntimeError(f"{server.name}: wrk failed:\n{output.stdout}{output.stderr}")
        result = json.loads(output.stdout.strip().splitlines()[-1])
        result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
        errors = sum(
            result[key] for key in ("connect_errors", "write_errors", "status_errors", "timeouts")
        )
        if server.name != "sync":  # a sync worker closes each connection: not an error
            errors += result["read_errors"]
        if errors:
            raise RuntimeError(f"{server.name}: errors in the run: {result}\n{output.stdout}")
        return result

    def measure(self, server: Server, delay_ms: float, prefix: str) -> dict:
        while True:
            self.proxy.delay = delay_ms / 1000
            pids = server.pids()
            self._drain()
            connections, requests = self.proxy.connections, self.proxy.requests
            ticks = _cpu_ticks(pids)
            result = self.wrk(server, self.args.duration, prefix)
            self._drain()
            ticks = _cpu_ticks(pids) - ticks
            if not result["overruns"]:
                break
            log(f"  {server.name}: ran out of pending uploads at {result['rps']:.0f}/s, again")
            self.rate = max(self.rate, result["rps"]) * 2
            prefix = self.ids(self.args.duration)
        self.rate = max(self.rate, result["rps"])
        # The confirms the server made: wrk counts those answered within the run, but the
        # requests still queued when it stops are served after it (up to 50 for sync
        # workers). Every confirm sends S3 exactly two requests (bench_transfer.py).
        served = max((self.proxy.requests - requests) / 2, 1)
        result["served"] = served
        result["cpu_ms"] = ticks / os.sysconf("SC_CLK_TCK") / served * 1e3
        result["s3_connections"] = (self.proxy.connections - connections) / served
        return result

    def _drain(self) -> None:
        """Wait until the server has served what was still queued when wrk stopped."""
        last, quiet = self.proxy.requests, 0
        while quiet < 5:
            time.sleep(0.1)
            quiet = quiet + 1 if self.proxy.requests == last else 0
            last = self.proxy.requests

    def run(self) -> dict[str, dict[float, list[dict]]]:
        delays = [0.0, float(self.args.delay_ms)]
        names = self.args.servers.split(",")
        samples: dict[str, dict[float, list[dict]]] = {n: {d: [] for d in delays} for n in names}
        rng = random.Random(20261201)
        env = _harness.server_env(self.args.database_url, self.proxy.url)
        for round_number in range(self.args.rounds):
            order = rng.sample(names, len(names))
            for name in order:
                # Each run's uploads first (at the best rate seen, delay or not), then the
                # server; SeaweedFS settles while it starts.
                warm = self.ids(self.args.warm_up, rate=self.rate)
                prefixes = {delay: self.ids(self.args.duration) for delay in delays}
                server = Server(name, env, self.work / f"{name}.log")
                server.start()
                try:
                    self.proxy.delay = 0.0
                    self.wrk(server, self.args.warm_up, warm)
                    time.sleep(self.args.settle)
                    run_order = delays if round_number % 2 == 0 else delays[::-1]
                    for delay in run_order:
                        result = self.measure(server, delay, prefixes[delay])
                        samples[name][delay].append(result)
                        log(
                            f"  round {round_number + 1}, {name}, +{delay:g} ms: "
                            f"{result['rps']:.0f} confirms/s, p99 "
                            f"{result['p99_us'] / 1000:.0f} ms, {result['cpu_ms']:.1f} ms CPU, "
                            f"{result['s3_connections']:.2f} new S3 connections per confirm"
                        )
                finally:
                    server.stop()
        return samples


def report(samples: dict[str, dict[float, list[dict]]], delay_ms: float) -> list[str]:
    lines = [
        f"| server | S3 delay | confirms/s | p50 ms | p99 ms | server CPU ms/confirm "
        f"| new S3 connections per confirm | confirms/s at +{delay_ms:g} ms vs +0 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for name, by_delay in samples.items():
        label = SERVERS[name][0]
        for delay, runs in by_delay.items():

            def med(key: str, runs: list[dict] = runs) -> float:
                return statistics.median(run[key] for run in runs)

            if delay:
                ratios = [
                    slow["rps"] / fast["rps"]
                    for slow, fast in zip(runs, by_delay[0.0], strict=True)
                ]
                ratio = statistics.median(ratios)
                versus = f"**{ratio:.2f}x** ({', '.join(f'{r:.2f}' for r in ratios)})"
                verdicts.append(
                    f"- {label}: {ratio:.2f}x its confirms/s at +{delay:g} ms "
                    f"({'>=' if ratio >= TARGET else '<'} {TARGET}x)"
                )
            else:
                versus = "—"
            lines.append(
                f"| {label} | +{delay:g} ms | {med('rps'):,.0f} | {med('p50_us') / 1000:.0f} "
                f"| {med('p99_us') / 1000:.0f} | {med('cpu_ms'):.1f} "
                f"| {med('s3_connections'):.2f} | {versus} |"
            )
    return [*lines, "", *verdicts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6, help="seconds per run")
    parser.add_argument("--warm-up", type=float, default=2, help="seconds of warm-up")
    parser.add_argument("--settle", type=float, default=1.0, help="idle seconds before a run")
    parser.add_argument("--delay-ms", type=float, default=30, help="added to each S3 request")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument(
        "--pg-admin-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL to create (and drop) a scratch database on",
    )
    args = parser.parse_args(argv)
    _harness.clean_environment()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    for name in args.servers.split(","):
        if name not in SERVERS:
            parser.error(f"unknown server {name!r}; one of {', '.join(SERVERS)}")

    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    started = time.monotonic()
    seaweed = proxy = pg_name = None
    try:
        seaweed = _harness.start_seaweedfs(work / "seaweedfs")
        proxy = DelayProxy("127.0.0.1", int(seaweed.endpoint_url.rsplit(":", 1)[1]))
        proxy.start()
        pg_name, args.database_url = create_pg_database(args.pg_admin_url)
        os.environ.update(_harness.server_env(args.database_url, proxy.url))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        samples = Bench(args, work, seaweed, proxy).run()
        from django.db import connections

        connections.close_all()
    finally:
        if pg_name:
            drop_pg_database(args.pg_admin_url, pg_name)
        if proxy is not None:
            proxy.stop()
        if seaweed is not None:
            seaweed.stop()
        shutil.rmtree(work, ignore_errors=True)
    import gunicorn
    import psycopg
    import uvicorn

    print(
        f"Python {sys.version.split()[0]}, Django {django.__version__}, gunicorn "
        f"{gunicorn.__version__}, uvicorn {uvicorn.__version__}, psycopg {psycopg.__version__}; "
        f"{os.cpu_count()} CPUs, load average {_harness.load_average()}; wrk {WRK_THREADS} "
        f"threads, {CONNECTIONS} connections; {args.rounds} rounds of {args.duration:g} s per "
        f"run, medians; {time.monotonic() - started:.0f} s in all.\n"
    )
    print("\n".join(report(samples, args.delay_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
