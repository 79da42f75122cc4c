"""Non-maximum suppression, shared by the YOLO decoders and CenterFace."""

from __future__ import annotations

import numpy as np

from sightline.vision.boxes import nms


def test_nms_removes_overlapping_duplicates_of_a_class_only() -> None:
    boxes = np.array(
        [[0, 0, 100, 100], [5, 5, 105, 105], [0, 0, 100, 100], [200, 200, 250, 250]], dtype=float
    )
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    classes = np.array([0, 0, 1, 0])
    assert nms(boxes, scores, 0.45, classes).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.45).tolist() == [1, 3]
    assert nms(boxes, scores, 0.95, classes).tolist() == [1, 0, 2, 3]


def test_nms_keeps_the_best_of_overlapping_float32_boxes() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=np.float32
    )
    scores = np.array([0.6, 0.9, 0.7, 0.5], dtype=np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]


def test_an_overlap_of_exactly_the_threshold_is_kept() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=float)  # IoU 0.5
    scores = np.array([0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.49).tolist() == [0]


def test_nms_of_nothing_is_nothing() -> None:
    empty = np.zeros((0, 4))
    assert nms(empty, np.zeros(0), 0.5, np.zeros(0, dtype=np.int64)).tolist() == []
    assert nms(empty.astype(np.float32), np.zeros(0, np.float32), 0.3).tolist() == []
