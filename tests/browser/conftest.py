"""Browser tests: Debian's Chromium, driven by Playwright, against a live Django server and a
real SeaweedFS on another origin (``http://localhost:PORT`` vs ``http://127.0.0.1:PORT2``).

Without Chromium these tests skip, saying how to install it; with ``CI`` set they fail
instead. ``CHROMIUM_PATH`` points at another Chromium binary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told that this is fine (it is: nothing here is async).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

#: Where Debian's ``chromium`` package puts the real binary (/usr/bin/chromium is a wrapper).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING_CHROMIUM = (
    "Chromium was not found: apt-get install chromium to run the browser tests "
    "(or set CHROMIUM_PATH to a Chromium binary)."
)


def chromium_executable() -> str | None:
    """The Chromium binary to drive, or ``None`` when there is none."""
    explicit = os.environ.get("CHROMIUM_PATH")
    candidates = (explicit,) if explicit else CHROMIUM_CANDIDATES
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def screenshot(page: Any, name: str) -> None:
    """The whole page into ``$SCREENSHOTS_DIR`` (if set); the viewport is kept short."""
    directory = os.environ.get("SCREENSHOTS_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / name), full_page=True)


def require_chromium() -> str:
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {MISSING_CHROMIUM}", pytrace=False)
        pytest.skip(MISSING_CHROMIUM)
    return executable


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium, not a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": require_chromium(),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_FLAGS],
    }


@pytest.fixture(scope="session")
def base_url() -> None:
    """Pages are opened with absolute live-server URLs.

    Also replaces pytest-playwright 0.10's fallback ``base_url`` fixture, a method of a plugin
    object, which pytest 9 deprecates with a warning (an error here).
    """
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 900, "height": 700}, "locale": "en-US"}


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-django's live server, answering one request at a time.

    With the default in-memory SQLite, the server shares the test's one database connection;
    Django's threaded server would use it from several threads at once (parallel uploads), so
    this one serves requests in turn. The browser still runs uploads in parallel: those go to
    SeaweedFS.
    """
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread
    from pytest_django.live_server_helper import LiveServer

    class SerialWSGIServer(WSGIServer):
        def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    class SerialLiveServerThread(LiveServerThread):
        server_class = SerialWSGIServer

    require_chromium()  # before starting anything
    server = LiveServer("localhost", start=False)
    thread = server.thread
    server.thread = SerialLiveServerThread(
        thread.host,
        static_handler=thread.static_handler,
        connections_override=thread.connections_override,
        port=thread.port,
    )
    server.thread.daemon = True
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _browser_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.browser.urls"


@pytest.fixture
def bucket(presigned_bucket: Any, live_server: Any) -> Any:
    """A fresh bucket on SeaweedFS whose CORS allows the live server's origin (the plugin's
    ``presigned_bucket`` gives it that rule when the test uses ``live_server``)."""
    rules = presigned_bucket.client.get_bucket_cors(Bucket=presigned_bucket.bucket)["CORSRules"]
    assert live_server.url in rules[0]["AllowedOrigins"]
    return presigned_bucket


@dataclass
class Site:
    """The live server as the signed-in user's browser sees it."""

    page: Any
    url: str
    user: Any
    events: list[dict[str, Any]] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.url + path)
        assert response is not None and response.status == 200, response
        return response

    def recorded_events(self) -> list[dict[str, Any]]:
        return self.page.evaluate("window.__presignedEvents")


RECORD_EVENTS = """
window.__presignedEvents = [];
for (const name of ["start", "progress", "uploaded", "error", "cancelled", "removed"]) {
  document.addEventListener("presigned:" + name, (event) => {
    const d = event.detail || {};
    window.__presignedEvents.push({
      type: event.type,
      file: d.file ? d.file.name : null,
      uploadId: d.uploadId || null,
      percent: d.percent === undefined ? null : d.percent,
      code: d.code || null,
      message: d.message || null,
    });
  });
}
"""


@pytest.fixture
def site(page: Any, live_server: Any, user: Any, client: Any, settings: Any) -> Site:
    """A browser page signed in as ``alice`` that records every ``presigned:*`` event."""
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.add_init_script(RECORD_EVENTS)
    page.set_default_timeout(15_000)
    return Site(page=page, url=live_server.url, user=user)
