"""Signing benchmark: presigned_transfers.sigv4 against boto3, side by side in one process.

    python bench/bench_signing.py [--rounds 15] [--batch-ms 40] [--token]

For a presigned POST (the upload policy the app signs) and a presigned GET with
response-content-disposition (the download URL), it times three candidates:

- ours: ``S3Presigner`` built once, credentials passed per call;
- boto3 with a cached client: ``generate_presigned_post`` / ``generate_presigned_url``;
- boto3 with a client built per request (from a shared session, like ``boto3.client(...)``).

Each candidate runs in batches of calls sized to take about ``--batch-ms``; a round runs one
batch of every candidate, in a different order each round, so machine noise falls on all of
them alike. The result is the median over the rounds of the time per call. Before timing, it
checks that ours and boto3 produce identical output for the same frozen clock.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from unittest import mock

# Keep the developer's own AWS setup (profiles, endpoint overrides, ...) out of the comparison.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/aws-config"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
import botocore  # noqa: E402
import botocore.config  # noqa: E402

from presigned_transfers.sigv4 import Credentials, S3Presigner  # noqa: E402

BUCKET = "my-app-uploads"
REGION = "eu-west-2"
KEY = "uploads/42/9f86d081884c7d65_report final (v2) \u2013 Q3.pdf"
CONTENT_TYPE = "application/pdf"
DISPOSITION = (
    'attachment; filename="report final (v2) - Q3.pdf"; '
    "filename*=UTF-8''report%20final%20%28v2%29%20%E2%80%93%20Q3.pdf"
)
FIELDS = {"acl": "private", "Content-Type": CONTENT_TYPE}
# What signing.presign_post passes (the presigner adds the exact {"key": KEY} itself).
CONDITIONS = [
    {"acl": "private"},
    ["eq", "$Content-Type", CONTENT_TYPE],
    ["content-length-range", 1, 10 * 1024 * 1024],
]
EXPIRES_POST = 600
EXPIRES_GET = 300
# Roughly the size of an STS session token.
STS_TOKEN = "IQoJb3JpZ2luX2VjE" + "Ab1Cd2Ef3Gh4/Ij5Kl6Mn7+Op8Qr9St0Uv=" * 20


def candidates(creds: Credentials):
    config = botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "auto"})
    session = boto3.session.Session(
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    cached = session.client("s3", region_name=REGION, config=config)
    ours = S3Presigner(bucket=BUCKET, region=REGION)

    def fresh_client():
        return session.client("s3", region_name=REGION, config=config)

    def post_ours(now=None):
        return ours.presign_post(
            creds, key=KEY, fields=FIELDS, conditions=CONDITIONS, expires_in=EXPIRES_POST, now=now
        )

    def post_boto3(client):
        return client.generate_presigned_post(
            BUCKET, KEY, Fields=FIELDS, Conditions=CONDITIONS, ExpiresIn=EXPIRES_POST
        )

    def get_ours(now=None):
        return ours.presign_url(
            creds,
            method="GET",
            key=KEY,
            params={"response-content-disposition": DISPOSITION},
            expires_in=EXPIRES_GET,
            now=now,
        )

    def get_boto3(client):
        return client.generate_presigned_url(
            "get_object",
            Params={"Bucket": BUCKET, "Key": KEY, "ResponseContentDisposition": DISPOSITION},
            ExpiresIn=EXPIRES_GET,
        )

    check_identical(post_ours, lambda: post_boto3(cached), get_ours, lambda: get_boto3(cached))
    return {
        "presigned POST": {
            "ours": post_ours,
            "boto3, cached client": lambda: post_boto3(cached),
            "boto3, client per request": lambda: post_boto3(fresh_client()),
        },
        "presigned GET (+ response-content-disposition)": {
            "ours": get_ours,
            "boto3, cached client": lambda: get_boto3(cached),
            "boto3, client per request": lambda: get_boto3(fresh_client()),
        },
    }


def check_identical(post_ours, post_boto3, get_ours, get_boto3):
    """Same work on both sides: byte-identical output for one frozen instant."""
    frozen = datetime(2024, 5, 6, 7, 8, 9)  # naive UTC, like botocore's own clock
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=frozen),
        mock.patch("botocore.signers.get_current_datetime", return_value=frozen),
    ):
        expected_post = post_boto3()
        expected_get = get_boto3()
    url, fields = post_ours(now=frozen)
    assert (url, fields) == (expected_post["url"], expected_post["fields"]), "POST differs"
    assert get_ours(now=frozen) == expected_get, "GET differs"


def calibrate(fn, batch_ns: int) -> int:
    """How many calls of ``fn`` take about ``batch_ns``."""
    fn()  # warm up (imports, caches)
    n = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter_ns() - start
        if elapsed >= batch_ns / 4 or n >= 1 << 20:
            return max(1, round(n * batch_ns / max(elapsed, 1)))
        n *= 4


def run(rounds: int, batch_ms: float, token: bool) -> dict[str, dict[str, float]]:
    creds = Credentials(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        STS_TOKEN if token else None,
    )
    table = candidates(creds)
    jobs = [(op, name, fn) for op, group in table.items() for name, fn in group.items()]
    sizes = {(op, name): calibrate(fn, int(batch_ms * 1e6)) for op, name, fn in jobs}
    samples: dict[tuple[str, str], list[float]] = {(op, name): [] for op, name, _ in jobs}
    order = list(jobs)
    shuffle = random.Random(20240506).shuffle
    for _ in range(rounds):
        shuffle(order)  # interleaved, in a different order each round
        for op, name, fn in order:
            n = sizes[op, name]
            start = time.perf_counter_ns()
            for _ in range(n):
                fn()
            samples[op, name].append((time.perf_counter_ns() - start) / n / 1000)
    result: dict[str, dict[str, float]] = {}
    for (op, name), values in samples.items():
        result.setdefault(op, {})[name] = statistics.median(values)
    return result


def report(result: dict[str, dict[str, float]], rounds: int, token: bool) -> str:
    lines = [
        f"Python {platform.python_version()}, boto3 {boto3.__version__}, "
        f"botocore {botocore.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; {rounds} rounds, median per call; "
        f"{'with' if token else 'without'} a session token.",
        "",
        "| operation | candidate | median µs/call | vs ours |",
        "|---|---|---:|---|",
    ]
    for op, group in result.items():
        ours = group["ours"]
        for name, micros in group.items():
            if name == "ours":
                verdict = "—"
            else:
                verdict = f"{name.replace(', ', ' ')} is {micros / ours:.1f}x slower"
            lines.append(f"| {op} | {name} | {micros:,.1f} | {verdict} |")
    lines.append("")
    targets = {"presigned POST": 5, "presigned GET (+ response-content-disposition)": 10}
    for op, target in targets.items():
        ratio = result[op]["boto3, cached client"] / result[op]["ours"]
        status = "met" if ratio >= target else "NOT met"
        lines.append(
            f"- {op}: {ratio:.1f}x faster than boto3 with a cached client "
            f"(target >= {target}x): {status}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="batches per candidate")
    parser.add_argument("--batch-ms", type=float, default=40.0, help="target time per batch")
    parser.add_argument("--token", action="store_true", help="sign with an STS session token")
    args = parser.parse_args(argv)
    result = run(args.rounds, args.batch_ms, args.token)
    print(report(result, args.rounds, args.token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
