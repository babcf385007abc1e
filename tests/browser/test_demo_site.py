"""The demo site (``manage.py demo``), used in a browser the way a newcomer would.

With ``SCREENSHOTS_DIR`` set, this also takes the README's screenshots:

    SCREENSHOTS_DIR=example_project/screenshots pytest tests/browser/test_demo_site.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import require_chromium, screenshot
from tests.browser.test_picker import payload, pdf, png, throttle
from tests.demo import Demo, require_seaweedfs

pytestmark = [pytest.mark.browser, pytest.mark.s3]

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    require_chromium()
    require_seaweedfs()
    demo = Demo(tmp_path_factory.mktemp("demo-site"))
    demo.start()
    yield demo
    assert demo.stop() == 0


def sign_in(page: Any, demo: Demo) -> None:
    page.goto(demo.url + "/upload/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(demo.username)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()


def test_upload_list_download_delete(page, demo):
    page.set_viewport_size({"width": 960, "height": 200})
    page.set_default_timeout(20_000)
    sign_in(page, demo)

    picker = page.get_by_label("Choose files")
    picker.set_input_files(
        [
            payload("Quarterly report Q3.pdf", "application/pdf", pdf(40_000)),
            payload("notes.txt", "text/plain", b"plain text is not allowed here"),
        ]
    )
    expect(page.locator(".presigned-file[data-state=done]")).to_have_count(1)
    expect(page.locator(".presigned-file[data-state=error]")).to_contain_text(
        "Files of type “text/plain” are not allowed."
    )
    throttle(page, 200_000)
    picker.set_input_files(
        [payload("Ferienfotos – Strand.jpg", "image/jpeg", JPEG + b"\0" * 1_200_000)]  # noqa: RUF001
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.presigned-file progress')].some("
        "(p) => p.value >= 35 && p.value < 100)"
    )
    screenshot(page, "picker-mid-upload.png")
    expect(page.locator(".presigned-file[data-state=done]")).to_have_count(2, timeout=30_000)

    page.get_by_role("link", name="My files").first.click()
    rows = page.locator("#files tbody tr")
    expect(rows).to_have_count(2)
    screenshot(page, "file-list.png")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download Quarterly report Q3.pdf").click()
    assert info.value.suggested_filename == "Quarterly report Q3.pdf"
    assert Path(info.value.path()).read_bytes() == pdf(40_000)

    page.get_by_role("button", name="Delete Ferienfotos – Strand.jpg").click()  # noqa: RUF001
    expect(page.get_by_role("status").first).to_have_text("Deleted Ferienfotos – Strand.jpg.")  # noqa: RUF001
    expect(rows).to_have_count(1)


def test_document_form_with_upload_field(page, demo):
    page.set_default_timeout(20_000)
    sign_in(page, demo)
    page.get_by_role("link", name="Documents").click()
    page.get_by_label("Title").fill("Lease")
    page.get_by_label("Choose the file").set_input_files(
        payload("lease.png", "image/png", png(5000))
    )
    expect(page.locator(".presigned-file[data-state=done]")).to_have_count(1)
    page.get_by_role("button", name="Save document").click()
    expect(page.get_by_role("status").first).to_have_text("Saved “Lease”.")
    expect(page.locator(".documents li")).to_contain_text("Lease — lease.png")
