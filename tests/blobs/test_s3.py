"""S3BlobStore on a real SeaweedFS: key layout, multipart uploads and their integrity checks,
streaming reads, presigned GET and POST, the inbox, and configuration errors."""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from sightline.blobs import Inbox, ObjectReader, open_blob_store
from sightline.blobs.s3 import S3BlobStore
from sightline.errors import BackendError, BlobNotFound, ConfigurationError, ImageTooLarge
from support.services import S3_ACCESS_KEY, S3_SECRET_KEY, Stack, free_port
from support.tcp_proxy import tcp_proxy

MiB = 1024 * 1024
DATA = b"the quick brown fox jumps over the lazy dog"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(s3_blob_url: str) -> S3BlobStore:
    return S3BlobStore.from_url(s3_blob_url)


@pytest.fixture
def small_parts(s3_blob_url: str) -> S3BlobStore:
    """Multipart from 5 MiB on, S3's smallest part size."""
    return S3BlobStore.from_url(s3_blob_url, part_size=5 * MiB)


def keys(store: S3BlobStore, under: str = "") -> list[str]:
    listing = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + under)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def head(store: S3BlobStore, sha256: str) -> dict[str, Any]:
    response: dict[str, Any] = store.client.head_object(
        Bucket=store.bucket, Key=store.blob_key(sha256), ChecksumMode="ENABLED"
    )
    return response


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# -- layout ----------------------------------------------------------------------------------


def test_blobs_are_keyed_by_sha256_under_the_prefix(store: S3BlobStore) -> None:
    assert store.prefix.endswith("/blobs-root/")
    store.put(DATA)
    store.put(DATA)
    other = store.put(b"other bytes")
    assert keys(store) == sorted(
        f"{store.prefix}blobs/{sha[:2]}/{sha[2:4]}/{sha}" for sha in (SHA, other)
    )


def test_without_a_prefix_blobs_live_at_the_bucket_root(services: Stack, s3_bucket: str) -> None:
    store = S3BlobStore.from_url(services.s3.blob_url(s3_bucket))
    assert store.prefix == ""
    sha = store.put(os.urandom(100))
    try:
        assert store.client.head_object(Bucket=s3_bucket, Key=f"blobs/{sha[:2]}/{sha[2:4]}/{sha}")
    finally:
        store.delete(sha)


def test_the_s3_scheme_opens_an_s3_store(s3_blob_url: str) -> None:
    store = open_blob_store(s3_blob_url)
    assert isinstance(store, S3BlobStore)
    assert isinstance(store, Inbox)


# -- uploads and their integrity ---------------------------------------------------------------


def test_a_small_blob_is_one_put_whose_checksum_is_its_address(small_parts: S3BlobStore) -> None:
    data = os.urandom(MiB)
    sha = small_parts.put(data)
    stored = head(small_parts, sha)
    assert stored["ChecksumSHA256"] == b64(bytes.fromhex(sha))
    assert stored["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'


def test_a_large_blob_is_uploaded_in_parts(small_parts: S3BlobStore) -> None:
    data = os.urandom(11 * MiB + 123)
    sha = small_parts.put(data)
    stored = head(small_parts, sha)
    assert stored["ETag"].endswith('-3"')
    parts = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    composite = hashlib.sha256(b"".join(hashlib.sha256(part).digest() for part in parts))
    assert stored["ChecksumSHA256"] == f"{b64(composite.digest())}-3"
    assert small_parts.size(sha) == len(data)
    with small_parts.open(sha) as blob:
        assert blob.read() == data


def flip_a_bit(body: Any) -> bytes:
    data = body if isinstance(body, bytes) else body.read()
    return bytes([data[0] ^ 1]) + data[1:]


def corrupt_body(request: Any, **_kwargs: Any) -> None:
    """Flip a bit of the body as sent, as a faulty network or proxy would."""
    request.body = flip_a_bit(request.body)


def test_bytes_corrupted_in_transit_are_refused(store: S3BlobStore) -> None:
    store.client.meta.events.register("before-send.s3.PutObject", corrupt_body)
    with pytest.raises(BackendError, match="BadDigest"):
        store.put(DATA)
    assert not store.exists(SHA)
    assert keys(store) == []


def test_a_part_corrupted_in_transit_fails_the_whole_upload(small_parts: S3BlobStore) -> None:
    small_parts.client.meta.events.register("before-send.s3.UploadPart", corrupt_body)
    data = os.urandom(11 * MiB)
    with pytest.raises(BackendError, match="BadDigest"):
        small_parts.put(data)
    assert not small_parts.exists(hashlib.sha256(data).hexdigest())
    uploads = small_parts.client.list_multipart_uploads(
        Bucket=small_parts.bucket, Prefix=small_parts.prefix
    )
    assert uploads.get("Uploads", []) == []


@pytest.mark.parametrize("corrupt", [False, True])
def test_the_etag_is_checked_when_the_store_keeps_no_checksum(
    store: S3BlobStore, corrupt: bool
) -> None:
    """A store that ignores checksum headers: the uploaded object's MD5 ETag must match."""

    def drop_checksums(request: Any, **kwargs: Any) -> None:
        for name in [name for name in request.headers if "checksum" in name.lower()]:
            del request.headers[name]
        if corrupt:
            request.data = flip_a_bit(request.data)

    store.client.meta.events.register("before-sign.s3.PutObject", drop_checksums)
    if not corrupt:
        assert store.put(DATA) == SHA
        assert "ChecksumSHA256" not in head(store, SHA)
        return
    with pytest.raises(BackendError, match="other bytes"):
        store.put(DATA)
    assert keys(store) == []


def test_an_unfinished_multipart_upload_is_a_stale_part(store: S3BlobStore) -> None:
    """What a process killed in the middle of a large put leaves: parts the store keeps."""
    key = store.blob_key(SHA)
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    store.client.upload_part(
        Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=DATA
    )
    assert store.remove_stale_parts(3600) == 0  # it may be a put in flight
    assert store.remove_stale_parts(0, dry_run=True) == 1
    assert store.remove_stale_parts(0) == 1
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    assert uploads.get("Uploads", []) == []
    assert not store.exists(SHA)


def test_an_unfinished_multipart_upload_to_the_inbox_is_a_stale_part(store: S3BlobStore) -> None:
    """What another system dropping a large object in the inbox leaves when it dies midway."""
    key = f"{store.prefix}incoming/camera-1/large.tif"
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    store.client.upload_part(
        Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=DATA
    )
    assert store.remove_stale_parts(3600) == 0
    assert store.remove_stale_parts(0) == 1
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    assert uploads.get("Uploads", []) == []


def test_the_listing_holds_blobs_only(store: S3BlobStore) -> None:
    store.put(DATA)
    for key in ("incoming/0123/photo.jpg", f"blobs/{SHA[:2]}/{SHA[2:4]}/notes.txt", SHA):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=b"x")
    assert [blob.sha256 for blob in store.list_blobs()] == [SHA]


def test_a_small_blob_costs_one_request_whether_or_not_it_exists(store: S3BlobStore) -> None:
    sent: list[str] = []
    store.client.meta.events.register(
        "before-send.s3.*", lambda request, **_: sent.append(request.method)
    )
    store.put(DATA)
    store.put(DATA)
    assert sent == ["PUT", "PUT"]
    assert store.size(SHA) == len(DATA)


def test_put_skips_a_large_blob_that_exists(small_parts: S3BlobStore) -> None:
    data = os.urandom(6 * MiB)
    small_parts.put(data)
    sent: list[str] = []
    small_parts.client.meta.events.register(
        "before-send.s3.*", lambda request, **_: sent.append(request.method)
    )
    small_parts.put(data)
    assert sent == ["HEAD"]


# -- streaming reads ----------------------------------------------------------------------------


def test_open_streams_instead_of_loading_the_blob(store: S3BlobStore) -> None:
    data = os.urandom(8 * MiB)
    sha = store.put(data)
    tracemalloc.start()
    try:
        with store.open(sha) as blob:
            first = blob.read(64 * 1024)
            blob.seek(6 * MiB)
            later = blob.read(64 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first == data[: 64 * 1024]
    assert later == data[6 * MiB : 6 * MiB + 64 * 1024]
    assert peak < MiB


def test_a_blob_deleted_while_open_is_not_found_on_the_next_fetch(store: S3BlobStore) -> None:
    data = os.urandom(MiB)
    sha = store.put(data)
    with store.open(sha) as blob:
        assert blob.read(10) == data[:10]
        store.delete(sha)
        blob.seek(MiB // 2)
        with pytest.raises(BlobNotFound):
            blob.read(10)


# -- presigned GET ------------------------------------------------------------------------------


def test_a_presigned_url_serves_the_bytes_with_type_and_name(store: S3BlobStore) -> None:
    store.put(DATA)
    url = store.presigned_url(
        SHA, expires_seconds=60, filename='Ünï "cat".jpg', content_type="image/jpeg"
    )
    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"] == (
        "inline; filename=\"_n_ _cat_.jpg\"; filename*=UTF-8''%C3%9Cn%C3%AF%20%22cat%22.jpg"
    )


def test_a_presigned_url_without_a_name_sets_no_disposition(store: S3BlobStore) -> None:
    store.put(DATA)
    url = store.presigned_url(SHA, expires_seconds=60, content_type="image/webp")
    assert url is not None
    response = httpx.get(url)
    assert response.headers["content-type"] == "image/webp"
    assert "content-disposition" not in response.headers


def test_a_tampered_or_expired_presigned_url_is_refused(store: S3BlobStore) -> None:
    store.put(DATA)
    url = store.presigned_url(SHA, expires_seconds=1, content_type="image/jpeg")
    assert url is not None
    assert httpx.get(url.replace("image%2Fjpeg", "text%2Fhtml")).status_code == 403
    time.sleep(2.1)
    assert httpx.get(url).status_code == 403


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
def test_presigned_urls_last_between_a_second_and_a_week(store: S3BlobStore, seconds: int) -> None:
    with pytest.raises(ValueError):
        store.presigned_url(SHA, expires_seconds=seconds)


# -- the inbox: presigned POST and incoming objects -------------------------------------------


def post_form(url: str, fields: dict[str, str], payload: bytes) -> httpx.Response:
    return httpx.post(url, data=fields, files={"file": ("cat.jpg", payload, "image/jpeg")})


def test_a_presigned_post_lands_in_the_inbox(store: S3BlobStore) -> None:
    post = store.presigned_post("holiday/cat.jpg", max_bytes=1000, expires_seconds=60)
    assert post.key.endswith("/cat.jpg")
    response = post_form(post.url, post.fields, b"x" * 1000)
    assert response.status_code == 204, response.text
    object_key = f"{store.prefix}incoming/{post.key}"
    assert keys(store, "incoming/") == [object_key]
    assert store.inbox_key(store.bucket, object_key) == post.key
    assert store.read_incoming(post.key, max_bytes=1000) == b"x" * 1000
    store.delete_incoming(post.key)
    with pytest.raises(BlobNotFound):
        store.read_incoming(post.key, max_bytes=1000)
    store.delete_incoming(post.key)


def test_the_store_enforces_the_post_size_limit(store: S3BlobStore) -> None:
    post = store.presigned_post("cat.jpg", max_bytes=1000, expires_seconds=60)
    response = post_form(post.url, post.fields, b"x" * 1001)
    assert response.status_code == 400
    assert "EntityTooLarge" in response.text
    assert keys(store, "incoming/") == []


def test_a_post_to_another_key_is_refused(store: S3BlobStore) -> None:
    post = store.presigned_post("cat.jpg", max_bytes=1000, expires_seconds=60)
    fields = {**post.fields, "key": store.blob_key(SHA)}
    assert post_form(post.url, fields, DATA).status_code == 403
    assert not store.exists(SHA)


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("${filename}", "filename"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.jpg", "x.jpg"),
        ("a\x00b\nc.jpg", "abc.jpg"),
        ("", "upload"),
        ("..", "upload"),
        ("Ünïcode cat.jpg", "Ünïcode cat.jpg"),
    ],
)
def test_post_names_become_one_safe_segment(store: S3BlobStore, name: str, file_name: str) -> None:
    post = store.presigned_post(name, max_bytes=10, expires_seconds=60)
    token, last = post.key.split("/")
    assert last == file_name
    assert len(token) == 32


def test_a_too_large_incoming_object_is_refused_unread(store: S3BlobStore) -> None:
    store.client.put_object(
        Bucket=store.bucket, Key=f"{store.prefix}incoming/big.jpg", Body=os.urandom(8 * MiB)
    )
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge):
            store.read_incoming("big.jpg", max_bytes=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB


def test_the_inbox_lists_the_objects_written_before_a_time(store: S3BlobStore) -> None:
    for key in ("a/one.jpg", "b/two.jpg"):
        store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}incoming/{key}", Body=DATA)
    store.put(DATA)  # a blob, not in the inbox
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert sorted(store.list_incoming(later)) == ["a/one.jpg", "b/two.jpg"]
    assert list(store.list_incoming(later - timedelta(minutes=10))) == []


def test_bucket_notifications_map_to_inbox_keys(store: S3BlobStore) -> None:
    inbox = f"{store.prefix}incoming/"
    assert store.inbox_key(store.bucket, f"{inbox}cam1/2024/a.jpg") == "cam1/2024/a.jpg"
    assert store.inbox_key("other-bucket", f"{inbox}a.jpg") is None
    assert store.inbox_key(store.bucket, store.blob_key(SHA)) is None
    assert store.inbox_key(store.bucket, "incoming/a.jpg") is None
    assert store.inbox_key(store.bucket, f"{inbox}../blobs/a") is None
    assert store.inbox_key(store.bucket, inbox) is None
    # Keys no store can hold: a notification naming one names nothing in the inbox (reading
    # it would be the store's refusal, a 503 that has the notification sent again and again).
    assert store.inbox_key(store.bucket, f"{inbox}drop/..\\..\\boot.ini") is None
    assert store.inbox_key(store.bucket, f"{inbox}drop/a\x00.jpg") is None
    assert store.inbox_key(store.bucket, f"{inbox}drop/a\r\n.jpg") is None
    assert store.inbox_key(store.bucket, f"{inbox}{'a' * 1024}.jpg") is None
    assert store.inbox_key(store.bucket, f"{inbox}drop/ünï cödé \u202e.jpg") is not None


@pytest.mark.parametrize(
    "key", ["", "/a.jpg", "a//b.jpg", "../blobs/x", "a/./b", "a/", "a\\..\\x", "a\x00.jpg"]
)
def test_inbox_keys_are_validated(store: S3BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.read_incoming(key, max_bytes=10)
    with pytest.raises(ValueError):
        store.delete_incoming(key)


# -- the public endpoint --------------------------------------------------------------------


@pytest.fixture
def public_port(services: Stack) -> Iterator[int]:
    """Another address of the same SeaweedFS, as browsers would reach it through a proxy."""
    with tcp_proxy(services.s3.ports["s3"]) as port:
        yield port


def test_presigned_urls_and_forms_name_the_public_endpoint(
    s3_blob_url: str, public_port: int
) -> None:
    public = f"http://localhost:{public_port}"
    store = S3BlobStore.from_url(f"{s3_blob_url}&public_endpoint={public}")
    store.put(DATA)  # through the internal endpoint
    url = store.presigned_url(SHA, expires_seconds=60, content_type="image/jpeg")
    assert url is not None and url.startswith(f"{public}/{store.bucket}/")
    response = httpx.get(url)
    assert response.status_code == 200, response.text  # signed for the host it reaches
    assert response.content == DATA

    post = store.presigned_post("cat.jpg", max_bytes=1000, expires_seconds=60)
    assert post.url.startswith(f"{public}/")
    assert post_form(post.url, post.fields, b"x" * 10).status_code == 204
    assert store.read_incoming(post.key, max_bytes=1000) == b"x" * 10


def test_a_url_signed_for_the_internal_endpoint_fails_at_the_public_one(
    store: S3BlobStore, services: Stack, public_port: int
) -> None:
    """Why the public endpoint must sign: the host is part of the signature."""
    store.put(DATA)
    url = store.presigned_url(SHA, expires_seconds=60)
    assert url is not None
    internal = services.s3.endpoint
    assert httpx.get(url.replace(internal, f"http://localhost:{public_port}")).status_code == 403


# -- configuration -----------------------------------------------------------------------------


def url_with(services: Stack, bucket: str, **params: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"s3://{bucket}/?{query}"


@pytest.mark.s3
def test_a_missing_bucket_is_a_configuration_error(services: Stack) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        S3BlobStore.from_url(services.s3.blob_url("no-such-bucket"))


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [(S3_ACCESS_KEY, "wrong-secret"), ("unknown-key", S3_SECRET_KEY)],
)
def test_refused_credentials_are_a_configuration_error(
    services: Stack, s3_bucket: str, access_key: str, secret_key: str
) -> None:
    url = url_with(
        services,
        s3_bucket,
        endpoint=services.s3.endpoint,
        access_key=access_key,
        secret_key=secret_key,
    )
    with pytest.raises(ConfigurationError, match="refused"):
        S3BlobStore.from_url(url)


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """boto3's credential chain with nothing but what a test sets in the environment."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield monkeypatch


def test_without_keys_the_standard_credential_chain_is_used(
    services: Stack, s3_bucket: str, aws_environment: pytest.MonkeyPatch
) -> None:
    url = url_with(services, s3_bucket, endpoint=services.s3.endpoint, region="us-east-1")
    with pytest.raises(ConfigurationError, match="No S3 credentials"):
        S3BlobStore.from_url(url)
    aws_environment.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    aws_environment.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    assert S3BlobStore.from_url(url).exists(SHA) is False


def test_parameters_are_percent_decoded(services: Stack, s3_bucket: str) -> None:
    url = url_with(
        services,
        s3_bucket,
        endpoint=services.s3.endpoint.replace(":", "%3A"),
        access_key=S3_ACCESS_KEY,
        secret_key=S3_SECRET_KEY.replace("-", "%2D"),
    )
    assert S3BlobStore.from_url(url).bucket == s3_bucket


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket?endpont=http://x", "Unknown S3 blob URL parameter 'endpont'"),
        ("s3://bucket?access_key=a", "both access_key and secret_key"),
        ("s3://bucket?endpoint=not a url&access_key=a&secret_key=b", "Bad S3 blob URL"),
    ],
)
def test_malformed_urls_are_configuration_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        S3BlobStore.from_url(url)


def test_parts_below_the_s3_minimum_are_refused(s3_blob_url: str) -> None:
    with pytest.raises(ConfigurationError, match="part size"):
        S3BlobStore.from_url(s3_blob_url, part_size=MiB)


def test_an_unreachable_store_is_a_backend_error() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError):
        S3BlobStore.from_url(
            f"s3://bucket?endpoint={endpoint}&access_key=a&secret_key=b&region=us-east-1"
        )
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"max_attempts": 1}),
    )
    store = S3BlobStore(client, "bucket")
    for call in (lambda: store.put(DATA), lambda: store.exists(SHA), lambda: store.open(SHA)):
        with pytest.raises(BackendError):
            call()


def test_without_boto3_the_error_names_the_extra(
    s3_blob_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "sightline.blobs.s3")
    with pytest.raises(ConfigurationError, match=r"pip install 'sightline\[scale\]'"):
        open_blob_store(s3_blob_url)
    with pytest.raises(ConfigurationError):
        importlib.import_module("sightline.blobs.s3")


# -- any object, as the AWS Rekognition facade's S3Object names it -----------------------------


def test_read_object_reads_any_object_its_credentials_reach(
    store: S3BlobStore, services: Stack
) -> None:
    other = services.s3.new_bucket()
    services.s3.client().put_object(Bucket=other, Key="photos/cat.jpg", Body=b"x" * 100)
    assert isinstance(store, ObjectReader)
    assert store.read_object(other, "photos/cat.jpg", None, max_bytes=100) == b"x" * 100
    with pytest.raises(ImageTooLarge):
        store.read_object(other, "photos/cat.jpg", None, max_bytes=99)
    with pytest.raises(BlobNotFound):
        store.read_object(other, "photos/dog.jpg", None, max_bytes=100)
    with pytest.raises(BlobNotFound):
        store.read_object(f"{other}-gone", "photos/cat.jpg", None, max_bytes=100)
