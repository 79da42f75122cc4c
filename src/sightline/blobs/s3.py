"""Blobs as objects in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, …) through boto3.

URL: `s3://bucket/optional/prefix?endpoint=http://host:port&region=…&access_key=…&secret_key=…`.
Every parameter is optional: without keys boto3's standard chain finds credentials
(`AWS_ACCESS_KEY_ID`, profiles, instance roles); an `endpoint` means a non-AWS store, addressed
path-style (`endpoint/bucket/key`). `public_endpoint` is the store's address as browsers reach
it (`https://files.example.com`), when Sightline talks to it at another (`http://minio:9000`):
presigned URLs and forms name it and are signed for it (SigV4 signs the host), while every
request of Sightline's own goes to `endpoint`. Values are percent-decoded but `+` stays `+`:
secret keys contain it.

Object keys under the prefix:
- `{prefix}blobs/{sha[:2]}/{sha[2:4]}/{sha}`: a blob, named by the sha256 of its bytes;
- `{prefix}incoming/{inbox key}`: the inbox, objects clients upload directly (presigned POST).

Uploads go through boto3's managed transfer (multipart from `part_size` bytes on, a few parts in
flight at a time) with a SHA-256 checksum on every request, which the store verifies on receipt.
Afterwards the stored object's own checksum (or, from a store that keeps none, its ETag) must be
the one of our bytes, or the object is deleted again: a wrong blob never stays readable.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from sightline.blobs.base import PresignedPost, StoredBlob, is_sha256
from sightline.errors import BackendError, BlobNotFound, ConfigurationError, ImageTooLarge

try:
    import boto3
    from boto3.exceptions import Boto3Error
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
except ImportError as exc:  # pragma: no cover - the default install lacks the extra
    raise ConfigurationError(
        "s3:// blob stores need boto3: pip install 'sightline[scale]'"
    ) from exc

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1024 * 1024
# S3 refuses parts under 5 MiB (all but the last), and boto3 would silently round up to it.
MIN_PART_SIZE = 5 * MiB
# SigV4 signatures are valid for at most 7 days.
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_PARAMETERS = {"endpoint", "public_endpoint", "region", "access_key", "secret_key"}
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchVersion"}
# The longest object key S3 stores, in bytes of UTF-8: a longer one names no object.
MAX_KEY_BYTES = 1024


class S3BlobStore:
    """A BlobStore and an Inbox in one bucket; safe to share between threads, as its boto3
    client is. `client` is public for operators' tooling and tests (event hooks); `signer`, the
    client that presigns URLs and forms, is `client` unless browsers reach the store elsewhere."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = 8 * MiB,
        signer: Any = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ConfigurationError(f"The S3 part size must be at least {MIN_PART_SIZE} bytes.")
        self.client = client
        self.signer = signer if signer is not None else client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._transfer = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=4
        )

    @classmethod
    def from_url(cls, url: str, *, part_size: int = 8 * MiB) -> S3BlobStore:
        """Connect and check that the bucket exists and the credentials open it (nothing is
        created: a typo in a bucket name must not start a new, empty store)."""
        bucket, prefix, params = _parse_url(url)
        session = boto3.session.Session()
        client = _client(session, params, params.get("endpoint"), url)
        # Signing is local (no request): a second client only to name the public address.
        public = params.get("public_endpoint")
        signer = _client(session, params, public, url) if public is not None else None
        _check_bucket(client, bucket, url)
        return cls(client, bucket, prefix, part_size=part_size, signer=signer)

    # -- blobs -------------------------------------------------------------------------------

    def blob_key(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise ValueError(f"Not a sha256 blob key: {sha256!r}")
        return f"{self.prefix}blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        key = self.blob_key(sha256)
        if len(data) < self.part_size:
            # One request, even when the blob exists (rewriting the same bytes is harmless and
            # as cheap as asking first). The store refuses bytes that do not match the checksum,
            # which is the blob's own address; its answer is checked for stores that ignore it.
            with _s3_errors("upload", key):
                stored = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                )
            self._verify(key, data, stored)
            return sha256
        if self.exists(sha256):
            return sha256
        with _s3_errors("upload", key):
            self.client.upload_fileobj(
                io.BytesIO(data),
                self.bucket,
                key,
                ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                Config=self._transfer,
            )
        with _s3_errors("check", key):
            head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        self._verify(key, data, head)
        return sha256

    def _verify(self, key: str, data: bytes, stored: dict[str, Any]) -> None:
        """Compare what the store reports holding with our bytes; delete it when they differ."""
        parts = self._parts(data)
        checksum = stored.get("ChecksumSHA256")
        if checksum is not None:
            digest, suffix = _object_digest(data, parts, "sha256")
            matches = checksum == base64.b64encode(digest).decode() + suffix
        else:
            digest, suffix = _object_digest(data, parts, "md5")
            matches = stored["ETag"].strip('"') == digest.hex() + suffix
        if not matches:
            with _s3_errors("delete", key):
                self.client.delete_object(Bucket=self.bucket, Key=key)
            raise BackendError(f"The S3 store holds other bytes than were uploaded to {key}.")

    def _parts(self, data: bytes) -> list[memoryview] | None:
        """The parts boto3 uploaded `data` in, or None for a single PUT. (boto3 would only grow
        the part size beyond 10,000 parts: 49 GiB at the least, never a blob held in memory.)"""
        if len(data) < self.part_size:
            return None
        view = memoryview(data)
        return [view[i : i + self.part_size] for i in range(0, len(data), self.part_size)]

    def open(self, sha256: str) -> BinaryIO:
        key = self.blob_key(sha256)
        with _s3_errors("read", key, missing=sha256):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        reader = _ObjectReader(self.client, self.bucket, key, sha256, response)
        return io.BufferedReader(reader, buffer_size=256 * 1024)

    def size(self, sha256: str) -> int:
        key = self.blob_key(sha256)
        with _s3_errors("check", key, missing=sha256):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    def exists(self, sha256: str) -> bool:
        try:
            self.size(sha256)
        except BlobNotFound:
            return False
        return True

    def delete(self, sha256: str) -> None:
        key = self.blob_key(sha256)
        with _s3_errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list_blobs(self) -> Iterator[StoredBlob]:
        """S3 lists keys in byte order, and `ab/cd/abcd…` sorts as the sha256 does."""
        folder = f"{self.prefix}blobs/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder
        )
        with _s3_errors("list", folder):
            for page in pages:
                for item in page.get("Contents", ()):
                    sha256 = item["Key"].rsplit("/", 1)[-1]
                    if is_sha256(sha256) and item["Key"] == self.blob_key(sha256):
                        yield StoredBlob(sha256, int(item["Size"]), item["LastModified"])

    def remove_stale_parts(self, older_than: float, *, dry_run: bool = False) -> int:
        """Abort the multipart uploads that were never completed, of blobs (a crashed process)
        and of objects other systems were dropping in the inbox: the store keeps (and bills)
        their parts until then."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        stale = 0
        for folder in (f"{self.prefix}blobs/", f"{self.prefix}incoming/"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=folder
            )
            with _s3_errors("list uploads under", folder):
                for page in pages:
                    for upload in page.get("Uploads", ()):
                        if upload["Initiated"] >= cutoff:
                            continue
                        if not dry_run:
                            self._abort(upload["Key"], upload["UploadId"])
                        stale += 1
        return stale

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise  # translated by the caller; a gone upload was completed or aborted meanwhile

    def presigned_url(
        self,
        sha256: str,
        *,
        expires_seconds: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.blob_key(sha256)}
        if content_type is not None:
            params["ResponseContentType"] = content_type
        if filename is not None:
            params["ResponseContentDisposition"] = _inline_disposition(filename)
        with _s3_errors("sign", params["Key"]):
            url: str = self.signer.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=_expiry(expires_seconds)
            )
        return url

    # -- inbox -------------------------------------------------------------------------------

    def presigned_post(self, name: str, *, max_bytes: int, expires_seconds: int) -> PresignedPost:
        inbox_key = f"{secrets.token_hex(16)}/{_file_name(name)}"
        key = self._incoming(inbox_key)
        with _s3_errors("sign", key):
            post = self.signer.generate_presigned_post(
                self.bucket,
                key,
                Conditions=[["content-length-range", 1, max_bytes]],
                ExpiresIn=_expiry(expires_seconds),
            )
        return PresignedPost(post["url"], dict(post["fields"]), inbox_key)

    def inbox_key(self, bucket: str, object_key: str) -> str | None:
        inbox = f"{self.prefix}incoming/"
        if bucket != self.bucket or not object_key.startswith(inbox):
            return None
        key = object_key.removeprefix(inbox)
        fits = len(object_key.encode()) <= MAX_KEY_BYTES
        return key if fits and _is_inbox_key(key) else None

    def read_incoming(self, key: str, *, max_bytes: int) -> bytes:
        object_key = self._incoming(key)
        return self._read(
            {"Bucket": self.bucket, "Key": object_key}, f"The incoming object {key!r}", max_bytes
        )

    def read_object(self, bucket: str, key: str, version: str | None, *, max_bytes: int) -> bytes:
        named = {"Bucket": bucket, "Key": key} | ({"VersionId": version} if version else {})
        return self._read(named, f"The object {key!r} of the bucket {bucket!r}", max_bytes)

    def _read(self, named: dict[str, str], described: str, max_bytes: int) -> bytes:
        with _s3_errors("read", named["Key"], missing=described):
            response = self.client.get_object(**named)
            body = response["Body"]
            # The size is in the response headers: a too-large object is refused unread.
            if response["ContentLength"] > max_bytes:
                body.close()
                raise ImageTooLarge(
                    f"{described} has {response['ContentLength']} bytes; the limit is {max_bytes}.",
                    limit=max_bytes,
                )
            with body:
                data: bytes = body.read()
        return data

    def delete_incoming(self, key: str) -> None:
        object_key = self._incoming(key)
        with _s3_errors("delete", object_key):
            self.client.delete_object(Bucket=self.bucket, Key=object_key)

    def list_incoming(self, written_before: datetime) -> Iterator[str]:
        folder = f"{self.prefix}incoming/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder
        )
        with _s3_errors("list", folder):
            for page in pages:
                for item in page.get("Contents", ()):
                    key = self.inbox_key(self.bucket, item["Key"])
                    if key is not None and item["LastModified"] < written_before:
                        yield key

    def _incoming(self, key: str) -> str:
        if not _is_inbox_key(key):
            raise ValueError(f"Not an inbox key: {key!r}")
        return f"{self.prefix}incoming/{key}"


class _ObjectReader(io.RawIOBase):
    """One object as a stream: reads pull from the open response; a seek drops it and the next
    read starts a ranged GET there (the API serves byte ranges by seeking)."""

    def __init__(self, client: Any, bucket: str, key: str, sha256: str, response: Any) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._sha256 = sha256
        self._size = int(response["ContentLength"])
        self._body: Any = response["Body"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._size
        elif whence != io.SEEK_SET:
            raise ValueError(f"Invalid whence: {whence}")
        if offset < 0:
            raise ValueError(f"Cannot seek to {offset}: before the start of the blob.")
        if offset != self._position:
            self._drop()
            self._position = offset
        return offset

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._position >= self._size:
            return 0
        with _s3_errors("read", self._key, missing=self._sha256):
            if self._body is None:
                self._body = self._client.get_object(
                    Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-"
                )["Body"]
            view = memoryview(buffer).cast("B")
            chunk = self._body.read(len(view))
        if not chunk:
            raise BackendError(f"The S3 object {self._key} ended before its {self._size} bytes.")
        view[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def close(self) -> None:
        self._drop()
        super().close()

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


@contextmanager
def _s3_errors(action: str, key: str, *, missing: str | None = None) -> Iterator[None]:
    """Translate boto3's errors: a missing object is `BlobNotFound` where `missing` names it,
    anything else the store said or failed to say is a `BackendError`."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        if missing is not None and code in _MISSING:
            raise BlobNotFound(f"{missing} is missing from the S3 store.") from exc
        raise BackendError(
            f"S3 {action} of {key} failed: {code} {error.get('Message', '')}".rstrip()
        ) from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise BackendError(f"S3 {action} of {key} failed: {exc}") from exc


def _parse_url(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigurationError(f"The S3 blob URL {_redacted(url)!r} names no bucket.")
    params: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        name, _, value = pair.partition("=")
        if name not in _PARAMETERS:
            raise ConfigurationError(
                f"Unknown S3 blob URL parameter {name!r}; known: {', '.join(sorted(_PARAMETERS))}."
            )
        params[name] = unquote(value)
    if ("access_key" in params) != ("secret_key" in params):
        raise ConfigurationError("An S3 blob URL needs both access_key and secret_key, or neither.")
    prefix = unquote(parts.path).strip("/")
    return parts.netloc, f"{prefix}/" if prefix else "", params


def _client(session: Any, params: dict[str, str], endpoint: str | None, url: str) -> Any:
    """A client of the store at `endpoint` (None: AWS), with the URL's region and keys."""
    try:
        return session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=params.get("region"),
            aws_access_key_id=params.get("access_key"),
            aws_secret_access_key=params.get("secret_key"),
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if endpoint is not None else "auto"},
                retries={"mode": "standard"},
                # API threads, workers and upload parts share the client's connections.
                max_pool_connections=32,
            ),
        )
    except ValueError as exc:  # botocore's message names the bad endpoint
        raise ConfigurationError(f"Bad S3 blob URL {_redacted(url)!r}: {exc}") from exc


def _check_bucket(client: Any, bucket: str, url: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError as exc:
        raise ConfigurationError(
            f"No S3 credentials for {_redacted(url)!r}: give access_key and secret_key in the "
            "URL or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        ) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchBucket"):
            raise ConfigurationError(
                f"The S3 bucket {bucket!r} does not exist; create it first."
            ) from exc
        if code in ("401", "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise ConfigurationError(
                f"The S3 store refused these credentials for the bucket {bucket!r} ({code})."
            ) from exc
        raise BackendError(f"S3 check of the bucket {bucket!r} failed: {code}") from exc
    except BotoCoreError as exc:
        raise BackendError(f"S3 check of the bucket {bucket!r} failed: {exc}") from exc


def _redacted(url: str) -> str:
    """The URL without its query, which may hold the secret key."""
    return url.split("?", 1)[0]


def _object_digest(
    data: bytes, parts: list[memoryview] | None, algorithm: str
) -> tuple[bytes, str]:
    """What S3 reports for an object: the digest of its bytes for a single PUT; for a multipart
    upload the digest of the parts' digests and a `-{part count}` suffix."""
    if parts is None:
        return hashlib.new(algorithm, data, usedforsecurity=False).digest(), ""
    joined = b"".join(
        hashlib.new(algorithm, part, usedforsecurity=False).digest() for part in parts
    )
    return hashlib.new(algorithm, joined, usedforsecurity=False).digest(), f"-{len(parts)}"


def _expiry(seconds: int) -> int:
    if not 1 <= seconds <= MAX_EXPIRES_SECONDS:
        raise ValueError(
            f"A presigned URL lasts 1 to {MAX_EXPIRES_SECONDS} seconds, not {seconds}."
        )
    return seconds


def _is_inbox_key(key: str) -> bool:
    """No empty, `.` or `..` segment, also split at `\\` (which some stores, SeaweedFS among
    them, read as `/`), and no control character, which no store keeps in a key: a notification
    naming such a key names nothing that can be in the inbox."""
    segments = key.replace("\\", "/").split("/")
    controls = any(unicodedata.category(char) == "Cc" for char in key)
    return not controls and all(segment not in ("", ".", "..") for segment in segments)


def _file_name(name: str) -> str:
    """The last path segment of a client's file name, without control characters or `${}`."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    # "${filename}" would make boto3 sign a policy that accepts any key under the folder.
    clean = "".join(char for char in base if char.isprintable() and char not in "${}")[:200]
    return clean if clean not in ("", ".", "..") else "upload"


def _inline_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback for old clients, the exact name as RFC 5987 UTF-8."""
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_"
        for char in filename
    )
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
