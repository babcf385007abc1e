"""The process's boto3 session: one AWS credentials provider chain for the whole app.

Credentials come from boto3's normal chain — environment, shared config files, assumed roles,
container and instance roles; temporary STS credentials are refreshed as they near expiry.
The signer (:mod:`presigned_transfers.signing`) and the boto3 clients
(:mod:`presigned_transfers.storage`) share it, so the chain is resolved once. Nothing here
depends on settings: a settings change keeps it.
"""

from __future__ import annotations

import threading

import boto3

_lock = threading.Lock()
_session: boto3.session.Session | None = None


def get_session() -> boto3.session.Session:
    """The process's boto3 session, made on first use."""
    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session


def reset() -> None:
    """Forget the session, and with it the credentials it found (tests change them)."""
    global _session
    with _lock:
        _session = None
