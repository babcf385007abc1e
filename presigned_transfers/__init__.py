"""Direct browser uploads to, and downloads from, a private S3 bucket through presigned URLs."""

__version__ = "0.1.0.dev0"
