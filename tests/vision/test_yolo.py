"""YOLO preprocessing and decoding: exact geometry both ways, both output layouts."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from sightline.models.manifest import InputSpec
from sightline.vision import yolo

# Corner boxes (x0, y0, x1, y1) in the pixels of a 200 x 100 picture.
BOXES = np.array([[20.0, 10.0, 120.0, 60.0], [150.0, 40.0, 190.0, 95.0]])


def spec(**fields: Any) -> InputSpec:
    return InputSpec(**{"width": 64, "height": 64, **fields})


def to_input(boxes: npt.NDArray[np.float64], transform: yolo.Transform) -> npt.NDArray[np.float64]:
    mapped = boxes.copy()
    mapped[:, 0::2] = mapped[:, 0::2] * transform.scale_x + transform.offset_x
    mapped[:, 1::2] = mapped[:, 1::2] * transform.scale_y + transform.offset_y
    return mapped


def centres(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x0, y0, x1, y1 = boxes.T
    return np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=1)


def yolov8_output(boxes: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]) -> Any:
    """`[1, 4 + C, N]` from input-pixel corner boxes and `[N, C]` class scores."""
    return np.concatenate([centres(boxes), scores], axis=1).T[np.newaxis].astype(np.float32)


def yolov5_output(
    boxes: npt.NDArray[np.float64], objectness: list[float], scores: npt.NDArray[np.float64]
) -> Any:
    rows = np.concatenate([centres(boxes), np.array(objectness)[:, None], scores], axis=1)
    return rows[np.newaxis].astype(np.float32)


def blank(width: int = 200, height: int = 100) -> npt.NDArray[np.uint8]:
    return np.zeros((height, width, 3), dtype=np.uint8)


def test_letterbox_scales_to_fit_and_centres_on_grey() -> None:
    fitted, transform = yolo.fit(np.full((100, 200, 3), 200, dtype=np.uint8), spec())
    assert fitted.shape == (64, 64, 3)
    assert transform == yolo.Transform(0.32, 0.32, 0, 16)
    assert (fitted[:16] == 114).all() and (fitted[48:] == 114).all()
    assert (fitted[16:48] == 200).all()


def test_letterbox_can_pad_only_right_and_bottom_with_a_chosen_value() -> None:
    fitted, transform = yolo.fit(
        np.full((100, 200, 3), 200, dtype=np.uint8), spec(), fill=0, centred=False
    )
    assert transform == yolo.Transform(0.32, 0.32, 0, 0)
    assert (fitted[:32] == 200).all() and (fitted[32:] == 0).all()


@pytest.mark.parametrize(
    ("resize", "expected"),
    [
        ("letterbox", yolo.Transform(0.32, 0.32, 0, 16)),
        ("stretch", yolo.Transform(0.32, 0.64, 0, 0)),
        ("center_crop", yolo.Transform(0.64, 0.64, -32, 0)),
    ],
)
def test_a_marked_region_maps_back_to_where_it_was(resize: str, expected: yolo.Transform) -> None:
    picture = blank()
    picture[25:75, 75:125] = 255  # a 50 x 50 square at (75, 25)
    fitted, transform = yolo.fit(picture, spec(resize=resize))
    assert transform == expected
    rows, cols = np.nonzero(fitted[:, :, 0] > 127)
    found = np.array([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]], dtype=float)
    np.testing.assert_allclose(transform.to_picture(found), [[75, 25, 125, 75]], atol=1 / 0.32)


def test_to_picture_inverts_the_transform_exactly() -> None:
    transform = yolo.Transform(0.32, 0.64, 5, -16)
    np.testing.assert_allclose(transform.to_picture(to_input(BOXES, transform)), BOXES, rtol=1e-12)


def test_tensor_layout_colour_order_and_normalisation() -> None:
    pixels = np.zeros((2, 3, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 255, 51, 0
    nchw = yolo.to_tensor(pixels, spec(width=3, height=2))
    assert nchw.shape == (1, 3, 2, 3) and nchw.dtype == np.float32
    np.testing.assert_allclose(nchw[0, :, 0, 0], [1.0, 0.2, 0.0], rtol=1e-6)
    bgr = yolo.to_tensor(
        pixels,
        spec(width=3, height=2, layout="NHWC", color="BGR", scale=1, mean=[1, 2, 3], std=[2, 2, 5]),
    )
    assert bgr.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(bgr[0, 0, 0], [(0 - 1) / 2, (51 - 2) / 2, (255 - 3) / 5])
    raw = yolo.to_tensor(pixels, spec(width=3, height=2, dtype="uint8"))
    assert raw.dtype == np.uint8 and raw[0, :, 0, 0].tolist() == [255, 51, 0]


def test_yolov8_boxes_come_back_in_picture_pixels() -> None:
    _, transform = yolo.fit(blank(), spec())
    scores = np.array([[0.1, 0.9, 0.0], [0.7, 0.2, 0.0]])
    output = yolov8_output(to_input(BOXES, transform), scores)
    found = yolo.decode(output, "yolov8", confidence=0.25, iou=0.45, transform=transform)
    assert found.classes.tolist() == [1, 0]
    np.testing.assert_allclose(found.scores, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(found.boxes, BOXES, atol=1e-4)  # float32 model output


def test_yolov5_scores_are_objectness_times_class_score() -> None:
    _, transform = yolo.fit(blank(), spec())
    scores = np.array([[0.2, 0.9], [0.8, 0.1]])
    output = yolov5_output(to_input(BOXES, transform), [0.5, 0.25], scores)
    found = yolo.decode(output, "yolov5", confidence=0.1, iou=0.45, transform=transform)
    assert found.classes.tolist() == [1, 0]
    np.testing.assert_allclose(found.scores, [0.45, 0.2], rtol=1e-6)
    np.testing.assert_allclose(found.boxes, BOXES, atol=1e-4)


def test_low_scores_are_dropped() -> None:
    transform = yolo.Transform(1, 1, 0, 0)
    output = yolov8_output(BOXES, np.array([[0.3], [0.2]]))
    found = yolo.decode(output, "yolov8", confidence=0.25, iou=0.45, transform=transform)
    assert len(found.scores) == 1 and found.scores[0] == pytest.approx(0.3)


def test_detections_are_capped() -> None:
    boxes = np.array([[i * 10, 0, i * 10 + 5, 5] for i in range(20)], dtype=float)
    output = yolov8_output(boxes, np.linspace(0.5, 0.9, 20)[:, None])
    found = yolo.decode(
        output,
        "yolov8",
        confidence=0.25,
        iou=0.45,
        transform=yolo.Transform(1, 1, 0, 0),
        max_detections=3,
    )
    np.testing.assert_allclose(found.scores, [0.9, 0.9 - 0.4 / 19, 0.9 - 0.8 / 19], rtol=1e-6)
