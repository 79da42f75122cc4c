"""Small numeric helpers shared by the classifiers and embedding features."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

VECTOR_DECIMALS = 6

Real = TypeVar("Real", bound=np.floating[Any])


def softmax(logits: npt.NDArray[Real]) -> npt.NDArray[Real]:
    """Probabilities along the last axis, overflow-free."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    result: npt.NDArray[Real] = shifted / shifted.sum(axis=-1, keepdims=True)
    return result


def unit_length(rows: npt.NDArray[Real]) -> npt.NDArray[Real]:
    """Each vector along the last axis scaled to length 1; an all-zero vector stays zero."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    result: npt.NDArray[Real] = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return result


def rounded(vector: npt.NDArray[np.floating[Any]]) -> list[float]:
    """A vector as JSON numbers, to VECTOR_DECIMALS decimals."""
    return [round(value, VECTOR_DECIMALS) for value in vector.tolist()]
