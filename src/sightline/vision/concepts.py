"""The `semantic` feature: the picture placed in a sentence-embedding space, so that text
queries find it by meaning without an image-text (CLIP-style) model.

ConSE (Norouzi et al., 2014, "Zero-Shot Learning by Convex Combination of Semantic
Embeddings"): the picture's vector is the mean of the sentence embeddings of its `classes` most
likely ImageNet classes, weighted by their probabilities, scaled to unit length. To that are
added the embeddings of the concept words among its tags ("person", "portrait", "document",
"receipt", colour names; see `concept_words`), each weighted by its confidence times
`CONCEPT_WEIGHT` (0.5; colours `COLOR_WEIGHT`, 0.25), and the sum is scaled to unit length
again. A query is embedded by the same sentence model (`embed_query`), and the dot product
ranks pictures::

    {"model": {"name": "conse", "version": "3-1+1"}, "width": 451, "height": 300,
     "method": "conse",
     "text_model": {"name": "all-minilm-l6-v2", "version": "1"},
     "image_model": {"name": "efficientnet-lite0", "version": "1"},
     "classes": 10, "dimensions": 384, "vector": [0.012345, ...], "normalized": true}

A class is described to the sentence model as "{name}, a kind of {broader term}" ("tiger cat,
a kind of domestic cat", "missile, a kind of rocket"): the broader WordNet term puts classes
with rare or ambiguous names near the everyday words people search with. On ten photos
(scikit-image and scikit-learn samples) and 38 queries that name a picture's subject, its
category or its use ("kitten", "hot drink", "vehicle", "temple"), the right picture came first
for 33 with 10 classes; plain names managed 30, "a photo of a {name}" 33. Using 3 to 20
classes gives 33 to 35 with this wording; the paper's 10 sits in that plateau. Queries are
embedded as typed: wrapping them as "a photo of a {query}" too cost 3.

Concept words, measured on 12 scikit-image pictures, 3 rendered documents (claim form, memo,
receipt) and a rendered game screenshot, with 28 queries: the intended picture came first for
19 (classes alone: 11), mean reciprocal rank 0.74 (0.56). "woman", "person", "portrait" now
find the astronaut first (ranks 4, 2, 3 before), "receipt" the receipt (2), "form" and
"insurance claim form" the claim form (9, 11); the 10 plain photo queries stay at 8 first
(coins and moon, as before). Weights: concept 0.25-1.0 all give 18-19 first; at 1.0 without
colours, or with a "face" word, the astronaut's person words pulled it ahead of the coffee
for "hot drink" and of the grass for "grass", so the weight stays at 0.5 and there is no
"face" word. "screenshot" and "document" need the documents-aware `image_type` to separate
a screenshot and a memo from the other documents.

The class table (1000 x 384) and the concept table are built once per process (about a second
on two cores) and shared like models; the classifier's pass and the concept words are the
`tags` analysis, taken as an input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict

from sightline.indexing import IndexEntries
from sightline.models import LazyModel, Models
from sightline.models.imagenet_labels import ClassLabel
from sightline.models.sentences import MODEL as TEXT_MODEL
from sightline.models.sentences import sentence_encoder
from sightline.vision import geometry
from sightline.vision.base import Analysis, Inputs, Picture, analyzer_version
from sightline.vision.concept_words import SOURCES
from sightline.vision.concept_words import VOCABULARY as CONCEPT_VOCABULARY
from sightline.vision.tags import MODEL as IMAGE_MODEL
from sightline.vision.tags import Tag, TagsAnalyzer, TagsResult, classifier, shared_prediction
from sightline.vision.vectors import rounded, unit_length, vector_on_request

METHOD = "conse"
CODE_VERSION = "3"
DEFAULT_CLASSES = 10
CONCEPT_WEIGHT = 0.5
COLOR_WEIGHT = 0.25
CONCEPT_SOURCES = frozenset(SOURCES)
CONCEPT_ROWS = {word: row for row, word in enumerate(CONCEPT_VOCABULARY)}

Floats = npt.NDArray[np.float32]


def class_text(label: ClassLabel) -> str:
    """How a class is described to the sentence model (see the module docstring)."""
    broader = next((term for term in label.broader if term.lower() != label.name.lower()), None)
    return f"{label.name}, a kind of {broader}" if broader else label.name


def class_table(models: Models) -> LazyModel[Floats]:
    """The shared handle on the (1000, 384) unit embeddings of the classifier's classes, in
    its class order. Held like a model, so an idle worker lets it go with the models."""

    def build(_path: Path) -> Floats:
        with classifier(models).acquire() as loaded:
            texts = [class_text(label) for label in loaded.labels]
        with sentence_encoder(models).acquire() as encoder:
            return encoder.encode(texts)

    return models.load(TEXT_MODEL, build, key=f"{TEXT_MODEL}:imagenet")


def conse_vector(
    probabilities: npt.NDArray[np.floating[Any]], table: Floats, classes: int
) -> npt.NDArray[np.float64]:
    """The unit-length, probability-weighted mean of the top `classes` rows of `table`. (The
    paper divides by the weights' sum; scaling to unit length makes that moot.)"""
    top = np.argsort(-probabilities, kind="stable")[:classes]
    weights = probabilities[top].astype(np.float64)
    return unit_length(weights @ table[top].astype(np.float64))


def concept_table(models: Models) -> LazyModel[Floats]:
    """The shared handle on the unit embeddings of every concept word, in the order of
    `concept_words.VOCABULARY`."""

    def build(_path: Path) -> Floats:
        with sentence_encoder(models).acquire() as encoder:
            return encoder.encode(list(CONCEPT_VOCABULARY))

    return models.load(TEXT_MODEL, build, key=f"{TEXT_MODEL}:concepts")


def concept_sum(tags: Sequence[Tag], table: Floats) -> npt.NDArray[np.float64]:
    """The confidence-weighted sum of the embeddings of the tags that are concept words."""
    total = np.zeros(table.shape[1], np.float64)
    for tag in tags:
        if tag.source in CONCEPT_SOURCES and tag.name in CONCEPT_ROWS:
            weight = COLOR_WEIGHT if tag.source == "color" else CONCEPT_WEIGHT
            total += weight * tag.confidence * table[CONCEPT_ROWS[tag.name]]
    return total


def embed_query(models: Models, text: str) -> Floats:
    """A search query as a (384,) unit vector in the space of `semantic` vectors."""
    with sentence_encoder(models).acquire() as encoder:
        vector: Floats = encoder.encode([text])[0]
    return vector


class SemanticResult(geometry.ModelResult):
    model_config = ConfigDict(json_schema_extra=vector_on_request)

    method: str
    text_model: geometry.ModelInfo
    image_model: geometry.ModelInfo
    classes: int
    dimensions: int
    vector: list[float]
    normalized: bool

    def index_entries(self) -> IndexEntries:
        return IndexEntries(vector=self.vector)


class SemanticAnalyzer:
    """A unit vector comparable with `embed_query` vectors (see the module docstring)."""

    name = "semantic"
    result_model = SemanticResult
    depends_on = (TagsAnalyzer.name,)
    reuses = ()

    def __init__(self, models: Models, classes: int = DEFAULT_CLASSES) -> None:
        self.classes = classes
        image_version = models.registry.get(IMAGE_MODEL).version
        text_version = models.registry.get(TEXT_MODEL).version
        self.image_model = geometry.ModelInfo(name=IMAGE_MODEL, version=image_version)
        self.text_model = geometry.ModelInfo(name=TEXT_MODEL, version=text_version)
        self.version = analyzer_version(
            CODE_VERSION, f"{image_version}+{text_version}", (classes,), (DEFAULT_CLASSES,)
        )
        self.table = class_table(models)
        self.concepts = concept_table(models)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        probabilities = shared_prediction(inputs).probabilities
        with self.table.acquire() as table:
            classes = conse_vector(probabilities, table, self.classes)
        tags = inputs[TagsAnalyzer.name].result
        with self.concepts.acquire() as concepts:
            words = concept_sum(tags.tags if isinstance(tags, TagsResult) else [], concepts)
        vector = unit_length(classes + words)
        result = SemanticResult(
            **geometry.header(picture, METHOD, self.version),
            method=METHOD,
            text_model=self.text_model,
            image_model=self.image_model,
            classes=self.classes,
            dimensions=int(vector.size),
            vector=rounded(vector),
            normalized=bool(vector.any()),
        )
        return Analysis(result)
