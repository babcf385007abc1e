"""Freezing the clock botocore signs with, to compare our signatures with its, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from unittest import mock


def utc_naive(now: datetime) -> datetime:
    """What botocore's clock returns: naive UTC."""
    return now if now.tzinfo is None else now.astimezone(timezone.utc).replace(tzinfo=None)


@contextmanager
def frozen_botocore(now: datetime) -> Iterator[tuple[mock.MagicMock, mock.MagicMock]]:
    """Freeze the clock botocore signs with.

    botocore.compat.get_current_datetime() (datetime.datetime.now(timezone.utc) without its
    tzinfo) is imported by name into botocore.auth (SigV4 timestamps) and botocore.signers (the
    POST policy's expiration), so it is patched in both.
    """
    frozen = utc_naive(now)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=frozen) as a,
        mock.patch("botocore.signers.get_current_datetime", return_value=frozen) as s,
    ):
        yield a, s
