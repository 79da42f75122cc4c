"""Response shapes. The field names are a contract: other tools parse them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self, TypeVar, Union

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from sightline.api import openapi_examples as shown
from sightline.api.openapi_examples import examples
from sightline.classifiers.features import CustomPrediction
from sightline.classifiers.store import PREFIX as CUSTOM_PREFIX
from sightline.errors import InvalidParameter
from sightline.search.service import Answer
from sightline.storage.records import FeatureStatus, ImageRecord, ImageStatus
from sightline.vision.registry import RESULT_MODELS
from sightline.vision.user_models import PREFIX as USER_MODEL_PREFIX
from sightline.vision.user_models import USER_RESULTS

# A moment in a query: RFC 3339 with its time zone. Pydantic alone would also take a number as
# Unix time (`uploaded_before=0.5`) and a time without a zone, which the document does not allow.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})")


def _rfc3339(value: Any) -> Any:
    if not (isinstance(value, str) and RFC3339.fullmatch(value)):
        raise ValueError("expected a date-time with a time zone, e.g. 2026-01-31T12:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]

# The largest integer the databases store (a signed 64-bit BIGINT): every integer a client sends
# is bounded by it, or a bigger one would only overflow the driver (a 500).
MAX_STORED_INT = 2**63 - 1


def one_of_sizes(sizes: Sequence[int], meaning: str) -> Any:
    """A `size` query parameter that takes one of `sizes`, listed as an enum in the document."""
    return Query(
        description=f"One of {', '.join(map(str, sizes))} ({meaning}).",
        json_schema_extra={"enum": list(sizes)},
    )


def image_files_field(description: str) -> dict[str, Any]:
    """The OpenAPI schema of a multipart field that holds one or more image files."""
    return {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": description,
    }


Parsed = TypeVar("Parsed", bound=BaseModel)

# A body that is an image file itself: a raw upload, or an original or thumbnail answered.
RAW_IMAGE = {"schema": {"type": "string", "format": "binary"}}


def standalone_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with the models it uses written in place: for a request body
    declared by hand (`openapi_extra`), where the document's components do not hold them."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(part: Any) -> Any:
        if isinstance(part, dict):
            if "$ref" in part:
                return inline(definitions[part["$ref"].rpartition("/")[2]])
            return {key: inline(value) for key, value in part.items()}
        if isinstance(part, list):
            return [inline(item) for item in part]
        return part

    result: dict[str, Any] = inline(schema)
    return result


def image_files(files: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body of a route that takes image files: multipart (their description
    `files`, with `fields` beside them), or one image as raw bytes."""
    multipart = {
        "type": "object",
        "properties": {"file": image_files_field(files), **(fields or {})},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": multipart},
                "image/*": RAW_IMAGE,
            },
        }
    }


def files_or_json(model: type[BaseModel], files: str) -> dict[str, Any]:
    """The request body of a route that takes image files or a JSON document (`model`)."""
    body = image_files(files)
    json = {"application/json": {"schema": standalone_schema(model)}}
    body["requestBody"]["content"] = json | body["requestBody"]["content"]
    return body


def parse_json(model: type[Parsed], raw: bytes) -> Parsed:
    """A JSON body read by the route itself (`files_or_json`), refused like every other
    invalid request body."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


class RequestBody(BaseModel):
    """A JSON request body, taken as typed: `"outdated_only": 0` or `"threshold": "0.5"` is an
    error rather than a guess, and an unknown (e.g. misspelt) field is refused rather than
    silently doing nothing. (JSON integers are still taken where a number is wanted.)"""

    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. `InvalidImageFormat`.")
    message: str = Field(description="Human-readable explanation.")
    details: dict[str, Any] | None = Field(None, exclude_if=lambda value: not value)


class ErrorBody(BaseModel):
    model_config = examples(
        {"error": {"code": "ImageNotFound", "message": f"No image {shown.IMAGE_ID}."}}
    )

    error: ErrorInfo


class SkippedResult(BaseModel):
    reason: str = Field(description="Why the feature does not apply, or cannot run here.")


class DescribedAs:
    """Documents a field as `documented` while it stays the plain value it is: results are
    answered exactly as stored, never re-validated or re-serialized on the way out."""

    def __init__(self, documented: Any) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(documented)

    def __get_pydantic_json_schema__(
        self, _core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(self.adapter.core_schema)


RESULT_SCHEMAS = (*RESULT_MODELS.values(), CustomPrediction, *USER_RESULTS, SkippedResult)
# Every result a feature can have: what `DescribedAs` documents a result as.
RESULT_UNION: object = Union[*RESULT_SCHEMAS] | None  # noqa: UP007 - a union built from a tuple
RESULT_SCHEMAS_DESCRIPTION = (
    "Its schema follows the feature: "
    + ", ".join(f"`{name}`: `{model.__name__}`" for name, model in RESULT_MODELS.items())
    + f"; `{CUSTOM_PREFIX}NAME`: `{CustomPrediction.__name__}`; `{USER_MODEL_PREFIX}NAME`: "
    + " or ".join(f"`{model.__name__}`" for model in USER_RESULTS)
    + f". A skipped feature's is `{SkippedResult.__name__}`."
)
RESULT_DESCRIPTION = (
    "The analyzer's output; while re-analysis is pending, the previous result. "
    + RESULT_SCHEMAS_DESCRIPTION
)


class FeatureOut(BaseModel):
    status: FeatureStatus
    version: str = Field(description="Version of the analyzer that produced (or will produce) it.")
    analyzer: str
    result: Annotated[
        dict[str, Any] | None,
        DescribedAs(RESULT_UNION),
    ] = Field(description=RESULT_DESCRIPTION)
    error: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)
    updated_at: datetime | None


INCLUDE_CHOICES = ("vectors",)


@dataclass(frozen=True)
class ImageView:
    """How much of each feature's result an image answer carries. By default every result but
    its vectors (1280 numbers for `embedding`, 1024 for each face of `face_embedding`: most of
    the bytes, and rarely read): a `vector` of the result, or of the items of its lists."""

    results: frozenset[str] | None = None
    vectors: bool = False

    def result(self, feature: str, result: dict[str, Any] | None) -> dict[str, Any] | None:
        if result is None:
            return None
        if self.results is not None:
            # A feature named in `results` is answered whole: that is how callers ask for it.
            return result if feature in self.results else None
        if self.vectors or not _has_vectors(result):
            return result
        return {
            key: [_without_vector(item) for item in value] if isinstance(value, list) else value
            for key, value in result.items()
            if key != "vector"
        }


def _has_vectors(result: dict[str, Any]) -> bool:
    return "vector" in result or any(
        isinstance(value, list) and value and isinstance(value[0], dict) and "vector" in value[0]
        for value in result.values()
    )


def _without_vector(item: Any) -> Any:
    if isinstance(item, dict) and "vector" in item:
        return {key: value for key, value in item.items() if key != "vector"}
    return item


async def image_view(
    results: Annotated[
        str | None,
        Query(
            description="Only these features' results, comma-separated (e.g. `thumbnail,tags`), "
            "each whole (`vector` included); every feature's status is still listed. Empty for "
            "statuses only."
        ),
    ] = None,
    include: Annotated[
        str | None,
        Query(
            description="`vectors`: keep the `vector` of vector results (`embedding`, "
            "`semantic`, user embedding models), left out by default (about 20 KB an image); "
            "`dimensions`, `normalized` and the model are always answered."
        ),
    ] = None,
) -> ImageView:
    """The `results` and `include` parameters of every answer that carries images."""
    included = {part.strip() for part in (include or "").split(",") if part.strip()}
    unknown = sorted(included.difference(INCLUDE_CHOICES))
    if unknown:
        raise InvalidParameter(
            f"Unknown include value {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(INCLUDE_CHOICES)}."
        )
    return ImageView(
        results=None
        if results is None
        else frozenset(part.strip() for part in results.split(",") if part.strip()),
        vectors="vectors" in included,
    )


class Links(BaseModel):
    self: str
    content: str
    thumbnail: str


class ImageOut(BaseModel):
    model_config = examples(shown.IMAGE, shown.REPROCESSING)

    id: str
    collection: str = Field(description="The collection the image was uploaded to.")
    sha256: str
    status: ImageStatus
    content_type: str
    format: str
    size: int = Field(description="File size in bytes.")
    width: int
    height: int
    filename: str | None
    metadata: dict[str, Any] = Field(description="The client metadata given at upload.")
    duplicate_of: str | None = Field(
        description="The first image of its collection uploaded with the same bytes, if any "
        "(same blob)."
    )
    created_at: datetime
    updated_at: datetime
    features: dict[str, FeatureOut]
    links: Links

    @classmethod
    def of(cls, record: ImageRecord, view: ImageView = ImageView(), **extra: Any) -> Self:
        """The image as answered, its results as `view` shows them; `extra`: a subclass's own
        fields."""
        base = f"/v1/images/{record.id}"
        return cls(
            id=record.id,
            collection=record.collection,
            sha256=record.sha256,
            status=record.status,
            content_type=record.content_type,
            format=record.format,
            size=record.size,
            width=record.width,
            height=record.height,
            filename=record.filename,
            metadata=record.client_metadata,
            duplicate_of=record.duplicate_of,
            created_at=record.created_at,
            updated_at=record.updated_at,
            features={
                name: FeatureOut(
                    status=state.status,
                    version=state.version,
                    analyzer=state.analyzer,
                    result=view.result(name, state.result),
                    error=state.error,
                    updated_at=state.updated_at,
                )
                for name, state in record.features.items()
            },
            links=Links(self=base, content=f"{base}/content", thumbnail=f"{base}/thumbnail"),
            **extra,
        )


class UploadedImage(ImageOut):
    model_config = examples(*shown.UPLOADED["images"])

    duplicate: bool = Field(
        description="True when these exact bytes were stored before in the same collection."
    )


class UploadOut(BaseModel):
    model_config = examples(shown.UPLOADED)

    images: list[UploadedImage]


class ImageList(BaseModel):
    model_config = examples(shown.IMAGE_LIST)

    items: list[ImageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    total: int | None = Field(
        default=None,
        description="How many images the filters keep, over every page: on the first page "
        "only (null on the pages a `cursor` asks for).",
    )


class Duplicate(BaseModel):
    distance: int = Field(description="Hamming distance between the 64-bit perceptual hashes.")
    image: ImageOut


class DuplicateList(BaseModel):
    model_config = examples(shown.DUPLICATES)

    items: list[Duplicate]


class ReprocessRequest(RequestBody):
    model_config = examples(shown.REPROCESS)

    features: list[str] | None = Field(
        None, description="Features to compute again; default: every feature the image has."
    )
    outdated_only: bool = Field(
        False, description="Only features whose analyzer version changed since their result."
    )


class AnalyzedImage(BaseModel):
    sha256: str
    content_type: str
    format: str
    size: int = Field(description="File size in bytes.")
    width: int
    height: int


class AnalyzedFeature(BaseModel):
    status: FeatureStatus
    analyzer: str
    version: str
    seconds: float = Field(description="Time this feature took, decoding excluded.")
    result: Annotated[dict[str, Any] | None, DescribedAs(RESULT_UNION)] = Field(
        description="The analyzer's output. " + RESULT_SCHEMAS_DESCRIPTION
    )
    error: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)


class AnalyzeOut(BaseModel):
    model_config = examples(shown.ANALYZED)

    image: AnalyzedImage
    features: dict[str, AnalyzedFeature]


class AnalyzeUrlRequest(RequestBody):
    model_config = examples(shown.ANALYZE_URL)

    url: str = Field(description="An http(s) URL of the image; public addresses only by default.")
    features: list[str] | None = Field(
        None, description="Features to compute; default: the server's default set."
    )


class ScoredImage(BaseModel):
    score: float | None = Field(description="Relevance or cosine similarity; higher is better.")
    image: ImageOut


class SimilarList(BaseModel):
    model_config = examples(shown.SIMILAR)

    method: str = Field(
        description="What answered: `embedding` (image vectors), `conse` (sentence embeddings "
        "of the predicted classes) or `clip` (a user image-text model)."
    )
    feature: str = Field(description="The feature whose vectors were searched.")
    version: str = Field(description="Its analyzer version: vectors of other versions are apart.")
    items: list[ScoredImage] = Field(
        description="Nearest first; score: the raw cosine similarity of the two vectors (-1 to "
        "1, higher is more alike), not a calibrated probability; nothing is left out."
    )

    @classmethod
    def of(cls, answer: Answer, view: ImageView) -> SimilarList:
        return cls(
            method=answer.method,
            feature=answer.feature,
            version=answer.version,
            items=[
                ScoredImage(score=hit.score, image=ImageOut.of(hit.image, view))
                for hit in answer.hits
            ],
        )
