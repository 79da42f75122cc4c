"""Every feature this process can compute, keyed by feature name.

Building analyzers loads no model: each holds a lazy handle that loads on first use, so
naming, validating and listing features stays cheap. Which features run when a request names
none is the `default_features` setting, not decided here.
"""

from __future__ import annotations

from sightline.models import Models
from sightline.vision.adult import AdultAnalyzer
from sightline.vision.base import Analyzer, Picture
from sightline.vision.color import ColorAnalyzer
from sightline.vision.faces import FacesAnalyzer, detect_faces
from sightline.vision.hash import HashAnalyzer
from sightline.vision.image_type import ImageTypeAnalyzer
from sightline.vision.metadata import MetadataAnalyzer
from sightline.vision.objects import ObjectsAnalyzer
from sightline.vision.people import PeopleAnalyzer
from sightline.vision.quality import QualityAnalyzer
from sightline.vision.read import ReadAnalyzer
from sightline.vision.smart_crop import Region, SmartCropAnalyzer
from sightline.vision.tags import EmbeddingAnalyzer, TagsAnalyzer
from sightline.vision.thumbnail import ThumbnailAnalyzer
from sightline.vision.user_models import user_analyzers


def build_analyzers(models: Models) -> dict[str, Analyzer]:
    """Fresh analyzers for every bundled feature and every user model."""
    faces = FacesAnalyzer(models)

    def face_regions(picture: Picture) -> list[Region]:
        found = detect_faces(picture, faces.model)
        return [Region(face.x0, face.y0, face.x1, face.y1, face.confidence) for face in found]

    analyzers: list[Analyzer] = [
        MetadataAnalyzer(),
        ColorAnalyzer(),
        HashAnalyzer(),
        ThumbnailAnalyzer(),
        TagsAnalyzer(models),
        EmbeddingAnalyzer(models),
        ReadAnalyzer(models),
        faces,
        PeopleAnalyzer(models),
        ObjectsAnalyzer(models),
        AdultAnalyzer(models),
        ImageTypeAnalyzer(),
        QualityAnalyzer(),
        SmartCropAnalyzer(salient_regions=[face_regions]),
    ]
    return {analyzer.name: analyzer for analyzer in analyzers} | user_analyzers(models)
