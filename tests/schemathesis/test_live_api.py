"""schemathesis runs every operation of presigned_transfers/openapi.json against a live server.

Django's live server on the real SeaweedFS (``presigned_bucket``), a signed-in user whose
session cookie and CSRF token go with every request (schemathesis.toml: by security scheme,
so schemathesis also knows how to leave them out). The document is the one OpenAPIView
serves, fitted to this site (``for_this_site``): the user's uploads in each state — complete,
pending, refused, multipart — are examples of every upload id, so the examples phase reaches
the success answers and each refusal, not only 404; the stateful phase follows the
document's links from ``createUpload``.

Every check runs but positive_data_acceptance (see schemathesis.toml). schemathesis's own
report is printed into the log, then one line: operations tested, test cases, failures. A
failure fails the test, except those recorded in baseline.json (open bugs, each with its
strict xfail in tests/system/test_malformed_requests.py). It adds to
tests/system/test_fuzz.py (hypothesis, through Django's test client), it does not replace it.

``SCHEMATHESIS_MAX_TIME`` (seconds, default 180) bounds the run; ``SCHEMATHESIS_ARGS`` adds
options to ``st run`` (e.g. ``--seed N`` to replay a run, ``--report har``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.urls import reverse

from presigned_transfers import exceptions, services
from presigned_transfers.models import Upload
from tests import flows, samples

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).parent
MiB = 1024 * 1024
#: What the site's policy takes (the document's examples fit in it).
CONTENT_TYPES = ("application/pdf", "image/png")
MAX_SIZE = 200 * MiB
#: How long the run may take, in seconds (a few minutes on 2 cores).
MAX_TIME = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "180"))
#: Fewer test cases than this means the run did not really run.
MIN_CASES = 300


@pytest.fixture
def site(presigned_bucket, settings, live_server):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        # Room for the document's 100 MiB multipart example.
        "POLICIES": {"default": {"CONTENT_TYPES": list(CONTENT_TYPES), "MAX_SIZE": MAX_SIZE}},
        # The run sends hundreds of requests a minute: limits would answer most with 429.
        "RATE_LIMITS": dict.fromkeys(
            ("upload-url", "confirm-upload", "download-url", "upload-parts"), None
        ),
        "MULTIPART_THRESHOLD": 5 * MiB,
        "MULTIPART_PART_SIZE": 5 * MiB,
    }
    return live_server


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def uploads_in_every_state(user, presigned_bucket):
    """{state: upload id} of the user's uploads: complete, pending, refused, multipart."""
    made = {}
    complete = services.create_upload(
        user=user, filename="report.pdf", content_type="application/pdf", size=len(samples.PDF)
    )
    assert (
        presigned_bucket.post(complete.post.url, complete.post.fields, samples.PDF).status_code
        == 204
    )
    made["complete"] = services.confirm_upload(user=user, upload_id=complete.upload.pk).pk
    made["pending"] = flows.sign(user, samples.PDF).pk
    short = services.create_upload(
        user=user, filename="short.pdf", content_type="application/pdf", size=len(samples.PDF)
    )
    assert (
        presigned_bucket.post(short.post.url, short.post.fields, samples.PDF[:-1]).status_code
        == 204
    )
    with pytest.raises(exceptions.UploadRefused):
        services.confirm_upload(user=user, upload_id=short.upload.pk)
    made["refused"] = short.upload.pk
    multipart = flows.sign(user, bytes(6 * MiB), transports=["multipart"])
    assert multipart.transport == "multipart"
    made["multipart"] = multipart.pk
    return {state: str(pk) for state, pk in made.items()}


def for_this_site(doc, ids):
    """The served document with the uploads' ids as examples of every upload id, and the
    file's type and size narrowed to what the site's policy takes (as a host's document for its
    own policy would say), so that generated requests reach the success answers too."""
    doc = copy.deepcopy(doc)
    request = doc["components"]["schemas"]["UploadRequest"]["properties"]
    request["content_type"]["enum"] = list(CONTENT_TYPES)
    request["size"].update(minimum=1, maximum=MAX_SIZE)
    examples = {state: {"value": pk} for state, pk in ids.items()}
    for name in ("UploadId", "AnyUploadId"):
        doc["components"]["parameters"][name]["examples"] = examples
    confirm = doc["paths"]["/confirm-upload/"]["post"]["requestBody"]["content"]
    confirm["application/json"] = {
        "schema": confirm["application/json"]["schema"],
        "examples": {state: {"value": {"upload_id": pk}} for state, pk in ids.items()},
    }
    parts = doc["paths"]["/uploads/{upload_id}/parts/"]["post"]["requestBody"]["content"]
    parts["application/json"]["example"] = {
        "parts": [
            {"part_number": 1, "checksum_sha256": sha256(bytes(5 * MiB))},
            {"part_number": 2, "checksum_sha256": sha256(bytes(1 * MiB))},
        ]
    }
    # Order carries no meaning in the document; here it makes the examples phase delete the
    # uploads (DELETE /uploads/{upload_id}/) after every other operation had them.
    doc["paths"]["/uploads/{upload_id}/"] = doc["paths"].pop("/uploads/{upload_id}/")
    return doc


def summary(report: str) -> dict[str, int]:
    """The numbers of schemathesis's summary."""

    def number(pattern: str, default: str | None = None) -> int:
        found = re.search(pattern, report)
        assert found or default is not None, (pattern, report[-3000:])
        return int(found.group(1) if found else default)  # type: ignore[arg-type]

    return {
        "selected": number(r"Selected: (\d+)/\d+"),
        "tested": number(r"Tested: (\d+)"),
        "cases": number(r"(\d+) generated"),
        "failures": number(r"(\d+) unique failures?", "0"),
        "known": number(r"Known failures: (\d+)", "0"),
    }


def test_every_operation_conforms(site, presigned_bucket, user, client, tmp_path, capsys):
    client.force_login(user)
    csrf = secrets.token_hex(16)
    ids = uploads_in_every_state(user, presigned_bucket)
    served = requests.get(site.url + reverse("openapi"), timeout=30)
    assert served.status_code == 200
    doc = for_this_site(served.json(), ids)
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(doc))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        str(schema),
        # Where the served document says the API is (the view finds the app's prefix).
        "--url",
        doc["servers"][0]["url"],
        # Failures reported and accepted until fixed (each with its strict xfail test).
        "--baseline",
        str(HERE / "baseline.json"),
        "--max-time",
        str(MAX_TIME),
        "--no-color",
        *os.environ.get("SCHEMATHESIS_ARGS", "").split(),
    ]
    env = {
        **os.environ,
        "PRESIGNED_SESSION": client.cookies["sessionid"].value,
        "PRESIGNED_CSRF": csrf,
    }
    run = subprocess.run(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=MAX_TIME + 120,
        check=False,
    )
    numbers = summary(run.stdout)
    operations = sum(1 for item in doc["paths"].values() for key in item if key != "x-url-name")
    with capsys.disabled():
        print("\n" + run.stdout)
        print(
            f"schemathesis: {numbers['tested']} operations tested, {numbers['cases']} test cases,"
            f" {numbers['failures']} failures ({numbers['known']} known, in baseline.json)"
        )
    assert run.returncode == 0, "schemathesis found failures (see its report above)"
    assert numbers["selected"] == numbers["tested"] == operations == 21
    assert numbers["failures"] == 0
    assert numbers["cases"] >= MIN_CASES
    # The requests reached the user's uploads: the examples phase deleted every one.
    assert not Upload.objects.filter(pk__in=ids.values()).exists()
