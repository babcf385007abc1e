"""A fast AWS Signature Version 4 presigner for one S3 bucket.

It produces the same bytes as botocore's ``generate_presigned_post`` and
``generate_presigned_url`` (``signature_version="s3v4"``) for the same inputs and clock, at a
fraction of the cost: everything that does not depend on the credentials, the key or the clock is
worked out once in :class:`S3Presigner`'s constructor, derived signing keys are cached per
(secret, date, region), and a signature is a few string joins, one SHA-256 and one HMAC.

Where a bucket's requests go is botocore's to say: the constructor asks an unsigned botocore
client once (as django-storages does for its unsigned URLs) for the URL of one object and of the
bucket's POST form, so regions, partitions, the global endpoint, addressing styles, custom
endpoints and the configuration botocore reads (``AWS_ENDPOINT_URL_S3``,
``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT``, ...) resolve exactly as for the app's own boto3 client.
No request touches botocore afterwards. Nothing of Django or of the app is imported here.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import sha256
from json import dumps as _json_dumps
from json.encoder import encode_basestring_ascii as _json_str  # what json.dumps uses for str
from typing import Literal
from urllib.parse import urlsplit

import boto3.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import Credentials as BotocoreCredentials
from botocore.exceptions import BotoCoreError

__all__ = [
    "MAX_EXPIRES_IN",
    "Credentials",
    "S3Presigner",
    "credentials_from_boto3",
]

#: S3 refuses presigned URLs valid for longer than 7 days; we refuse to make them.
MAX_EXPIRES_IN = 7 * 24 * 3600

_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AddressingStyle = Literal["auto", "path", "virtual"]
#: What botocore's ``s3={"addressing_style": ...}`` may be, by name (the value is the same
#: string, typed as the Literal botocore's Config takes).
_ADDRESSING_STYLES: dict[str, _AddressingStyle] = {
    "auto": "auto",
    "path": "path",
    "virtual": "virtual",
}

# The query parameters each method accepts (those the app sends), by wire name. They are
# emitted in the caller's order, as botocore does (its serializer walks the caller's Params in
# order), and all sort after "X-Amz-..." (lower case), which the canonical query relies on.
_ALLOWED_PARAMS = {
    "GET": frozenset({"response-content-disposition", "versionId"}),  # a download
    "PUT": frozenset({"partNumber", "uploadId"}),  # UploadPart (both, or neither: PutObject)
}

# A plain bucket name (botocore.handlers.VALID_BUCKET; no ARN, since ":" is not allowed), and
# the suffixes of names S3 serves under another signing service than "s3" (S3 Express
# directory buckets and their access points, Outposts access-point aliases).
_VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
_OTHER_SERVICE_SUFFIXES = ("--x-s3", "--xa-s3", "--op-s3")
# A region's name is a DNS label in lower case; "aws-global" & co. are no bucket's region.
_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEADER_NAME_RE = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")  # an RFC 9110 token, lower case
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The object key the endpoint is probed with: quoting leaves it as it is.
_PROBE_KEY = "k"


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and, for temporary credentials, a session token.

    The secret and the token are kept out of ``repr()`` so they cannot leak into a log line or
    a traceback by accident.
    """

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, date_stamp: str, region: str) -> bytes:
    """``kSigning`` for S3: HMAC chain over the date, the region, "s3" and "aws4_request"."""
    k = hmac.digest(f"AWS4{secret_key}".encode(), date_stamp.encode(), "sha256")
    k = hmac.digest(k, region.encode(), "sha256")
    k = hmac.digest(k, b"s3", "sha256")
    return hmac.digest(k, b"aws4_request", "sha256")


@lru_cache(maxsize=16)
def _amz_date(epoch: int) -> str:
    """``X-Amz-Date`` (``%Y%m%dT%H%M%SZ``) for whole seconds since the epoch, in UTC."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


@lru_cache(maxsize=64)
def _iso8601(epoch: int) -> str:
    """A POST policy's ``expiration`` (``%Y-%m-%dT%H:%M:%SZ``, no fraction, as botocore)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _percent_encoder(safe: str) -> Callable[[str], str]:
    """``urllib.parse.quote(s, safe=safe)`` for str, without its per-byte Python loop.

    UTF-8 bytes are mapped through a 256-entry table by ``map`` (a C loop); a string that needs
    no encoding at all is returned as is.
    """
    unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~" + safe
    table = tuple(chr(b) if chr(b) in unreserved else f"%{b:02X}" for b in range(256))
    lookup = table.__getitem__
    unreserved_bytes = unreserved.encode()

    def encode(value: str) -> str:
        data = value.encode()
        if not data.rstrip(unreserved_bytes):
            return value
        return "".join(map(lookup, data))

    return encode


_quote_key = _percent_encoder("/")  # botocore: percent_encode(key, safe="/~")
_quote_query = _percent_encoder("")  # botocore: percent_encode(value) (safe "-._~")
# The access key and the session token are the same from call to call (an STS token is ~1 kB).
_quote_credential = lru_cache(maxsize=32)(_quote_query)


def _epoch(now: datetime | None) -> int:
    """Whole seconds since the epoch; microseconds are dropped (botocore truncates too).

    A naive ``now`` is taken to be UTC, as botocore's own clock is.
    """
    if now is None:
        return int(time.time())
    if now.tzinfo is None:
        return calendar.timegm(now.timetuple())
    return calendar.timegm(now.utctimetuple())


def _check_expires_in(expires_in: int) -> None:
    if (
        type(expires_in) is not int  # exactly int: not a bool, not a float
        or not 1 <= expires_in <= MAX_EXPIRES_IN
    ):
        raise ValueError(
            f"expires_in should be an int from 1 to {MAX_EXPIRES_IN} seconds, got {expires_in!r}"
        )


def _botocore_urls(
    session: boto3.session.Session,
    *,
    bucket: str,
    region: str,
    endpoint_url: str | None,
    addressing_style: _AddressingStyle,
) -> tuple[str, str]:
    """(the URL of the object ``_PROBE_KEY``, the POST form's action URL), from botocore.

    An unsigned client resolves the endpoint as a signing one would (the S3 endpoint ruleset
    with the session's configuration), and presigning with it returns the bare URLs.
    """
    config = Config(signature_version=UNSIGNED, s3={"addressing_style": addressing_style})
    try:
        client = session.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
        try:
            object_url: str = client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}
            )
            post_url: str = client.generate_presigned_post(bucket, _PROBE_KEY)["url"]
        finally:
            client.close()
    except (BotoCoreError, ValueError) as error:
        raise ValueError(
            f"botocore cannot make S3 URLs for the bucket {bucket!r} in {region!r} "
            f"(endpoint_url={endpoint_url!r}, addressing_style={addressing_style!r}): {error}"
        ) from error
    return object_url, post_url


def _host_header(url: str) -> str:
    """botocore.auth._host_from_url: lowercase host, port only when not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host


class S3Presigner:
    """Presigns POST policies and query-string URLs for one bucket.

    Build one per (bucket, region, endpoint, addressing style) and keep it: construction asks
    botocore where the bucket's requests go (a few milliseconds, no network I/O), signing is
    cheap, botocore-free and thread-safe. Credentials are passed per call, so refreshable
    credentials keep working (see :func:`credentials_from_boto3`).

    ``endpoint_url`` and ``addressing_style`` mean what they mean to ``session.client("s3",
    ...)`` with ``Config(s3={"addressing_style": ...})``, and ``session`` (a boto3 session, a
    new one if None) supplies the rest of botocore's configuration: the URLs are the ones
    botocore presigns for the same client, byte for byte. Signatures are scoped to ``region``.

    Not supported (``ValueError``): ARNs, S3 Express, access-point and Outposts bucket names
    (S3 wants those signed for another service or region), ``*-global`` pseudo-regions, and
    an endpoint botocore refuses or whose URLs would carry a user name or password.
    """

    __slots__ = (
        "_auth_query_prefix",
        "_bucket",
        "_bucket_condition",
        "_canonical_tail",
        "_credential_query_suffix",
        "_host",
        "_object_prefix",
        "_origin",
        "_post_url",
        "_region",
        "_scope_suffix",
    )

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        addressing_style: str = "auto",
        session: boto3.session.Session | None = None,
    ) -> None:
        if not _VALID_BUCKET_RE.match(bucket) or bucket.endswith(_OTHER_SERVICE_SUFFIXES):
            raise ValueError(
                f"bucket should be a plain S3 bucket name (no ARN, alias or S3 Express "
                f"directory bucket), got {bucket!r}"
            )
        if not _REGION_RE.match(region) or len(region) > 63 or region.endswith("-global"):
            raise ValueError(
                f"region should be an AWS region name like 'eu-west-2', got {region!r}"
            )
        style = _ADDRESSING_STYLES.get(addressing_style)
        if style is None:
            raise ValueError(
                f"addressing_style should be one of {', '.join(_ADDRESSING_STYLES)}, "
                f"got {addressing_style!r}"
            )
        object_url, post_url = _botocore_urls(
            boto3.session.Session() if session is None else session,
            bucket=bucket,
            region=region,
            endpoint_url=endpoint_url,
            addressing_style=style,
        )
        parts, post = urlsplit(object_url), urlsplit(post_url)
        # An object's URL is the probe's with the quoted key in place of the probe key (botocore
        # appends "/" + the quoted key to the endpoint's path); nothing else may vary.
        if (
            parts.scheme not in _DEFAULT_PORTS
            or "@" in parts.netloc
            or parts.query
            or parts.fragment
            or not parts.path.endswith(f"/{_PROBE_KEY}")
            or (post.scheme, post.netloc, post.query, post.fragment)
            != (parts.scheme, parts.netloc, "", "")
        ):
            raise ValueError(
                f"endpoint_url should be an http(s) URL with a host, at most a path and no user "
                f"name or password; botocore made {object_url!r} of {endpoint_url!r}"
            )
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._object_prefix = parts.path.removesuffix(_PROBE_KEY)[:-1]
        self._post_url = post_url
        self._bucket = bucket
        self._region = region
        self._scope_suffix = f"/{region}/s3/aws4_request"
        self._credential_query_suffix = _quote_query(self._scope_suffix)
        self._auth_query_prefix = f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential="
        self._host = _host_header(object_url)
        self._canonical_tail = f"\nhost:{self._host}\n\nhost\n{_UNSIGNED_PAYLOAD}"
        self._bucket_condition = '{"bucket": ' + _json_str(bucket) + "}"

    def __repr__(self) -> str:
        return f"<S3Presigner bucket={self._bucket!r} region={self._region!r} {self._post_url}>"

    def presign_post(
        self,
        credentials: Credentials,
        *,
        key: str,
        fields: Mapping[str, str],
        conditions: Sequence[object],
        expires_in: int,
        now: datetime | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The form's action URL and fields for a browser POST of exactly the object ``key``.

        The same as botocore's ``generate_presigned_post(bucket, key, Fields=fields,
        Conditions=conditions, ExpiresIn=expires_in)``: the policy lists ``conditions`` first
        (JSON values), then the bucket, the exact key, x-amz-algorithm, x-amz-credential,
        x-amz-date and, with a session token, x-amz-security-token. The returned fields are
        ``fields`` followed by key, x-amz-algorithm, x-amz-credential, x-amz-date,
        [x-amz-security-token], policy and x-amz-signature. One difference: a key ending in
        ``${filename}`` is pinned exactly too, where botocore pins only what comes before it.
        """
        _check_expires_in(expires_in)
        if not key:
            raise ValueError("key should not be empty")
        epoch = _epoch(now)
        amz_date = _amz_date(epoch)
        date_stamp = amz_date[:8]
        credential = f"{credentials.access_key}/{date_stamp}{self._scope_suffix}"

        out = dict(fields)
        out["key"] = key
        out["x-amz-algorithm"] = _ALGORITHM
        out["x-amz-credential"] = credential
        out["x-amz-date"] = amz_date

        # json.dumps(post_policy) with default separators, assembled piecewise: a list's items
        # are joined with ", ", so dumping the caller's list and stripping the brackets is exact.
        post_policy = [
            '{"expiration": "',
            _iso8601(epoch + expires_in),
            '", "conditions": [',
        ]
        if conditions:
            post_policy += (_json_dumps(conditions)[1:-1], ", ")
        post_policy += (
            self._bucket_condition,
            ', {"key": ',
            _json_str(key),
            '}, {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": ',
            _json_str(credential),
            '}, {"x-amz-date": "',
            amz_date,
            '"}',
        )
        token = credentials.token
        if token is not None:
            out["x-amz-security-token"] = token
            post_policy += (', {"x-amz-security-token": ', _json_str(token), "}")
        post_policy.append("]}")
        encoded = b64encode("".join(post_policy).encode()).decode()
        out["policy"] = encoded
        signing_key = _signing_key(credentials.secret_key, date_stamp, self._region)
        out["x-amz-signature"] = hmac.digest(signing_key, encoded.encode(), "sha256").hex()
        return self._post_url, out

    def presign_url(
        self,
        credentials: Credentials,
        *,
        method: Literal["GET", "PUT"],
        key: str,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> str:
        """A query-string presigned URL for ``method`` ("GET" or "PUT") on the object ``key``.

        ``params`` are extra query parameters by wire name, emitted in the given order: for
        GET ``response-content-disposition`` and ``versionId``; for PUT ``partNumber`` and
        ``uploadId`` (both: UploadPart). The same URL as botocore's
        ``generate_presigned_url("get_object" / "put_object" / "upload_part", ...)`` with the
        corresponding ``Params``.

        ``headers`` are request headers to sign besides ``host`` (``X-Amz-SignedHeaders``):
        whoever sends the request must send exactly these, or S3 refuses it — a PUT whose
        ``Content-Length``, ``Content-Type``, ``x-amz-checksum-sha256`` or ``If-None-Match`` is
        signed cannot carry another length, type, checksum or condition. The same URL as
        botocore's with the corresponding ``Params`` (``ContentLength``, ``ContentType``,
        ``ChecksumSHA256``, ``IfNoneMatch``, ``CopySource``, ``CopySourceIfMatch``, ...).
        """
        allowed = _ALLOWED_PARAMS.get(method)
        if allowed is None:
            raise ValueError(f"method should be 'GET' or 'PUT', got {method!r}")
        _check_expires_in(expires_in)
        if not key:
            raise ValueError("key should not be empty")
        epoch = _epoch(now)
        amz_date = _amz_date(epoch)
        date_stamp = amz_date[:8]
        path = f"{self._object_prefix}/{_quote_key(key)}"

        if headers:
            signed_headers, canonical_tail = self._signed_headers(headers)
        else:
            signed_headers, canonical_tail = "host", self._canonical_tail

        # The X-Amz-* parameters, in the order botocore puts them in the URL; that happens to
        # be their sorted order too, except for X-Amz-Security-Token, which sorts before
        # X-Amz-SignedHeaders but comes after it in the URL.
        head = (
            f"{self._auth_query_prefix}{_quote_credential(credentials.access_key)}%2F"
            f"{date_stamp}{self._credential_query_suffix}&X-Amz-Date={amz_date}"
            f"&X-Amz-Expires={expires_in}"
        )
        signed = f"X-Amz-SignedHeaders={_quote_query(signed_headers)}"
        token = credentials.token
        if token is None:
            auth_query = canonical_query = f"{head}&{signed}"
        else:
            quoted_token = _quote_credential(token)
            auth_query = f"{head}&{signed}&X-Amz-Security-Token={quoted_token}"
            canonical_query = f"{head}&X-Amz-Security-Token={quoted_token}&{signed}"

        if params:
            pairs = []
            for name, value in params.items():
                if name not in allowed:
                    raise ValueError(
                        f"params for {method} may only be {', '.join(sorted(allowed))}; "
                        f"got {name!r}"
                    )
                if not isinstance(value, str):
                    raise TypeError(f"params[{name!r}] should be a str, got {value!r}")
                pairs.append((name, _quote_query(value)))
            if method == "PUT" and len(pairs) != 2:
                raise ValueError("a PUT takes either no params or both partNumber and uploadId")
            operation_query = "&".join([f"{n}={v}" for n, v in pairs]) + "&"
            # Every allowed name is lower-case and sorts after "X-Amz-...".
            pairs.sort()
            canonical_query += "&" + "&".join([f"{n}={v}" for n, v in pairs])
        else:
            operation_query = ""

        canonical_request = f"{method}\n{path}\n{canonical_query}{canonical_tail}"
        string_to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{date_stamp}{self._scope_suffix}\n"
            f"{sha256(canonical_request.encode()).hexdigest()}"
        )
        signing_key = _signing_key(credentials.secret_key, date_stamp, self._region)
        signature = hmac.digest(signing_key, string_to_sign.encode(), "sha256").hex()
        return f"{self._origin}{path}?{operation_query}{auth_query}&X-Amz-Signature={signature}"

    def _signed_headers(self, headers: Mapping[str, str]) -> tuple[str, str]:
        """``X-Amz-SignedHeaders`` and the canonical request's tail for *headers* + host."""
        canonical = {"host": self._host}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered == "host" or not _HEADER_NAME_RE.match(lowered):
                raise ValueError(f"cannot sign the header {name!r}")
            if not isinstance(value, str):
                raise TypeError(f"headers[{name!r}] should be a str, got {value!r}")
            # botocore: the value with runs of white space made one space, ends trimmed.
            canonical[lowered] = " ".join(value.split())
        names = sorted(canonical)
        lines = "".join(f"{name}:{canonical[name]}\n" for name in names)
        signed = ";".join(names)
        return signed, f"\n{lines}\n{signed}\n{_UNSIGNED_PAYLOAD}"


def credentials_from_boto3(session: boto3.session.Session) -> Callable[[], Credentials]:
    """A callable returning the current :class:`Credentials` from ``session``'s provider chain.

    The session's ``get_credentials()`` is asked once, on the first call, so building this does
    no I/O. Each call takes ``get_frozen_credentials()``, so refreshable credentials (STS, SSO,
    instance and container roles) are refreshed when they near expiry and the access key,
    secret and token always belong together. No client is created.

    Raises ``LookupError`` when the provider chain finds no credentials (or one without a
    key or a secret).
    """
    provider: BotocoreCredentials | None = None
    # (frozen credentials, Credentials built from them), swapped as one reference.
    last: list[tuple[object, Credentials | None]] = [(None, None)]

    def current() -> Credentials:
        nonlocal provider
        if provider is None:
            provider = session.get_credentials()
            if provider is None:
                raise LookupError(
                    "boto3 found no AWS credentials (environment, shared files, container or "
                    "instance role); configure one of them"
                )
        frozen = provider.get_frozen_credentials()
        cached_frozen, cached = last[0]
        if cached is not None and frozen == cached_frozen:
            return cached
        if not frozen.access_key or not frozen.secret_key:
            raise LookupError("boto3 found AWS credentials without an access key or a secret")
        creds = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        last[0] = (frozen, creds)
        return creds

    return current
