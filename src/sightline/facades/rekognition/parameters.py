"""The four operations' requests as botocore's service model draws them (names, types, ranges),
checked strictly: a JSON string is not a number, an unknown member is refused, and options
Rekognition has but Sightline does not serve are refused by name rather than ignored."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Percent = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(ge=0, le=1)]
FaceAttribute = Literal[
    "DEFAULT",
    "ALL",
    "AGE_RANGE",
    "BEARD",
    "EMOTIONS",
    "EYE_DIRECTION",
    "EYEGLASSES",
    "EYES_OPEN",
    "GENDER",
    "MOUTH_OPEN",
    "MUSTACHE",
    "FACE_OCCLUDED",
    "SMILE",
    "SUNGLASSES",
]
# What Sightline answers of a face: `ALL` asks for whatever the service has, and gets the same.
ANSWERED_FACE_ATTRIBUTES = frozenset({"DEFAULT", "ALL"})


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # Members Rekognition has that Sightline does not serve.
    unsupported: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> Shape:
        for name in self.unsupported:
            if getattr(self, name) is not None:
                raise ValueError(f"Sightline does not support {name}.")
        return self


class S3ObjectShape(Shape):
    Bucket: str = Field(min_length=3, max_length=255, pattern=r"^[0-9A-Za-z.\-_]*$")
    Name: str = Field(min_length=1, max_length=1024)
    Version: str | None = Field(None, min_length=1, max_length=1024)


class ImageShape(Shape):
    Bytes: str | None = None  # base64, as the JSON protocol carries blobs
    S3Object: S3ObjectShape | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImageShape:
        if (self.Bytes is None) == (self.S3Object is None):
            raise ValueError("Image needs exactly one of Bytes and S3Object.")
        return self


class ImageRequest(Shape):
    """What every operation here takes: the image."""

    Image: ImageShape


class GeneralLabelsShape(Shape):
    unsupported = ("LabelCategoryInclusionFilters", "LabelCategoryExclusionFilters")

    LabelInclusionFilters: list[str] = Field(default_factory=list, max_length=100)
    LabelExclusionFilters: list[str] = Field(default_factory=list, max_length=100)
    LabelCategoryInclusionFilters: list[str] | None = None
    LabelCategoryExclusionFilters: list[str] | None = None


class LabelSettings(Shape):
    unsupported = ("ImageProperties",)

    GeneralLabels: GeneralLabelsShape | None = None
    ImageProperties: dict[str, Any] | None = None


class DetectLabels(ImageRequest):
    MaxLabels: int | None = Field(None, ge=0)
    MinConfidence: Percent = 55.0  # Rekognition's default
    Features: list[Literal["GENERAL_LABELS", "IMAGE_PROPERTIES"]] | None = None
    Settings: LabelSettings | None = None

    @field_validator("Features")
    @classmethod
    def _general_labels_only(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and "IMAGE_PROPERTIES" in value:
            raise ValueError("Sightline does not support the IMAGE_PROPERTIES feature.")
        return value


class BoxShape(Shape):
    Width: float = 0.0
    Height: float = 0.0
    Left: float = 0.0
    Top: float = 0.0


class PointShape(Shape):
    X: float = 0.0
    Y: float = 0.0


class RegionOfInterest(Shape):
    BoundingBox: BoxShape | None = None
    Polygon: list[PointShape] | None = Field(None, min_length=3)

    def box(self) -> BoxShape:
        """The region's box: a polygon counts by the box around it."""
        if self.BoundingBox is not None:
            return self.BoundingBox
        if not self.Polygon:
            raise ValueError("A region of interest needs a BoundingBox or a Polygon.")
        xs, ys = [p.X for p in self.Polygon], [p.Y for p in self.Polygon]
        return BoxShape(
            Left=min(xs), Top=min(ys), Width=max(xs) - min(xs), Height=max(ys) - min(ys)
        )

    @model_validator(mode="after")
    def _has_a_shape(self) -> RegionOfInterest:
        self.box()
        return self


class WordFilterShape(Shape):
    MinConfidence: Percent = 0.0
    MinBoundingBoxHeight: Fraction = 0.0
    MinBoundingBoxWidth: Fraction = 0.0


class TextFilters(Shape):
    WordFilter: WordFilterShape = Field(default_factory=lambda: WordFilterShape())
    RegionsOfInterest: list[RegionOfInterest] = Field(default_factory=list, max_length=10)


class DetectText(ImageRequest):
    Filters: TextFilters = Field(default_factory=lambda: TextFilters())


def _default_attributes() -> list[FaceAttribute]:
    return ["DEFAULT"]


class DetectFaces(ImageRequest):
    Attributes: list[FaceAttribute] = Field(default_factory=lambda: _default_attributes())

    @field_validator("Attributes")
    @classmethod
    def _answered(cls, value: list[str]) -> list[str]:
        lacking = sorted(set(value) - ANSWERED_FACE_ATTRIBUTES)
        if lacking:
            raise ValueError(
                f"Sightline does not detect the face attributes {', '.join(lacking)}; ask for "
                "DEFAULT or ALL (boxes, landmarks and confidences)."
            )
        return value


class DetectModerationLabels(ImageRequest):
    unsupported = ("HumanLoopConfig", "ProjectVersion")

    MinConfidence: Percent = 50.0  # Rekognition's default
    HumanLoopConfig: dict[str, Any] | None = None
    ProjectVersion: str | None = None
