"""schemathesis runs every operation of presigned_transfers/openapi.json against a live server.

Django's live server, the real SeaweedFS (tests.s3), a signed-in user whose session cookie and
CSRF token go with every request (schemathesis.toml, by security scheme). Before the run the
user has uploads in each state — complete, pending, refused, multipart with a part sent — and
their ids are added to the document given to schemathesis as examples, so the examples phase
reaches the success answers and each refusal, not only 404; the stateful phase follows the
document's links from ``createUpload``. The document is otherwise the shipped one.

Checks: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, response_headers_conformance. schemathesis's summary is printed
into the log; any failure fails the test. It adds to tests/test_fuzz.py, which fuzzes with
hypothesis through Django's test client.
"""

from __future__ import annotations

import copy
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

from presigned_transfers import services
from tests import flows

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).parent
MiB = 1024 * 1024
CONTENT_TYPES = ("application/pdf", "image/png")
MAX_SIZE = 200 * MiB
#: How long the whole run may take (it stops generating then; a few minutes on 2 cores).
MAX_TIME = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "180"))


@pytest.fixture
def site(real_s3, settings, live_server):
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


def uploads_in_every_state(user, real_s3):
    """{name: upload id} of the user's uploads: complete, pending, failed, multipart."""
    made = {}
    complete = services.create_upload(
        user=user, filename="report.pdf", content_type="application/pdf", size=len(flows.PDF)
    )
    assert real_s3.post(complete.post.url, complete.post.fields, flows.PDF).status_code == 204
    made["complete"] = services.confirm_upload(user=user, upload_id=complete.upload.pk).pk
    made["pending"] = flows.sign(user, flows.PDF).pk
    short = services.create_upload(
        user=user, filename="short.pdf", content_type="application/pdf", size=len(flows.PDF)
    )
    assert real_s3.post(short.post.url, short.post.fields, flows.PDF[:-1]).status_code == 204
    with pytest.raises(services.exceptions.UploadRefused):
        services.confirm_upload(user=user, upload_id=short.upload.pk)
    made["failed"] = short.upload.pk
    big = services.create_upload(
        user=user,
        filename="big.pdf",
        content_type="application/pdf",
        size=6 * MiB,
        transports=["multipart"],
    ).upload
    assert big.transport == "multipart"
    made["multipart"] = big.pk
    return {name: str(pk) for name, pk in made.items()}


def for_this_site(doc, ids, deletable):
    """The document with the uploads' ids as examples of every upload id it takes, and the
    file's type and size narrowed to what the site's policy takes (as a host's document for
    its own policy would say), so that generated requests reach the success answers too."""
    doc = copy.deepcopy(doc)
    request = doc["components"]["schemas"]["UploadRequest"]["properties"]
    request["content_type"]["enum"] = list(CONTENT_TYPES)
    request["size"].update(minimum=1, maximum=MAX_SIZE)
    parameter = doc["components"]["parameters"]["UploadId"]
    for item in doc["paths"].values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "parameters" not in operation:
                continue
            if operation["parameters"] != [{"$ref": "#/components/parameters/UploadId"}]:
                continue
            chosen = deletable if method == "delete" else ids
            operation["parameters"] = [
                {
                    **parameter,
                    "examples": {name: {"value": pk} for name, pk in chosen.items()},
                }
            ]
    confirm = doc["paths"]["/confirm-upload/"]["post"]["requestBody"]["content"]
    confirm["application/json"].pop("example", None)
    confirm["application/json"]["examples"] = {
        name: {"value": {"upload_id": pk}} for name, pk in ids.items()
    }
    parts = doc["paths"]["/uploads/{upload_id}/parts/"]["post"]["requestBody"]["content"]
    body = bytes(6 * MiB)
    parts["application/json"]["example"] = {
        "parts": [
            {"part_number": 1, "checksum_sha256": flows_sha256(body[: 5 * MiB])},
            {"part_number": 2, "checksum_sha256": flows_sha256(body[5 * MiB :])},
        ]
    }
    return doc


def flows_sha256(data):
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_every_operation_conforms(site, real_s3, user, client, tmp_path, capsys):
    client.force_login(user)
    csrf = secrets.token_hex(16)
    ids = uploads_in_every_state(user, real_s3)
    deletable = {
        "pending": flows.sign(user, flows.PDF).pk,
        "multipart": services.create_upload(
            user=user,
            filename="big.pdf",
            content_type="application/pdf",
            size=6 * MiB,
            transports=["multipart"],
        ).upload.pk,
    }
    deletable = {name: str(pk) for name, pk in deletable.items()}
    served = requests.get(site.url + reverse("openapi"), timeout=30)
    assert served.status_code == 200
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(for_this_site(served.json(), ids, deletable)))
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
        served.json()["servers"][0]["url"],
        # Failures reported and accepted until fixed (each with its xfail test).
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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=MAX_TIME + 120,
        check=False,
    )
    with capsys.disabled():
        print("\n" + run.stdout)
    assert run.returncode == 0, "schemathesis found failures (see its output above)"
    assert re.search(r"\b21 tested\b|\b21 selected\b", run.stdout), run.stdout[-2000:]
