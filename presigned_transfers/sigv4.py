"""A pure, fast AWS Signature Version 4 presigner for one S3 bucket.

It produces the same bytes as botocore's ``generate_presigned_post`` and
``generate_presigned_url`` (``signature_version="s3v4"``) for the same inputs and clock, at a
fraction of the cost: everything that does not depend on the credentials, the key or the clock is
worked out once in :class:`S3Presigner`'s constructor, derived signing keys are cached per
(secret, date, region), and a signature is a few string joins, one SHA-256 and one HMAC.

No Django and no botocore here. Endpoint resolution mirrors what botocore's S3 endpoint ruleset
does for a plain bucket (no ARNs, access points, S3 Express, FIPS, dual-stack or accelerate) with
the default ``us_east_1_regional_endpoint="legacy"``; see :class:`S3Presigner` for the details,
including the quirks copied on purpose.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import sha256
from json import dumps as _json_dumps
from json.encoder import encode_basestring_ascii as _json_str  # what json.dumps uses for str
from typing import Any
from urllib.parse import quote, urlsplit

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
_QUERY_SAFE = "-._~"  # botocore.utils.SAFE_CHARS, used for every query-string key and value
_FILENAME_PLACEHOLDER = "${filename}"

# The query parameters each method accepts, with their wire names. They are emitted in the
# caller's order, as botocore does (its serializer walks the caller's Params in order).
# ``response-expires`` is left out on purpose: botocore takes a timestamp there and reformats it.
_GET_PARAMS = frozenset(
    {
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "versionId",
        "partNumber",
    }
)
_PUT_PARAMS = frozenset({"partNumber", "uploadId"})
_ALLOWED_PARAMS = {"GET": _GET_PARAMS, "PUT": _PUT_PARAMS}
_ADDRESSING_STYLES = ("auto", "path", "virtual")

# botocore.endpoint_provider / handlers / compat
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")
_IPV4_RE = re.compile(r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$")
_VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
_HOSTNAME_RE = re.compile(
    r"^((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))$", re.IGNORECASE | re.ASCII
)
_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEADER_NAME_RE = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")  # an RFC 9110 token, lower case
_DEFAULT_PORTS = {"http": 80, "https": 443}


# The parts of botocore/data/partitions.json that S3 endpoints depend on, in that file's order:
# (name, region regex, DNS suffix). botocore also matches each partition's explicit list of
# regions, but every region listed there matches its partition's regex except the "*-global"
# pseudo-regions, which S3Presigner refuses. A region that matches nothing falls back to "aws".
# A test checks this table against the installed botocore.
_PARTITIONS = (
    ("aws", re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"), "amazonaws.com"),
    ("aws-cn", re.compile(r"^cn\-\w+\-\d+$"), "amazonaws.com.cn"),
    ("aws-eusc", re.compile(r"^eusc\-(de)\-\w+\-\d+$"), "amazonaws.eu"),
    ("aws-iso", re.compile(r"^us\-iso\-\w+\-\d+$"), "c2s.ic.gov"),
    ("aws-iso-b", re.compile(r"^us\-isob\-\w+\-\d+$"), "sc2s.sgov.gov"),
    ("aws-iso-e", re.compile(r"^eu\-isoe\-\w+\-\d+$"), "cloud.adc-e.uk"),
    ("aws-iso-f", re.compile(r"^us\-isof\-\w+\-\d+$"), "csp.hci.ic.gov"),
    ("aws-us-gov", re.compile(r"^us\-gov\-\w+\-\d+$"), "amazonaws.com"),
)


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


def _partition(region: str) -> tuple[str, str]:
    """(partition name, DNS suffix) for a region, as botocore's ``aws.partition``."""
    for name, regex, dns_suffix in _PARTITIONS:
        if regex.match(region):
            return name, dns_suffix
    return _PARTITIONS[0][0], _PARTITIONS[0][2]


def _is_virtual_hostable(bucket: str, *, allow_dots: bool) -> bool:
    """botocore's ``aws.isVirtualHostableS3Bucket``."""
    if len(bucket) < 3 or bucket.lower() != bucket or _IPV4_RE.match(bucket):
        return False
    if not allow_dots:
        return _HOST_LABEL_RE.match(bucket) is not None
    return all(_HOST_LABEL_RE.match(label) for label in bucket.split("."))


def _remove_dot_segments(path: str) -> str:
    """botocore.utils.remove_dot_segments (which also collapses repeated slashes)."""
    if not path:
        return ""
    output: list[str] = []
    for segment in path.split("/"):
        if segment and segment != ".":
            if segment == "..":
                if output:
                    output.pop()
            else:
                output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last


def _resolve_endpoint(bucket: str, region: str, endpoint_url: str | None, style: str) -> str:
    """The bucket's base URL, as botocore's S3 endpoint ruleset builds it for a presign."""
    if endpoint_url is None:
        partition, dns_suffix = _partition(region)
        # botocore's customize_endpoint_resolver_builtins: a presign in the "aws" partition
        # switches to the global endpoint unless addressing is explicitly virtual or path, or
        # the bucket cannot be a host label at all. So "auto" gives bucket.s3.amazonaws.com for
        # any region of the aws partition, eu-west-2 included.
        use_global = style == "auto" and partition == "aws" and _HOST_LABEL_RE.match(bucket)
        # us-east-1 uses s3.amazonaws.com too (us_east_1_regional_endpoint defaults to legacy).
        if use_global or region == "us-east-1":
            host = f"s3.{dns_suffix}"
        else:
            host = f"s3.{region}.{dns_suffix}"
        if style != "path" and _is_virtual_hostable(bucket, allow_dots=False):
            return f"https://{bucket}.{host}"
        return f"https://{host}/{quote(bucket, safe=_QUERY_SAFE)}"

    parts = urlsplit(endpoint_url)
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or ";" in parts.path
        or any(c in endpoint_url for c in "\t\r\n")
    ):
        raise ValueError(
            "endpoint_url should be an http(s) URL with a host and at most a path, "
            f"got {endpoint_url!r}"
        )
    parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    scheme, authority, path = parts.scheme, parts.netloc, parts.path
    is_ip = bool(_IPV4_RE.match(parts.hostname)) or ":" in parts.hostname
    if not is_ip and not _HOSTNAME_RE.match(parts.hostname.rstrip(".")):
        raise ValueError(f"endpoint_url has an invalid host name: {endpoint_url!r}")
    normalized_path = quote(_remove_dot_segments(path) or "/")
    if not normalized_path.endswith("/"):
        normalized_path += "/"
    # With a custom endpoint botocore forces path-style unless addressing is explicitly virtual.
    if style == "virtual":
        if _is_virtual_hostable(bucket, allow_dots=False):
            if is_ip:
                return f"{scheme}://{authority}{normalized_path}{bucket}"
            return f"{scheme}://{bucket}.{authority}{path}"
        # Quirk copied from the ruleset: over plain http a dotted bucket is virtual-hosted,
        # even in front of an IP address (http://my.bucket.127.0.0.1:8333/).
        if scheme == "http" and _is_virtual_hostable(bucket, allow_dots=True):
            return f"{scheme}://{bucket}.{authority}{path}"
    return f"{scheme}://{authority}{normalized_path}{quote(bucket, safe=_QUERY_SAFE)}"


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

    Build one per (bucket, region, endpoint, addressing style) and keep it: construction does
    the endpoint resolution, signing is cheap and thread-safe. Credentials are passed per call,
    so refreshable credentials keep working (see :func:`credentials_from_boto3`).

    ``addressing_style`` means what botocore's ``s3={"addressing_style": ...}`` means:

    - AWS (``endpoint_url=None``): ``"auto"`` is virtual-hosted for a DNS-compatible bucket
      name *on the global endpoint* (``https://bucket.s3.amazonaws.com``) in every region of the
      ``aws`` partition, and path-style on the regional endpoint otherwise (dots in the name);
      ``"virtual"`` is virtual-hosted on the regional endpoint; ``"path"`` is path-style on the
      regional endpoint. us-east-1 always uses ``s3.amazonaws.com``.
    - A custom ``endpoint_url``: ``"auto"`` and ``"path"`` are path-style. ``"virtual"`` puts a
      DNS-compatible bucket in the host name, except in front of an IP address; a dotted name
      stays path-style over https but is put in the host name over plain http.

    Not supported (``ValueError``): ARNs, access-point aliases, S3 Express and Outposts bucket
    names, ``*-global`` pseudo-regions.
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
    ) -> None:
        if not _VALID_BUCKET_RE.match(bucket) or bucket.endswith(("--x-s3", "--xa-s3", "--op-s3")):
            raise ValueError(
                f"bucket should be a plain S3 bucket name (no ARN, alias or S3 Express "
                f"directory bucket), got {bucket!r}"
            )
        if not _REGION_RE.match(region) or len(region) > 63 or region.endswith("-global"):
            raise ValueError(
                f"region should be an AWS region name like 'eu-west-2', got {region!r}"
            )
        if addressing_style not in _ADDRESSING_STYLES:
            raise ValueError(
                f"addressing_style should be one of {', '.join(_ADDRESSING_STYLES)}, "
                f"got {addressing_style!r}"
            )
        base = _resolve_endpoint(bucket, region, endpoint_url, addressing_style)
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        # botocore.awsrequest._urljoin: an object's path is the endpoint's path (one trailing
        # slash dropped) + "/" + the quoted key; a POST goes to the endpoint's path, or "/".
        self._origin = origin
        self._object_prefix = parts.path.removesuffix("/")
        self._post_url = origin + (parts.path or "/")
        self._bucket = bucket
        self._region = region
        self._scope_suffix = f"/{region}/s3/aws4_request"
        self._credential_query_suffix = quote(self._scope_suffix, safe=_QUERY_SAFE)
        self._auth_query_prefix = f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential="
        self._host = _host_header(base)
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
        conditions: list[Any],
        expires_in: int,
        now: datetime | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The form's action URL and fields for a browser POST of one object at ``key``.

        The same as botocore's ``generate_presigned_post(bucket, key, Fields=fields,
        Conditions=conditions, ExpiresIn=expires_in)``: the policy lists ``conditions`` first,
        then the bucket, the key (``["starts-with", "$key", prefix]`` when ``key`` ends with
        ``${filename}``), x-amz-algorithm, x-amz-credential, x-amz-date and, with a session
        token, x-amz-security-token. The returned fields are ``fields`` followed by key,
        x-amz-algorithm, x-amz-credential, x-amz-date, [x-amz-security-token], policy and
        x-amz-signature.
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

        if key.endswith(_FILENAME_PLACEHOLDER):
            key_condition = '["starts-with", "$key", ' + _json_str(key[:-11]) + "]"
        else:
            key_condition = '{"key": ' + _json_str(key) + "}"
        # json.dumps(policy) with its default separators, assembled piecewise: a list's items
        # are joined with ", ", so dumping the caller's list and stripping the brackets is exact.
        policy = [
            '{"expiration": "',
            _iso8601(epoch + expires_in),
            '", "conditions": [',
        ]
        if conditions:
            policy += (_json_dumps(conditions)[1:-1], ", ")
        policy += (
            self._bucket_condition,
            ", ",
            key_condition,
            ', {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": ',
            _json_str(credential),
            '}, {"x-amz-date": "',
            amz_date,
            '"}',
        )
        token = credentials.token
        if token is not None:
            out["x-amz-security-token"] = token
            policy += (', {"x-amz-security-token": ', _json_str(token), "}")
        policy.append("]}")
        encoded = b64encode("".join(policy).encode()).decode()
        out["policy"] = encoded
        signing_key = _signing_key(credentials.secret_key, date_stamp, self._region)
        out["x-amz-signature"] = hmac.digest(signing_key, encoded.encode(), "sha256").hex()
        return self._post_url, out

    def presign_url(
        self,
        credentials: Credentials,
        *,
        method: str,
        key: str,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> str:
        """A query-string presigned URL for ``method`` ("GET" or "PUT") on the object ``key``.

        ``params`` are extra query parameters by wire name, emitted in the given order:
        for GET ``response-content-disposition``, ``response-content-type``,
        ``response-cache-control``, ``response-content-encoding``,
        ``response-content-language``, ``versionId``, ``partNumber``; for PUT ``partNumber``
        and ``uploadId`` (together: UploadPart). The same URL as botocore's
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


def credentials_from_boto3(source: Any = None) -> Callable[[], Credentials]:
    """A callable returning the current :class:`Credentials` from boto3's provider chain.

    ``source`` is a ``boto3.session.Session`` or ``botocore.session.Session`` (its
    ``get_credentials()`` is asked once, on the first call, so building this does no I/O), a
    ``botocore.credentials.Credentials`` / ``RefreshableCredentials``, or None for a default
    boto3 session. Each call takes ``get_frozen_credentials()``, so refreshable credentials
    (STS, SSO, instance and container roles) are refreshed when they near expiry and the
    access key, secret and token always belong together. No client is created.

    Raises ``LookupError`` (on the first call) when the provider chain finds no credentials.
    """
    if source is not None and hasattr(source, "get_frozen_credentials"):
        provider: Any = source
    else:
        provider = None
    # (frozen credentials, Credentials built from them), swapped as one reference.
    last: list[tuple[object, Credentials | None]] = [(None, None)]

    def current() -> Credentials:
        nonlocal provider, source
        if provider is None:
            if source is None:
                import boto3.session

                source = boto3.session.Session()
            provider = source.get_credentials()
            if provider is None:
                raise LookupError(
                    "boto3 found no AWS credentials (environment, shared files, container or "
                    "instance role); configure one of them"
                )
        frozen = provider.get_frozen_credentials()
        cached_frozen, cached = last[0]
        if cached is not None and frozen == cached_frozen:
            return cached
        creds = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        last[0] = (frozen, creds)
        return creds

    return current
