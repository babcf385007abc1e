"""The put and multipart transports of the browser script, in Chromium, against real S3.

The server side of these transports (issue 9) is being built to /work/notes/transports-api.md
at the same time. Until it lands, :class:`StandIn` answers the contract's new parts in the
test (with boto3 on the same SeaweedFS): upload-url's ``put``/``multipart`` answers,
``POST``/``GET uploads/<id>/parts/``, completing the multipart upload before today's confirm
checks the object, aborting it on ``DELETE``. Everything the browser does is real: the PUTs
go to SeaweedFS, which checks every signature, signed header and checksum. The same
scenarios against the real server are in ``test_transports_pending.py.pending``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from presigned_transfers.models import Upload
from tests.browser.conftest import screenshot
from tests.browser.test_picker import file_item, payload, pdf, png, set_policies, throttle

pytestmark = [pytest.mark.browser, pytest.mark.s3]

PICKER = "/pages/picker/"
MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # S3's minimum: the smallest parts a real plan can have


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class StandIn:
    """The server's side of the transports contract, emulated with boto3 (see the docstring).

    ``transport`` is what upload-url answers ("put" or "multipart"). Knobs for the scenarios:
    ``expire_first`` signs these part numbers with an already expired URL the first time (S3
    then answers 403 "Request has expired"); ``report_missing`` makes the first confirm answer
    409 ``parts_missing`` for these parts; ``corrupt_checksum`` signs a PUT for other bytes.
    """

    page: Any
    bucket: Any
    transport: str
    expire_first: set[int] = field(default_factory=set)
    report_missing: list[int] = field(default_factory=list)
    corrupt_checksum: bool = False
    #: upload id -> {"key", "size", "s3_upload_id", "part_count"}
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    upload_url_bodies: list[dict[str, Any]] = field(default_factory=list)
    #: the ``parts`` of every POST .../parts/ (part numbers with their checksums)
    sign_requests: list[list[dict[str, Any]]] = field(default_factory=list)
    list_requests: int = 0
    confirms: int = 0
    deleted: list[str] = field(default_factory=list)

    def install(self) -> StandIn:
        self.page.route("**/upload-url/", self.upload_url)
        self.page.route("**/uploads/*/parts/", self.parts)
        self.page.route("**/confirm-upload/", self.confirm)
        self.page.route("**/uploads/*/", self.detail)
        return self

    @property
    def client(self) -> Any:
        return self.bucket.client

    def upload_url(self, route: Any) -> None:
        body = route.request.post_data_json
        self.upload_url_bodies.append(body)
        response = route.fetch()  # today's server: validates, creates the pending upload
        if response.status != 201:
            route.fulfill(response=response)
            return
        answer = response.json()
        upload = Upload.objects.get(pk=answer["upload_id"])
        common = {"upload_id": answer["upload_id"], "expires_at": answer["expires_at"]}
        if self.transport == "put":
            checksum = body.get("checksum_sha256")
            if self.corrupt_checksum:
                checksum = sha256_b64(b"other bytes")
            params = {
                "Bucket": self.bucket.bucket,
                "Key": upload.upload_key,
                "ContentType": upload.content_type,
                "IfNoneMatch": "*",
            }
            headers = {"Content-Type": upload.content_type, "If-None-Match": "*"}
            if checksum:
                params["ChecksumSHA256"] = checksum
                headers["x-amz-checksum-sha256"] = checksum
            url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=600)
            route.fulfill(
                status=201, json={**common, "transport": "put", "url": url, "headers": headers}
            )
            return
        created = self.client.create_multipart_upload(
            Bucket=self.bucket.bucket, Key=upload.upload_key, ContentType=upload.content_type
        )
        part_count = math.ceil(body["size"] / PART_SIZE)
        self.uploads[answer["upload_id"]] = {
            "key": upload.upload_key,
            "size": body["size"],
            "s3_upload_id": created["UploadId"],
            "part_count": part_count,
        }
        route.fulfill(
            status=201,
            json={
                **common,
                "transport": "multipart",
                "part_size": PART_SIZE,
                "part_count": part_count,
                "checksum": "sha256",
            },
        )

    def _upload_of(self, route: Any) -> tuple[str, dict[str, Any] | None]:
        upload_id = urlsplit(route.request.url).path.rstrip("/").split("/")[-2]
        return upload_id, self.uploads.get(upload_id)

    def parts(self, route: Any) -> None:
        path = urlsplit(route.request.url).path.rstrip("/").split("/")
        upload_id = path[-2]
        upload = self.uploads.get(upload_id)
        if upload is None:
            route.fulfill(
                status=404, json={"error": {"code": "not_found", "message": "No such upload."}}
            )
            return
        if route.request.method == "GET":
            self.list_requests += 1
            listed = self.client.list_parts(
                Bucket=self.bucket.bucket, Key=upload["key"], UploadId=upload["s3_upload_id"]
            ).get("Parts", [])
            route.fulfill(
                json={
                    "upload_id": upload_id,
                    "status": "pending",
                    "size": upload["size"],
                    "part_size": PART_SIZE,
                    "part_count": upload["part_count"],
                    "checksum": "sha256",
                    "parts": [{"part_number": p["PartNumber"], "size": p["Size"]} for p in listed],
                }
            )
            return
        requested = route.request.post_data_json["parts"]
        self.sign_requests.append(requested)
        expired = [p["part_number"] for p in requested if p["part_number"] in self.expire_first]
        signed = []
        for part in requested:
            number = part["part_number"]
            params = {
                "Bucket": self.bucket.bucket,
                "Key": upload["key"],
                "UploadId": upload["s3_upload_id"],
                "PartNumber": number,
                "ChecksumSHA256": part["checksum_sha256"],
            }
            expires_in = 1 if number in expired else 600
            url = self.client.generate_presigned_url(
                "upload_part", Params=params, ExpiresIn=expires_in
            )
            size = min(PART_SIZE, upload["size"] - (number - 1) * PART_SIZE)
            signed.append(
                {
                    "part_number": number,
                    "size": size,
                    "url": url,
                    "headers": {"x-amz-checksum-sha256": part["checksum_sha256"]},
                }
            )
        if expired:
            self.expire_first -= set(expired)
            time.sleep(2.1)  # those URLs are now expired; the answer still says they are fine
        route.fulfill(json={"parts": signed, "expires_at": "2099-01-01T00:00:00+00:00"})

    def confirm(self, route: Any) -> None:
        self.confirms += 1
        upload_id = route.request.post_data_json["upload_id"]
        upload = self.uploads.get(upload_id)
        if upload is None:  # put: today's confirm checks the object as for post
            route.continue_()
            return
        if self.report_missing:
            missing, self.report_missing = self.report_missing, []
            route.fulfill(
                status=409,
                json={
                    "error": {
                        "code": "parts_missing",
                        "message": "Some parts have not arrived.",
                        "details": {"missing": missing},
                    }
                },
            )
            return
        listed = self.client.list_parts(
            Bucket=self.bucket.bucket, Key=upload["key"], UploadId=upload["s3_upload_id"]
        )["Parts"]
        # SeaweedFS 4.48 lists a part that was uploaded twice twice: keep the last one.
        listed = list({p["PartNumber"]: p for p in listed}.values())
        assert sorted(p["PartNumber"] for p in listed) == list(range(1, upload["part_count"] + 1))
        self.client.complete_multipart_upload(
            Bucket=self.bucket.bucket,
            Key=upload["key"],
            UploadId=upload["s3_upload_id"],
            MultipartUpload={
                "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]
            },
        )
        route.continue_()  # today's confirm: HEAD, sniff, complete

    def detail(self, route: Any) -> None:
        upload_id = urlsplit(route.request.url).path.rstrip("/").split("/")[-1]
        if route.request.method == "DELETE":
            self.deleted.append(upload_id)
            upload = self.uploads.get(upload_id)
            if upload is not None:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket.bucket, Key=upload["key"], UploadId=upload["s3_upload_id"]
                )
        route.continue_()

    def open_multipart_uploads(self) -> list[str]:
        answer = self.client.list_multipart_uploads(Bucket=self.bucket.bucket)
        return [item["Key"] for item in answer.get("Uploads", [])]


def storage_puts(page: Any, endpoint: str) -> list[dict[str, Any]]:
    """Every PUT the page sends to the bucket from now on: part number, headers."""
    puts: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.method == "PUT" and request.url.startswith(endpoint):
            query = parse_qs(urlsplit(request.url).query)
            puts.append(
                {
                    "part": int(query["partNumber"][0]) if "partNumber" in query else None,
                    "headers": request.headers,
                }
            )

    page.on("request", record)
    return puts


def resume_records(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => Object.fromEntries(Object.keys(localStorage)
            .filter((key) => key.startsWith("presigned_transfers:resume:"))
            .map((key) => [key, JSON.parse(localStorage.getItem(key))]))"""
    )


@pytest.fixture
def big_policy(settings: Any) -> None:
    set_policies(settings)  # default: PDF, PNG, JPEG up to 20 MiB


# -- put ----------------------------------------------------------------------------------------


def test_put_sends_the_file_with_exactly_the_signed_headers(site, bucket, big_policy):
    stand_in = StandIn(site.page, bucket, "put").install()
    puts = storage_puts(site.page, bucket.endpoint_url)
    data = png(40_000)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(payload("put.png", "image/png", data))

    expect(file_item(site.page, "put.png")).to_have_attribute("data-state", "done")
    assert len(puts) == 1 and puts[0]["part"] is None
    headers = puts[0]["headers"]
    assert headers["content-type"] == "image/png"
    assert headers["if-none-match"] == "*"
    assert headers["x-amz-checksum-sha256"] == sha256_b64(data)  # computed by the browser
    assert stand_in.upload_url_bodies[0]["checksum_sha256"] == sha256_b64(data)
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE
    assert bucket.get(upload.key) == data
    progress = [e["percent"] for e in site.recorded_events() if e["type"] == "presigned:progress"]
    assert progress[-1] == 100 and progress == sorted(progress)


def test_put_refused_by_s3_for_a_wrong_checksum_is_shown(site, bucket, big_policy):
    StandIn(site.page, bucket, "put", corrupt_checksum=True).install()
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


# -- multipart ----------------------------------------------------------------------------------


def test_multipart_sends_parts_in_parallel_each_with_its_checksum(site, bucket, big_policy):
    stand_in = StandIn(site.page, bucket, "multipart").install()
    puts = storage_puts(site.page, bucket.endpoint_url)
    data = pdf(3 * PART_SIZE - 1000)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("big.pdf", "application/pdf", data)
    )

    expect(file_item(site.page, "big.pdf")).to_have_attribute("data-state", "done", timeout=60_000)
    # One signing request for the three parts, each with the SHA-256 of its own bytes.
    assert stand_in.sign_requests == [
        [
            {
                "part_number": n,
                "checksum_sha256": sha256_b64(data[(n - 1) * PART_SIZE : n * PART_SIZE]),
            }
            for n in (1, 2, 3)
        ]
    ]
    assert sorted(p["part"] for p in puts) == [1, 2, 3]
    for put in puts:
        # Exactly the signed header: no Content-Type on a part.
        assert "content-type" not in put["headers"]
        assert (
            put["headers"]["x-amz-checksum-sha256"]
            == stand_in.sign_requests[0][put["part"] - 1]["checksum_sha256"]
        )
    assert stand_in.upload_url_bodies[0]["transports"] == ["multipart", "put", "post"]
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE
    assert bucket.get(upload.key) == data
    assert stand_in.open_multipart_uploads() == []
    progress = [e["percent"] for e in site.recorded_events() if e["type"] == "presigned:progress"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert resume_records(site.page) == {}  # forgotten once done


SLOW_DOWN = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    "<Message>Please reduce your request rate.</Message></Error>"
)


def test_multipart_retries_a_failed_part_and_signs_an_expired_url_again(
    site, bucket, big_policy, live_server
):
    stand_in = StandIn(site.page, bucket, "multipart", expire_first={3}).install()
    puts = storage_puts(site.page, bucket.endpoint_url)
    failed: list[int] = []

    def slow_down_part_2_once(route: Any) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        if route.request.method == "PUT" and query.get("partNumber") == ["2"] and not failed:
            failed.append(2)
            route.fulfill(
                status=503,
                body=SLOW_DOWN,
                headers={
                    "Content-Type": "application/xml",
                    "Access-Control-Allow-Origin": live_server.url,
                },
            )
            return
        route.continue_()

    site.page.route(bucket.endpoint_url + "/**", slow_down_part_2_once)
    data = pdf(3 * PART_SIZE - 1000)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("flaky.pdf", "application/pdf", data)
    )

    expect(file_item(site.page, "flaky.pdf")).to_have_attribute(
        "data-state", "done", timeout=60_000
    )
    assert failed == [2]
    # Part 2: the 503 and its retry. Part 3: refused as expired by S3, signed again, sent.
    assert sorted(p["part"] for p in puts) == [1, 2, 2, 3, 3]
    assert [[p["part_number"] for p in request] for request in stand_in.sign_requests] == [
        [1, 2, 3],
        [3],
    ]
    # The part's checksum was kept, not computed again from different bytes.
    assert stand_in.sign_requests[1][0] == stand_in.sign_requests[0][2]
    assert bucket.get(Upload.objects.get().key) == data
    assert Upload.objects.get().status == Upload.Status.COMPLETE


def test_multipart_sends_the_parts_confirm_reports_missing(site, bucket, big_policy):
    stand_in = StandIn(site.page, bucket, "multipart", report_missing=[2]).install()
    puts = storage_puts(site.page, bucket.endpoint_url)
    data = pdf(2 * PART_SIZE + 10)
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("gap.pdf", "application/pdf", data)
    )
    expect(file_item(site.page, "gap.pdf")).to_have_attribute("data-state", "done", timeout=60_000)
    assert stand_in.confirms == 2
    assert sorted(p["part"] for p in puts) == [1, 2, 2, 3]
    assert bucket.get(Upload.objects.get().key) == data


def test_multipart_resumes_after_a_reload_with_only_the_missing_parts(
    site, bucket, big_policy, tmp_path, live_server
):
    """The page is reloaded while part 3 is still being retried; picking the same file again
    asks the server what S3 has and sends only part 3."""
    stand_in = StandIn(site.page, bucket, "multipart").install()
    refuse = {"on": True}

    def slow_down_part_3(route: Any) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        if refuse["on"] and route.request.method == "PUT" and query.get("partNumber") == ["3"]:
            route.fulfill(
                status=503,
                body=SLOW_DOWN,
                headers={"Access-Control-Allow-Origin": live_server.url},
            )
            return
        route.continue_()

    site.page.route(bucket.endpoint_url + "/**", slow_down_part_3)
    data = pdf(3 * PART_SIZE - 1000)
    path = tmp_path / "film.pdf"
    path.write_bytes(data)  # a real file: the same name, size and lastModified after a reload
    site.goto(PICKER)
    site.page.get_by_label("Choose a file").set_input_files(str(path))
    for _ in range(200):
        if len(s3_parts(stand_in)) == 2:
            break
        site.page.wait_for_timeout(100)
    assert [p["PartNumber"] for p in s3_parts(stand_in)] == [1, 2]
    expect(file_item(site.page, "film.pdf")).to_have_attribute("data-state", "uploading")
    [record] = resume_records(site.page).values()
    [upload_id] = stand_in.uploads
    assert record["uploadId"] == upload_id and record["partCount"] == 3
    assert "film" not in json.dumps(resume_records(site.page))  # no file name stored

    refuse["on"] = False
    site.page.reload()
    puts = storage_puts(site.page, bucket.endpoint_url)
    site.page.get_by_label("Choose a file").set_input_files(str(path))
    expect(file_item(site.page, "film.pdf")).to_have_attribute("data-state", "done", timeout=60_000)
    assert len(stand_in.upload_url_bodies) == 1  # no second upload
    assert stand_in.list_requests == 1
    assert [[p["part_number"] for p in request] for request in stand_in.sign_requests] == [
        [1, 2, 3],
        [3],
    ]
    assert [p["part"] for p in puts] == [3]
    upload = Upload.objects.get()
    assert str(upload.pk) == upload_id and upload.status == Upload.Status.COMPLETE
    assert bucket.get(upload.key) == data
    assert resume_records(site.page) == {}


def s3_parts(stand_in: StandIn) -> list[dict[str, Any]]:
    """The parts S3 holds for the stand-in's one multipart upload (none before it exists)."""
    if not stand_in.uploads:
        return []
    [upload] = stand_in.uploads.values()
    return stand_in.client.list_parts(
        Bucket=stand_in.bucket.bucket, Key=upload["key"], UploadId=upload["s3_upload_id"]
    ).get("Parts", [])


PROBE_FILE = """() => {
  const input = document.createElement("input");
  input.type = "file";
  input.id = "probe";
  document.body.append(input);
}"""


def test_multipart_resume_record_unknown_to_the_server_starts_afresh(
    site, bucket, big_policy, tmp_path
):
    stand_in = StandIn(site.page, bucket, "multipart").install()
    data = pdf(PART_SIZE + 100)
    path = tmp_path / "again.pdf"
    path.write_bytes(data)
    site.goto(PICKER)
    # A record for an upload the server does not know (someone else's, or long gone), keyed
    # exactly as the script keys this file.
    site.page.evaluate(PROBE_FILE)
    site.page.locator("#probe").set_input_files(str(path))
    site.page.evaluate(
        """() => {
          const file = document.getElementById("probe").files[0];
          localStorage.setItem(PresignedTransfers.logic.resumeKey(file, "default"),
            JSON.stringify({uploadId: "3f1c2d4e-0000-4000-8000-000000000001", size: file.size,
                            partSize: 5242880, partCount: 2, checksum: "sha256",
                            expiresAt: "2099-01-01T00:00:00Z"}));
        }"""
    )
    assert len(resume_records(site.page)) == 1
    site.page.get_by_label("Choose a file").set_input_files(str(path))
    expect(file_item(site.page, "again.pdf")).to_have_attribute(
        "data-state", "done", timeout=60_000
    )
    assert len(stand_in.upload_url_bodies) == 1
    assert bucket.get(Upload.objects.get().key) == data
    assert resume_records(site.page) == {}


def test_multipart_cancel_aborts_every_part_and_deletes_the_upload(site, bucket, big_policy):
    stand_in = StandIn(site.page, bucket, "multipart").install()
    site.goto(PICKER)
    throttle(site.page, 400_000)
    site.page.get_by_label("Choose a file").set_input_files(
        payload("stop.pdf", "application/pdf", pdf(3 * PART_SIZE - 1000))
    )
    item = file_item(site.page, "stop.pdf")
    expect(item).to_have_attribute("data-state", "uploading", timeout=30_000)
    site.page.wait_for_function("document.querySelector('.presigned-file progress').value >= 3")
    screenshot(site.page, "picker-multipart-mid-upload.png")
    assert len(resume_records(site.page)) == 1

    item.get_by_role("button", name="Cancel the upload of stop.pdf").click()

    expect(item).to_have_attribute("data-state", "cancelled")
    for _ in range(50):
        if not Upload.objects.exists():
            break
        site.page.wait_for_timeout(100)
    assert not Upload.objects.exists()
    assert stand_in.deleted == list(stand_in.uploads)
    assert stand_in.open_multipart_uploads() == []
    assert bucket.keys() == []
    assert resume_records(site.page) == {}
    assert [e["type"] for e in site.recorded_events() if e["type"] != "presigned:progress"] == [
        "presigned:start",
        "presigned:cancelled",
    ]
