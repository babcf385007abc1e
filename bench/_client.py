"""A small HTTP client for the benchmarks: JSON calls with a session, streamed multipart POSTs."""

from __future__ import annotations

import http.client
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHUNK = 1024 * 1024


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"), url
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return conn, path


class Session:
    """A signed-in user: the session and CSRF cookies, and the CSRF header."""

    def __init__(self, session_id: str, csrf_token: str) -> None:
        self.session_id = session_id
        self.csrf_token = csrf_token

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Cookie": f"sessionid={self.session_id}; csrftoken={self.csrf_token}",
            "X-CSRFToken": self.csrf_token,
        }

    def json(self, method: str, url: str, data: Any = None, timeout: float = 60) -> tuple[int, Any]:
        conn, path = _connection(url, timeout)
        headers = dict(self.headers)
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        return response.status, json.loads(payload) if payload else None


def post_multipart(
    url: str,
    fields: dict[str, str],
    file_path: Path,
    *,
    filename: str,
    content_type: str,
    headers: dict[str, str] | None = None,
    timeout: float = 900,
) -> tuple[int, bytes]:
    """POST ``multipart/form-data`` like a browser (fields first, the file last), streamed."""
    boundary = "----bench" + secrets.token_hex(12)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.path.getsize(file_path)
    conn, path = _connection(url, timeout)
    try:
        conn.putrequest("POST", path)
        for name, value in {
            **(headers or {}),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(head)
        with open(file_path, "rb") as file:
            while chunk := file.read(CHUNK):
                conn.send(chunk)
        conn.send(tail)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
