"""gunicorn hooks for bench_transfer.py: count the worker's socket bytes and S3 requests, by peer.

``gunicorn -c python:bench.gunicorn_hooks`` with ``BENCH_COUNT_DIR`` and ``BENCH_S3_PORT`` set.
In each worker, after it starts, the methods of :class:`socket.socket` that move bytes
(``recv``, ``recv_into``, ``send``, ``sendall``) are wrapped to add what they moved to a counter:
``s3`` when the peer's port is the S3 server's, ``client`` otherwise (the browser side). The
database is SQLite, a file, so it never shows here. On ``SIGUSR2`` the worker writes its
counters to ``BENCH_COUNT_DIR/<pid>.json``, so reading them never goes through HTTP.

S3 requests are counted on the wire too: every send to the S3 peer that begins with an HTTP
request line (``PUT /bench/key HTTP/1.1``) adds one to ``s3_requests`` and to
``s3_<METHOD>``. ``http.client`` (under urllib3 and botocore alike) sends a request's line
and headers in one call, and a body never starts a send with a request line by chance here
(the benchmark's files start with ``BENCH-TRANSFER``), so this is each request the worker
really sent, whoever built it.

The wrappers cost one ``getpeername()`` per call (a few µs per 8-64 KB chunk).

With ``BENCH_WIRE_LOG`` set to a file name, each chunk moved (its first 2 KiB) is also
appended there after a line ``=== <side> <in|out> <bytes>``: what ``bench_transfer.py
--wire`` shows, to see which headers and answers the bytes are.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
from typing import Any

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
_counts = {
    "client_in": 0,
    "client_out": 0,
    "s3_in": 0,
    "s3_out": 0,
    "s3_requests": 0,
    **{f"s3_{method}": 0 for method in METHODS},
}
#: The start of an HTTP/1.x request: method, target (a presigned URL: up to a few KB), version.
_REQUEST_LINE = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) [^ \r\n]{1,16000} HTTP/1\.[01]\r\n")
_METHOD_START = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) ")
#: boto3's upload_fileobj sends parts from several threads: "+=" on a dict entry is not atomic.
_lock = threading.RLock()  # the SIGUSR2 handler may interrupt _add


def _add(key: str, n: int) -> None:
    with _lock:
        _counts[key] += n


def _sent(side: str, data: Any, n: int) -> None:
    _add(side + "_out", n)
    # Cheap first: only a send that starts like "PUT /" is looked at further (a proxied
    # upload sends its file to S3 in thousands of chunks).
    if side == "s3" and _METHOD_START.match(bytes(memoryview(data)[:8])):
        request = _REQUEST_LINE.match(bytes(memoryview(data)[:16384]))
        if request is not None:
            _add("s3_requests", 1)
            _add("s3_" + request.group(1).decode(), 1)


def _install(s3_port: int, out_dir: str, wire_log: str | None = None) -> None:
    cls = socket.socket
    wire = open(wire_log, "ab", buffering=0) if wire_log else None  # noqa: SIM115

    def log(where: str, data: Any, n: int) -> None:
        if wire is not None and n:
            wire.write(f"=== {where} {n}\n".encode() + bytes(memoryview(data)[: min(n, 2048)]))
            wire.write(b"\n")

    def side(sock: socket.socket) -> str:
        try:
            peer = sock.getpeername()
        except OSError:
            return "client"
        return "s3" if isinstance(peer, tuple) and peer[1] == s3_port else "client"

    recv, recv_into, send, sendall = cls.recv, cls.recv_into, cls.send, cls.sendall

    def counting_recv(self: socket.socket, *args: Any) -> bytes:
        data = recv(self, *args)
        where = side(self)
        _add(where + "_in", len(data))
        log(where + " in", data, len(data))
        return data

    def counting_recv_into(self: socket.socket, *args: Any) -> int:
        n = recv_into(self, *args)
        where = side(self)
        _add(where + "_in", n)
        log(where + " in", args[0], n)
        return n

    def counting_send(self: socket.socket, data: Any, *args: Any) -> int:
        n = send(self, data, *args)
        where = side(self)
        _sent(where, data, n)
        log(where + " out", data, n)
        return n

    def counting_sendall(self: socket.socket, data: Any, *args: Any) -> None:
        sendall(self, data, *args)
        where, n = side(self), memoryview(data).nbytes
        _sent(where, data, n)
        log(where + " out", data, n)

    cls.recv = counting_recv  # type: ignore[method-assign]
    cls.recv_into = counting_recv_into  # type: ignore[method-assign]
    cls.send = counting_send  # type: ignore[method-assign]
    cls.sendall = counting_sendall  # type: ignore[method-assign]

    def dump(signum: int, frame: Any) -> None:
        path = os.path.join(out_dir, f"{os.getpid()}.json")
        with _lock, open(path + ".tmp", "w") as file:
            json.dump(_counts, file)
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR2, dump)


def post_worker_init(worker: Any) -> None:
    out_dir = os.environ.get("BENCH_COUNT_DIR")
    if out_dir:
        _install(int(os.environ["BENCH_S3_PORT"]), out_dir, os.environ.get("BENCH_WIRE_LOG"))
