"""Objects in an S3 bucket (AWS, MinIO, Ceph RGW...) through boto3.

Large writes use multipart uploads (aborted on any error, so a failed write leaves nothing);
small ones a single PUT. botocore errors are translated to ours so callers can tell
"retry later" (StorageUnavailable) from "gone" (ObjectNotFound) from "full" (StorageFull).
"""

import logging
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from .base import DEFAULT_CHUNK_SIZE, Store, _safe_prefix, safe_key
from .errors import ObjectNotFound, StorageError, StorageFull, StorageUnavailable
from .s3_reads import PresignedReads, client_error, proxied, verify_value

log = logging.getLogger(__name__)

DEFAULT_PART_SIZE = 16 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last)
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10000
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_TRANSIENT = {
    "500",
    "502",
    "503",
    "504",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "RequestLimitExceeded",
    "NoSuchBucket",
    "NoSuchUpload",
}
_FULL = {
    "EntityTooLarge",
    "QuotaExceeded",
    "XMinioStorageFull",
    "XMinioAdminBucketQuotaExceeded",
    "InsufficientStorage",
    "507",
}
MAX_RESUMES = 3
_NETWORK = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    Urllib3HTTPError,
    ConnectionError,
)

_RESUMABLE = (*_NETWORK, IncompleteReadError)


def _translate(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in _NOT_FOUND:
            return ObjectNotFound(f"No object {what}.")
        if code in _FULL:
            return StorageFull(f"The object store refused {what}: {code}.")
        if code in _TRANSIENT or status >= 500:
            return StorageUnavailable(f"The object store is unavailable ({code or status}) for {what}.")
        return StorageError(f"The object store refused {what}: {code or status}.")
    if isinstance(exc, _RESUMABLE):
        return StorageUnavailable(f"The object store cannot be reached for {what} ({exc.__class__.__name__}).")
    if isinstance(exc, BotoCoreError):
        return StorageError(f"Object store client error for {what}: {exc.__class__.__name__}.")
    return StorageError(f"Object store error for {what}: {exc.__class__.__name__}.")


class _S3Reader:
    """A streaming GET body as a file-like object, with our errors."""

    def __init__(self, body, what: str):
        self._body = body
        self._what = what
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        try:
            return self._body.read(None if n is None or n < 0 else n)
        except Exception as exc:
            raise _translate(exc, self._what) from exc

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while chunk := self.read(DEFAULT_CHUNK_SIZE):
            yield chunk


class S3Store(Store):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        max_attempts: int = 4,
        connect_timeout: float = 5,
        read_timeout: float = 60,
    ):
        if not bucket:
            raise ValueError("An S3 store needs a bucket name.")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"The S3 part size must be at least {MIN_PART_SIZE} bytes.")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self.part_size = part_size
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        core = botocore.session.get_session()
        session = boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=self.region,
            botocore_session=core,
        )
        self.client = session.client(
            "s3", endpoint_url=endpoint_url, config=self._config(max_attempts, connect_timeout, read_timeout)
        )
        # Ranged reads (htsget edges, range downloads, streamed bodies) skip botocore's per-call
        # machinery (s3_reads); behind a proxy they stay with botocore, which knows its settings.
        endpoint = self.client.meta.endpoint_url
        self._reads = None
        if not proxied(endpoint):
            self._reads = PresignedReads(
                self.client,
                bucket,
                endpoint,
                verify=verify_value(core),
                max_attempts=max_attempts,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        # Readiness probes must answer in seconds, not wait out retries and long read timeouts.
        self._probe = session.client("s3", endpoint_url=endpoint_url, config=self._config(1, 2, 5))

    def _config(self, max_attempts: int, connect_timeout: float, read_timeout: float) -> Config:
        extra = {}
        if self.endpoint_url:
            # S3-compatible servers (Ceph RGW, older MinIO) reject the CRC checksums botocore
            # sends by default since 1.36; segments carry their own MACs and ingest hashes the body.
            extra = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
        return Config(
            region_name=self.region,
            signature_version="s3v4",
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            s3={"addressing_style": "path"} if self.endpoint_url else {},
            **extra,
        )

    def _key(self, key: str) -> str:
        return self.prefix + safe_key(key)

    def _what(self, key: str) -> str:
        return repr(key)

    # --- writing ---------------------------------------------------------------------------

    def part_size_for(self, number: int) -> int:
        """Size of part `number` (1-based): doubles every 2000 parts so that an upload of
        unknown length fits S3's 10000-part limit (16 MiB parts: about 1 TiB in all)."""
        return min(self.part_size << ((number - 1) // 2000), MAX_PART_SIZE)

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Single PUT below one part; otherwise a multipart upload, aborted on any failure.

        Errors raised by `chunks` itself pass through unchanged (they are the caller's, not
        the store's); only object-store failures become StorageError.
        """
        full_key = self._key(key)
        buffer = bytearray()
        upload_id = None
        parts: list[dict] = []
        written = 0
        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= (size := self.part_size_for(len(parts) + 1)):
                    if upload_id is None:
                        upload_id = self._call(
                            key, self.client.create_multipart_upload, Bucket=self.bucket, Key=full_key
                        )["UploadId"]
                    with memoryview(buffer) as view:
                        part = bytes(view[:size])  # one copy, not two
                    del buffer[:size]
                    self._upload_part(key, full_key, upload_id, parts, part)
                    del part
            if upload_id is None:
                self._call(key, self.client.put_object, Bucket=self.bucket, Key=full_key, Body=bytes(buffer))
                return written
            if buffer:
                self._upload_part(key, full_key, upload_id, parts, bytes(buffer))
                buffer.clear()
            self._call(
                key,
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=full_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            upload_id = None
            return written
        finally:
            if upload_id is not None:  # anything went wrong, including in `chunks`
                self._abort(full_key, upload_id)

    def _call(self, key: str, method, **params):
        try:
            return method(**params)
        except Exception as exc:
            raise _translate(exc, self._what(key)) from exc

    def _upload_part(self, key: str, full_key: str, upload_id: str, parts: list, data: bytes) -> None:
        number = len(parts) + 1
        if number > MAX_PARTS:
            raise StorageFull(f"{key!r} is larger than one S3 object can be.")
        response = self._call(
            key,
            self.client.upload_part,
            Bucket=self.bucket,
            Key=full_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def _abort(self, full_key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)
        except Exception as exc:  # the bucket lifecycle rule cleans up what we could not
            log.warning("could not abort multipart upload of %s: %s", full_key, exc.__class__.__name__)

    # --- reading ---------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise _translate(exc, self._what(key)) from exc
        return _S3Reader(response["Body"], self._what(key))

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Ranged GETs; a connection lost mid-stream is resumed where it stopped (same ETag)."""
        self._check_range(start, end)
        if end is not None and end == start:
            self.size(key)  # still say ObjectNotFound for a missing object
            return iter(())
        body, etag = self._get_range(key, start, end)
        return self._iter(key, body, etag, start, end, chunk_size)

    def _get_range(self, key: str, start: int, end: int | None, etag: str | None = None):
        """(body, etag) for bytes [start, end), or (None, None) when start is past the end."""
        if self._reads is None:
            return self._get_range_botocore(key, start, end, etag)
        try:
            status, headers, body = self._reads.get(self._key(key), start, end, etag)
        except Exception as exc:  # botocore's own exceptions (no URL in them): see s3_reads
            raise _translate(exc, self._what(key)) from exc
        if status == 206 and headers.get("Content-Range"):
            return body, headers.get("ETag")
        if status == 416:
            return None, None  # start at or past the end: nothing to read
        if 300 <= status < 400:  # another region's bucket: botocore knows how to follow S3 there
            return self._get_range_botocore(key, start, end, etag)
        if status == 412:
            raise StorageError(f"The object {key!r} changed while it was being read.")
        if 200 <= status < 300:
            if status == 206:
                body.close()
            raise StorageError(f"The object store ignored the byte range for {key!r}.")
        raise _translate(client_error(status, body), self._what(key))

    def _get_range_botocore(self, key: str, start: int, end: int | None, etag: str | None):
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "Range": f"bytes={start}-" + ("" if end is None else str(end - 1)),
        }
        if etag:
            params["IfMatch"] = etag  # a resumed read must continue the same object
        try:
            response = self.client.get_object(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "InvalidRange":
                return None, None  # start at or past the end: nothing to read
            if code in ("PreconditionFailed", "412"):
                raise StorageError(f"The object {key!r} changed while it was being read.") from exc
            raise _translate(exc, self._what(key)) from exc
        except Exception as exc:
            raise _translate(exc, self._what(key)) from exc
        if not response.get("ContentRange"):
            response["Body"].close()  # a server that ignored Range would send the wrong bytes
            raise StorageError(f"The object store ignored the byte range for {key!r}.")
        return response["Body"], response.get("ETag")

    def _iter(self, key, body, etag, start, end, chunk_size) -> Iterator[bytes]:
        position, resumes = start, 0
        try:
            while body is not None:
                try:
                    data = body.read(chunk_size)
                except _RESUMABLE as exc:
                    body.close()
                    body = None
                    resumes += 1
                    if resumes > MAX_RESUMES:
                        raise _translate(exc, self._what(key)) from exc
                    if end is not None and position >= end:
                        return
                    log.info("resuming read of %s at byte %d after %s", key, position, exc.__class__.__name__)
                    body, _ = self._get_range(key, position, end, etag)
                    continue
                if not data:
                    return
                position += len(data)
                yield data
        finally:
            if body is not None:
                body.close()

    def _head(self, key: str) -> dict:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise _translate(exc, self._what(key)) from exc

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ObjectNotFound:
            return
        except Exception as exc:
            error = _translate(exc, self._what(key))
            if not isinstance(error, ObjectNotFound):
                raise error from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        _safe_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix) :]
        except Exception as exc:
            raise _translate(exc, f"the listing of {prefix!r}") from exc

    # --- health and set-up -----------------------------------------------------------------

    def ping(self) -> None:
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageUnavailable(f"The bucket {self.bucket!r} does not exist.") from exc
            if code in ("403", "AccessDenied"):
                raise StorageUnavailable(f"Access to the bucket {self.bucket!r} is denied.") from exc
            raise _translate(exc, f"bucket {self.bucket!r}") from exc
        except Exception as exc:
            error = _translate(exc, f"bucket {self.bucket!r}")
            raise (error if isinstance(error, StorageUnavailable) else StorageUnavailable(str(error))) from exc

    def ensure_ready(self) -> None:
        try:
            self.ping()
            return
        except StorageUnavailable as exc:
            if "does not exist" not in str(exc):
                raise
        try:
            if self.region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise _translate(exc, f"bucket {self.bucket!r}") from exc
        except Exception as exc:
            raise _translate(exc, f"bucket {self.bucket!r}") from exc

    def presigned_url(
        self, key: str, *, expires_in: int, start: int | None = None, end: int | None = None
    ) -> str | None:
        """A presigned GET. With start/end the Range header is signed: the client must send
        exactly `Range: bytes=start-(end-1)` (htsget tickets carry it in `headers`)."""
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if start is not None or end is not None:
            first = start or 0
            self._check_range(first, end)
            params["Range"] = f"bytes={first}-" + ("" if end is None else str(end - 1))
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_in))
        except Exception as exc:
            raise _translate(exc, self._what(key)) from exc
