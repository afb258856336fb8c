"""Object storage for finished renders, thumbnails, subtitles and uploads.

`BlobStore` is the protocol the API codes against; `LocalBlobStore` keeps blobs
on the local disk, `S3BlobStore` on S3 or an S3-compatible server.
"""

from __future__ import annotations

from reelforge.storage.base import (
    MAX_KEY_LENGTH,
    BlobInfo,
    BlobStore,
    content_disposition,
    validate_key,
)
from reelforge.storage.local import LocalBlobStore
from reelforge.storage.s3 import S3BlobStore

__all__ = [
    "MAX_KEY_LENGTH",
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "content_disposition",
    "validate_key",
]
