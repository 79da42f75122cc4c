"""Blobs as files under one folder: `ab/cd/abcd…` by sha256, written atomically."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from sightline.blobs.base import StoredBlob, is_sha256
from sightline.disk_space import out_of_space_refused
from sightline.errors import BlobNotFound, ConfigurationError

# A blob is written into tmp/ and renamed within a request; a part older than this was left by
# a process that died mid-write (processes sharing the folder keep their fresh parts).
STALE_PART_SECONDS = 15 * 60
_FANOUT = re.compile(r"[0-9a-f]{2}")


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self.remove_stale_parts()

    def remove_stale_parts(
        self, older_than: float = STALE_PART_SECONDS, *, dry_run: bool = False
    ) -> int:
        """Delete (or with `dry_run` count) what crashed writes left in tmp/."""
        cutoff = time.time() - older_than
        stale = 0
        for part in self._tmp.glob("*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    if not dry_run:
                        part.unlink()
                    stale += 1
            except FileNotFoundError:
                continue  # renamed into place or removed by another process meanwhile
        return stale

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Walks `ab/cd/` folders in name order: the files come out in sha256 order."""
        for first in _fanout(self.root):
            for second in _fanout(first):
                for name, path in _entries(second):
                    if not is_sha256(name) or path != self._path(name):
                        continue  # not a blob Sightline wrote; never ours to report or sweep
                    try:
                        stat = path.stat()
                    except FileNotFoundError:
                        continue  # deleted since the folder was read
                    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                    yield StoredBlob(name, stat.st_size, modified)

    @classmethod
    def from_url(cls, url: str) -> LocalBlobStore:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                f"A file:// blob URL names a local folder, not a host: {url!r}"
            )
        if not parts.path:
            raise ConfigurationError(f"The file:// blob URL {url!r} has no folder.")
        return cls(Path(unquote(parts.path)))

    def _path(self, sha256: str) -> Path:
        # The key is validated as 64 hex digits, so it can never climb out of root.
        if not is_sha256(sha256):
            raise ValueError(f"Not a sha256 blob key: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        with out_of_space_refused(f"Writing a blob into {self.root}"):
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix=sha256[:8], suffix=".part")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        _fsync_dir(path.parent)
        return sha256

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self._path(sha256).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(f"Blob {sha256} is missing from the store.") from exc

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(f"Blob {sha256} is missing from the store.") from exc

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def presigned_url(
        self,
        sha256: str,
        *,
        expires_seconds: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """None: files in a local folder have no URL of their own; the API serves them."""
        self._path(sha256)
        return None


def _fanout(folder: Path) -> Iterator[Path]:
    for name, path in _entries(folder):
        if _FANOUT.fullmatch(name) and path.is_dir():
            yield path


def _entries(folder: Path) -> list[tuple[str, Path]]:
    """A folder's entries by name; none when it was removed meanwhile."""
    try:
        with os.scandir(folder) as entries:
            return sorted((entry.name, Path(entry.path)) for entry in entries)
    except FileNotFoundError:
        return []


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable, not just the file's bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
