"""Running out of disk without losing anything: a free-space floor under which uploads are
refused before any write can fail half-way, and disk-full errors turned into
`InsufficientStorage` (507) wherever they still happen."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sightline.errors import InsufficientStorage

OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def out_of_space_refused(what: str) -> Iterator[None]:
    """Turn a full disk (or quota) inside the block into `InsufficientStorage`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in OUT_OF_SPACE:
            raise InsufficientStorage(f"{what} failed: the disk is full.") from exc
        raise


class FreeSpaceFloor:
    """The local folders Sightline writes to, each of which must keep `min_free_bytes` free.
    Remote stores (S3, PostgreSQL) report a full disk through their own errors."""

    def __init__(self, folders: Sequence[Path], min_free_bytes: int) -> None:
        self.folders = list(dict.fromkeys(folders))
        self.min_free_bytes = min_free_bytes

    def check(self) -> None:
        """Raise `InsufficientStorage` if a folder's disk has less free space than the floor."""
        for folder in self.folders:
            free = shutil.disk_usage(_existing(folder)).free
            if free < self.min_free_bytes:
                raise InsufficientStorage(
                    f"The disk of {folder} has {free:,} bytes free, under the "
                    f"{self.min_free_bytes:,} kept free (SIGHTLINE_MIN_FREE_BYTES); uploads are "
                    "refused until space is freed."
                )


def _existing(folder: Path) -> Path:
    """The folder, or its nearest existing parent (a folder made on first write)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return folder
