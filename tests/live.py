"""The HTTP client of Django's live server for every test that talks to it (no fixtures here).

Keep-alive, not ``Connection: close``. Django's server honours a request's ``close`` by closing
the connection after the response, but does not say so in the response; requests (urllib3)
goes by the response alone, puts the connection back in its pool and may send the next request
on it before the server's close arrives: "Remote end closed connection without response"
(2 to 13 of 40 requests to a 404 page, Django 5.2 and 6.1; none with keep-alive).

A kept-alive connection keeps a request thread of the live server waiting for the next request,
and such a thread must not outlive the test: ``close()`` closes the connections and waits until
every request thread has ended.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from typing import Any

import requests
from django.urls import reverse

# socketserver.ThreadingMixIn starts one thread per connection, named "Thread-N (target)".
_REQUEST_THREAD = "(process_request_thread)"


def request_threads() -> list[threading.Thread]:
    """The live server's threads that serve a connection, alive now."""
    return [t for t in threading.enumerate() if t.name.endswith(_REQUEST_THREAD)]


def _shut_down(thread: threading.Thread) -> None:
    """Shut down the connection a request thread serves (``process_request_thread``'s first
    argument is its socket), so that its wait for a next request ends."""
    args = getattr(thread, "_args", ())
    connection = args[0] if args else None
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class LiveClient:
    """A requests session of the live server; optionally signed in, sending the CSRF token
    like the JavaScript does. Use it as a context manager, or call ``close()`` at teardown."""

    def __init__(self, live_server: Any, session_cookie: str | None = None) -> None:
        self.base = live_server.url
        self.http = requests.Session()
        if session_cookie is not None:
            token = secrets.token_hex(16)
            self.http.cookies.set("sessionid", session_cookie)
            self.http.cookies.set("csrftoken", token)
            self.http.headers["X-CSRFToken"] = token

    def url(self, name: str, *args: object) -> str:
        return self.base + reverse(f"presigned_transfers:{name}", args=args)

    def post_json(self, name: str, payload: dict[str, Any]) -> requests.Response:
        return self.http.post(self.url(name), json=payload, timeout=30)

    def get(self, name: str, *args: object, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(name, *args), timeout=30, **kwargs)

    def close(self, timeout: float = 10) -> None:
        """Close the kept-alive connections; wait for the request threads serving them.

        A thread still waiting on its connection after *timeout* has its socket shut down
        (seen once on Django 4.2's server: a thread did not notice its client had closed);
        one that outlives even that fails the test.
        """
        self.http.close()
        deadline = time.monotonic() + timeout
        for thread in request_threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        for thread in request_threads():
            _shut_down(thread)
            thread.join(timeout)
        left = request_threads()
        if left:
            raise AssertionError(f"request threads of the live server outlived the test: {left}")

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
