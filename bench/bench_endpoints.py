"""Endpoints under a real WSGI server: our views against Django's own floor, side by side.

    python bench/bench_endpoints.py                        # SQLite and PostgreSQL, 4 rounds
    python bench/bench_endpoints.py --dbs sqlite --rounds 9 --duration 3 --all

For each database, a gunicorn server (2 sync workers, one per core, ``bench.settings``) serves
both our endpoints and the *floor* views of ``bench/views.py``, which do the same session
authentication and CSRF check, parse the same JSON and make the same database reads and writes,
but none of our work: no validation, no signing, no audit log, no signals. ``wrk`` (``apt-get
install wrk``) loads it over loopback with 4 connections on 2 threads, one signed-in user per
thread (session cookie, CSRF cookie and ``X-CSRFToken`` header). Rate limits are off.

Candidates (``/xfer/`` is the app, ``/floor/`` the floor views):

- upload-url: ours validates, builds the key, inserts the pending row and signs a POST policy;
  the floor inserts the same row.
- confirm-upload: ours locks the pending row, reads the first 4 KiB of the object at its
  staging key in SeaweedFS (one ranged GET, whose answer also gives the size and ETag),
  sniffs them, copies that version to the kept key (a server-side copy conditioned on the
  ETag), updates the row; both S3 requests are signed by our ``sigv4`` and sent with urllib3.
  Its honest floor does the same row lock, the same two S3 requests the ordinary way (boto3,
  a cached client: ``get_object(Range=...)`` and ``copy_object(CopySourceIfMatch=...)``) and
  the same update; a second pair runs with a policy whose ``SNIFF`` is off (the GET reads
  1 byte, on both sides); with ``--all``, a DB-only floor shows what the S3 round trips
  cost. Every confirm request, ours or a floor's, confirms a different pending upload whose
  object was put at its staging key before the round (objects and rows are created between
  runs, not timed), so no side reads a warmer cache than the other.
- download-url: ours looks up the owned upload and signs a GET with a Content-Disposition;
  the floor makes the same lookup.

A round first prepares everything it needs and lets the server settle, then runs each
endpoint's candidates for ``--duration`` seconds each, back to back (ours and its floor: A/B,
then B/A in the next round; the endpoints in a new random order), then each pair once more in
a single run that alternates their requests one by one. Reported, as medians over the rounds:
requests/s and wrk's p50 and p99 latency; the CPU time per request of the gunicorn workers
("Django CPU", /proc/<pid>/stat) and of all server processes (plus SeaweedFS and the
PostgreSQL backends); the per-round ratio of our requests/s to the floor's, with quartiles;
and, from the alternating run, the CPU time Django spends on each of ours and of the floor's
requests (``bench/middleware.py``) and their ratio, floor / ours. Both get the very same
machine in that run, so that ratio holds steady on a busy shared machine where requests/s
from separate runs swing by ±20%; it is what our share of the work would cost in capacity if
Django were all a worker did (gunicorn's own work, the same for both, would bring it closer
to 1).

Target (``CPU_TARGET``): for every endpoint, floor / ours >= 0.9 in the alternating run.

Rough cost: ~6 minutes for both databases with the defaults (--rounds 4 --duration 2).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness

WRK_SCRIPT = Path(__file__).with_name("wrk_script.lua")
#: What the confirm candidates upload beforehand: a PDF header, so the sniffer accepts it,
#: and more than the 4 KB that sniffing reads.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * (8192 - 15)
UPLOAD_BODY = json.dumps(
    {"filename": "report.pdf", "content_type": "application/pdf", "size": 12345}
)

# name: (endpoint, floor or None, method, path, body, ids)
CANDIDATES = {
    "upload-url": (
        "upload-url",
        "upload-url floor",
        "POST",
        "/xfer/upload-url/",
        UPLOAD_BODY,
        None,
    ),
    "upload-url floor": ("upload-url", None, "POST", "/floor/upload-url/", UPLOAD_BODY, None),
    "confirm-upload": (
        "confirm-upload",
        "confirm floor: DB + GET 4 KiB + copy",
        "POST",
        "/xfer/confirm-upload/",
        '{"upload_id": "{id}"}',
        "pending",
    ),
    "confirm floor: DB + GET 4 KiB + copy": (
        "confirm-upload",
        None,
        "POST",
        "/floor/confirm-sniff/",
        '{"upload_id": "{id}"}',
        "pending",
    ),
    "confirm-upload, SNIFF off": (
        "confirm-upload",
        "confirm floor: DB + GET 1 B + copy",
        "POST",
        "/xfer/confirm-upload/",
        '{"upload_id": "{id}"}',
        "pending-nosniff",
    ),
    "confirm floor: DB + GET 1 B + copy": (
        "confirm-upload",
        None,
        "POST",
        "/floor/confirm-byte/",
        '{"upload_id": "{id}"}',
        "pending-nosniff",
    ),
    "confirm floor: DB only": (
        "confirm-upload",
        None,
        "POST",
        "/floor/confirm-db/",
        '{"upload_id": "{id}"}',
        "pending",
    ),
    "download-url": (
        "download-url",
        "download-url floor",
        "GET",
        "/xfer/uploads/{id}/download-url/",
        "",
        "complete",
    ),
    "download-url floor": (
        "download-url",
        None,
        "GET",
        "/floor/uploads/{id}/download-url/",
        "",
        "complete",
    ),
}


#: Only with --all: informative, and the slowest to prepare for (it is the fastest to run).
OPTIONAL = frozenset({"confirm floor: DB only"})
GROUPS = [
    ["upload-url", "upload-url floor"],
    [
        "confirm-upload",
        "confirm floor: DB + GET 4 KiB + copy",
        "confirm-upload, SNIFF off",
        "confirm floor: DB + GET 1 B + copy",
        "confirm floor: DB only",
    ],
    ["download-url", "download-url floor"],
]
TICK = os.sysconf("SC_CLK_TCK")
#: Target: floor / ours Django CPU per request, in the alternating run, for every endpoint.
CPU_TARGET = 0.9


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the child: one database, one gunicorn server ---------------------------------------------


class Child:
    """Everything for one database: Django set up in this process, a gunicorn server, wrk."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.cpu_dir = str(work / "cpu")
        os.mkdir(self.cpu_dir)
        self.env = _harness.server_env(
            args.database_url, args.s3_endpoint, BENCH_CPU_DIR=self.cpu_dir
        )
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.put = self._putter()
        self.users = [self._user(f"bench-{i}") for i in range(args.threads)]
        self.sessions = ",".join(self._login(user) for user in self.users)
        self.rates: dict[str, float] = {}
        self.pending_seconds = 0.0
        self.id_files = 0
        self.complete = [self._complete(user, 50) for user in self.users]

    def _putter(self):
        """``put(key)``: store the PDF at *key* with a presigned PUT over a kept-alive connection.

        Cheaper than boto3's ``put_object`` by an order of magnitude, which matters: every
        confirm run needs a few hundred fresh objects.
        """
        from presigned_transfers.sigv4 import Credentials, S3Presigner

        presigner = S3Presigner(
            bucket=_harness.BUCKET,
            region="us-east-1",
            endpoint_url=self.args.s3_endpoint,
            addressing_style="path",
        )
        credentials = Credentials(_harness.ACCESS_KEY, _harness.SECRET_KEY, None)
        host, port = urlsplit(self.args.s3_endpoint).hostname, urlsplit(self.args.s3_endpoint).port
        local = threading.local()

        def put(key: str) -> None:
            url = urlsplit(
                presigner.presign_url(credentials, method="PUT", key=key, expires_in=600)
            )
            conn = getattr(local, "conn", None) or http.client.HTTPConnection(host, port)
            local.conn = conn
            conn.request(
                "PUT",
                f"{url.path}?{url.query}",
                body=PDF,
                headers={"Content-Type": "application/pdf"},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"PUT {key}: {response.status}")

        return put

    @staticmethod
    def _user(name: str):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.create_user(name)

    @staticmethod
    def _login(user) -> str:
        from django.middleware.csrf import CSRF_ALLOWED_CHARS
        from django.test import Client
        from django.utils.crypto import get_random_string

        client = Client()
        client.force_login(user)
        csrf = get_random_string(32, CSRF_ALLOWED_CHARS)
        return f"{client.cookies['sessionid'].value}:{csrf}"

    def _pending(self, user, n: int, policy_name: str) -> list[str]:
        """*n* pending uploads of *user* whose objects are at their staging keys (not timed)."""
        from datetime import timedelta

        from django.utils import timezone

        from presigned_transfers import policy
        from presigned_transfers.models import Upload

        started = time.monotonic()
        now = timezone.now()
        keys = [
            policy.build_key(owner_id=user.pk, filename="report.pdf", policy=policy_name, now=now)
            for _ in range(n)
        ]

        # Where the browser's form would have written: the staging key, which confirm reads.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self.put, [policy.staging_key(key) for key in keys]))
        uploads = Upload.objects.bulk_create(
            Upload(
                id=uuid.uuid4(),
                owner=user,
                key=key,
                staging_key=policy.staging_key(key),
                original_filename="report.pdf",
                content_type="application/pdf",
                declared_size=len(PDF),
                policy=policy_name,
                expires_at=now + timedelta(hours=2),
            )
            for key in keys
        )
        self.pending_seconds += time.monotonic() - started
        return [str(upload.pk) for upload in uploads]

    @staticmethod
    def _complete(user, n: int) -> list[str]:
        from django.utils import timezone

        from presigned_transfers.models import Upload

        now = timezone.now()
        uploads = Upload.objects.bulk_create(
            Upload(
                id=uuid.uuid4(),
                owner=user,
                key=f"uploads/{user.pk}/{uuid.uuid4().hex}_r\u00e9sum\u00e9 (final).pdf",
                original_filename="r\u00e9sum\u00e9 (final).pdf",
                content_type="application/pdf",
                declared_size=len(PDF),
                verified_size=len(PDF),
                policy="default",
                status=Upload.Status.COMPLETE,
                confirmed_at=now,
                expires_at=now,
            )
            for _ in range(n)
        )
        return [str(upload.pk) for upload in uploads]

    def _ids(
        self, kind: str | None, name: str, duration: float, rate: float | None
    ) -> tuple[str, bool]:
        """Write this run's id files (one per wrk thread); return their prefix, and cycle?"""
        if kind is None:
            return "", False
        if kind == "complete":
            per_thread, cycle = self.complete, True
        else:
            # Each request confirms a different pending upload: enough for 1.5 times the best
            # rate seen so far (wrk's threads do not share the work exactly evenly); a run
            # that runs out anyway is made again with more.
            rate = rate or self.rates.get(name, 150.0)
            n = math.ceil(rate * duration * 1.5 / len(self.users)) + 50
            policy_name = "nosniff" if kind == "pending-nosniff" else "default"
            per_thread = [self._pending(user, n, policy_name) for user in self.users]
            cycle = False
        self.id_files += 1  # every preparation its own files: several may be pending at once
        prefix = self.work / f"ids-{self.id_files}-"
        for index, ids in enumerate(per_thread):
            Path(f"{prefix}{index}").write_text("\n".join(ids) + "\n")
        return str(prefix), cycle

    def prepare(self, name: str, duration: float, rate: float | None = None) -> tuple[str, bool]:
        """The ids a run of *name* uses (fresh pending uploads for confirm)."""
        return self._ids(CANDIDATES[name][5], name, duration, rate)

    def prepare_mixed(self, ours: str, floor: str) -> dict[str, tuple[str, bool]]:
        """The ids of a run alternating *ours* and *floor*: each gets half the requests."""
        rate = max(self.rates.get(ours, 150.0), self.rates.get(floor, 150.0)) / 2
        return {name: self.prepare(name, self.args.duration, rate) for name in (ours, floor)}

    def wrk(
        self,
        server: _harness.Gunicorn,
        name: str,
        duration: float,
        ids: tuple[str, bool],
        mix: tuple[str, tuple[str, bool]] | None = None,
    ) -> dict:
        """One wrk run of *name*; with *mix* (another candidate and its ids), alternating."""
        method, path, body = CANDIDATES[name][2:5]
        prefix, cycle = ids
        env = {
            **os.environ,
            "WRK_METHOD": method,
            "WRK_PATH": path,
            "WRK_BODY": body,
            "WRK_SESSIONS": self.sessions,
            "WRK_IDS": prefix,
            "WRK_CYCLE": "1" if cycle else "0",
        }
        if mix is not None:
            other, (other_prefix, other_cycle) = mix
            assert CANDIDATES[other][2] == method
            env.update(
                WRK_PATH_B=CANDIDATES[other][3],
                WRK_BODY_B=CANDIDATES[other][4],
                WRK_IDS_B=other_prefix,
                WRK_CYCLE_B="1" if other_cycle else "0",
            )
        command = [
            "wrk",
            f"--threads={self.args.threads}",
            f"--connections={self.args.connections}",
            f"--duration={duration}s",
            "--timeout=10s",
            f"--script={WRK_SCRIPT}",
            server.url,
        ]
        output = subprocess.run(command, env=env, capture_output=True, text=True)
        if output.returncode:
            raise RuntimeError(f"{name}: wrk failed:\n{output.stdout}{output.stderr}")
        result = json.loads(output.stdout.strip().splitlines()[-1])
        result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
        errors = sum(
            result[key] for key in ("connect_errors", "write_errors", "status_errors", "timeouts")
        )
        # With sync workers every response ends with "Connection: close"; wrk counts no
        # read error for that, so any read error is a real one too.
        errors += result["read_errors"]
        if errors:
            raise RuntimeError(f"{name}: errors in the run: {result}\n{output.stdout}")
        if mix is None:
            self.rates[name] = max(self.rates.get(name, 0.0), result["rps"])
        return result

    def mixed(
        self, server: _harness.Gunicorn, ours: str, floor: str, prepared: dict | None = None
    ) -> dict:
        """Ours and its floor in one run, request by request: Django CPU per request of each."""
        from bench import middleware

        while True:
            prepared = prepared or self.prepare_mixed(ours, floor)
            ids, floor_ids = prepared[ours], prepared[floor]
            pids = server.worker_pids()
            before = middleware.read(pids, self.cpu_dir)
            result = self.wrk(server, ours, self.args.duration, ids, mix=(floor, floor_ids))
            after = middleware.read(pids, self.cpu_dir)
            if not result["overruns"]:
                break
            log(f"  {ours} + {floor}: ran out of pending uploads, again")
            self.rates[ours] *= 2
            self.rates[floor] *= 2
            prepared = None

        def per_request(kind: str) -> float:
            count = after[kind][0] - before.get(kind, [0, 0])[0]
            return (after[kind][1] - before.get(kind, [0, 0])[1]) / max(count, 1) / 1e6

        return {"ours_ms": per_request("xfer"), "floor_ms": per_request("floor")}

    def measure(
        self,
        server: _harness.Gunicorn,
        name: str,
        duration: int,
        ids: tuple[str, bool] | None = None,
    ) -> dict:
        """One run of *name*, with the server processes' CPU time per request."""
        while True:
            ids = ids or self.prepare(name, duration)
            django_pids, other_pids = self._server_pids(server)
            before = _cpu_ticks(django_pids), _cpu_ticks(other_pids)
            result = self.wrk(server, name, duration, ids)
            after = _cpu_ticks(django_pids), _cpu_ticks(other_pids)
            if not result["overruns"]:
                break
            # A thread ran out of pending uploads and confirmed some twice: run it again.
            log(f"  {name}: ran out of pending uploads at {result['rps']:.0f}/s, again")
            self.rates[name] *= 2
            ids = None
        requests = max(result["requests"], 1)
        result["django_cpu_ms"] = (after[0] - before[0]) / TICK / requests * 1e3
        result["server_cpu_ms"] = (
            result["django_cpu_ms"] + (after[1] - before[1]) / TICK / requests * 1e3
        )
        return result

    def _server_pids(self, server: _harness.Gunicorn) -> tuple[list[int], list[int]]:
        """The Django workers; SeaweedFS and this database's PostgreSQL backends."""
        from django.db import connection

        others = [self.args.s3_pid]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                others += [pid for (pid,) in cursor.fetchall()]
        return server.worker_pids(), others

    def run(self) -> dict:
        server = _harness.Gunicorn(
            self.env, workers=self.args.workers, log_file=self.work / "gunicorn.log"
        )
        endpoints = self.args.endpoints.split(",") if self.args.endpoints else None
        active = [
            name
            for name, spec in CANDIDATES.items()
            if (self.args.all or name not in OPTIONAL) and (not endpoints or spec[0] in endpoints)
        ]
        samples: dict[str, list[dict]] = {name: [] for name in active}
        pairs = {name: spec[1] for name, spec in CANDIDATES.items() if spec[1] and name in active}
        mixed: dict[str, list[dict]] = {name: [] for name in pairs}
        rng = random.Random(20240507)
        started = time.monotonic()
        with server:
            for name in active:  # warm up every worker on every path; learn the rates
                self.measure(server, name, self.args.warm_up)
            for round_number in range(self.args.rounds):
                # Everything a round needs is made first, then the server is left alone for
                # a moment, so the work of making it (SeaweedFS storing a few thousand
                # objects, SQLite checkpointing) does not fall on whichever run comes next.
                prepared = {name: self.prepare(name, self.args.duration) for name in active}
                prepared_mixed = {
                    name: self.prepare_mixed(name, floor) for name, floor in pairs.items()
                }
                time.sleep(self.args.settle)
                groups = [[name for name in group if name in samples] for group in GROUPS]
                rng.shuffle(groups)
                for group in groups:
                    # Each endpoint's candidates run back to back (A/B, then B/A next round).
                    if len(group) == 2:
                        order = group if round_number % 2 == 0 else group[::-1]
                    else:
                        order = rng.sample(group, len(group))
                    for name in order:
                        samples[name].append(
                            self.measure(server, name, self.args.duration, prepared[name])
                        )
                    for name in order:  # then each pair again, in one run, request by request
                        if name in pairs:
                            mixed[name].append(
                                self.mixed(server, name, pairs[name], prepared_mixed[name])
                            )
                log(
                    f"  round {round_number + 1}/{self.args.rounds}: "
                    + ", ".join(f"{n} {samples[n][-1]['rps']:.0f}/s" for n in active)
                )
        log(
            f"  {time.monotonic() - started:.0f} s with the server up, of which "
            f"{self.pending_seconds:.0f} s creating pending uploads for confirm"
        )
        return {"vendor": _vendor(), "samples": samples, "mixed": mixed}


def _cpu_ticks(pids: list[int]) -> int:
    """utime + stime of *pids* (all threads of each), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def _vendor() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]} (WAL)"


def child_main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-endpoints-child-"))
    try:
        result = Child(args, work).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0


# -- the parent: SeaweedFS, databases, the report ----------------------------------------------


def report(
    db: str, vendor: str, samples: dict[str, list[dict]], mixed: dict[str, list[dict]]
) -> list[str]:
    keys = ("rps", "p50_us", "p99_us", "django_cpu_ms", "server_cpu_ms")
    med = {
        name: {key: statistics.median(run[key] for run in runs) for key in keys}
        for name, runs in samples.items()
    }
    lines = [
        f"**{vendor}**",
        "",
        "| endpoint | candidate | req/s | p50 ms | p99 ms | Django CPU ms/req "
        "| server CPU ms/req | req/s vs floor | one run, A/B/A/B: Django CPU ms/req "
        "| floor / ours |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for name, (endpoint, floor, *_) in CANDIDATES.items():
        if name not in samples:
            continue
        m = med[name]
        if floor is None:
            versus = same_run = capacity = "floor"
        else:
            # Paired: each round's ratio of two runs made back to back; median [quartiles].
            pairs = list(zip(samples[name], samples[floor], strict=True))
            ratios = [ours["rps"] / theirs["rps"] for ours, theirs in pairs]
            cpu = mixed[name]
            capacities = [run["floor_ms"] / run["ours_ms"] for run in cpu]
            ours_ms = statistics.median(run["ours_ms"] for run in cpu)
            floor_ms = statistics.median(run["floor_ms"] for run in cpu)
            versus, capacity = _spread(ratios), _spread(capacities)
            same_run = f"{ours_ms:.2f} vs {floor_ms:.2f}"
            ratio, cap = statistics.median(ratios), statistics.median(capacities)
            verdicts.append(
                f"- {db}, {name} vs “{floor}”: in one run, request by request, Django spends "
                f"{ours_ms:.2f} ms on ours and {floor_ms:.2f} ms on the floor: {cap:.2f}x "
                f"(target >= {CPU_TARGET}x: {'met' if cap >= CPU_TARGET else 'NOT met'}); "
                f"{ratio:.2f}x its requests/s in separate runs"
            )
        lines.append(
            f"| {endpoint} | {name} | {m['rps']:,.0f} | {m['p50_us'] / 1000:.1f} "
            f"| {m['p99_us'] / 1000:.1f} | {m['django_cpu_ms']:.2f} | {m['server_cpu_ms']:.2f} "
            f"| {versus} | {same_run} | {capacity} |"
        )
    return [*lines, "", *verdicts, ""]


def _spread(values: list[float]) -> str:
    """Median and, with 4 or more values, the quartiles: "0.91x [0.85, 0.97]"."""
    median = statistics.median(values)
    if len(values) < 4:
        return f"{median:.2f}x"
    low, _, high = statistics.quantiles(values, n=4)
    return f"{median:.2f}x [{low:.2f}, {high:.2f}]"


def create_pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"presigned_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbs", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=2, help="seconds per run (whole)")
    parser.add_argument("--warm-up", type=int, default=1, help="seconds per warm-up run")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="idle seconds after preparing a round"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (= users)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument(
        "--all", action="store_true", help="also run the DB-only floor of confirm-upload"
    )
    parser.add_argument(
        "--endpoints",
        help="only these, comma-separated (upload-url, confirm-upload, download-url)",
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL to create (and drop) a scratch database on",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--s3-endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--s3-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _harness.clean_environment()
    if args.child:
        return child_main(args)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-endpoints-"))
    seaweed = None
    out = []
    started = time.monotonic()
    try:
        seaweed = _harness.start_seaweedfs(work / "seaweedfs")
        for db in args.dbs.split(","):
            pg_name = None
            if db == "sqlite":
                url = f"sqlite:///{work / 'bench.sqlite3'}"
            elif db == "postgres":
                pg_name, url = create_pg_database(args.pg_admin_url)
            else:
                parser.error(f"unknown database {db!r}")
            log(f"{db}: ...")
            try:
                command = [
                    _harness.PYTHON,
                    __file__,
                    "--child",
                    f"--database-url={url}",
                    f"--s3-endpoint={seaweed.endpoint_url}",
                    f"--s3-pid={seaweed.pid}",
                    *(argv if argv is not None else sys.argv[1:]),
                ]
                child = subprocess.run(
                    command, stdout=subprocess.PIPE, text=True, check=True, cwd=_harness.ROOT
                )
            finally:
                if pg_name:
                    drop_pg_database(args.pg_admin_url, pg_name)
            result = json.loads(child.stdout.strip().splitlines()[-1])
            out += report(db, result["vendor"], result["samples"], result["mixed"])
    finally:
        if seaweed is not None:
            seaweed.stop()
        shutil.rmtree(work, ignore_errors=True)
    import boto3
    import django

    print(
        f"Python {sys.version.split()[0]}, Django {django.__version__}, boto3 {boto3.__version__}, "
        f"{os.cpu_count()} CPUs, load average {_harness.load_average()}; gunicorn "
        f"{args.workers} sync workers; wrk {args.threads} threads, {args.connections} "
        f"connections; {args.rounds} rounds of {args.duration:g} s per candidate, medians; "
        f"{time.monotonic() - started:.0f} s in all.\n"
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
