"""Direct vs proxied: what one upload costs the Django process, presigned or through Django.

    python bench/bench_transfer.py                       # 10 MB x3, 100 MB x3, 1 GB x1: ~2.5 min
    python bench/bench_transfer.py --sizes 10,100 --repeats 5

Every way runs against SeaweedFS on loopback, through a real gunicorn server (one sync worker,
so the Django process is one pid), started fresh for every run so its peak RSS is that run's:

- direct (presigned): the client calls ``upload-url``, POSTs the file to SeaweedFS itself
  (multipart, fields first, streamed from disk, to the staging key the form names), then
  calls ``confirm-upload``; Django only sees two small JSON requests and sends confirm's two
  S3 requests: a ranged GET of the first 4 KiB (sniffing) and the conditional server-side
  copy to the kept key;
- direct, SNIFF off: the same with an upload policy whose ``SNIFF`` is off (the GET reads 1 byte);
- proxied (classic): the client POSTs the file to a Django view (``bench.views.proxied_upload``)
  that reads ``request.FILES`` (spooled to a temporary file above 2.5 MB, Django's default)
  and sends it to S3 with boto3's ``upload_fileobj`` (multipart above 8 MB, 10 threads).

Each run first makes one 1 MB upload the same way, so imports, boto3 clients and connections
are warm; then, around the measured upload only: the worker's socket bytes by peer and the
HTTP requests it sent to S3, counted by method from the request lines on the wire (wrapped
``socket.socket`` methods, see ``bench/gunicorn_hooks.py``); ``/proc/<pid>/io`` rchar + wchar,
which count read/write syscalls on files (the temporary file, SQLite) but not the recv/send
of sockets; CPU seconds (utime + stime, all its threads); peak RSS (``VmHWM``, reset after
the warm-up through ``clear_refs``); the wall time of the upload; and "Django busy", the time
the client waited on Django's answers (the worker can serve nobody else meanwhile), and of it
the time confirm took (its server-side copy is S3 copying the file: it takes longer as the file
grows, though no byte of it passes through Django).
Sizes run smallest first; within a size the ways alternate (A/B/C, C/B/A, ...), and each
figure is the median over the repeats.

Targets: the direct way moves at most :data:`OVERHEAD_TARGET` bytes per upload beyond what
confirm reads of the file on purpose (4,096 bytes with sniffing on, 1 with it off), the same
for every file size; the proxied way is shown moving at least twice the file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness, gunicorn_hooks
from bench._client import Session, post_multipart

MB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")
WARM_UP_SIZE = 1 * MB
#: Bytes per upload the direct way may move beyond the file bytes confirm reads on purpose.
OVERHEAD_TARGET = 4000
#: What confirm reads of the file on purpose: the sniffer's head, or 1 byte without sniffing.
READ_ON_PURPOSE = {"direct (presigned)": 4096, "direct, SNIFF off": 1}


def make_file(path: Path, size: int) -> None:
    """Incompressible bytes (so nothing along the way can shrink them), with a plain header."""
    block = os.urandom(4 * MB)
    with open(path, "wb") as file:
        written = file.write(b"BENCH-TRANSFER\n")
        n = 0
        while written < size:
            piece = n.to_bytes(8, "big") + block
            written += file.write(piece[: size - written])
            n += 1


def set_up_django(database_url: str, s3_endpoint: str) -> Session:
    os.environ.update(_harness.server_env(database_url, s3_endpoint))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.middleware.csrf import CSRF_ALLOWED_CHARS
    from django.test import Client
    from django.utils.crypto import get_random_string

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench-transfer")
    client = Client()
    client.force_login(user)
    return Session(client.cookies["sessionid"].value, get_random_string(32, CSRF_ALLOWED_CHARS))


def direct(
    server: str, session: Session, path: Path, policy: str = "large"
) -> tuple[float, float | None]:
    """Upload *path* the presigned way; return the seconds Django spent answering, and of
    those the seconds confirm took."""
    size = path.stat().st_size
    start = time.perf_counter()
    status, signed = session.json(
        "POST",
        f"{server}/xfer/upload-url/",
        {
            "filename": path.name,
            "content_type": "application/octet-stream",
            "size": size,
            "policy": policy,
        },
    )
    busy = time.perf_counter() - start
    assert status == 201, (status, signed)
    status, body = post_multipart(
        signed["url"],
        signed["fields"],
        path,
        filename=path.name,
        content_type="application/octet-stream",
    )
    assert status == 204, (status, body[:500])
    start = time.perf_counter()
    status, confirmed = session.json(
        "POST", f"{server}/xfer/confirm-upload/", {"upload_id": signed["upload_id"]}
    )
    confirm = time.perf_counter() - start
    assert status == 200 and confirmed["upload"]["status"] == "complete", (status, confirmed)
    assert confirmed["upload"]["size"] == size
    return busy + confirm, confirm


def proxied(server: str, session: Session, path: Path) -> tuple[float, float | None]:
    """Upload *path* through Django; return the seconds Django spent answering (and no
    confirm)."""
    size = path.stat().st_size
    start = time.perf_counter()
    status, body = post_multipart(
        f"{server}/proxied/upload/",
        {},
        path,
        filename=path.name,
        content_type="application/octet-stream",
        headers=session.headers,
    )
    busy = time.perf_counter() - start
    assert status == 201, (status, body[:500])
    assert json.loads(body)["size"] == size
    return busy, None


def direct_without_sniffing(
    server: str, session: Session, path: Path
) -> tuple[float, float | None]:
    return direct(server, session, path, policy="large-nosniff")


WAYS = {
    "direct (presigned)": direct,
    "direct, SNIFF off": direct_without_sniffing,
    "proxied (classic)": proxied,
}


def proc_stats(pid: int) -> dict[str, int]:
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {
        "rchar": int(io["rchar"]),
        "wchar": int(io["wchar"]),
        "cpu_ticks": int(stat[11]) + int(stat[12]),  # utime, stime (fields 14, 15)
        "rss_kb": int(status["VmRSS"].split()[0]),
        "hwm_kb": int(status["VmHWM"].split()[0]),
    }


def settled_counts(pid: int, count_dir: Path) -> dict[str, int]:
    """The worker's socket counters once it has finished the request it was answering.

    A client has the last response as soon as the worker's ``sendall`` is done, a moment
    before the worker adds those bytes up and returns to waiting: read until two readings
    50 ms apart agree.
    """
    counts = socket_counts(pid, count_dir)
    while True:
        time.sleep(0.05)
        again = socket_counts(pid, count_dir)
        if again == counts:
            return counts
        counts = again


def socket_counts(pid: int, count_dir: Path) -> dict[str, int]:
    path = count_dir / f"{pid}.json"
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not write its socket counters")
        time.sleep(0.01)
    return json.loads(path.read_text())


def measure(
    way: str, path: Path, env: dict[str, str], work: Path, warm_up: Path, wire: Path | None
) -> dict:
    count_dir = work / "counts"
    count_dir.mkdir(exist_ok=True)
    env = {**env, "BENCH_COUNT_DIR": str(count_dir)}
    if wire is not None:
        env["BENCH_WIRE_LOG"] = str(wire)
    server = _harness.Gunicorn(
        env,
        workers=1,
        timeout=900,
        log_file=work / "gunicorn.log",
        config="python:bench.gunicorn_hooks",
    )
    with server:
        (pid,) = server.worker_pids()
        session = SESSION
        WAYS[way](server.url, session, warm_up)
        sockets_before = settled_counts(pid, count_dir)
        if wire is not None:
            wire.write_bytes(b"")  # the warm-up's out; the worker appends (O_APPEND)
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
        before = proc_stats(pid)
        start = time.perf_counter()
        busy, confirm = WAYS[way](server.url, session, path)
        wall = time.perf_counter() - start
        sockets_after = settled_counts(pid, count_dir)
        after = proc_stats(pid)
    moved = {key: sockets_after[key] - sockets_before[key] for key in sockets_after}
    assert moved["s3_requests"] == sum(moved[f"s3_{m}"] for m in gunicorn_hooks.METHODS), moved
    return {
        "received": moved["client_in"] + moved["s3_in"],
        "sent": moved["client_out"] + moved["s3_out"],
        **moved,
        "rchar": after["rchar"] - before["rchar"],
        "wchar": after["wchar"] - before["wchar"],
        "cpu_s": (after["cpu_ticks"] - before["cpu_ticks"]) / TICK,
        "rss_before_mb": before["rss_kb"] / 1024,
        "peak_rss_mb": after["hwm_kb"] / 1024,
        "wall_s": wall,
        "busy_s": busy,
        "confirm_s": confirm if confirm is not None else float("nan"),
    }


def human(n: float) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def ratio(n: float) -> str:
    return f"{n:.4f}x" if n >= 0.01 else f"{n:.1e}x"


def requests_by_method(m: dict) -> str:
    """ "2 (GET 1, PUT 1)": the S3 requests of one upload (medians), by method."""
    methods = ", ".join(
        f"{method} {m[f's3_{method}']:g}" for method in gunicorn_hooks.METHODS if m[f"s3_{method}"]
    )
    return f"{m['s3_requests']:g} ({methods})" if methods else f"{m['s3_requests']:g}"


def report(results: dict[tuple[str, int], list[dict]]) -> str:
    med = {
        scenario: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for scenario, runs in results.items()
    }
    lines = [
        "| way | file | received | sent | moved / file | file I/O / file | CPU s "
        "| RSS before → peak MB | wall s | Django busy s | of which confirm s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (way, size), m in med.items():
        lines.append(
            f"| {way} | {human(size)} | {human(m['received'])} | {human(m['sent'])} "
            f"| {ratio((m['received'] + m['sent']) / size)} "
            f"| {ratio((m['rchar'] + m['wchar']) / size)} "
            f"| {m['cpu_s']:.2f} | {m['rss_before_mb']:.0f} → {m['peak_rss_mb']:.0f} "
            f"| {m['wall_s']:.2f} | {m['busy_s']:.3f} "
            f"| {'—' if math.isnan(m['confirm_s']) else format(m['confirm_s'], '.3f')} |"
        )
    lines += [
        "",
        "Socket bytes by peer, per upload (medians): client = the uploader's connections to "
        "Django, S3 = Django's connections to SeaweedFS; S3 requests = the HTTP requests the "
        "worker sent to S3 during the upload, by method (request lines on the wire).",
        "",
        "| way | file | from client | to client | from S3 | to S3 | total | S3 requests |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (way, size), m in med.items():
        lines.append(
            f"| {way} | {human(size)} | {m['client_in']:,.0f} | {m['client_out']:,.0f} "
            f"| {m['s3_in']:,.0f} | {m['s3_out']:,.0f} | {m['received'] + m['sent']:,.0f} "
            f"| {requests_by_method(m)} |"
        )
    lines.append("")
    for way in WAYS:
        moved = [m["received"] + m["sent"] for (w, _), m in med.items() if w == way]
        peaks = [m["peak_rss_mb"] for (w, _), m in med.items() if w == way]
        sizes = [size for (w, size) in med if w == way]
        if not moved:
            continue
        if way in READ_ON_PURPOSE:
            target = READ_ON_PURPOSE[way] + OVERHEAD_TARGET
            requests = sorted({requests_by_method(m) for (w, _), m in med.items() if w == way})
            lines.append(
                f"- {way}: {min(moved):,.0f} to {max(moved):,.0f} bytes moved per upload, "
                f"from {human(min(sizes))} to {human(max(sizes))} files (target <= "
                f"{READ_ON_PURPOSE[way]:,} + {OVERHEAD_TARGET:,} = {target:,} B, flat in file "
                f"size: {'met' if max(moved) <= target else 'NOT met'}, "
                f"{max(moved) - min(moved):,.0f} B apart); S3 requests per confirm: "
                f"{' / '.join(requests)}; peak RSS {min(peaks):.0f} to {max(peaks):.0f} MB"
            )
        else:
            ratios = [n / size for n, size in zip(moved, sizes, strict=True)]
            lines.append(
                f"- {way}: {min(ratios):.4f}x to {max(ratios):.4f}x the file size moved "
                f"(target: shown >= 2x: {'met' if min(ratios) >= 2 else 'NOT met'}); "
                f"peak RSS {min(peaks):.0f} to {max(peaks):.0f} MB"
            )
    return "\n".join(lines)


SESSION: Session


def main(argv: list[str] | None = None) -> int:
    global SESSION
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1024", help="file sizes in MB, comma-separated")
    parser.add_argument(
        "--repeats", default="3,3,1", help="runs per way for each size (one value: for all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--wire",
        metavar="DIR",
        help="write what the worker moved in each measured upload (2 KiB per chunk) to DIR",
    )
    args = parser.parse_args(argv)
    sizes = [int(float(s) * MB) for s in args.sizes.split(",")]
    repeats = [int(r) for r in args.repeats.split(",")]
    repeats = (repeats * len(sizes))[: len(sizes)] if len(repeats) == 1 else repeats
    assert len(repeats) == len(sizes), "--repeats needs one value or one per size"

    _harness.clean_environment()
    if args.wire:
        Path(args.wire).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    seaweed = None
    try:
        seaweed = _harness.start_seaweedfs(work / "seaweedfs")
        env = _harness.server_env(
            f"sqlite:///{work / 'bench.sqlite3'}",
            seaweed.endpoint_url,
            BENCH_S3_PORT=str(seaweed.s3_port),
        )
        SESSION = set_up_django(env["BENCH_DATABASE_URL"], seaweed.endpoint_url)
        warm_up = work / "warm-up.bin"
        make_file(warm_up, WARM_UP_SIZE)
        results: dict[tuple[str, int], list[dict]] = {}
        order = list(WAYS)
        for size, count in zip(sizes, repeats, strict=True):
            path = work / f"file-{size // MB}MB.bin"
            make_file(path, size)
            for i in range(count):
                for way in order if i % 2 == 0 else order[::-1]:
                    wire = None
                    if args.wire:
                        name = way.split()[0].strip(",") + ("-nosniff" if "SNIFF" in way else "")
                        wire = Path(args.wire) / f"{name}-{size // MB}MB-{i}.log"
                    run = measure(way, path, env, work, warm_up, wire)
                    results.setdefault((way, size), []).append(run)
                    print(
                        f"{way}, {human(size)}: moved {human(run['received'] + run['sent'])}, "
                        f"CPU {run['cpu_s']:.2f} s, peak RSS {run['peak_rss_mb']:.0f} MB, "
                        f"wall {run['wall_s']:.2f} s",
                        file=sys.stderr,
                    )
            path.unlink()
            order.reverse()
        results = dict(sorted(results.items(), key=lambda item: (item[0][1], item[0][0])))
        print(
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
            f"{_harness.load_average()}; gunicorn, 1 sync worker; SeaweedFS on loopback; "
            f"medians of {', '.join(map(str, repeats))} runs.\n"
        )
        print(report(results))
    finally:
        if seaweed is not None:
            seaweed.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
