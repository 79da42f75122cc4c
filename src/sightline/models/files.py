"""Model folders on disk: checksums, and replacing a folder so readers never see half of one."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def swap_into_place(staging: Path, target: Path) -> None:
    """Rename the staged folder into place; a replaced folder is renamed away first and deleted
    last, so readers always see a complete old or new model, and a crash never leaves a
    half-deleted one."""
    if not target.exists():
        staging.rename(target)
        return
    doomed = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-replaced-"))
    target.rename(doomed / target.name)
    staging.rename(target)
    shutil.rmtree(doomed)
