"""presigned_transfers.sigv4 against botocore, byte for byte, with both clocks frozen.

Needs no network: botocore only builds URLs here. Clients and presigners are cached per
configuration because building one takes milliseconds (the presigner asks botocore for its
endpoint once).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import botocore
import botocore.auth
import botocore.config
import botocore.credentials
import botocore.session
import botocore.signers
import botocore.utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presigned_transfers import sigv4
from presigned_transfers.sigv4 import (
    MAX_EXPIRES_IN,
    Credentials,
    S3Presigner,
    credentials_from_boto3,
)
from tests.botocore_clock import frozen_botocore

# Every partition with a DNS suffix of its own, a region botocore does not know, and the
# global us-east-1.
REGIONS = [
    "us-east-1",
    "eu-west-2",
    "ap-southeast-1",
    "moon-base-7",
    "cn-north-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "eu-isoe-west-1",
    "eusc-de-east-1",
]
ENDPOINTS = [
    None,
    "http://127.0.0.1:8333",  # SeaweedFS
    "https://minio.example.com:9000",  # MinIO, a port
    "https://s3.example.com",
    "http://s3.example.com/storage/",  # a path prefix
    "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",  # R2
    "http://localhost:8333/seaweed/s3",  # a prefix with no trailing slash
]
STYLES = ["auto", "path", "virtual"]
BUCKETS = [
    "my-bucket",
    "my.bucket",
    "uploads.example.com",
    "abc",
    "ab",
    "UpperCase",
    "under_score",
    "192.168.1.1",
    "trailing-",
    "a.b-c.d",
]
CREDENTIALS = [
    Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    Credentials(
        "ASIATESTTEMPORARY001",
        "temporary/secret+key=",
        "FwoGZXIvYXdzE//session+token/with=odd&chars==",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def _plain_botocore():
    """botocore with its defaults: no config file, no endpoint or regional-endpoint overrides."""
    with pytest.MonkeyPatch.context() as mp:
        # Any AWS_* variable could change endpoint resolution (AWS_ENDPOINT_URL_S3,
        # AWS_S3_US_EAST_1_REGIONAL_ENDPOINT, AWS_USE_FIPS_ENDPOINT, ...) or credentials.
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield
    _clients.clear()
    _sessions.clear()
    _presigners.clear()


_sessions: dict[Credentials, boto3.session.Session] = {}
_clients: dict[tuple, object] = {}
_presigners: dict[tuple, S3Presigner] = {}


def botocore_client(creds: Credentials, region: str, endpoint: str | None, style: str):
    key = (creds, region, endpoint, style)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = botocore_session(creds).client(
            "s3",
            region_name=region,
            endpoint_url=endpoint,
            config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": style}),
        )
    return client


def presigner(region: str, endpoint: str | None, style: str, bucket: str) -> S3Presigner:
    """The presigner for a configuration, its endpoint resolved with a plain session."""
    key = (region, endpoint, style, bucket)
    found = _presigners.get(key)
    if found is None:
        session = botocore_session(CREDENTIALS[0])
        found = _presigners[key] = S3Presigner(
            bucket=bucket,
            region=region,
            endpoint_url=endpoint,
            addressing_style=style,
            session=session,
        )
    return found


def botocore_session(creds: Credentials) -> boto3.session.Session:
    session = _sessions.get(creds)
    if session is None:
        session = _sessions[creds] = boto3.session.Session(
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
        )
    return session


# --- strategies ---------------------------------------------------------------------------

_TRICKY = [
    "+", "?", "#", "%", "&", "=", ";", ":", "@", "!", "$", "'", "(", ")", "*", ",", "[", "]",
    "/", "//", "~", " ", "  ", "%20", "%2F", "%%", ".", "..", "./", "../", "\\", "\t",
    "é", "日本語", "😀", "\u00a0", "\u202e", "${filename}", "-", "_",
]  # fmt: skip
_text = st.text(st.characters(codec="utf-8"), max_size=10)
keys = (
    st.lists(st.one_of(st.sampled_from(_TRICKY), _text), min_size=1, max_size=12)
    .map("".join)
    .filter(bool)
)
content_types = st.one_of(
    st.sampled_from(
        [
            "image/png",
            "text/plain; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            'multipart/form-data; boundary="a; b"',
            "application/octet-stream",
            "",
        ]
    ),
    _text,
)


@st.composite
def dispositions(draw):
    name = draw(st.one_of(keys, st.sampled_from(['a "quoted"; name.pdf', "Ünïcødé 文件.txt"])))
    fallback = name.encode("ascii", "replace").decode().replace("\\", "_").replace('"', '\\"')
    encoded = quote(name, safe="")
    return draw(
        st.sampled_from(
            [
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}",
                f'inline; filename="{fallback}"',
                f"attachment; filename={name}",  # raw: quotes, semicolons, non-ASCII
            ]
        )
    )


_BOTOCORE_NAMES = {
    "response-content-disposition": "ResponseContentDisposition",
    "versionId": "VersionId",
    "partNumber": "PartNumber",
    "uploadId": "UploadId",
}
part_numbers = st.integers(1, 10000).map(str)


@st.composite
def operations(draw):
    """(method, our params, botocore client method, botocore extra Params)."""
    kind = draw(st.sampled_from(["get_object", "put_object", "upload_part"]))
    if kind == "put_object":
        params: dict[str, str] = {}
    elif kind == "upload_part":
        names = draw(st.permutations(["partNumber", "uploadId"]))
        values = {"partNumber": draw(part_numbers), "uploadId": draw(_text)}
        params = {name: values[name] for name in names}
    else:
        values = {"response-content-disposition": dispositions(), "versionId": _text}
        names = draw(st.permutations(sorted(values)))[: draw(st.integers(0, len(values)))]
        params = {name: draw(values[name]) for name in names}
    extra = {
        _BOTOCORE_NAMES[name]: int(value) if name == "partNumber" else value
        for name, value in params.items()
    }
    return ("GET" if kind == "get_object" else "PUT"), params, kind, extra


moments = st.datetimes(
    min_value=datetime(2001, 1, 1),
    max_value=datetime(2098, 12, 31),
    timezones=st.one_of(
        st.none(),
        st.sampled_from(
            [timezone.utc, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
        ),
    ),
)
configurations = st.tuples(
    st.sampled_from(CREDENTIALS),
    st.sampled_from(REGIONS),
    st.sampled_from(ENDPOINTS),
    st.sampled_from(STYLES),
    st.sampled_from(BUCKETS),
)
expiries = st.integers(1, MAX_EXPIRES_IN)

_fast_enough = settings(
    max_examples=200,
    deadline=None,  # a configuration's first example builds a botocore client
    suppress_health_check=[HealthCheck.too_slow],
)


# --- byte-identity with botocore ----------------------------------------------------------


@_fast_enough
@given(config=configurations, operation=operations(), key=keys, expires_in=expiries, now=moments)
def test_presign_url_is_byte_identical_to_botocore(config, operation, key, expires_in, now):
    creds, region, endpoint, style, bucket = config
    method, params, client_method, extra = operation
    client = botocore_client(creds, region, endpoint, style)
    with frozen_botocore(now):
        expected = client.generate_presigned_url(
            client_method, Params={"Bucket": bucket, "Key": key, **extra}, ExpiresIn=expires_in
        )
    got = presigner(region, endpoint, style, bucket).presign_url(
        creds, method=method, key=key, params=params, expires_in=expires_in, now=now
    )
    assert got == expected


_checksums = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())


@st.composite
def signed_header_operations(draw):
    """(our params, our headers, botocore client method, botocore extra Params) of a PUT
    whose headers are signed: a PUT pinned to a length/type/checksum, an UploadPart, a copy."""
    kind = draw(st.sampled_from(["put_object", "upload_part", "copy_object"]))
    params: dict[str, str] = {}
    extra: dict[str, object] = {}
    headers: dict[str, str] = {}
    if kind == "upload_part":
        number, upload_id = draw(part_numbers), draw(_text)
        params = {"partNumber": number, "uploadId": upload_id}
        extra = {"PartNumber": int(number), "UploadId": upload_id}
    choices = {
        "put_object": ["ContentType", "ContentLength", "ChecksumSHA256", "IfNoneMatch"],
        "upload_part": ["ContentLength", "ChecksumSHA256"],
        "copy_object": ["CopySourceIfMatch", "ACL", "ServerSideEncryption"],
    }[kind]
    chosen = draw(st.lists(st.sampled_from(choices), unique=True, min_size=kind != "copy_object"))
    if kind == "copy_object":
        source_bucket, source_key = draw(st.sampled_from(BUCKETS)), draw(keys)
        extra["CopySource"] = {"Bucket": source_bucket, "Key": source_key}
        headers["x-amz-copy-source"] = quote(f"{source_bucket}/{source_key}", safe="/~")
    for name in chosen:
        if name == "ContentType":
            value = draw(content_types)
            extra[name], headers["Content-Type"] = value, value
        elif name == "ContentLength":
            length = draw(st.integers(0, 5 * 1024**3))
            extra[name], headers["Content-Length"] = length, str(length)
        elif name == "ChecksumSHA256":
            value = draw(_checksums)
            extra[name], headers["x-amz-checksum-sha256"] = value, value
        elif name == "IfNoneMatch":
            extra[name], headers["If-None-Match"] = "*", "*"
        elif name == "CopySourceIfMatch":
            value = '"' + draw(st.text("0123456789abcdef", min_size=32, max_size=32)) + '"'
            extra[name], headers["x-amz-copy-source-if-match"] = value, value
        elif name == "ACL":
            extra[name], headers["x-amz-acl"] = "private", "private"
        elif name == "ServerSideEncryption":
            extra[name], headers["x-amz-server-side-encryption"] = "AES256", "AES256"
    return params, headers, kind, extra


@_fast_enough
@given(
    config=configurations,
    operation=signed_header_operations(),
    key=keys,
    expires_in=expiries,
    now=moments,
)
def test_presign_url_with_signed_headers_is_byte_identical_to_botocore(
    config, operation, key, expires_in, now
):
    creds, region, endpoint, style, bucket = config
    params, headers, client_method, extra = operation
    client = botocore_client(creds, region, endpoint, style)
    with frozen_botocore(now):
        expected = client.generate_presigned_url(
            client_method, Params={"Bucket": bucket, "Key": key, **extra}, ExpiresIn=expires_in
        )
    got = presigner(region, endpoint, style, bucket).presign_url(
        creds,
        method="PUT",
        key=key,
        params=params,
        headers=headers,
        expires_in=expires_in,
        now=now,
    )
    assert got == expected


conditions = st.lists(
    st.one_of(
        st.builds(lambda v: {"acl": v}, st.sampled_from(["private", "public-read"])),
        st.builds(lambda v: {"Content-Type": v}, content_types),
        st.builds(lambda v: ["eq", "$Content-Type", v], content_types),
        st.builds(lambda v: ["starts-with", "$Content-Type", v], content_types),
        st.builds(
            lambda a, b: ["content-length-range", a, b], st.integers(0, 10**6), st.integers()
        ),
        st.builds(lambda v: {"x-amz-meta-name": v}, _text),
        st.builds(lambda v: {"success_action_status": v}, st.sampled_from(["201", "204"])),
    ),
    max_size=6,
)
post_fields = st.dictionaries(
    st.sampled_from(
        ["acl", "Content-Type", "success_action_status", "x-amz-meta-name", "Cache-Control", "key"]
    ),
    content_types,
    max_size=5,
)


@_fast_enough
@given(
    config=configurations,
    key=keys.filter(lambda k: not k.endswith("${filename}")),  # see the test after this one
    fields=post_fields,
    conditions=conditions,
    expires_in=expiries,
    now=moments,
)
def test_presign_post_is_byte_identical_to_botocore(
    config, key, fields, conditions, expires_in, now
):
    creds, region, endpoint, style, bucket = config
    client = botocore_client(creds, region, endpoint, style)
    with frozen_botocore(now):
        expected = client.generate_presigned_post(
            bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
    url, got = presigner(region, endpoint, style, bucket).presign_post(
        creds, key=key, fields=fields, conditions=conditions, expires_in=expires_in, now=now
    )
    assert url == expected["url"]
    assert list(got.items()) == list(expected["fields"].items())  # same fields, same order
    # The caller's fields and conditions are not modified.
    assert "policy" not in fields
    assert all(c != {"bucket": bucket} for c in conditions)


@pytest.mark.parametrize("key", ["${filename}", "uploads/7/${filename}"])
def test_presign_post_pins_a_filename_placeholder_key_exactly(key):
    """The one difference from botocore: it pins such a key by its prefix only; we pin it
    exactly, like every other key (the policy is otherwise the same, byte for byte)."""
    creds, now = CREDENTIALS[1], datetime(2024, 2, 29, 23, 59, 59)
    client = botocore_client(creds, "eu-west-2", None, "auto")
    with frozen_botocore(now):
        expected = client.generate_presigned_post("b-1", key, ExpiresIn=60)
    _, fields = presigner("eu-west-2", None, "auto", "b-1").presign_post(
        creds, key=key, fields={}, conditions=[], expires_in=60, now=now
    )
    ours = json.loads(base64.b64decode(fields["policy"]))
    theirs = json.loads(base64.b64decode(expected["fields"]["policy"]))
    prefix = key.removesuffix("${filename}")
    assert ["starts-with", "$key", prefix] in theirs["conditions"]
    assert ours["conditions"] == [
        {"key": key} if c == ["starts-with", "$key", prefix] else c for c in theirs["conditions"]
    ]
    assert ours["expiration"] == theirs["expiration"]
    assert fields["key"] == key


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://s3.example.com/storage",
        "https://s3.example.com/a/../b/./c//",
        "https://s3.example.com/..",
        "https://S3.Example.COM:443",
        "http://s3.example.com:80/",
        "http://s3.example.com:443/",
        "https://s3.example.com:8443/prefix//",
        "http://[::1]:9000",
        "http://localhost:9000",
        "http://localhost:9000/",
        "https://s3.example.com/#fragment",  # botocore drops a fragment ...
        "https://s3.example.com/a;b",  # ... and path parameters
        "http://127.0.0.1:8333/a/b",
    ],
)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("bucket", ["my-bucket", "my.bucket", "UpperCase", "a.b-c.d"])
def test_odd_endpoints_are_byte_identical_to_botocore(endpoint, style, bucket):
    creds, region = CREDENTIALS[1], "eu-west-2"
    now = datetime(2024, 2, 29, 23, 59, 59)
    client = botocore_client(creds, region, endpoint, style)
    with frozen_botocore(now):
        expected_url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "a/b c"}, ExpiresIn=60
        )
        expected_post = client.generate_presigned_post(bucket, "a/b c", ExpiresIn=60)
    ours = presigner(region, endpoint, style, bucket)
    assert ours.presign_url(creds, method="GET", key="a/b c", expires_in=60, now=now) == (
        expected_url
    )
    url, fields = ours.presign_post(
        creds, key="a/b c", fields={}, conditions=[], expires_in=60, now=now
    )
    assert (url, fields) == (expected_post["url"], expected_post["fields"])


def test_botocore_clock_is_really_frozen():
    """Guard for the tests above: if botocore changes its clock source this fails, loudly."""
    now = datetime(2011, 6, 7, 8, 9, 10, 999999)
    client = botocore_client(CREDENTIALS[0], "eu-west-2", None, "auto")
    with frozen_botocore(now) as (auth_clock, signers_clock):
        url = client.generate_presigned_url("get_object", Params={"Bucket": "b-1", "Key": "k"})
        post = client.generate_presigned_post("b-1", "k", ExpiresIn=60)
    assert "X-Amz-Date=20110607T080910Z" in url
    assert post["fields"]["x-amz-date"] == "20110607T080910Z"
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert policy["expiration"] == "2011-06-07T08:10:10Z"
    assert auth_clock.called and signers_clock.called


# --- independent of botocore --------------------------------------------------------------


def test_aws_documented_example():
    """The presigned URL example in AWS's "Authenticating Requests: Using Query Parameters"."""
    presigner = S3Presigner(bucket="examplebucket", region="us-east-1")
    url = presigner.presign_url(
        Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        method="GET",
        key="test.txt",
        expires_in=86400,
        now=datetime(2013, 5, 24, tzinfo=timezone.utc),
    )
    assert url == (
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


@pytest.mark.parametrize(
    ("region", "endpoint", "style", "bucket", "expected"),
    [
        # The aws partition + "auto" presigns on the global endpoint, whatever the region.
        ("eu-west-2", None, "auto", "my-bucket", "https://my-bucket.s3.amazonaws.com/k"),
        ("eu-west-2", None, "virtual", "my-bucket", "https://my-bucket.s3.eu-west-2.amazonaws.com/k"),
        ("eu-west-2", None, "path", "my-bucket", "https://s3.eu-west-2.amazonaws.com/my-bucket/k"),
        ("eu-west-2", None, "auto", "my.bucket", "https://s3.eu-west-2.amazonaws.com/my.bucket/k"),
        ("us-east-1", None, "path", "my-bucket", "https://s3.amazonaws.com/my-bucket/k"),
        ("cn-north-1", None, "auto", "my-bucket", "https://my-bucket.s3.cn-north-1.amazonaws.com.cn/k"),
        # Custom endpoints are path-style unless "virtual"...
        ("eu-west-2", "https://minio.example.com:9000", "auto", "b-1", "https://minio.example.com:9000/b-1/k"),
        ("eu-west-2", "https://minio.example.com:9000", "virtual", "b-1", "https://b-1.minio.example.com:9000/k"),
        # ... which cannot put a bucket in front of an IP address ...
        ("eu-west-2", "http://127.0.0.1:8333", "virtual", "b-1", "http://127.0.0.1:8333/b-1/k"),
        # ... except a dotted one over plain http (botocore's ruleset does exactly this).
        ("eu-west-2", "http://127.0.0.1:8333", "virtual", "my.bucket", "http://my.bucket.127.0.0.1:8333/k"),
        ("eu-west-2", "https://s3.example.com", "virtual", "my.bucket", "https://s3.example.com/my.bucket/k"),
        # Other partitions have no global endpoint, and DNS suffixes of their own.
        ("cn-north-1", None, "path", "my-bucket", "https://s3.cn-north-1.amazonaws.com.cn/my-bucket/k"),
        ("us-gov-west-1", None, "auto", "my-bucket", "https://my-bucket.s3.us-gov-west-1.amazonaws.com/k"),
        ("us-iso-east-1", None, "auto", "my-bucket", "https://my-bucket.s3.us-iso-east-1.c2s.ic.gov/k"),
        # A dotted name cannot be virtual-hosted over https: botocore falls back to path style.
        ("eu-west-2", None, "virtual", "my.bucket", "https://s3.eu-west-2.amazonaws.com/my.bucket/k"),
        ("us-east-1", None, "auto", "my.bucket", "https://s3.amazonaws.com/my.bucket/k"),
        # A custom endpoint keeps its port and its path.
        ("eu-west-2", "http://localhost:8333/seaweed/s3", "path", "b-1", "http://localhost:8333/seaweed/s3/b-1/k"),
        ("eu-west-2", "https://minio.example.com:9000/p/", "virtual", "b-1", "https://b-1.minio.example.com:9000/p/k"),
    ],
)  # fmt: skip
def test_endpoint_resolution(region, endpoint, style, bucket, expected):
    """What botocore resolves, pinned: a botocore upgrade that moves an endpoint fails here."""
    url = presigner(region, endpoint, style, bucket).presign_url(
        CREDENTIALS[0], method="GET", key="k", expires_in=60
    )
    assert url.split("?")[0] == expected


@pytest.mark.parametrize(
    ("variable", "value", "endpoint", "expected"),
    [
        ("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "regional", None, "https://my-bucket.s3.us-east-1.amazonaws.com/k"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000", None, "http://127.0.0.1:9000/my-bucket/k"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000", "https://s3.example.com", "https://s3.example.com/my-bucket/k"),
    ],
)  # fmt: skip
def test_the_sessions_configuration_is_followed_like_botocore(
    monkeypatch, variable, value, endpoint, expected
):
    """The endpoint is botocore's for the same session, configuration included: the app's own
    boto3 client (storage.py) and its signed URLs never go to two different places."""
    monkeypatch.setenv(variable, value)
    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS[0].access_key,
        aws_secret_access_key=CREDENTIALS[0].secret_key,
    )
    ours = S3Presigner(
        bucket="my-bucket", region="us-east-1", endpoint_url=endpoint, session=session
    )
    client = session.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=botocore.config.Config(signature_version="s3v4"),
    )
    now = datetime(2024, 2, 29, 23, 59, 59)
    with frozen_botocore(now):
        expected_url = client.generate_presigned_url(
            "get_object", Params={"Bucket": "my-bucket", "Key": "k"}, ExpiresIn=60
        )
    url = ours.presign_url(CREDENTIALS[0], method="GET", key="k", expires_in=60, now=now)
    assert url == expected_url
    assert url.split("?")[0] == expected


def test_key_quoting_keeps_slashes_and_tilde_only():
    presigner = S3Presigner(bucket="b-1", region="eu-west-2", endpoint_url="http://127.0.0.1:8333")
    url = presigner.presign_url(
        CREDENTIALS[0], method="GET", key="/a//b c+d?e#f%g~h/é/", expires_in=60
    )
    assert url.startswith("http://127.0.0.1:8333/b-1//a//b%20c%2Bd%3Fe%23f%25g~h/%C3%A9/?")


def test_query_parameters_keep_the_callers_order_and_signature_comes_last():
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    url = presigner.presign_url(
        CREDENTIALS[1],
        method="PUT",
        key="k",
        params={"uploadId": "u/1", "partNumber": "7"},
        expires_in=900,
        now=datetime(2024, 1, 2, 3, 4, 5),
    )
    names = [name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    assert names == [
        "uploadId",
        "partNumber",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ]


@given(value=st.one_of(st.text(st.characters(codec="utf-8")), keys))
def test_percent_encoders_equal_urllib_quote(value):
    assert sigv4._quote_key(value) == quote(value, safe="/~")
    assert sigv4._quote_query(value) == quote(value, safe="-._~")


def test_percent_encoders_on_every_byte():
    every = "".join(map(chr, range(256)))
    assert sigv4._quote_key(every) == quote(every, safe="/~")
    assert sigv4._quote_query(every) == quote(every, safe="-._~")


def test_host_header_drops_default_port_and_keeps_others():
    assert sigv4._host_header("https://S3.Example.com:443/x") == "s3.example.com"
    assert sigv4._host_header("http://s3.example.com:443/x") == "s3.example.com:443"
    assert sigv4._host_header("http://[::1]:9000/x") == "[::1]:9000"


def test_get_params_match_the_s3_model():
    """The params we accept are querystring members of the operations we stand in for."""
    model = json.loads(
        gzip.decompress(
            (Path(botocore.__file__).parent / "data/s3/2006-03-01/service-2.json.gz").read_bytes()
        )
    )

    def query_names(operation):
        shape = model["shapes"][model["operations"][operation]["input"]["shape"]]
        return {
            m["locationName"]
            for m in shape["members"].values()
            if m.get("location") == "querystring"
        }

    assert sigv4._ALLOWED_PARAMS["GET"] < query_names("GetObject")
    assert sigv4._ALLOWED_PARAMS["PUT"] == query_names("UploadPart")
    assert query_names("PutObject") == set()


# --- the details --------------------------------------------------------------------------


def _botocore_calls(sign) -> set[str]:
    """The botocore (and boto3) functions ``sign()`` calls, by name."""
    package_dirs = (Path(botocore.__file__).parent, Path(boto3.__file__).parent)
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(tuple(map(str, package_dirs))):
            called.add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        sign()
    finally:
        sys.setprofile(None)
    return called


def test_signing_calls_no_botocore_code():
    """botocore resolves the endpoint once, at construction; a signature never calls it."""
    ours = presigner("eu-west-2", "https://minio.example.com:9000/p/", "virtual", "b-1")

    def sign():
        ours.presign_post(CREDENTIALS[1], key="k", fields={}, conditions=[], expires_in=60)
        ours.presign_url(CREDENTIALS[1], method="GET", key="k", expires_in=60)
        ours.presign_url(
            CREDENTIALS[1], method="PUT", key="k", headers={"Content-Length": "1"}, expires_in=60
        )

    assert _botocore_calls(sign) == set()
    # The probe sees botocore when it is called.
    assert "percent_encode" in _botocore_calls(lambda: botocore.utils.percent_encode("a b"))


def test_credentials_repr_hides_secret_and_token():
    creds = Credentials("AKIAEXAMPLE", "top-secret", "session-token")
    assert "AKIAEXAMPLE" in repr(creds)
    assert "top-secret" not in repr(creds)
    assert "session-token" not in repr(creds)


def test_signing_key_is_derived_once_per_secret_date_and_region():
    sigv4._signing_key.cache_clear()
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for i in range(5):
        presigner.presign_url(CREDENTIALS[0], method="GET", key=f"k{i}", expires_in=60, now=now)
        presigner.presign_post(
            CREDENTIALS[0], key=f"k{i}", fields={}, conditions=[], expires_in=60, now=now
        )
    info = sigv4._signing_key.cache_info()
    assert (info.misses, info.hits) == (1, 9)
    presigner.presign_url(
        CREDENTIALS[0], method="GET", key="k", expires_in=60, now=now + timedelta(days=1)
    )
    assert sigv4._signing_key.cache_info().misses == 2


def test_now_defaults_to_the_current_time():
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    before = int(time.time())
    url = presigner.presign_url(CREDENTIALS[0], method="GET", key="k", expires_in=60)
    _, fields = presigner.presign_post(
        CREDENTIALS[0], key="k", fields={}, conditions=[], expires_in=60
    )
    after = int(time.time())
    stamps = {time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)) for t in range(before, after + 1)}
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"] in stamps
    assert fields["x-amz-date"] in stamps


def test_aware_and_naive_utc_moments_sign_the_same():
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    naive = datetime(2024, 3, 4, 5, 6, 7, 890)
    aware = datetime(2024, 3, 4, 10, 36, 7, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert presigner.presign_url(
        CREDENTIALS[0], method="GET", key="k", expires_in=60, now=naive
    ) == presigner.presign_url(CREDENTIALS[0], method="GET", key="k", expires_in=60, now=aware)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bucket": "arn:aws:s3:::b"},
        {"bucket": "my-bucket--x-s3"},
        {"bucket": "my-ap--xa-s3"},
        {"bucket": "alias--op-s3"},
        {"bucket": "has space"},
        {"bucket": ""},
        {"region": "aws-global"},
        {"region": "EU-WEST-2"},
        {"region": "eu_west_2"},
        {"region": ""},
        {"addressing_style": "dns"},
        {"endpoint_url": "ftp://s3.example.com"},
        {"endpoint_url": "s3.example.com"},
        {"endpoint_url": "https://s3.example.com/?x=1"},
        {"endpoint_url": "https://s3.example.com:port"},
        {"endpoint_url": "https://s3_example.com"},
        {"endpoint_url": "https://user:pw@s3.example.com"},
        {"endpoint_url": "https://user@s3.example.com", "addressing_style": "virtual"},
    ],
)
def test_refuses_what_it_cannot_sign_like_botocore(kwargs):
    with pytest.raises(ValueError):
        S3Presigner(**{"bucket": "b-1", "region": "eu-west-2", **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"expires_in": 0}, ValueError),
        ({"expires_in": MAX_EXPIRES_IN + 1}, ValueError),
        ({"expires_in": 1.5}, ValueError),
        ({"expires_in": True}, ValueError),
        ({"key": ""}, ValueError),
        ({"method": "DELETE"}, ValueError),
        ({"method": "get"}, ValueError),
        ({"params": {"X-Amz-Expires": "1"}}, ValueError),
        ({"params": {"response-expires": "x"}}, ValueError),
        ({"params": {"response-content-type": "a/b"}}, ValueError),  # not one the app sends
        ({"method": "PUT", "params": {"partNumber": "1"}}, ValueError),
        ({"method": "PUT", "params": {"response-content-type": "a/b"}}, ValueError),
        ({"params": {"versionId": 1}}, TypeError),
        ({"method": "PUT", "headers": {"Host": "elsewhere.example.com"}}, ValueError),
        ({"method": "PUT", "headers": {"Content Type": "a/b"}}, ValueError),
        ({"method": "PUT", "headers": {"Content-Length": 5}}, TypeError),
    ],
)
def test_presign_url_refuses_bad_arguments(kwargs, error):
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    with pytest.raises(error):
        presigner.presign_url(
            CREDENTIALS[0], **{"method": "GET", "key": "k", "expires_in": 60, **kwargs}
        )


@pytest.mark.parametrize(
    "kwargs", [{"expires_in": 0}, {"expires_in": MAX_EXPIRES_IN + 1}, {"key": ""}]
)
def test_presign_post_refuses_bad_arguments(kwargs):
    presigner = S3Presigner(bucket="b-1", region="eu-west-2")
    with pytest.raises(ValueError):
        presigner.presign_post(
            CREDENTIALS[0],
            **{"key": "k", "fields": {}, "conditions": [], "expires_in": 60, **kwargs},
        )


def test_repr_names_the_bucket_and_not_much_else():
    presigner = S3Presigner(bucket="b-1", region="eu-west-2", addressing_style="path")
    assert repr(presigner) == (
        "<S3Presigner bucket='b-1' region='eu-west-2' https://s3.eu-west-2.amazonaws.com/b-1>"
    )


# --- credentials from boto3 ---------------------------------------------------------------


def test_credentials_from_a_boto3_session():
    session = boto3.session.Session(
        aws_access_key_id="AKIASESSION", aws_secret_access_key="s", aws_session_token="t"
    )
    current = credentials_from_boto3(session)
    creds = current()
    assert creds == Credentials("AKIASESSION", "s", "t")
    assert current() is creds  # unchanged credentials are not rebuilt


def test_credentials_from_the_default_chain(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    current = credentials_from_boto3(boto3.session.Session())
    assert current() == Credentials("AKIAFROMENV", "env-secret", None)


def test_credentials_from_boto3_follow_refreshes():
    """Refreshable (e.g. STS) credentials: each call freezes the current, refreshed, values."""
    generation = iter(range(1, 100))

    def refresh():
        n = next(generation)
        return {
            "access_key": f"ASIAGEN{n}",
            "secret_key": f"secret-{n}",
            "token": f"token-{n}",
            # Already inside the mandatory refresh window: every access refreshes.
            "expiry_time": (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat(),
        }

    refreshable = botocore.credentials.RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
    )
    session = boto3.session.Session()
    with mock.patch.object(session, "get_credentials", return_value=refreshable):
        current = credentials_from_boto3(session)
        first, second = current(), current()
    assert first.access_key != second.access_key
    # Key, secret and token always come from the same generation.
    for creds in (first, second):
        n = creds.access_key.removeprefix("ASIAGEN")
        assert (creds.secret_key, creds.token) == (f"secret-{n}", f"token-{n}")


def test_credentials_from_boto3_without_any_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    session = boto3.session.Session()
    with mock.patch.object(
        session, "get_credentials", wraps=session.get_credentials
    ) as get_credentials:
        current = credentials_from_boto3(session)  # no I/O until asked
        get_credentials.assert_not_called()
        with pytest.raises(LookupError):
            current()
    get_credentials.assert_called_once_with()


def test_credentials_from_boto3_without_a_secret():
    session = boto3.session.Session()
    partial = botocore.credentials.Credentials("AKIANOSECRET", "")
    with (
        mock.patch.object(session, "get_credentials", return_value=partial),
        pytest.raises(LookupError),
    ):
        credentials_from_boto3(session)()
