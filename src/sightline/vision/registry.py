"""Every feature this process can compute, keyed by feature name, and the result models that
read stored results back.

Building analyzers loads no model: each holds a lazy handle that loads on first use, so
naming, validating and listing features stays cheap. Which features run when a request names
none is the `default_features` setting, not decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from sightline.indexing import IndexEntries
from sightline.models import Models
from sightline.vision.adult import AdultAnalyzer
from sightline.vision.base import Analyzer, ResultModel
from sightline.vision.color import ColorAnalyzer
from sightline.vision.concepts import SemanticAnalyzer
from sightline.vision.face_embedding import FaceEmbeddingAnalyzer
from sightline.vision.faces import FacesAnalyzer, FacesResult
from sightline.vision.geometry import Box
from sightline.vision.hash import HashAnalyzer
from sightline.vision.image_type import ImageTypeAnalyzer
from sightline.vision.metadata import MetadataAnalyzer
from sightline.vision.objects import ObjectsAnalyzer, ObjectsResult
from sightline.vision.people import PeopleAnalyzer
from sightline.vision.quality import QualityAnalyzer
from sightline.vision.read import ReadAnalyzer, ReadResult
from sightline.vision.smart_crop import (
    DEFAULT_ASPECT_RATIOS,
    Region,
    RegionSource,
    SmartCropAnalyzer,
)
from sightline.vision.tags import EmbeddingAnalyzer, TagsAnalyzer
from sightline.vision.thumbnail import ThumbnailAnalyzer
from sightline.vision.user_models import PREFIX as USER_MODEL_PREFIX
from sightline.vision.user_models import USER_RESULTS, user_analyzers

FACE_WEIGHT = 2.0
R = TypeVar("R", bound=ResultModel)

# The bundled analyzers' result models by feature name, for results read back from storage.
RESULT_MODELS: dict[str, type[ResultModel]] = {
    analyzer.name: analyzer.result_model
    for analyzer in (
        MetadataAnalyzer,
        ColorAnalyzer,
        HashAnalyzer,
        ThumbnailAnalyzer,
        TagsAnalyzer,
        EmbeddingAnalyzer,
        SemanticAnalyzer,
        ReadAnalyzer,
        FacesAnalyzer,
        FaceEmbeddingAnalyzer,
        PeopleAnalyzer,
        ObjectsAnalyzer,
        AdultAnalyzer,
        ImageTypeAnalyzer,
        QualityAnalyzer,
        SmartCropAnalyzer,
    )
}


def _expect(result: ResultModel, model: type[R]) -> R:
    if not isinstance(result, model):
        raise TypeError(f"Expected a {model.__name__}, got a {type(result).__name__}.")
    return result


def _region(box: Box, weight: float) -> Region:
    return Region(box.x, box.y, box.x + box.w, box.y + box.h, weight)


def face_regions(result: ResultModel) -> list[Region]:
    # Faces outweigh text and objects: when not everything fits, people stay in the crop.
    faces = _expect(result, FacesResult).faces
    return [_region(face.box, FACE_WEIGHT * face.confidence) for face in faces]


def text_regions(result: ResultModel) -> list[Region]:
    return [_region(line.box, line.confidence) for line in _expect(result, ReadResult).lines]


def object_regions(result: ResultModel) -> list[Region]:
    detectors = _expect(result, ObjectsResult).detectors
    return [_region(found.box, found.confidence) for d in detectors for found in d.objects]


def build_analyzers(
    models: Models, smart_crop_ratios: Sequence[float] = DEFAULT_ASPECT_RATIOS
) -> dict[str, Analyzer]:
    """Fresh analyzers for every bundled feature and every user model."""
    analyzers: list[Analyzer] = [
        MetadataAnalyzer(),
        ColorAnalyzer(),
        HashAnalyzer(),
        ThumbnailAnalyzer(),
        TagsAnalyzer(models),
        EmbeddingAnalyzer(models),
        SemanticAnalyzer(models),
        ReadAnalyzer(models),
        FacesAnalyzer(models),
        FaceEmbeddingAnalyzer(models),
        PeopleAnalyzer(models),
        ObjectsAnalyzer(models),
        AdultAnalyzer(models),
        ImageTypeAnalyzer(),
        QualityAnalyzer(),
        SmartCropAnalyzer(
            salient_regions={
                "faces": RegionSource(FacesAnalyzer.name, face_regions, required=True),
                "text": RegionSource(ReadAnalyzer.name, text_regions),
                "objects": RegionSource(ObjectsAnalyzer.name, object_regions),
            },
            aspect_ratios=smart_crop_ratios,
        ),
    ]
    return {analyzer.name: analyzer for analyzer in analyzers} | user_analyzers(models)


def stored_result(feature: str, result: dict[str, Any]) -> ResultModel | None:
    """A stored result of a bundled feature or a user model (`model:*`) read back into its
    model. None for any other feature, and for a result that no longer fits its model (stored
    by older code): such a result is left out, rather than guessed at."""
    if feature in RESULT_MODELS:
        candidates: Sequence[type[ResultModel]] = (RESULT_MODELS[feature],)
    elif feature.startswith(USER_MODEL_PREFIX):
        candidates = USER_RESULTS  # which one depends on the model's kind: the one that fits
    else:
        return None
    for model in candidates:
        try:
            return model.model_validate(result)
        except ValidationError:
            continue
    return None


def index_entries(feature: str, result: dict[str, Any]) -> IndexEntries | None:
    """What a stored result of a bundled feature or user model adds to the catalog's indexes
    (see `stored_result` for what is left out)."""
    found = stored_result(feature, result)
    return None if found is None else found.index_entries()
