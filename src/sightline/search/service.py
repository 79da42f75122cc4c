"""Searching by meaning: similar images by their embedding, and images for a text query.

Text-to-image search uses the best method installed:
- `clip`: a user-added image-text model pair (`sightline models add`, kind `clip`); the query
  goes through its text half, images were embedded by its image half (`model:NAME`).
- `conse`: otherwise, the bundled way without an image-text model: every image's `semantic`
  vector is the probability-weighted mean of the sentence embeddings of its likely ImageNet
  classes (ConSE), and the query is embedded by the same sentence model.
Answers say which method (and which feature and version) produced them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sightline.catalog import CatalogBackend, ImageRecord
from sightline.catalog.base import Vector
from sightline.errors import ImageNotFound, InvalidParameter, InvalidQuery, SearchUnavailable
from sightline.ids import is_image_id
from sightline.models import Models, ModelSpec, ModelUnavailable
from sightline.models.manifest import feature_of
from sightline.search.vectors import VectorSearch
from sightline.vision import Analyzer
from sightline.vision.concepts import embed_query
from sightline.vision.user_models import encode_text

SIMILAR_FEATURE = "embedding"
SEMANTIC_FEATURE = "semantic"
MAX_QUERY_LENGTH = 1000


@dataclass(frozen=True)
class Hit:
    image: ImageRecord
    score: float


@dataclass(frozen=True)
class Answer:
    method: str  # "embedding", "conse" or "clip"
    feature: str
    version: str
    hits: list[Hit]


class SemanticSearch:
    def __init__(
        self,
        catalog: CatalogBackend,
        vectors: VectorSearch,
        models: Models,
        analyzers: Mapping[str, Analyzer],
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.models = models
        self.analyzers = analyzers

    def similar(self, image_id: str, limit: int, feature: str = SIMILAR_FEATURE) -> Answer:
        """Images nearest to this one by the feature's vectors (of the current version)."""
        analyzer = self._vector_analyzer(feature)
        if not is_image_id(image_id) or self.catalog.get_image(image_id) is None:
            raise ImageNotFound(f"No image with id {image_id!r}.")
        found = self.catalog.vector_of(image_id, feature)
        if found is None or found[0] != analyzer.version:
            raise SearchUnavailable(
                f"Image {image_id} has no `{feature}` vector of version {analyzer.version} yet: "
                f"analyse it with that feature (reprocess) first.",
            ) from None
        hits = self._nearest(feature, analyzer.version, found[1], limit, exclude={image_id})
        return Answer(
            "embedding" if feature == SIMILAR_FEATURE else "vector", feature, analyzer.version, hits
        )

    def text(self, query: str, limit: int) -> Answer:
        """Images whose meaning is nearest to the query text."""
        query = query.strip()
        if not query or len(query) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"A semantic query is 1-{MAX_QUERY_LENGTH} characters.")
        clip = self._clip_model()
        if clip is not None:
            feature, spec = clip
            analyzer = self.analyzers[feature]
            vector = encode_text(self.models, spec, [query])[0]
            return Answer(
                "clip",
                feature,
                analyzer.version,
                self._nearest(feature, analyzer.version, vector, limit),
            )
        analyzer = self._vector_analyzer(SEMANTIC_FEATURE)
        try:
            vector = embed_query(self.models, query)
        except ModelUnavailable as exc:
            raise SearchUnavailable(exc.reason) from exc
        hits = self._nearest(SEMANTIC_FEATURE, analyzer.version, vector, limit)
        return Answer("conse", SEMANTIC_FEATURE, analyzer.version, hits)

    def _clip_model(self) -> tuple[str, ModelSpec] | None:
        """The first user clip model whose images have been embedded, if any."""
        for spec in self.models.registry.specs():
            if spec.manifest.get("kind") != "clip":
                continue
            feature = feature_of(spec)
            analyzer = self.analyzers.get(feature)
            if analyzer is not None and self.catalog.vector_versions(feature).get(analyzer.version):
                return feature, spec
        return None

    def _vector_analyzer(self, feature: str) -> Analyzer:
        analyzer = self.analyzers.get(feature)
        if analyzer is None:
            raise InvalidParameter(f"No feature {feature!r} in this server.")
        return analyzer

    def _nearest(
        self,
        feature: str,
        version: str,
        vector: Vector,
        limit: int,
        exclude: set[str] | None = None,
    ) -> list[Hit]:
        """Nearest images that still exist; deleted ones are dropped from the index."""
        hits: list[Hit] = []
        wanted = limit
        while True:
            found = self.vectors.nearest(feature, version, vector, wanted, exclude or set())
            gone = []
            hits = []
            for image_id, score in found:
                record = self.catalog.get_image(image_id)
                if record is None:
                    gone.append(image_id)
                else:
                    hits.append(Hit(record, score))
            if gone:
                self.vectors.forget(feature, version, gone)
            if len(hits) >= limit or len(found) < wanted:
                return hits[:limit]
            wanted *= 2
