"""The put and multipart transports, end to end: the picker in Chromium, the live server's
upload-url / upload-parts / confirm-upload / DELETE, and SeaweedFS, which checks every
signature, signed length and checksum. Nothing is stood in: ``page.route`` only delays, holds
or fails requests to the bucket, the way a network or a provider would.

Files are kept small with S3's smallest parts: ``MULTIPART_THRESHOLD`` and
``MULTIPART_PART_SIZE`` at 5 MiB, files of 11 to 16 MiB (three or four parts).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from presigned_transfers import policy
from presigned_transfers.models import Upload
from tests.browser.conftest import screenshot
from tests.browser.test_picker import file_item, payload, pdf, png, throttle
from tests.proxy import FaultProxy

pytestmark = [pytest.mark.browser, pytest.mark.s3]

PICKER = "/pages/picker/"
FILES = "/pages/files/"
MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # S3's minimum: the smallest parts a real plan can have


def configure(settings: Any, **extra: Any) -> None:
    """Multipart above 5 MiB in 5 MiB parts; PDF and PNG up to 40 MiB; checksums on."""
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf", "image/png"], "MAX_SIZE": 40 * MiB}
        },
        "MULTIPART_THRESHOLD": 5 * MiB,
        "MULTIPART_PART_SIZE": PART_SIZE,
        "CHECKSUM": "sha256",
        **extra,
    }


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def part_of(data: bytes, number: int) -> bytes:
    return data[(number - 1) * PART_SIZE : number * PART_SIZE]


@dataclass
class Traffic:
    """What the page sends to one origin from now on (``page.on``, nothing is changed)."""

    origin: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, page: Any) -> Traffic:
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)
        return self

    def _entry(self, request: Any) -> dict[str, Any] | None:
        return next((e for e in self.requests if e["request"] is request), None)

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.origin + "/") or request.method == "OPTIONS":
            return
        query = parse_qs(urlsplit(request.url).query)
        self.requests.append(
            {
                "request": request,
                "method": request.method,
                "part": int(query["partNumber"][0]) if "partNumber" in query else None,
                "headers": request.headers,
                "status": None,
                "start": None,
                "end": None,
            }
        )

    def _finished(self, request: Any) -> None:
        entry = self._entry(request)
        if entry is None:
            return
        response = request.response()
        entry["status"] = response.status if response else None
        timing = request.timing  # startTime: ms since the epoch; responseEnd: ms after it
        entry["start"] = timing["startTime"]
        entry["end"] = timing["startTime"] + timing["responseEnd"]

    def _failed(self, request: Any) -> None:
        entry = self._entry(request)
        if entry is not None:
            entry["status"] = "failed"

    @property
    def methods(self) -> list[str]:
        return [e["method"] for e in self.requests]

    def parts(self, status: Any = None) -> list[int]:
        """Part numbers of the part PUTs, in the order they were sent (with *status* only)."""
        return [
            e["part"]
            for e in self.requests
            if e["method"] == "PUT"
            and e["part"] is not None
            and (status is None or e["status"] == status)
        ]


def max_in_flight(entries: list[dict[str, Any]]) -> int:
    """The most requests that were on the wire at one instant (from the browser's timings)."""
    edges = sorted(
        [(e["start"], 1) for e in entries] + [(e["end"], -1) for e in entries],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def json_answers(page: Any, suffix: str, method: str) -> list[Any]:
    """The responses of the app's *method* requests whose path ends with *suffix*."""
    answers: list[Any] = []
    page.on(
        "response",
        lambda response: (
            answers.append(response)
            if response.request.method == method and urlsplit(response.url).path.endswith(suffix)
            else None
        ),
    )
    return answers


def resume_records(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => Object.fromEntries(Object.keys(localStorage)
            .filter((key) => key.startsWith("presigned_transfers:resume:"))
            .map((key) => [key, JSON.parse(localStorage.getItem(key))]))"""
    )


def open_multipart_uploads(bucket: Any) -> list[str]:
    """ListMultipartUploads on the test's bucket: the keys of the uploads still open."""
    answer = bucket.client.list_multipart_uploads(Bucket=bucket.bucket)
    return [item["Key"] for item in answer.get("Uploads", [])]


def s3_part_numbers(bucket: Any, upload: Upload) -> list[int]:
    """ListParts, straight from SeaweedFS (a part sent twice listed once)."""
    answer = bucket.client.list_parts(
        Bucket=bucket.bucket, Key=upload.key, UploadId=upload.multipart_id
    )
    return sorted({part["PartNumber"] for part in answer.get("Parts", [])})


def wait_until(page: Any, condition: Any, timeout_ms: int = 30_000) -> None:
    """Let the page run (and Playwright deliver its events) until *condition()* holds."""
    for _ in range(timeout_ms // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    assert condition(), "timed out"


def storage_error(status: int, code: str, origin: str) -> dict[str, Any]:
    """An S3 error answer a part PUT could get, readable by the page (CORS)."""
    return {
        "status": status,
        "body": f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{code}</Message></Error>",
        "headers": {"Content-Type": "application/xml", "Access-Control-Allow-Origin": origin},
    }


def is_part_put(route: Any, *numbers: int) -> bool:
    query = parse_qs(urlsplit(route.request.url).query)
    return route.request.method == "PUT" and query.get("partNumber", [""])[0] in {
        str(n) for n in numbers
    }


def download_through_the_file_list(site: Any, name: str, endpoint: str) -> tuple[str, bytes, str]:
    """Click the file's download link: the name the browser saves it under, its bytes, and
    the Content-Disposition the bucket (at *endpoint*) answers the signed URL it followed."""
    followed = Traffic(endpoint).watch(site.page)
    site.goto(FILES)
    row = site.page.locator("#files tbody tr").filter(has_text=name)
    expect(row).to_have_count(1)
    with site.page.expect_download() as info:
        row.get_by_role("link", name=f"Download {name}").click()
    download = info.value
    with open(download.path(), "rb") as fh:
        content = fh.read()
    [get] = [e["request"] for e in followed.requests if e["method"] == "GET"]
    # The URL is signed for GET: ask again for its headers only (stream, read no body).
    with requests.get(get.url, timeout=30, stream=True) as answer:
        assert answer.status_code == 200, answer.status_code
        disposition = answer.headers["Content-Disposition"]
    return download.suggested_filename, content, disposition


# -- multipart ----------------------------------------------------------------------------------


def test_multipart_parts_in_parallel_and_the_same_bytes_back(site, bucket, settings):
    configure(settings)
    name = "Jahresbericht – Grüße 日本.pdf"  # noqa: RUF001 - non-ASCII on purpose
    data = pdf(3 * PART_SIZE - 1000)  # three parts: 5 MiB, 5 MiB, 5 MiB - 1000 B
    site.goto(PICKER)
    storage = Traffic(bucket.endpoint_url).watch(site.page)
    signing = json_answers(site.page, "/parts/", "POST")
    upload_url = json_answers(site.page, "/upload-url/", "POST")
    site.page.get_by_label("Choose a file").set_input_files(payload(name, "application/pdf", data))

    expect(file_item(site.page, name)).to_have_attribute("data-state", "done", timeout=60_000)
    # The server chose multipart and planned it; the browser offered every transport and sent
    # no whole-file checksum (the parts carry their own).
    [answer] = upload_url
    assert answer.request.post_data_json["transports"] == ["multipart", "put", "post"]
    assert "checksum_sha256" not in answer.request.post_data_json
    plan = answer.json()
    assert (plan["transport"], plan["part_size"], plan["part_count"], plan["checksum"]) == (
        "multipart",
        PART_SIZE,
        3,
        "sha256",
    )
    # One signing request for the three parts, each with the SHA-256 of its own bytes.
    [signed] = signing
    assert signed.request.post_data_json == {
        "parts": [
            {"part_number": n, "checksum_sha256": sha256_b64(part_of(data, n))} for n in (1, 2, 3)
        ]
    }
    assert [p["size"] for p in signed.json()["parts"]] == [PART_SIZE, PART_SIZE, PART_SIZE - 1000]
    # Three PUTs, one per part, exactly the signed headers (no Content-Type on a part)...
    assert sorted(storage.parts(status=200)) == [1, 2, 3]
    assert storage.methods.count("POST") == 0
    for entry in storage.requests:
        assert "content-type" not in entry["headers"]
        assert entry["headers"]["x-amz-checksum-sha256"] == sha256_b64(part_of(data, entry["part"]))
    # ...on the wire at the same time: each part started before another one had finished.
    puts = [e for e in storage.requests if e["method"] == "PUT"]
    assert max_in_flight(puts) >= 2, [(e["part"], e["start"], e["end"]) for e in puts]

    upload = Upload.objects.get()
    assert (upload.status, upload.transport) == (Upload.Status.COMPLETE, "multipart")
    assert upload.checksum_sha256.endswith("-3")  # S3's composite checksum of three parts
    assert bucket.get(upload.key) == data
    assert open_multipart_uploads(bucket) == []
    assert resume_records(site.page) == {}  # forgotten once done
    progress = [e["percent"] for e in site.recorded_events() if e["type"] == "presigned:progress"]
    assert progress == sorted(progress) and progress[-1] == 100

    saved_as, content, disposition = download_through_the_file_list(site, name, bucket.endpoint_url)
    assert saved_as == name
    assert content == data
    assert disposition == policy.content_disposition(name)
    assert "filename*=UTF-8''Jahresbericht%20%E2%80%93%20Gr%C3%BC%C3%9Fe" in disposition


def test_multipart_resumes_after_a_reload_with_only_the_missing_parts(
    site, bucket, settings, tmp_path
):
    """Parts 3 and 4 are held (never answered) while 1 and 2 reach S3; the page is reloaded
    with them still in flight. Picking the same file again asks the server what S3 has and
    sends exactly the parts it does not list."""
    configure(settings)
    data = pdf(4 * PART_SIZE - 1000)  # four parts
    path = tmp_path / "film.pdf"
    path.write_bytes(data)  # a real file: the same name, size and lastModified after the reload
    held: list[Any] = []
    holding = {"on": True}

    def hold_parts_3_and_4(route: Any) -> None:
        if holding["on"] and is_part_put(route, 3, 4):
            held.append(route)  # in flight, unanswered, until the reload
            return
        route.continue_()

    site.page.route(bucket.endpoint_url + "/**", hold_parts_3_and_4)
    site.goto(PICKER)
    before = Traffic(bucket.endpoint_url).watch(site.page)
    site.page.get_by_label("Choose a file").set_input_files(str(path))
    wait_until(site.page, lambda: sorted(before.parts(status=200)) == [1, 2] and len(held) == 2)
    expect(file_item(site.page, "film.pdf")).to_have_attribute("data-state", "uploading")
    upload = Upload.objects.get()
    assert s3_part_numbers(bucket, upload) == [1, 2]
    [record] = resume_records(site.page).values()
    assert (record["uploadId"], record["partCount"]) == (str(upload.pk), 4)
    assert "film" not in json.dumps(resume_records(site.page))  # no file name stored

    # (No unroute: turning interception off would let Chromium release the held requests.)
    site.page.reload()
    holding["on"] = False
    for route in held:
        with contextlib.suppress(PlaywrightError):  # the reload may have cancelled it already
            route.abort()
    assert s3_part_numbers(bucket, upload) == [1, 2]  # the reload stopped the upload midway
    after = Traffic(bucket.endpoint_url).watch(site.page)
    listed = json_answers(site.page, f"/uploads/{upload.pk}/parts/", "GET")
    upload_url = json_answers(site.page, "/upload-url/", "POST")
    site.page.get_by_label("Choose a file").set_input_files(str(path))

    expect(file_item(site.page, "film.pdf")).to_have_attribute("data-state", "done", timeout=60_000)
    assert upload_url == []  # no second upload: the same one goes on
    [answer] = listed
    parts = answer.json()
    assert (parts["status"], parts["size"], parts["part_count"]) == ("pending", len(data), 4)
    assert [p["part_number"] for p in parts["parts"]] == [1, 2]
    missing = sorted(set(range(1, 5)) - {p["part_number"] for p in parts["parts"]})
    assert sorted(after.parts()) == missing == [3, 4]
    # The bar starts where S3 is: two parts of four already there.
    progress = [e["percent"] for e in site.recorded_events() if e["type"] == "presigned:progress"]
    assert progress[0] == 50 and progress == sorted(progress) and progress[-1] == 100
    upload.refresh_from_db()
    assert upload.status == Upload.Status.COMPLETE
    assert Upload.objects.count() == 1
    assert bucket.get(upload.key) == data
    assert open_multipart_uploads(bucket) == []
    assert resume_records(site.page) == {}


def test_multipart_resume_record_unknown_to_the_server_starts_afresh(
    site, bucket, settings, tmp_path
):
    """And with ``CHECKSUM`` off, the parts are signed and sent without one."""
    configure(settings, CHECKSUM=None)
    data = pdf(2 * PART_SIZE + 100)
    path = tmp_path / "again.pdf"
    path.write_bytes(data)
    site.goto(PICKER)
    # A record for an upload the server does not know (someone else's, or long gone), keyed
    # exactly as the script keys this file.
    site.page.evaluate(
        """() => {
          const input = document.createElement("input");
          input.type = "file";
          input.id = "probe";
          document.body.append(input);
        }"""
    )
    site.page.locator("#probe").set_input_files(str(path))
    site.page.evaluate(
        """() => {
          const file = document.getElementById("probe").files[0];
          localStorage.setItem(PresignedTransfers.logic.resumeKey(file, "default"),
            JSON.stringify({uploadId: "3f1c2d4e-0000-4000-8000-000000000001", size: file.size,
                            partSize: 5242880, partCount: 3, checksum: "sha256",
                            expiresAt: "2099-01-01T00:00:00Z"}));
        }"""
    )
    listed = json_answers(site.page, "/parts/", "GET")
    signing = json_answers(site.page, "/parts/", "POST")
    storage = Traffic(bucket.endpoint_url).watch(site.page)
    site.page.get_by_label("Choose a file").set_input_files(str(path))
    expect(file_item(site.page, "again.pdf")).to_have_attribute(
        "data-state", "done", timeout=60_000
    )
    assert [answer.status for answer in listed] == [404]
    [signed] = signing
    assert signed.request.post_data_json == {"parts": [{"part_number": n} for n in (1, 2, 3)]}
    assert sorted(storage.parts(status=200)) == [1, 2, 3]
    assert all("x-amz-checksum-sha256" not in e["headers"] for e in storage.requests)
    upload = Upload.objects.get()
    assert (upload.checksum, upload.checksum_sha256) == ("", "")
    assert bucket.get(upload.key) == data
    assert resume_records(site.page) == {}


def test_multipart_cancel_leaves_no_multipart_upload_and_no_row(site, bucket, settings):
    configure(settings)
    site.goto(PICKER)
    throttle(site.page, 400_000)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("stop.pdf", "application/pdf", pdf(3 * PART_SIZE - 1000))
    )
    item = file_item(site.page, "stop.pdf")
    expect(item).to_have_attribute("data-state", "uploading", timeout=30_000)
    site.page.wait_for_function("document.querySelector('.presigned-file progress').value >= 3")
    expect(item.locator("progress")).to_have_count(1)  # one bar for the parts in parallel
    screenshot(site.page, "picker-multipart-mid-upload.png")
    upload = Upload.objects.get()
    assert open_multipart_uploads(bucket) == [upload.key]  # S3 has an open upload to abort
    assert len(resume_records(site.page)) == 1

    item.get_by_role("button", name="Cancel the upload of stop.pdf").click()

    expect(item).to_have_attribute("data-state", "cancelled")
    wait_until(site.page, lambda: not Upload.objects.exists())
    assert open_multipart_uploads(bucket) == []
    assert bucket.keys() == []
    assert resume_records(site.page) == {}
    assert [e["type"] for e in site.recorded_events() if e["type"] != "presigned:progress"] == [
        "presigned:start",
        "presigned:cancelled",
    ]


def test_multipart_retries_a_failed_part_and_completes(site, bucket, settings, live_server):
    """Part 2's first PUT gets S3's 500, part 3's first PUT is cut off on the network: both are
    sent again and the upload completes."""
    configure(settings)
    failed: list[int] = []

    def fail_parts_2_and_3_once(route: Any) -> None:
        if is_part_put(route, 2) and 2 not in failed:
            failed.append(2)
            route.fulfill(**storage_error(500, "InternalError", live_server.url))
            return
        if is_part_put(route, 3) and 3 not in failed:
            failed.append(3)
            route.abort("connectionreset")
            return
        route.continue_()

    site.page.route(bucket.endpoint_url + "/**", fail_parts_2_and_3_once)
    storage = Traffic(bucket.endpoint_url).watch(site.page)
    data = pdf(3 * PART_SIZE - 1000)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("flaky.pdf", "application/pdf", data)
    )

    expect(file_item(site.page, "flaky.pdf")).to_have_attribute(
        "data-state", "done", timeout=60_000
    )
    assert sorted(failed) == [2, 3]
    assert sorted(storage.parts()) == [1, 2, 2, 3, 3]
    assert sorted(storage.parts(status=200)) == [1, 2, 3]
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE
    assert bucket.get(upload.key) == data
    assert open_multipart_uploads(bucket) == []


def test_multipart_sends_again_the_parts_confirm_reports_missing(
    site, bucket, settings, live_server
):
    """Part 2's first PUT is answered 200 without reaching S3 (a lost part): confirm answers
    409 parts_missing [2], the script signs and sends part 2 again, and confirms again."""
    configure(settings)
    lost: list[int] = []

    def lose_part_2_once(route: Any) -> None:
        if is_part_put(route, 2) and not lost:
            lost.append(2)
            route.fulfill(
                status=200,
                headers={"ETag": '"lost"', "Access-Control-Allow-Origin": live_server.url},
            )
            return
        route.continue_()

    site.page.route(bucket.endpoint_url + "/**", lose_part_2_once)
    storage = Traffic(bucket.endpoint_url).watch(site.page)
    confirms = json_answers(site.page, "/confirm-upload/", "POST")
    signing = json_answers(site.page, "/parts/", "POST")
    data = pdf(2 * PART_SIZE + 10)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("gap.pdf", "application/pdf", data)
    )

    expect(file_item(site.page, "gap.pdf")).to_have_attribute("data-state", "done", timeout=60_000)
    assert [answer.status for answer in confirms] == [409, 200]
    assert confirms[0].json()["error"]["code"] == "parts_missing"
    assert confirms[0].json()["error"]["details"]["missing"] == [2]
    assert [[p["part_number"] for p in s.request.post_data_json["parts"]] for s in signing] == [
        [1, 2, 3],
        [2],
    ]
    assert sorted(storage.parts()) == [1, 2, 2, 3]
    assert bucket.get(Upload.objects.get().key) == data


# -- put ----------------------------------------------------------------------------------------


def test_put_on_a_provider_without_post_object(site, bucket, settings):
    """Behind a proxy that answers POST Object with 501, as Cloudflare R2 does: the post
    transport fails visibly there, and with ``TRANSPORT = "put"`` the picker uploads by PUT."""
    with FaultProxy(bucket.server.host, bucket.server.s3_port) as proxy:
        proxy.mode = "no-post"
        configure(settings, ENDPOINT_URL=proxy.url)
        site.goto(PICKER)
        storage = Traffic(proxy.url).watch(site.page)

        # The default transport ("auto") posts small files: this provider refuses that.
        site.page.get_by_label("Choose a file").set_input_files(
            payload("posted.png", "image/png", png(20_000))
        )
        expect(file_item(site.page, "posted.png").locator(".presigned-file__error")).to_have_text(
            "The storage service refused the file (HTTP 501, NotImplemented)."
        )
        assert [(e["method"], e["status"]) for e in storage.requests] == [("POST", 501)]

        configure(settings, ENDPOINT_URL=proxy.url, TRANSPORT="put")
        storage.requests.clear()
        name = "Foto – Übersicht.png"  # noqa: RUF001 - non-ASCII on purpose
        data = png(40_000)
        site.goto(PICKER)
        site.page.get_by_label("Choose a file").set_input_files(payload(name, "image/png", data))
        expect(file_item(site.page, name)).to_have_attribute("data-state", "done")

        [put] = storage.requests
        assert (put["method"], put["part"], put["status"]) == ("PUT", None, 200)
        assert put["headers"]["content-type"] == "image/png"
        assert put["headers"]["if-none-match"] == "*"
        assert put["headers"]["x-amz-checksum-sha256"] == sha256_b64(data)  # by the browser
        upload = Upload.objects.get(original_filename=name)
        assert (upload.status, upload.transport) == (Upload.Status.COMPLETE, "put")
        assert upload.checksum_sha256 == sha256_b64(data)
        assert bucket.get(upload.key) == data

        saved_as, content, disposition = download_through_the_file_list(site, name, proxy.url)
        assert (saved_as, content) == (name, data)
        assert disposition == policy.content_disposition(name)
        assert [e["method"] for e in storage.requests].count("POST") == 0


def test_put_refused_by_s3_for_a_wrong_checksum_is_shown(site, bucket, settings):
    """The checksum upload-url signs is not the file's (changed on the way to the server):
    S3 refuses the PUT and the picker says so; nothing is stored."""
    configure(settings, TRANSPORT="put")

    def other_checksum(route: Any) -> None:
        body = {**route.request.post_data_json, "checksum_sha256": sha256_b64(b"other bytes")}
        route.continue_(post_data=json.dumps(body))

    site.page.route("**/upload-url/", other_checksum)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("bad.png", "image/png", png(2000))
    )
    item = file_item(site.page, "bad.png")
    expect(item).to_have_attribute("data-state", "error")
    expect(item.locator(".presigned-file__error")).to_have_text(
        "The storage service refused the file (HTTP 400, BadDigest)."
    )
    assert bucket.keys() == []
    assert Upload.objects.get().status == Upload.Status.PENDING
