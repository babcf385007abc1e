"""gunicorn hooks for bench_transfer.py: count the worker's socket bytes, by peer.

``gunicorn -c python:bench.gunicorn_hooks`` with ``BENCH_COUNT_DIR`` and ``BENCH_S3_PORT`` set.
In each worker, after it starts, the methods of :class:`socket.socket` that move bytes
(``recv``, ``recv_into``, ``send``, ``sendall``) are wrapped to add what they moved to a counter:
``s3`` when the peer's port is the S3 server's, ``client`` otherwise (the browser side). The
database is SQLite, a file, so it never shows here. On ``SIGUSR2`` the worker writes its
counters to ``BENCH_COUNT_DIR/<pid>.json``, so reading them never goes through HTTP.

The wrappers cost one ``getpeername()`` per call (a few µs per 8-64 KB chunk).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from typing import Any

_counts = {"client_in": 0, "client_out": 0, "s3_in": 0, "s3_out": 0}
#: boto3's upload_fileobj sends parts from several threads: "+=" on a dict entry is not atomic.
_lock = threading.RLock()  # the SIGUSR2 handler may interrupt _add


def _add(key: str, n: int) -> None:
    with _lock:
        _counts[key] += n


def _install(s3_port: int, out_dir: str) -> None:
    cls = socket.socket

    def side(sock: socket.socket) -> str:
        try:
            peer = sock.getpeername()
        except OSError:
            return "client"
        return "s3" if isinstance(peer, tuple) and peer[1] == s3_port else "client"

    recv, recv_into, send, sendall = cls.recv, cls.recv_into, cls.send, cls.sendall

    def counting_recv(self: socket.socket, *args: Any) -> bytes:
        data = recv(self, *args)
        _add(side(self) + "_in", len(data))
        return data

    def counting_recv_into(self: socket.socket, *args: Any) -> int:
        n = recv_into(self, *args)
        _add(side(self) + "_in", n)
        return n

    def counting_send(self: socket.socket, *args: Any) -> int:
        n = send(self, *args)
        _add(side(self) + "_out", n)
        return n

    def counting_sendall(self: socket.socket, data: Any, *args: Any) -> None:
        sendall(self, data, *args)
        _add(side(self) + "_out", memoryview(data).nbytes)

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
        _install(int(os.environ["BENCH_S3_PORT"]), out_dir)
