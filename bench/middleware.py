"""Django CPU time per request, by the kind of path, for bench_endpoints.py.

``CpuMeter`` (first in ``MIDDLEWARE``, so it sees every other middleware's work too) adds the
process CPU time of each request to a counter keyed by the path's first segment: ``xfer`` for
our endpoints, ``floor`` for the floor views. With ``BENCH_CPU_DIR`` set, a gunicorn worker
writes its counters to ``BENCH_CPU_DIR/<pid>.json`` on ``SIGUSR2``. A run that alternates our
requests with the floor's, request by request, then compares the two under exactly the same
conditions, which a shared, noisy machine otherwise never gives two separate runs.

A sync worker serves one request at a time, so the process CPU time between the start and the
end of a request is that request's.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse


class CpuMeter:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.totals: dict[str, list[int]] = {}
        out_dir = os.environ.get("BENCH_CPU_DIR")
        if out_dir:
            signal.signal(signal.SIGUSR2, lambda signum, frame: self._dump(out_dir))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.process_time_ns()
        response = self.get_response(request)
        spent = time.process_time_ns() - start
        totals = self.totals.setdefault(request.path.split("/", 2)[1], [0, 0])
        totals[0] += 1
        totals[1] += spent
        return response

    def _dump(self, out_dir: str) -> None:
        path = os.path.join(out_dir, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as file:
            json.dump(self.totals, file)
        os.replace(path + ".tmp", path)


def read(pids: list[int], out_dir: str) -> dict[str, Any]:
    """Ask each worker for its counters; their sums, ``{kind: [requests, cpu_ns]}``."""
    paths = [os.path.join(out_dir, f"{pid}.json") for pid in pids]
    for pid, path in zip(pids, paths, strict=True):
        if os.path.exists(path):
            os.unlink(path)
        os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    totals: dict[str, list[int]] = {}
    for path in paths:
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"a worker did not write {path}")
            time.sleep(0.01)
        with open(path) as file:
            for kind, (count, cpu) in json.load(file).items():
                entry = totals.setdefault(kind, [0, 0])
                entry[0] += count
                entry[1] += cpu
    return totals
