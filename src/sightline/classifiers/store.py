"""What the classifiers domain keeps: classifiers, their labelled examples and trained
versions, behind the `ClassifierStore` its service uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sightline.collection import DEFAULT_COLLECTION
from sightline.storage.change_marks import ChangeMark
from sightline.storage.records import JSON

PREFIX = "custom:"  # every custom classifier's feature: `custom:NAME`


class VersionStatus(StrEnum):
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ClassifierRecord:
    id: str
    name: str
    kind: str
    description: str
    published_version: int | None
    run_on_upload: bool
    created_at: datetime
    updated_at: datetime
    label_counts: dict[str, int] = field(default_factory=dict)  # examples per label
    example_count: int = 0  # labelled images
    collection: str = DEFAULT_COLLECTION  # its examples and predictions are this one's images


@dataclass(frozen=True)
class ClassifierVersion:
    classifier_id: str
    number: int
    status: VersionStatus
    threshold: float
    labels: list[str]
    example_count: int
    embedding_version: str
    metrics: JSON | None
    head: bytes | None
    error: JSON | None
    seconds: float | None
    created_at: datetime
    finished_at: datetime | None


# Renewed by every change to which classifiers are published or attached to uploads.
CHANGE_MARK = "classifiers"


@dataclass(frozen=True)
class Published:
    """A classifier with a published version: what the pipeline needs, in one cheap read."""

    id: str
    name: str
    version: int
    run_on_upload: bool


@dataclass(frozen=True)
class Example:
    image_id: str
    labels: tuple[str, ...]


class ClassifierStore(Protocol):
    """Classifiers, their labelled examples and trained versions. Versions are immutable once
    finished; deleting a classifier removes its examples, versions and prediction results.

    A classifier belongs to one collection: its name is unique there, its examples are images
    of that collection, and its predictions (`custom:NAME`) are made on them only. Reads take
    `collection`: another collection's classifier is not found (None: every one is)."""

    def create(
        self, classifier_id: str, name: str, kind: str, description: str, collection: str
    ) -> ClassifierRecord:
        """Raises `ClassifierExists` when the name is taken in the collection."""

    def get(self, classifier_id: str, collection: str | None = None) -> ClassifierRecord | None: ...

    def by_name(self, name: str, collection: str) -> ClassifierRecord | None: ...

    def list_classifiers(self, collection: str | None = None) -> list[ClassifierRecord]: ...

    def published(self, collection: str) -> dict[str, Published]:
        """The collection's classifiers with a published version, by name."""

    def run_on_upload(self, collection: str) -> tuple[list[str], ChangeMark]:
        """The names of the collection's published classifiers attached to its uploads, and
        the mark of the classifiers (`CHANGE_MARK`) they were read under."""

    def update(self, classifier_id: str, **changes: Any) -> ClassifierRecord | None:
        """Change `description`, `run_on_upload` or `published_version`."""

    def delete(self, classifier_id: str) -> ClassifierRecord | None: ...

    def add_examples(
        self, classifier_id: str, examples: Sequence[Example], *, single_label: bool
    ) -> list[bool]:
        """Label images (all or none written); per example, False when its image does not
        exist in the classifier's collection. `single_label` replaces an image's previous
        label (multiclass)."""

    def remove_examples(
        self, classifier_id: str, image_ids: Sequence[str], label: str | None
    ) -> int:
        """Remove these images' labels (only `label`, if given); returns rows removed."""

    def examples(
        self,
        classifier_id: str,
        *,
        label: str | None = None,
        after_image_id: str | None = None,
        limit: int | None = None,
    ) -> list[Example]:
        """Labelled images in image-id order (oldest first), each with all its labels."""

    def add_version(
        self,
        classifier_id: str,
        *,
        threshold: float,
        labels: Sequence[str],
        examples: Sequence[Example],
        embedding_version: str,
        event: JSON,
    ) -> ClassifierVersion:
        """A new `training` version numbered after the last, with the training request event."""

    def version(self, classifier_id: str, number: int) -> ClassifierVersion | None: ...

    def versions(self, classifier_id: str) -> list[ClassifierVersion]:
        """Newest first."""

    def version_examples(self, classifier_id: str, number: int) -> list[Example]:
        """The examples copied into the version when its training was requested."""

    def finish_version(
        self,
        classifier_id: str,
        number: int,
        *,
        metrics: JSON | None,
        head: bytes | None,
        error: JSON | None,
        seconds: float,
        event: JSON,
    ) -> ClassifierVersion | None:
        """Record the training outcome (ready with metrics and head, or failed with the error)
        and its event, once: a version that already finished is returned unchanged."""


def prediction_feature(name: str) -> str:
    """The feature under which a classifier's predictions are stored on images."""
    return f"{PREFIX}{name}"
