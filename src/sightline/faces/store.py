"""What the faces domain keeps: each face with its descriptor, the cluster it was grouped into,
the person it is known as, the people, and the "not the same" marks (`faces/sql.py` keeps them
in the catalog's database, either kind).

A face comes from an image's `face_embedding` result (one per descriptor) and goes with the
image, with its person, when deleted alone, or when every face is purged. Its descriptor is
biometric data: deleting a face also empties its `vector` in the image's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

FACE_PREFIX = "face_"
CLUSTER_PREFIX = "cluster_"
PERSON_PREFIX = "person_"


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class FaceRecord:
    id: str
    image_id: str
    collection: str
    feature: str  # whose result holds the face
    position: int  # in that result's `faces`
    box: Box
    confidence: float
    version: str  # the `face_embedding` analyzer's: descriptors of two versions never compare
    cluster_id: str | None  # None until grouped
    person_id: str | None
    enrolled: bool  # the person was said by a user; otherwise matched to an enrolled face
    created_at: datetime


@dataclass(frozen=True)
class PersonRecord:
    id: str
    collection: str
    name: str
    faces: int
    images: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ClusterRecord:
    id: str
    collection: str
    faces: int
    sample: Sequence[str]  # a few of its face ids, best detected first
    person_id: str | None  # the person most of its faces are known as, if any


@dataclass(frozen=True)
class FaceQuery:
    collection: str | None
    image_id: str | None = None
    person_id: str | None = None
    cluster_id: str | None = None
    after_id: str | None = None  # faces after this id, in id order
    limit: int = 50
