"""Blob stores to test: a folder under the test's temporary path and a fresh prefix in a bucket
on the session's SeaweedFS (each new bucket costs SeaweedFS a volume: one for the run will do).
`store` runs a test on both; a module about one backend overrides it."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from sightline.blobs import BlobStore, open_blob_store
from support.services import Stack


@pytest.fixture
def file_blob_url(tmp_path: Path) -> str:
    return (tmp_path / "blobs").as_uri()


@pytest.fixture(scope="session")
def s3_bucket(services: Stack) -> str:
    return services.s3.new_bucket()


@pytest.fixture
def s3_blob_url(services: Stack, s3_bucket: str) -> str:
    return services.s3.blob_url(s3_bucket, f"test-{secrets.token_hex(6)}/blobs-root")


@pytest.fixture(params=["file", "s3"])
def blob_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_blob_url")
    return url


@pytest.fixture
def store(blob_url: str) -> BlobStore:
    return open_blob_store(blob_url)
