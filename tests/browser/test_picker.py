"""The upload picker and download links in a real browser, against real S3 (SeaweedFS).

The page is served by the live server at http://localhost:PORT; the bucket lives at
http://127.0.0.1:PORT2, a different origin, so every upload is a real cross-origin POST that
the bucket's CORS rule has to allow.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import expect

from presigned_transfers import ui
from presigned_transfers.models import Upload
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.s3]

PICKER = "/pages/picker/"
FILES = "/pages/files/"


def png(size: int = 0) -> bytes:
    """A valid 1x1 PNG, padded with a private chunk to about *size* bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
    image = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff"))
    padding = chunk(b"prVt", b"\x00" * max(0, size - 69)) if size > 69 else b""
    return b"\x89PNG\r\n\x1a\n" + header + padding + image + chunk(b"IEND", b"")


def pdf(size: int) -> bytes:
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    return body + b"%" * max(0, size - len(body) - 6) + b"\n%%EOF"


def payload(name: str, mime_type: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": mime_type, "buffer": data}


def set_policies(settings: Any, **policies: dict[str, Any]) -> None:
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {
                "CONTENT_TYPES": ["application/pdf", "image/png", "image/jpeg"],
                "MAX_SIZE": 20 * 1024 * 1024,
            },
            **policies,
        },
    }


def watch_requests(page: Any) -> list[str]:
    """Every URL the page requests from now on."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def kept_keys(bucket: Any) -> list[str]:
    """The bucket's keys outside ``STAGING_PREFIX``: the kept files (confirm copies each from
    its staging key and leaves that to the cleanup's sweep)."""
    from presigned_transfers.conf import app_settings

    return sorted(k for k in bucket.keys() if not k.startswith(app_settings.staging_prefix))  # noqa: SIM118


def file_item(page: Any, name: str) -> Any:
    return page.locator(".presigned-file").filter(has_text=name)


def test_upload_appears_in_file_list_and_downloads_same_bytes(site, bucket):
    name = "Grüße – naïve 日本 résumé.png"  # noqa: RUF001 - non-ASCII on purpose
    data = png(50_000)
    site.goto(PICKER)
    page = site.page
    expect(page.get_by_label("Choose a file")).to_be_visible()

    page.get_by_label("Choose a file").set_input_files(payload(name, "image/png", data))

    item = file_item(page, name)
    expect(item).to_have_attribute("data-state", "done")
    expect(item.locator("progress")).to_have_js_property("value", 100)
    expect(item).to_contain_text("Uploaded")
    expect(page.get_by_role("status").first).to_have_text(f"{name} uploaded.")
    events = site.recorded_events()
    uploaded = [e for e in events if e["type"] == "presigned:uploaded"]
    assert len(uploaded) == 1 and uploaded[0]["file"] == name
    assert max(e["percent"] for e in events if e["type"] == "presigned:progress") == 100

    upload = Upload.objects.get()
    assert str(upload.pk) == uploaded[0]["uploadId"]
    assert upload.status == Upload.Status.COMPLETE
    assert upload.original_filename == name
    assert bucket.get(upload.key) == data

    site.goto(FILES)
    row = page.locator("#files tbody tr").filter(has_text=name)
    expect(row).to_have_count(1)
    with page.expect_download() as info:
        row.get_by_role("link", name=f"Download {name}").click()
    download = info.value
    assert download.suggested_filename == name
    with open(download.path(), "rb") as fh:
        assert fh.read() == data


def test_download_link_works_without_javascript(browser, live_server, bucket, user, client):
    from presigned_transfers import services

    created = services.create_upload(
        user=user, filename="plain ü.pdf", content_type="application/pdf", size=len(pdf(500))
    )
    bucket.client.put_object(
        Bucket=bucket.bucket,
        Key=created.upload.upload_key,
        Body=pdf(500),
        ContentType="application/pdf",
    )
    services.confirm_upload(user=user, upload_id=created.upload.pk)
    client.force_login(user)
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    try:
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.goto(live_server.url + FILES)
        with page.expect_download() as info:
            page.get_by_role("link", name="Download plain ü.pdf").click()
        assert info.value.suggested_filename == "plain ü.pdf"
        with open(info.value.path(), "rb") as fh:
            assert fh.read() == pdf(500)
    finally:
        context.close()


def test_too_large_file_shows_error_and_uploads_nothing(site, bucket, settings):
    set_policies(settings, tiny={"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1024})
    site.goto(PICKER + "?policy=tiny")
    page = site.page
    expect(page.locator(".presigned-picker__help")).to_have_text(
        "PNG, up to 1.0 KB. You can also drop a file here."
    )
    requests = watch_requests(page)

    page.get_by_label("Choose a file").set_input_files(payload("big.png", "image/png", png(4096)))

    item = file_item(page, "big.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_have_text(
        "The file is too large: the limit is 1.0 KB."
    )
    expect(page.get_by_role("status").first).to_have_text(
        "big.png: The file is too large: the limit is 1.0 KB."
    )
    assert [e["code"] for e in site.recorded_events() if e["type"] == "presigned:error"] == [
        "file_too_large"
    ]
    assert requests == []  # neither the app nor the bucket was asked anything
    assert not Upload.objects.exists()
    assert bucket.keys() == []


def test_wrong_type_shows_error_and_uploads_nothing(site, bucket, settings):
    set_policies(settings)
    site.goto(PICKER)
    requests = watch_requests(site.page)

    site.page.get_by_label("Choose a file").set_input_files(
        payload("notes.txt", "text/plain", b"just text")
    )

    item = file_item(site.page, "notes.txt")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_have_text(
        "Files of type “text/plain” are not allowed. Allowed: PDF, PNG or JPEG."
    )
    assert requests == []
    assert not Upload.objects.exists()
    assert bucket.keys() == []


def test_server_refusal_is_shown_rate_limited(site, bucket, settings):
    """The server decides: its message (here: 429) is shown for the file it refused."""
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "RATE_LIMITS": {"upload-url": "1/m"},
    }
    site.goto(PICKER + "?multiple=1")
    site.page.get_by_label("Choose files").set_input_files(
        [payload("one.png", "image/png", png()), payload("two.png", "image/png", png())]
    )
    items = site.page.locator(".presigned-file")
    expect(items.locator("xpath=self::*[@data-state='done' or @data-state='error']")).to_have_count(
        2
    )
    expect(site.page.locator(".presigned-file[data-state=done]")).to_have_count(1)
    refused = site.page.locator(".presigned-file[data-state=error]")
    expect(refused.locator(".presigned-file__error")).to_have_text(
        "Too many requests. Wait a moment and try again."
    )
    errors = [e for e in site.recorded_events() if e["type"] == "presigned:error"]
    assert [e["code"] for e in errors] == ["rate_limited"]
    assert kept_keys(bucket) == [Upload.objects.get().key]


def test_origin_not_allowed_by_bucket_cors_fails_visibly(site, presigned_bucket, live_server):
    presigned_bucket.server.create_bucket(
        presigned_bucket.bucket, cors_origins=["https://elsewhere.example"]
    )
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("blocked.png", "image/png", png())
    )
    item = file_item(site.page, "blocked.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_contain_text("(CORS)")
    assert [e["code"] for e in site.recorded_events() if e["type"] == "presigned:error"] == [
        "network"
    ]
    # The browser could not read S3's answer, so it never confirmed: the upload stays pending
    # (the cleanup command removes it). AWS refuses the preflight and stores nothing; SeaweedFS
    # 4.48 answers every preflight on the bare bucket path (see tests/test_testing_seaweedfs.py).
    assert Upload.objects.get().status == Upload.Status.PENDING


def test_storage_refusal_is_shown(site, bucket):
    """A form whose signed fields were tampered with is refused by S3 itself (403)."""

    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["fields"]["Content-Type"] = "application/pdf"  # signed for image/png
        route.fulfill(response=response, json=body)

    site.page.route("**/upload-url/", tamper)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("tampered.png", "image/png", png())
    )
    item = file_item(site.page, "tampered.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_have_text(
        "The storage service refused the file (HTTP 403, AccessDenied)."
    )
    assert bucket.keys() == []


def test_confirm_failure_is_shown(site, bucket):
    """The object vanished between the upload and confirm: the server's 409 is shown."""

    def lose_object(route: Any) -> None:
        for key in bucket.keys():  # noqa: SIM118 - PresignedBucket.keys(), not a dict
            bucket.client.delete_object(Bucket=bucket.bucket, Key=key)
        route.continue_()

    site.page.route("**/confirm-upload/", lose_object)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(payload("lost.png", "image/png", png()))
    item = file_item(site.page, "lost.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_have_text(
        "The file was sent but could not be confirmed: "
        "The file has not arrived in storage. Upload it first, then confirm."
    )
    assert Upload.objects.get().status == Upload.Status.PENDING


DROP_FILES = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  return transfer;
}"""


def test_drag_and_drop(site, bucket):
    site.goto(PICKER + "?multiple=1")
    page = site.page
    data = png(2000)
    transfer = page.evaluate_handle(
        DROP_FILES, [[["dropped.png", "image/png", base64.b64encode(data).decode()]]]
    )
    zone = page.locator("[data-presigned-picker]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class("presigned-picker is-dragover")
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).to_have_class("presigned-picker")

    expect(file_item(page, "dropped.png")).to_have_attribute("data-state", "done")
    assert bucket.get(Upload.objects.get().key) == data


def test_several_files_at_once(site, bucket):
    names = [f"photo-{n}.png" for n in range(5)]  # more than the script runs in parallel
    site.goto(PICKER + "?multiple=1")
    site.page.get_by_label("Choose files").set_input_files(
        [payload(name, "image/png", png(1000 + n)) for n, name in enumerate(names)]
    )
    expect(site.page.locator(".presigned-file[data-state=done]")).to_have_count(5)
    uploaded = [e["file"] for e in site.recorded_events() if e["type"] == "presigned:uploaded"]
    assert sorted(uploaded) == names
    assert kept_keys(bucket) == sorted(Upload.objects.complete().values_list("key", flat=True))
    assert Upload.objects.complete().count() == 5

    site.goto(FILES)
    for name in names:
        expect(site.page.locator("#files td.filename", has_text=name)).to_have_count(1)


def throttle(page: Any, bytes_per_second: int) -> None:
    """Slow the page's network down (uploads included), as DevTools does."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def test_cancel(site, bucket):
    site.goto(PICKER)
    throttle(site.page, 200_000)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("slow.pdf", "application/pdf", pdf(3_000_000))
    )
    item = file_item(site.page, "slow.pdf")
    expect(item).to_have_attribute("data-state", "uploading")
    site.page.wait_for_function("document.querySelector('.presigned-file progress').value >= 5")

    item.get_by_role("button", name="Cancel the upload of slow.pdf").click()

    expect(item).to_have_attribute("data-state", "cancelled")
    expect(item).to_contain_text("Cancelled")
    expect(site.page.get_by_role("status").first).to_have_text("Upload of slow.pdf cancelled.")
    assert [e["type"] for e in site.recorded_events() if e["type"] != "presigned:progress"] == [
        "presigned:start",
        "presigned:cancelled",
    ]
    # The pending upload is deleted by the script; nothing reached the bucket.
    for _ in range(50):
        if not Upload.objects.exists():
            break
        site.page.wait_for_timeout(100)
    assert not Upload.objects.exists()
    assert bucket.keys() == []


def test_strict_csp_page_still_uploads(site, bucket):
    violations: list[str] = []
    site.page.on("console", lambda message: violations.append(message.text))
    response = site.goto("/pages/strict-csp/")
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'nonce-" in csp
    site.page.evaluate(
        """window.__violations = [];
        document.addEventListener("securitypolicyviolation",
            (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));"""
    )

    site.page.get_by_label("Choose a file").set_input_files(
        payload("csp.png", "image/png", png(3000))
    )

    expect(file_item(site.page, "csp.png")).to_have_attribute("data-state", "done")
    # Every file of the script loaded as a classic script with the nonce, and ran.
    scripts = site.page.evaluate(
        """() => [...document.scripts].map((s) => [s.getAttribute("src"), s.type, !!s.nonce])"""
    )
    assert scripts == [[f"/static/{path}", "", True] for path in ui.SCRIPT_PATHS]
    assert len(scripts) == 6
    assert site.page.evaluate(
        "() => [Object.keys(PresignedTransfers.transports).sort(), !!PresignedTransfers.logic,"
        " typeof PresignedTransfers.upload]"
    ) == [["multipart", "post", "put"], True, "function"]
    assert site.page.evaluate("window.__violations") == []
    assert [text for text in violations if "Content Security Policy" in text] == []
    # The stylesheet applied too (a nonce'd <link>): the drop zone has its dashed border.
    style = site.page.locator("[data-presigned-picker]").evaluate(
        "(el) => getComputedStyle(el).borderTopStyle"
    )
    assert style == "dashed"


def test_download_link_shows_error_in_page(site, bucket):
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(payload("gone.png", "image/png", png()))
    expect(file_item(site.page, "gone.png")).to_have_attribute("data-state", "done")
    site.goto(FILES)
    Upload.objects.all().delete()  # e.g. deleted in another tab

    site.page.get_by_role("link", name="Download gone.png").click()

    expect(site.page.locator(".presigned-download__status")).to_have_text(
        "The download could not start: No such upload."
    )
    assert site.page.url.endswith(FILES)


def test_form_field_accepts_own_upload(site, bucket):
    site.goto("/pages/form/")
    page = site.page
    page.get_by_label("Title").fill("Holiday")
    page.get_by_label("Choose a file").set_input_files(payload("beach.png", "image/png", png()))
    expect(file_item(page, "beach.png")).to_have_attribute("data-state", "done")
    upload = Upload.objects.get()
    expect(page.locator("input[type=hidden][name=attachment]")).to_have_value(str(upload.pk))

    page.get_by_role("button", name="Save").click()

    expect(page.locator("#saved")).to_have_text("Saved: beach.png")


def test_form_waits_for_uploads_and_refuses_foreign_ids(site, bucket, other_user):
    from presigned_transfers import services

    site.goto("/pages/form/")
    page = site.page
    throttle(page, 100_000)
    page.get_by_label("Title").fill("Slow")
    page.get_by_label("Choose a file").set_input_files(
        payload("slow.pdf", "application/pdf", pdf(1_000_000))
    )
    expect(file_item(page, "slow.pdf")).to_have_attribute("data-state", "uploading")
    page.get_by_role("button", name="Save").click()
    busy = "Wait until the uploads finish, or cancel them, before submitting."
    expect(page.locator("[data-presigned-status]")).to_have_text(busy)
    # The status line is for screen readers only; sighted users see the picker's notice.
    expect(page.locator(".presigned-picker__notice")).to_be_visible()
    expect(page.locator(".presigned-picker__notice")).to_have_text(busy)
    file_item(page, "slow.pdf").get_by_role("button").click()
    expect(file_item(page, "slow.pdf")).to_have_attribute("data-state", "cancelled")
    expect(page.locator(".presigned-picker__notice")).to_be_hidden()

    # Someone else's upload id, smuggled into the hidden input, is refused by the server.
    foreign = services.create_upload(
        user=other_user, filename="secret.pdf", content_type="application/pdf", size=10
    ).upload
    Upload.objects.filter(pk=foreign.pk).update(status=Upload.Status.COMPLETE)
    page.evaluate(
        """(id) => {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = "attachment"; input.value = id;
            document.getElementById("form").append(input);
        }""",
        str(foreign.pk),
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_have_text(
        "This upload is not available. Upload the file again."
    )
    expect(page.locator("#saved")).to_have_count(0)
    assert "secret.pdf" not in page.content()


def test_multiple_form_field(site, bucket):
    site.goto("/pages/form/?multiple=1")
    page = site.page
    page.get_by_label("Title").fill("Gallery")
    page.get_by_label("Choose pictures").set_input_files(
        [payload("a.png", "image/png", png()), payload("b.png", "image/png", png(200))]
    )
    expect(page.locator(".presigned-file[data-state=done]")).to_have_count(2)
    file_item(page, "a.png").get_by_role("button", name="Remove a.png from the form").click()
    expect(page.locator("input[type=hidden][name=pictures]")).to_have_count(1)

    page.get_by_role("button", name="Save").click()

    expect(page.locator("#saved")).to_have_text("Saved: b.png")


API_UPLOAD = """async ([uploadUrl, confirmUrl, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const file = new File([bytes], name, { type });
  const percents = [];
  const stages = [];
  try {
    const upload = await PresignedTransfers.upload(file, {
      uploadUrl, confirmUrl,
      onProgress: (percent) => percents.push(percent),
      onStage: (stage) => stages.push(stage),
    });
    const url = await PresignedTransfers.downloadUrl(
      upload.download_url.replace(/download\\/$/, "download-url/"));
    return { upload, percents, stages, url };
  } catch (error) {
    return { error: { name: error.name, code: error.code, status: error.status,
                      message: error.message, stage: error.stage } };
  }
}"""


def test_javascript_api_for_pages_with_their_own_ui(site, bucket, settings):
    from django.urls import reverse

    set_policies(settings)
    urls = [
        reverse("presigned_transfers:upload-url"),
        reverse("presigned_transfers:confirm-upload"),
    ]
    site.goto(FILES)  # loads the script, has no picker
    data = png(1234)
    result = site.page.evaluate(
        API_UPLOAD, [*urls, "api ü.png", "image/png", base64.b64encode(data).decode()]
    )
    assert "upload" in result, result
    assert result["upload"]["filename"] == "api ü.png"
    assert result["upload"]["status"] == "complete"
    assert result["percents"][-1] == 100
    assert result["stages"] == ["signing", "uploading", "confirming", "done"]
    assert result["url"].startswith(bucket.endpoint_url)

    # The server decides: without client-side rules the refusal is the server's own.
    refused = site.page.evaluate(API_UPLOAD, [*urls, "a.txt", "text/plain", "aGk="])
    assert refused["error"] == {
        "name": "UploadError",
        "code": "file_type_not_allowed",
        "status": 415,
        "message": "Files of type “text/plain” are not allowed. Allowed: application/pdf, "
        "image/png, image/jpeg.",
        "stage": "signing",
    }
    code = site.page.evaluate(
        """() => PresignedTransfers.check(new File(["x"], "a.png", {type: "image/png"}),
                                          {contentTypes: ["image/png"], minSize: 2}).code"""
    )
    assert code == "file_too_small"


VISIBLE_BOXES = """(text) => [...document.querySelectorAll("body *")]
  .filter((el) => el.textContent.includes(text)
                  && ![...el.children].some((child) => child.textContent.includes(text)))
  .map((el) => {
    const box = el.getBoundingClientRect();
    return {cls: el.className, width: box.width, height: box.height};
  })"""


def test_status_line_is_for_screen_readers_only(site, bucket, settings):
    """The aria-live line says what happened, but is not a second visible copy of the error."""
    set_policies(settings, tiny={"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1024})
    site.goto(PICKER + "?policy=tiny&multiple=1")
    page = site.page
    message = "The file is too large: the limit is 1.0 KB."
    page.get_by_label("Choose files").set_input_files(payload("big.png", "image/png", png(4096)))
    expect(file_item(page, "big.png")).to_have_attribute("data-state", "error")

    status = page.locator("[data-presigned-status]")
    # Announced, and in the accessibility tree (hidden or display:none would silence it) ...
    expect(page.get_by_role("status").first).to_have_text(f"big.png: {message}")
    expect(status).to_have_attribute("aria-live", "polite")
    # ... but not shown: a 1px clipped box.
    box = status.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1, box
    style = status.evaluate(
        "(el) => { const s = getComputedStyle(el);"
        " return [s.position, s.overflow, s.clipPath, s.whiteSpace]; }"
    )
    assert style == ["absolute", "hidden", "inset(50%)", "nowrap"]
    # The refusal is visible exactly once: in its row.
    boxes = page.evaluate(VISIBLE_BOXES, "The file is too large: the limit is 1.0")  # then nbsp
    visible = [b for b in boxes if b["width"] > 1 and b["height"] > 1]
    assert [b["cls"] for b in visible] == ["presigned-file__error"], boxes
    assert len(boxes) == 2, boxes  # the row's error and the status line

    page.get_by_label("Choose files").set_input_files(payload("fine.png", "image/png", png(500)))
    expect(file_item(page, "fine.png")).to_have_attribute("data-state", "done")
    expect(status).to_have_text("fine.png uploaded.")
    screenshot(page, "picker-error.png")


ROW_HTML = """(name) => [...document.querySelectorAll(".presigned-file")]
  .find((li) => li.querySelector(".presigned-file__name").textContent === name).outerHTML"""


def test_file_rows_are_the_same_whether_rendered_by_the_server_or_the_script(site, bucket):
    """One markup for a file row: the script clones the <template> the server renders rows
    with, so a row made in the browser is identical to the same upload rendered by Django."""
    site.goto("/pages/form/")
    page = site.page
    name = "row <&> ü.png"
    page.get_by_label("Choose a file").set_input_files(payload(name, "image/png", png(800)))
    expect(file_item(page, "row")).to_have_attribute("data-state", "done")
    from_script = page.evaluate(ROW_HTML, name)

    # Submit without a title: the form comes back invalid, the upload rendered by the server.
    page.locator("#form").evaluate("(form) => { form.noValidate = true; }")
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_be_visible()
    expect(file_item(page, "row")).to_have_attribute("data-state", "done")
    from_server = page.evaluate(ROW_HTML, name)

    upload = Upload.objects.get()
    assert f'data-upload-id="{upload.pk}"' in from_server
    assert "row &lt;&amp;&gt; ü.png" in from_server
    assert from_script == from_server
    # The server-rendered row works too: Remove takes it out of the form.
    file_item(page, "row").get_by_role("button", name=f"Remove {name} from the form").click()
    expect(page.locator("input[type=hidden][name=attachment]")).to_have_count(0)


def upload_url_bodies(page: Any) -> list[dict[str, Any]]:
    """The JSON body of every upload-url request from now on."""
    bodies: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            bodies.append(request.post_data_json) if request.url.endswith("/upload-url/") else None
        ),
    )
    return bodies


def test_whole_file_sha256_is_sent_in_upload_url(site, bucket):
    data = png(30_000)
    site.goto(PICKER)
    bodies = upload_url_bodies(site.page)
    site.page.get_by_label("Choose a file").set_input_files(payload("sum.png", "image/png", data))
    expect(file_item(site.page, "sum.png")).to_have_attribute("data-state", "done")

    assert len(bodies) == 1
    assert bodies[0] == {
        "filename": "sum.png",
        "content_type": "image/png",
        "size": len(data),
        "policy": "default",
        "transports": ["multipart", "put", "post"],
        "checksum_sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }
    # The server chose post (TRANSPORT "auto", below MULTIPART_THRESHOLD) and pinned the
    # checksum in the signed form: S3 verified it.
    upload = Upload.objects.get()
    assert (upload.transport, upload.checksum_sha256) == ("post", bodies[0]["checksum_sha256"])
    assert bucket.get(upload.key) == data


API_BODY = """async ([uploadUrl, confirmUrl, options]) => {
  const file = new File([new Uint8Array(1234)], "api.png", { type: "image/png" });
  try { await PresignedTransfers.upload(file, { uploadUrl, confirmUrl, ...options }); }
  catch (error) { return error.code; }
  return "stored";
}"""


def test_javascript_api_checksum_and_transports_options(site, bucket, settings):
    from django.urls import reverse

    set_policies(settings, anything={"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 5000})
    urls = [
        reverse("presigned_transfers:upload-url"),
        reverse("presigned_transfers:confirm-upload"),
    ]
    site.goto(FILES)
    bodies = upload_url_bodies(site.page)
    # No detailUrl: no parts URL either, so multipart is not offered; no checksum by default.
    site.page.evaluate(API_BODY, [*urls, {"policy": "anything"}])
    # Over the multipart threshold: no whole-file checksum (multipart parts have their own).
    site.page.evaluate(
        API_BODY, [*urls, {"policy": "anything", "checksum": "sha256", "multipartThreshold": 1000}]
    )
    site.page.evaluate(
        API_BODY, [*urls, {"policy": "anything", "checksum": "sha256", "transports": ["post"]}]
    )
    assert [(b["transports"], b.get("checksum_sha256")) for b in bodies] == [
        (["put", "post"], None),
        (["put", "post"], None),
        (["post"], base64.b64encode(hashlib.sha256(bytes(1234)).digest()).decode()),
    ]
