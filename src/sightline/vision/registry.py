"""Every feature this process can compute, keyed by feature name.

Building analyzers loads no model: each holds a lazy handle that loads on first use, so
naming, validating and listing features stays cheap. Which features run when a request names
none is the `default_features` setting, not decided here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sightline.models import Models
from sightline.vision.adult import AdultAnalyzer
from sightline.vision.base import JSON, Analyzer, Picture
from sightline.vision.color import ColorAnalyzer
from sightline.vision.concepts import SemanticAnalyzer
from sightline.vision.faces import FacesAnalyzer, detect_faces
from sightline.vision.hash import HashAnalyzer
from sightline.vision.image_type import ImageTypeAnalyzer
from sightline.vision.metadata import MetadataAnalyzer
from sightline.vision.objects import ObjectsAnalyzer
from sightline.vision.people import PeopleAnalyzer
from sightline.vision.quality import QualityAnalyzer
from sightline.vision.read import ReadAnalyzer
from sightline.vision.smart_crop import DEFAULT_ASPECT_RATIOS, Region, SmartCropAnalyzer
from sightline.vision.tags import EmbeddingAnalyzer, TagsAnalyzer
from sightline.vision.thumbnail import ThumbnailAnalyzer
from sightline.vision.user_models import user_analyzers

FACE_WEIGHT = 2.0


def _region(found: JSON) -> Region:
    """A result's pixel box (`{"x", "y", "w", "h"}`) weighted by its confidence."""
    box = found["box"]
    return Region(box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"], found["confidence"])


def build_analyzers(
    models: Models, smart_crop_ratios: Sequence[float] = DEFAULT_ASPECT_RATIOS
) -> dict[str, Analyzer]:
    """Fresh analyzers for every bundled feature and every user model."""
    faces, read, objects = FacesAnalyzer(models), ReadAnalyzer(models), ObjectsAnalyzer(models)

    def face_regions(picture: Picture) -> list[Region]:
        found = detect_faces(picture, faces.model)
        # Faces outweigh text and objects: when not everything fits, people stay in the crop.
        return [Region(f.x0, f.y0, f.x1, f.y1, FACE_WEIGHT * f.confidence) for f in found]

    def text_regions(picture: Picture) -> list[Region] | None:
        result = picture.memoized(read.memo_key)
        return None if result is None else [_region(line) for line in result["lines"]]

    def object_regions(picture: Picture) -> list[Region] | None:
        result = picture.memoized(objects.memo_key)
        if result is None:
            return None
        return [_region(found) for detector in result["detectors"] for found in detector["objects"]]

    analyzers: list[Analyzer] = [
        MetadataAnalyzer(),
        ColorAnalyzer(),
        HashAnalyzer(),
        ThumbnailAnalyzer(),
        TagsAnalyzer(models),
        EmbeddingAnalyzer(models),
        SemanticAnalyzer(models),
        read,
        faces,
        PeopleAnalyzer(models),
        objects,
        AdultAnalyzer(models),
        ImageTypeAnalyzer(),
        QualityAnalyzer(),
        SmartCropAnalyzer(
            salient_regions={
                "faces": face_regions,
                "text": text_regions,
                "objects": object_regions,
            },
            aspect_ratios=smart_crop_ratios,
        ),
    ]
    return {analyzer.name: analyzer for analyzer in analyzers} | user_analyzers(models)
