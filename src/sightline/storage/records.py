"""Records every domain shares: images, their per-feature states, blob references and
stored events, as the database keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from sightline.collection import DEFAULT_COLLECTION

JSON = dict[str, Any]
Vector = npt.NDArray[np.float32]


class ImageStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class FeatureStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_FEATURE_STATES = frozenset(
    {FeatureStatus.DONE, FeatureStatus.FAILED, FeatureStatus.SKIPPED}
)


def image_status(features: Sequence[FeatureStatus]) -> ImageStatus:
    """`failed` as soon as every feature ended and one of them failed; the map says which."""
    if all(state in TERMINAL_FEATURE_STATES for state in features):
        failed = any(state is FeatureStatus.FAILED for state in features)
        return ImageStatus.FAILED if failed else ImageStatus.DONE
    if all(state is FeatureStatus.PENDING for state in features):
        return ImageStatus.PENDING
    return ImageStatus.PROCESSING


@dataclass(frozen=True)
class FeatureState:
    feature: str
    status: FeatureStatus
    analyzer: str
    version: str
    result: JSON | None = None
    error: JSON | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ImageRecord:
    id: str
    sha256: str
    filename: str | None
    content_type: str
    format: str
    size: int
    width: int
    height: int
    status: ImageStatus
    client_metadata: JSON
    duplicate_of: str | None
    created_at: datetime
    updated_at: datetime
    features: dict[str, FeatureState] = field(default_factory=dict)
    collection: str = DEFAULT_COLLECTION


@dataclass(frozen=True)
class NewImage:
    id: str
    sha256: str
    filename: str | None
    content_type: str
    format: str
    size: int
    width: int
    height: int
    client_metadata: JSON
    features: Sequence[FeatureState]
    collection: str = DEFAULT_COLLECTION


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    role: str


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    envelope: JSON


class BlobKeeper(Protocol):
    """Blob-store side effects the catalog runs while it holds a blob's row lock."""

    def ensure(self, sha256: str) -> None:
        """Make sure the blob exists, writing it again if a concurrent delete removed it."""

    def discard(self, sha256: str) -> None:
        """Remove a blob that nothing references any more."""


class ResultIndex(Protocol):
    """An index derived from feature results (search documents, vectors), kept current by the
    image store inside the transaction that changes the results."""

    def refresh(self, conn: Connection, image_id: str, changed: Sequence[FeatureState]) -> None:
        """Bring the image's entries up to date; `changed` were just written, and every result
        of the image is readable through `conn`."""

    def added(self, conn: Connection, images: Sequence[tuple[str, str | None]]) -> None:
        """Enter new images (id, file name), whose features are all pending: what `refresh`
        would make of each, without reading back what the same transaction has just written."""
