"""A TCP proxy on loopback in front of SeaweedFS, to make S3 fail the way networks do.

    with FaultProxy(seaweedfs.host, seaweedfs.s3_port) as proxy:
        ... settings ENDPOINT_URL = proxy.url ...
        proxy.mode = "refuse"     # connections are refused (S3 down, wrong port)
        proxy.mode = "hang"       # connections are accepted, nothing ever comes back (timeout)
        proxy.mode = "forward"    # back to normal
        proxy.mode = "no-post"    # a provider without POST Object (Cloudflare R2, Backblaze B2):
                                  # a browser-form POST to the bucket gets 501 NotImplemented

Each connection is forwarded byte for byte to the target while the mode is "forward";
switching mode also drops the connections already open, as a network failure would. In
"no-post" the proxy reads each request's head: a POST without a query string (POST Object;
multipart's POSTs all have one) is answered 501 as R2 answers it, anything else is forwarded
with ``Connection: close`` so that every request comes on a connection of its own.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType


class FaultProxy:
    """Forward, refuse or black-hole TCP connections to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._mode = "forward"
        self._listener: socket.socket | None = None
        self._port = 0
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in ("forward", "refuse", "hang", "no-post"):
            raise ValueError(mode)
        self._mode = mode
        self._drop_connections()
        if mode == "refuse":
            self._close_listener()
        elif self._listener is None:
            self._listen()

    def __enter__(self) -> FaultProxy:
        self._listen()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._close_listener()
        self._drop_connections()

    # -- internals ------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))  # the same port again after "refuse"
        listener.listen(64)
        self._port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._connections.update(socks)

    @staticmethod
    def _read_head(client: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = client.recv(65536)
            except OSError:
                return None
            if not chunk or len(data) > 65536:
                return None
            data += chunk
        return data

    @staticmethod
    def _not_implemented(client: socket.socket, head: bytes) -> None:
        origin = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"origin:"):
                origin = line.split(b":", 1)[1].strip()
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>'
            b"<Message>POST Object is not implemented</Message></Error>"
        )
        cors = b"Access-Control-Allow-Origin: " + origin + b"\r\n" if origin else b""
        client.sendall(
            b"HTTP/1.1 501 Not Implemented\r\nContent-Type: application/xml\r\n"
            + cors
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)
        client.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            if self._mode == "hang":
                continue  # keep it open, answer nothing
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        first = b""
        if self._mode == "no-post":
            first = self._read_head(client)
            if first is None:
                client.close()
                return
            request_line = first.split(b"\r\n", 1)[0].split(b" ")
            if (
                len(request_line) >= 2
                and request_line[0] == b"POST"
                and b"?" not in request_line[1]
            ):
                self._not_implemented(client, first)
                return
            head, _, rest = first.partition(b"\r\n\r\n")
            lines = [
                line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")
            ]
            first = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + rest
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self._track(upstream)
        if first:
            upstream.sendall(first)
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=1):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
                if self._stopped.is_set():
                    return
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
