"""Typed answers of the API, which also read like the JSON mappings older clients returned.

Each model names the OpenAPI component it mirrors (`schema_name`); tests/client/test_models.py
checks every declared field against the served document, so the two cannot drift apart.
Written by hand rather than generated: the client stays free of a code generator and of the
document's ~120 components, most of them parts of results nobody reads by attribute, and the
two things a generator would not give are needed anyway (the JSON-mapping reading, and the
result's type chosen by the feature's name, which `FeatureOut.result`'s anyOf cannot say). The
models declare what a caller reads and allow every other field (a newer server's), and each one
keeps the JSON it was made from: `image["features"]["tags"]["result"]["tags"]`, `image.get(…)`,
`dict(image)` and `model_dump()` give exactly what the server sent.

Feature results are typed by the feature's name (`tags` → `TagsResult`, `custom:NAME` →
`CustomPrediction`, `model:NAME` → `LabelsResult` or `EmbeddingResult`, a skipped feature's →
`SkippedResult`); a result that a newer server shapes
differently is kept as a plain `Result` rather than failing the whole answer.
"""

from __future__ import annotations

import copy
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)


class JsonRecord(BaseModel):
    """An answer (or part of one): typed attributes, and read-only mapping access to the JSON
    it was made from (`Record` adds `items()` and `values()`; a `Page`, whose `items` is its
    list, cannot)."""

    model_config = ConfigDict(extra="allow")
    schema_name: ClassVar[str | None] = None  # the OpenAPI component it mirrors
    _json: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_json(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        record = handler(data)
        if isinstance(data, Mapping):
            record._json = dict(data)
        return record

    @model_serializer(mode="wrap")
    def _as_sent(self, handler: SerializerFunctionWrapHandler) -> Any:
        # What the server sent, untouched: newer fields and all (a copy: callers may edit it).
        return copy.deepcopy(self._json) if self._json is not None else handler(self)

    def _mapping(self) -> dict[str, Any]:
        return self._json if self._json is not None else self.model_dump(mode="json")

    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._mapping().get(key, default)

    def keys(self) -> KeysView[str]:
        return self._mapping().keys()

    def __contains__(self, key: object) -> bool:
        return key in self._mapping()

    # Iterating reads like a mapping (its keys), as answers did when they were dicts; pydantic's
    # own (name, value) pairs stay available through `model_dump()`.
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self._mapping())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._mapping() == dict(other)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class Record(JsonRecord):
    def items(self) -> ItemsView[str, Any]:
        return self._mapping().items()

    def values(self) -> ValuesView[Any]:
        return self._mapping().values()


class Page(JsonRecord):
    """An answer whose JSON lists its entries under `items`: `page.items` is that list, typed
    (`page["items"]` the JSON one)."""


# -- feature results ---------------------------------------------------------------------------


class Result(Record):
    """A feature's result; the subclasses type the known features' fields."""


class Box(Record):
    schema_name = "Box"
    x: int
    y: int
    w: int
    h: int


class Tag(Record):
    schema_name = "Tag"
    name: str
    confidence: float
    source: str = "imagenet"
    broader: list[str] = []


class ImageClass(Record):
    schema_name = "ImageClass"
    name: str
    confidence: float


class TagsResult(Result):
    schema_name = "TagsResult"
    tags: list[Tag] = []
    classes: list[ImageClass] = []


class TextLine(Record):
    schema_name = "TextLine"
    text: str
    confidence: float
    box: Box | None = None


class ReadResult(Result):
    schema_name = "ReadResult"
    text: str = ""
    lines: list[TextLine] = []


class Face(Record):
    schema_name = "Face"
    box: Box
    confidence: float


class FacesResult(Result):
    schema_name = "FacesResult"
    faces: list[Face] = []


class FaceDescriptor(Record):
    schema_name = "FaceDescriptor"
    box: Box
    confidence: float
    vector: list[float] | None = None  # only when asked for (`include_vectors=True`)


class FaceEmbeddingResult(Result):
    schema_name = "FaceEmbeddingResult"
    dimensions: int
    faces: list[FaceDescriptor] = []


class Person(Record):
    schema_name = "Person"
    box: Box
    confidence: float


class PeopleResult(Result):
    schema_name = "PeopleResult"
    people: list[Person] = []


class DetectedObject(Record):
    schema_name = "DetectedObject"
    label: str
    confidence: float
    box: Box


class DetectorObjects(Record):
    schema_name = "DetectorObjects"
    objects: list[DetectedObject] = []


class ObjectsResult(Result):
    schema_name = "ObjectsResult"
    detectors: list[DetectorObjects] = []

    @property
    def objects(self) -> list[DetectedObject]:
        """Every detector's objects, most confident first."""
        found = [item for detector in self.detectors for item in detector.objects]
        return sorted(found, key=lambda item: item.confidence, reverse=True)


class PaletteColor(Record):
    schema_name = "PaletteColor"
    hex: str
    name: str
    fraction: float


class ColorResult(Result):
    schema_name = "ColorResult"
    dominant_colors: list[str] = []
    dominant_color_foreground: str | None = None
    dominant_color_background: str | None = None
    accent_color: str | None = None
    is_black_and_white: bool = False
    palette: list[PaletteColor] = []


class ImageTypeResult(Result):
    schema_name = "ImageTypeResult"
    type: str
    graphic: str | None = None


class QualityResult(Result):
    schema_name = "QualityResult"
    score: float


class EmbeddingResult(Result):
    schema_name = "EmbeddingResult"
    dimensions: int
    normalized: bool = True
    vector: list[float] | None = None  # only when asked for (`include_vectors=True`)


class SemanticResult(Result):
    schema_name = "SemanticResult"
    method: str
    dimensions: int
    vector: list[float] | None = None


class HashResult(Result):
    schema_name = "HashResult"
    phash: str
    dhash: str
    ahash: str
    whash: str


class MetadataResult(Result):
    schema_name = "MetadataResult"
    format: str
    content_type: str
    width: int
    height: int
    exif: dict[str, Any] | None = None


class ThumbnailResult(Result):
    schema_name = "ThumbnailResult"
    content_type: str
    sizes: dict[str, dict[str, Any]] = {}


class AdultResult(Result):
    schema_name = "AdultResult"
    is_adult: bool
    adult_score: float
    is_racy: bool
    racy_score: float


class Crop(Record):
    schema_name = "Crop"
    aspect_ratio: float
    box: Box


class SmartCropResult(Result):
    schema_name = "SmartCropResult"
    crops: list[Crop] = []


class Label(Record):
    schema_name = "Label"
    name: str
    confidence: float


class LabelsResult(Result):
    schema_name = "LabelsResult"
    labels: list[Label] = []


class ClassifierRef(Record):
    schema_name = "ClassifierRef"
    id: str
    name: str
    version: int


class CustomPrediction(Result):
    """A custom classifier's verdict on an image (feature `custom:NAME`)."""

    schema_name = "CustomPrediction"
    classifier: ClassifierRef | None = None
    kind: str = ""
    threshold: float = 0.0
    labels: list[Label] = []
    predicted: list[str] = []


class SkippedResult(Result):
    schema_name = "SkippedResult"
    reason: str


# The result type of each feature, as FeatureOut's `result` description lists them (a test
# holds the two equal); `custom:NAME` features are CustomPrediction, `model:NAME` ones
# LabelsResult or EmbeddingResult.
RESULTS: dict[str, type[Result]] = {
    "metadata": MetadataResult,
    "color": ColorResult,
    "hash": HashResult,
    "thumbnail": ThumbnailResult,
    "tags": TagsResult,
    "embedding": EmbeddingResult,
    "semantic": SemanticResult,
    "read": ReadResult,
    "faces": FacesResult,
    "face_embedding": FaceEmbeddingResult,
    "people": PeopleResult,
    "objects": ObjectsResult,
    "adult": AdultResult,
    "image_type": ImageTypeResult,
    "quality": QualityResult,
    "smart_crop": SmartCropResult,
}


def result_type(feature: str, status: str, result: Mapping[str, Any]) -> type[Result]:
    if status == "skipped":
        return SkippedResult
    if feature.startswith("custom:"):
        return CustomPrediction
    if feature.startswith("model:"):  # a user's model: a classifier's labels, or a vector
        return LabelsResult if "labels" in result else EmbeddingResult
    return RESULTS.get(feature, Result)


# -- images ------------------------------------------------------------------------------------

ABSENT = "absent"  # not a server status: the image was not analysed for the feature at all


class Feature(Record):
    """One feature's state on an image. `ok`, `skipped`, `failed` and `reason` never raise,
    whatever the state (`absent` for a feature the image was not analysed for)."""

    schema_name = "FeatureOut"
    status: str
    version: str = ""
    analyzer: str = ""
    result: Result | None = None
    error: dict[str, Any] | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, name: str, state: Mapping[str, Any]) -> Feature:
        """The state of feature `name`, its result typed for that feature."""
        raw = state.get("result")
        result: Result | None = None
        if isinstance(raw, Mapping):
            try:
                result = result_type(name, str(state.get("status")), raw).model_validate(raw)
            except ValidationError:
                result = Result.model_validate(raw)  # a shape this client does not know
        feature = cls.model_validate({**state, "result": result})
        feature._json = dict(state)
        return feature

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def reason(self) -> str | None:
        """Why there is no result: the skip reason, the error message, or that the image was
        not analysed for it; None when done or still to come."""
        if isinstance(self.result, SkippedResult):
            return self.result.reason
        if self.failed:
            return str((self.error or {}).get("message", "failed"))
        if self.status == ABSENT:
            return "not analysed for this feature"
        return None


class Links(Record):
    schema_name = "Links"
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    self_: str | None = Field(default=None, alias="self")  # `self` would shadow methods' own
    content: str | None = None
    thumbnail: str | None = None


class Image(Record):
    """An image and its features. `image.tags`, `image.text`, `image.feature(name)` and
    `image.result(name)` never raise on a feature that is skipped, failed, pending or absent."""

    schema_name = "ImageOut"
    id: str
    status: str
    sha256: str = ""
    collection: str = ""
    filename: str | None = None
    content_type: str = ""
    format: str = ""
    size: int = 0
    width: int = 0
    height: int = 0
    metadata: dict[str, Any] = {}
    duplicate_of: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    features: dict[str, Feature] = {}
    links: Links | None = None

    @field_validator("features", mode="before")
    @classmethod
    def _typed_results(cls, features: Any) -> Any:
        if not isinstance(features, Mapping):
            return features
        return {
            name: Feature.of(name, state) if isinstance(state, Mapping) else state
            for name, state in features.items()
        }

    @property
    def finished(self) -> bool:
        """Analysis is over (`done` or `failed`): no feature will change without a reprocess."""
        return self.status in FINISHED

    def feature(self, name: str) -> Feature:
        """The feature's state; status `absent` when the image was not analysed for it."""
        return self.features.get(name) or Feature(status=ABSENT)

    def result(self, name: str) -> Result | None:
        """The feature's typed result when it is done (`TagsResult` for `tags`…), else None."""
        feature = self.feature(name)
        return feature.result if feature.ok else None

    @property
    def tags(self) -> list[str]:
        """The tag words, most confident first; empty unless `tags` is done."""
        found = self.result("tags")
        return [tag.name for tag in found.tags] if isinstance(found, TagsResult) else []

    @property
    def text(self) -> str:
        """The text read in the image (`read`); empty unless `read` is done."""
        found = self.result("read")
        return found.text if isinstance(found, ReadResult) else ""


FINISHED = frozenset({"done", "failed"})


class UploadedImage(Image):
    schema_name = "UploadedImage"
    duplicate: bool = False


class ImagePage(Page):
    schema_name = "ImageList"
    items: list[Image]
    next_cursor: str | None = None


class ScoredImage(Record):
    schema_name = "ScoredImage"
    score: float | None = None
    image: Image


class SearchPage(Page):
    schema_name = "SearchResults"
    items: list[ScoredImage]
    next_cursor: str | None = None
    method: str = ""
    total: int | None = None
    strategy: str | None = None
    ignored_words: list[str] = []
    threshold: float | None = None


class SimilarPage(Page):
    schema_name = "SimilarList"
    items: list[ScoredImage]
    method: str = ""
    feature: str = ""
    version: str = ""


class Duplicate(Record):
    schema_name = "Duplicate"
    distance: int
    image: Image


class UploadTicket(Record):
    """A presigned direct upload: POST `fields` and the file to `url`."""

    schema_name = "TicketOut"
    id: str
    status: str
    url: str
    fields: dict[str, str] = {}
    image_id: str | None = None
    max_bytes: int = 0
    expires_at: datetime | None = None


class UploadState(Record):
    schema_name = "sightline__api__uploads__UploadOut"
    id: str
    status: str
    image_id: str | None = None
    error: dict[str, Any] | None = None


# -- classifiers -------------------------------------------------------------------------------


class LabelCount(Record):
    schema_name = "LabelOut"
    name: str
    examples: int


class Classifier(Record):
    schema_name = "ClassifierOut"
    id: str
    name: str
    kind: str
    description: str = ""
    feature: str = ""
    published_version: int | None = None
    run_on_upload: bool = False
    labels: list[LabelCount] = []
    example_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ClassifierVersion(Record):
    schema_name = "VersionOut"
    number: int
    status: str
    threshold: float = 0.0
    labels: list[str] = []
    example_count: int = 0
    metrics: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    training_seconds: float | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None


class Example(Record):
    schema_name = "ExampleOut"
    image_id: str
    labels: list[str]


class BatchItem(Record):
    schema_name = "ItemOut"
    index: int
    status: int
    image_id: str | None = None
    error: dict[str, Any] | None = None


class BatchReport(Page):
    """A 207 answer: each item's own status."""

    schema_name = "BatchOut"
    succeeded: int
    failed: int
    items: list[BatchItem]


class Prediction(Record):
    """Label probabilities from `predict` (the route's schema is not typed in the document
    yet: no `schema_name`)."""

    labels: list[Label] = []
    predicted: list[str] = []


# -- subscriptions -----------------------------------------------------------------------------


class DeliveryCounts(Record):
    schema_name = "Counts"
    pending: int
    delivered: int
    dead_lettered: int


class Subscription(Record):
    schema_name = "SubscriptionOut"
    id: str
    endpoint: str
    collection: str | None = None
    name: str | None = None
    event_types: list[str] = []
    paused: bool = False
    max_events_per_batch: int = 1
    max_attempts: int = 30
    counts: DeliveryCounts | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SubscriptionWithSecret(Subscription):
    """The answer of a create or a change: only a create and a rotation carry `secret`."""

    schema_name = "SubscriptionWithSecret"
    secret: str | None = None  # a change that does not rotate it answers without


class Delivery(Record):
    schema_name = "DeliveryOut"
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    dead_letter_reason: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None


class DeliveryPage(Record):
    schema_name = "DeliveryList"
    deliveries: list[Delivery]
    next_cursor: str | None = None


class Attempt(Record):
    schema_name = "AttemptOut"
    id: int
    attempt: int
    outcome: str
    status_code: int | None = None
    error: str | None = None
    delivery_ids: list[str] = []


class AttemptPage(Record):
    schema_name = "AttemptList"
    attempts: list[Attempt]
    next_cursor: str | None = None
