"""Search, one service for every kind: by words and filters (the text index), by meaning (a
text query's vector), and similar images (an image's vector). Hits are read in one go.

Text-to-image search by meaning uses the best method installed:
- `clip`: a user-added image-text model pair (`sightline models add`, kind `clip`); the query
  goes through its text half, images were embedded by its image half (`model:NAME`).
- `conse`: otherwise, the bundled way without an image-text model: every image's `semantic`
  vector is the probability-weighted mean of the sentence embeddings of its likely ImageNet
  classes (ConSE), and the query is embedded by the same sentence model.
Answers say which method (and which feature and version) produced them.

Scores: similar images keep the raw cosine of the two vectors (-1 to 1). A `conse` hit's score
is calibrated to [0, 1], how likely the picture is what was asked for (`search.relevance`), and
hits under the threshold (`SIGHTLINE_SEMANTIC_THRESHOLD`, or the caller's `min_score`) are
left out, so a query that names nothing in the collection finds nothing. A user's clip model has
no measured calibration: its score is the cosine clipped to [0, 1], and only a `min_score` the
caller gives drops hits.

Every search takes `collection`: only images of that collection are found (None: of every one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sightline.errors import ImageNotFound, InvalidParameter, InvalidQuery, SearchUnavailable
from sightline.ids import is_image_id
from sightline.models import Models, ModelSpec, ModelUnavailable
from sightline.models.manifest import feature_of
from sightline.search.relevance import CONSE, Baseline
from sightline.search.text import SearchPage, SearchQuery, Strategy
from sightline.search.vector_store import VectorStore
from sightline.search.vectors import VectorSearch
from sightline.storage.records import ImageRecord, Vector
from sightline.vision import Analyzer
from sightline.vision.concepts import class_table, embed_query
from sightline.vision.user_models import encode_text

SIMILAR_FEATURE = "embedding"
SEMANTIC_FEATURE = "semantic"
MAX_QUERY_LENGTH = 1000


class ImageRecords(Protocol):
    """Where hits' images are read (the images domain's store)."""

    def get_images(
        self, image_ids: Sequence[str], collection: str | None = None
    ) -> dict[str, ImageRecord]: ...


class TextIndex(Protocol):
    def search(self, query: SearchQuery) -> SearchPage: ...


@dataclass(frozen=True)
class Hit:
    image: ImageRecord
    score: float | None  # None: newest first, no relevance


@dataclass(frozen=True)
class Answer:
    method: str  # "embedding", "conse" or "clip"
    feature: str
    version: str
    hits: list[Hit]
    threshold: float | None = None  # semantic answers: hits scored under it were left out


@dataclass(frozen=True)
class TextAnswer:
    method: str  # "text", or the semantic answer's method when it came to that
    hits: list[Hit]
    next_cursor: str | None
    total: int | None  # every match, every page; None when answered by meaning
    strategy: Strategy | None  # None: no words, a listing
    ignored_words: tuple[str, ...]
    threshold: float | None = None  # answered by meaning: hits scored under it were left out


class SearchService:
    def __init__(
        self,
        images: ImageRecords,
        text_index: TextIndex,
        stored_vectors: VectorStore,
        vectors: VectorSearch,
        models: Models,
        analyzers: Mapping[str, Analyzer],
        *,
        semantic_threshold: float,
    ) -> None:
        self.images = images
        self.text_index = text_index
        self.stored_vectors = stored_vectors
        self.vectors = vectors
        self.models = models
        self.analyzers = analyzers
        self.semantic_threshold = semantic_threshold

    def similar(
        self,
        image_id: str,
        limit: int,
        feature: str = SIMILAR_FEATURE,
        *,
        collection: str | None,
    ) -> Answer:
        """Images nearest to this one by the feature's vectors (of the current version)."""
        analyzer = self._vector_analyzer(feature)
        if not is_image_id(image_id) or not self.images.get_images([image_id], collection):
            raise ImageNotFound(f"No image with id {image_id!r}.")
        found = self.stored_vectors.vector_of(image_id, feature)
        if found is None or found[0] != analyzer.version:
            raise SearchUnavailable(
                f"Image {image_id} has no `{feature}` vector of version {analyzer.version} yet: "
                f"analyse it with that feature (reprocess) first.",
            ) from None
        nearest = self._nearest(
            feature, analyzer.version, found[1], limit, collection, exclude={image_id}
        )
        hits = [Hit(image, cosine) for image, cosine in nearest]
        return Answer(
            "embedding" if feature == SIMILAR_FEATURE else "vector", feature, analyzer.version, hits
        )

    def text(self, query: SearchQuery) -> TextAnswer:
        """Images by the words in their results and by filters, one cursor page at a time;
        images deleted since the page was found are left out. Words that match nothing are
        searched by meaning (`semantic`) as a last resort, when the query is plain words (no
        quoted phrase, no number: those ask for exactly that) and has no filters (which
        meaning cannot apply); an answer by meaning is one page."""
        for name, moment in (
            ("uploaded_after", query.uploaded_after),
            ("uploaded_before", query.uploaded_before),
        ):
            if moment is not None and moment.tzinfo is None:
                raise InvalidParameter(f"{name} needs a time zone, e.g. 2026-01-31T12:00:00Z.")
        page = self.text_index.search(query)
        if page.total == 0 and page.plain and query.cursor is None and not query.has_filters():
            by_meaning = self._by_meaning(query)
            if by_meaning is not None:
                return TextAnswer(
                    by_meaning.method,
                    by_meaning.hits,
                    None,
                    None,
                    Strategy.SEMANTIC,
                    page.ignored_words,
                    by_meaning.threshold,
                )
        records = self.images.get_images([hit.image_id for hit in page.hits], query.collection)
        hits = [
            Hit(records[hit.image_id], hit.score) for hit in page.hits if hit.image_id in records
        ]
        return TextAnswer(
            "text", hits, page.next_cursor, page.total, page.strategy, page.ignored_words
        )

    def _by_meaning(self, query: SearchQuery) -> Answer | None:
        """The semantic answer to a text query, or None where this server cannot search by
        meaning (no semantic feature, its model not prepared)."""
        if SEMANTIC_FEATURE not in self.analyzers and self._clip_model(query.collection) is None:
            return None
        try:
            return self.semantic(query.text or "", query.limit, collection=query.collection)
        except SearchUnavailable:
            return None

    def semantic(
        self, query: str, limit: int, *, collection: str | None, min_score: float | None = None
    ) -> Answer:
        """Images whose meaning is nearest to the query text, best first, those scored under
        `min_score` (default: the configured threshold; clip models: 0) left out."""
        query = query.strip()
        if not query or len(query) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"A semantic query is 1-{MAX_QUERY_LENGTH} characters.")
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise InvalidParameter("min_score is a number from 0 to 1.")
        clip = self._clip_model(collection)
        if clip is not None:
            feature, spec = clip
            analyzer = self.analyzers[feature]
            vector = encode_text(self.models, spec, [query])[0]
            threshold = min_score or 0.0
            nearest = self._nearest(feature, analyzer.version, vector, limit, collection)
            hits = _kept(
                [(image, min(max(cosine, 0.0), 1.0)) for image, cosine in nearest], threshold
            )
            return Answer("clip", feature, analyzer.version, hits, threshold)
        analyzer = self._vector_analyzer(SEMANTIC_FEATURE)
        try:
            vector = embed_query(self.models, query)
            with class_table(self.models).acquire() as table:
                baseline = Baseline.of(table @ vector)
        except ModelUnavailable as exc:
            raise SearchUnavailable(exc.reason) from exc
        threshold = self.semantic_threshold if min_score is None else min_score
        nearest = self._nearest(SEMANTIC_FEATURE, analyzer.version, vector, limit, collection)
        scored = [(image, CONSE.score(cosine, baseline)) for image, cosine in nearest]
        return Answer(
            "conse", SEMANTIC_FEATURE, analyzer.version, _kept(scored, threshold), threshold
        )

    def _clip_model(self, collection: str | None) -> tuple[str, ModelSpec] | None:
        """The first user clip model that embedded images (of the collection), if any."""
        for spec in self.models.registry.specs():
            if spec.manifest.get("kind") != "clip":
                continue
            feature = feature_of(spec)
            analyzer = self.analyzers.get(feature)
            if analyzer is not None and self.stored_vectors.vector_versions(
                feature, collection
            ).get(analyzer.version):
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
        collection: str | None,
        exclude: set[str] | None = None,
    ) -> list[tuple[ImageRecord, float]]:
        """Nearest images (of the collection) that still exist, with their cosines; deleted
        ones are dropped from the index."""
        wanted = limit
        while True:
            found = self.vectors.nearest(
                feature, version, vector, wanted, exclude or set(), collection
            )
            records = self.images.get_images([image_id for image_id, _score in found], collection)
            gone = [image_id for image_id, _score in found if image_id not in records]
            hits = [(records[image_id], score) for image_id, score in found if image_id in records]
            if gone:
                self.vectors.forget(feature, version, gone)
            if len(hits) >= limit or len(found) < wanted:
                return hits[:limit]
            wanted *= 2


def _kept(scored: list[tuple[ImageRecord, float]], threshold: float) -> list[Hit]:
    return [Hit(image, score) for image, score in scored if score >= threshold]
