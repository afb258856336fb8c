"""Blob store on S3 or an S3-compatible server (SeaweedFS, MinIO, AWS).

With `endpoint_url` set, requests use path-style addressing
(``http://host/bucket/key``): self-hosted servers rarely have wildcard DNS for
virtual-host buckets. Checksums are only sent when an operation requires them,
because S3-compatible servers lag behind the newer default CRC headers.

Every botocore/boto3 exception is translated in one place, `_mapped_errors`,
so the rest of the module (and its callers) only see reelforge errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3.exceptions
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from boto3.session import Session
from botocore.config import Config
from botocore.response import StreamingBody

from reelforge.errors import InvalidInput, NotFound, StorageError
from reelforge.storage.base import (
    CHUNK_SIZE_BYTES,
    BlobInfo,
    check_expiry,
    check_range,
    check_source,
    content_disposition,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * MiB
"""Files above this are uploaded in parts, in parallel, and a failed part is retried alone."""
MAX_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_BAD_RANGE_CODES = frozenset({"416", "InvalidRange"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


@contextlib.contextmanager
def _mapped_errors(
    action: str, key: str, *, ignore: frozenset[str] = frozenset()
) -> Iterator[None]:
    """Turn boto errors into NotFound / InvalidInput / StorageError, saying what failed.

    S3 error codes in `ignore` are swallowed: the block just ends.
    """
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        detail = error.get("Message") or code
        if code in ignore:
            return
        if code in _MISSING_CODES:
            raise NotFound(f"no blob {key!r}") from exc
        if code in _BAD_RANGE_CODES:
            raise InvalidInput(f"byte range not satisfiable for {key!r}") from exc
        raise StorageError(f"cannot {action} {key!r}: {code}: {detail}") from exc
    except (botocore.exceptions.BotoCoreError, boto3.exceptions.Boto3Error) as exc:
        # Connection failures, timeouts, missing credentials, failed multipart uploads.
        raise StorageError(f"cannot {action} {key!r}: {exc}") from exc


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        create_bucket: bool = False,
        multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD_BYTES,
    ) -> None:
        """Args:
        prefix: folder inside the bucket for every key, to share a bucket with others.
        create_bucket: create the bucket if missing (handy for dev and tests).
        multipart_threshold_bytes: also the part size (S3 wants parts >= 5 MiB).

        Credentials left as None come from boto3's usual chain (env, profile, IAM role).
        """
        self.bucket = bucket
        self.prefix = validate_prefix(prefix) + "/" if prefix.strip("/") else ""
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A private session: the default one is shared and not thread-safe to build clients.
        session = Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._region = region
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold_bytes,
            multipart_chunksize=max(multipart_threshold_bytes, 5 * MiB),
            max_concurrency=4,
        )
        if create_bucket:
            self._ensure_bucket()

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _ensure_bucket(self) -> None:
        try:
            with _mapped_errors("find bucket", self.bucket):
                self._client.head_bucket(Bucket=self.bucket)
            return
        except NotFound:
            pass
        extra: dict[str, Any] = {}
        if self._region != "us-east-1":  # AWS rejects an explicit us-east-1 constraint
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        # Another process may have created it since head_bucket: that is fine too.
        with _mapped_errors("create bucket", self.bucket, ignore=_BUCKET_EXISTS_CODES):
            self._client.create_bucket(Bucket=self.bucket, **extra)

    # -- writing -------------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str) -> BlobInfo:
        name = self._object_key(key)
        source = check_source(path)
        with _mapped_errors("upload", key):
            self._client.upload_file(
                str(source),
                self.bucket,
                name,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )
        return self.stat(key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        name = self._object_key(key)
        with _mapped_errors("upload", key):
            self._client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            )
        return self.stat(key)

    # -- reading -------------------------------------------------------------

    def stat(self, key: str) -> BlobInfo:
        name = self._object_key(key)
        with _mapped_errors("stat", key):
            head = self._client.head_object(Bucket=self.bucket, Key=name)
        return BlobInfo(
            key=key,
            size_bytes=head["ContentLength"],
            content_type=head.get("ContentType") or "application/octet-stream",
            etag=head.get("ETag", "").strip('"'),
            modified_at=head["LastModified"].astimezone(UTC),
        )

    def read_bytes(self, key: str) -> bytes:
        name = self._object_key(key)
        with _mapped_errors("read", key):
            body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with contextlib.closing(body):
                return body.read()

    def open_range(self, key: str, start: int, end_inclusive: int) -> Iterator[bytes]:
        name = self._object_key(key)
        check_range(start, end_inclusive)  # S3 itself clamps the end and checks the start
        with _mapped_errors("read", key):
            response = self._client.get_object(
                Bucket=self.bucket, Key=name, Range=f"bytes={start}-{end_inclusive}"
            )
        if "ContentRange" not in response:
            # A server that ignores Range would send the whole blob: refuse, don't mislead.
            response["Body"].close()
            raise StorageError(f"the S3 server ignored the byte range for {key!r}")
        return self._stream(key, response["Body"])

    @staticmethod
    def _stream(key: str, body: StreamingBody) -> Iterator[bytes]:
        with contextlib.closing(body), _mapped_errors("read", key):
            yield from body.iter_chunks(CHUNK_SIZE_BYTES)

    def local_path(self, key: str) -> Path | None:
        """Always None: the bytes are remote."""
        validate_key(key)
        return None

    def signed_url(
        self,
        key: str,
        *,
        expires_s: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        with _mapped_errors("sign a URL for", key):
            return self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=check_expiry(expires_s)
            )

    # -- deleting ------------------------------------------------------------

    def delete(self, key: str) -> None:
        name = self._object_key(key)
        with _mapped_errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=name)

    def keys(self, prefix: str = "") -> Iterator[str]:
        folder = self._object_key(validate_prefix(prefix)) + "/" if prefix else self.prefix
        with _mapped_errors("list", prefix or "the store"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"].removeprefix(self.prefix)

    def delete_prefix(self, prefix: str) -> int:
        folder = self._object_key(validate_prefix(prefix)) + "/"
        count = 0
        with _mapped_errors("delete", prefix):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder, PaginationConfig={"PageSize": MAX_DELETE_BATCH}
            )
            for page in pages:
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": obj["Key"]} for obj in page.get("Contents", [])
                ]
                if not batch:
                    continue
                result = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if errors := result.get("Errors"):
                    first = errors[0]
                    raise StorageError(
                        f"cannot delete {len(errors)} blobs under {prefix!r}, e.g. "
                        f"{first.get('Key')!r}: {first.get('Code')}: {first.get('Message')}"
                    )
                count += len(batch)
        return count
