"""Small numeric helpers shared by the classifiers and embedding features, and the result of
a picture embedding (`embedding`, and the user's clip models)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict

from sightline.indexing import IndexEntries
from sightline.vision import geometry
from sightline.vision.base import Picture

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


def vector_on_request(schema: dict[str, Any]) -> None:
    """Image answers leave `vector` out unless asked for (`include=vectors`, or `results`
    naming the feature), so the documented result does not require it."""
    schema["required"] = [name for name in schema.get("required", []) if name != "vector"]
    schema["properties"]["vector"]["description"] = (
        "Answered only with `include=vectors`, or when `results` names the feature."
    )


class EmbeddingResult(geometry.ModelResult):
    """`vector` has `dimensions` numbers; `normalized` is false only for an all-zero vector."""

    model_config = ConfigDict(json_schema_extra=vector_on_request)

    dimensions: int
    vector: list[float]
    normalized: bool

    @classmethod
    def of(
        cls, picture: Picture, model: str, version: str, vector: npt.NDArray[np.floating[Any]]
    ) -> EmbeddingResult:
        """The result for a unit-length (or all-zero) vector."""
        return cls(
            **geometry.header(picture, model, version),
            dimensions=int(vector.size),
            vector=rounded(vector),
            normalized=bool(vector.any()),
        )

    def index_entries(self) -> IndexEntries:
        return IndexEntries(vector=self.vector)
