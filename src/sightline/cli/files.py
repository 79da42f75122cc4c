"""Which files the batch commands send: paths, folders and glob patterns turned into files.

A file named on the command line (or matched by a pattern the user wrote) is always sent: the
server says whether it is an image. From folders, searched recursively, only files whose
extension looks like an image's are taken, and hidden files and folders (`.git`, editors'
and downloaders' temporary files, the watch state file) are left out.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".avif",
        ".heic",
        ".heif",
    }
)


def looks_like_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def folder_images(folder: Path) -> Iterator[Path]:
    """The image-looking files under `folder`, in a stable (sorted) order, hidden ones left out."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and looks_like_image(path):
            yield path


def image_files(arguments: Iterable[str]) -> list[Path]:
    """The files `arguments` name: files as they are, folders searched recursively for images,
    glob patterns (`shots/**/*.png`, quoted so the shell leaves them to us) expanded. Each
    file once, in the order given. A name that matches nothing is a usage error."""
    found: dict[Path, None] = {}
    for argument in arguments:
        if glob.has_magic(argument):
            matches = [Path(match) for match in sorted(glob.glob(argument, recursive=True))]
            if not matches:
                raise click.BadParameter(f"{argument!r} matches no files.", param_hint="PATH")
        else:
            matches = [Path(argument)]
            if not matches[0].exists():
                raise click.BadParameter(
                    f"{argument!r}: no such file or folder.", param_hint="PATH"
                )
        for match in matches:
            for path in folder_images(match) if match.is_dir() else [match]:
                found.setdefault(path, None)
    return list(found)


def labelled_folders(folder: Path) -> dict[str, list[Path]]:
    """`folder`'s sub-folders as labels, each with its images (`DIR/cat/*.jpg` → `cat`)."""
    labels = {
        child.name: list(folder_images(child))
        for child in sorted(folder.iterdir())
        if child.is_dir() and not child.name.startswith(".")
    }
    if not labels:
        raise click.BadParameter(
            f"{str(folder)!r} has no sub-folders: put each label's images in a folder named "
            "after the label (DIR/cat/*.jpg, DIR/dog/*.jpg).",
            param_hint="DIR",
        )
    return labels


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_error(exc: OSError) -> str:
    """An unreadable file, in words (`Permission denied`, not `[Errno 13] …`)."""
    return f"Cannot read the file: {exc.strerror or exc}."
