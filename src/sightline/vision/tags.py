"""The `tags` and `embedding` features: one EfficientNet-Lite0 (ImageNet-1k) pass per picture.

`tags`::

    {"model": {"name": "efficientnet-lite0", "version": "1"}, "width": 451, "height": 300,
     "tags": [{"name": "domestic cat", "confidence": 0.9153, "source": "imagenet",
               "broader": ["cat", "domestic animal", "feline", "carnivore", "animal"]},
              {"name": "tiger cat", "confidence": 0.3821, "source": "imagenet",
               "broader": ["domestic cat", "cat", "domestic animal", "feline", "animal"]},
              {"name": "Egyptian Mau", "confidence": 0.3513, "source": "imagenet", ...},
              {"name": "tabby cat", "confidence": 0.1804, "source": "imagenet", ...},
              {"name": "brown", "confidence": 0.8841, "source": "color", "broader": []}],
     "classes": [{"name": "tiger cat", "wnid": "n02123159", "confidence": 0.3821},
                 {"name": "Egyptian Mau", "wnid": "n02124075", "confidence": 0.3513}, ...]}

- `classes`: the `top_k` most likely of the 1000 ImageNet classes, with their WordNet ids.
- `tags`: words for the picture, most confident first, colours last, at most `max_tags` (10).
  `source` says where a word came from: "imagenet", or the feature a concept word was derived
  from ("faces", "people", "read", "image_type", "color"; see `concept_words`). A word is
  listed once, with its highest confidence.
- ImageNet tags: every class at or above `threshold` (0.1), its probability as confidence,
  and its WordNet broader terms in `broader`, nearest first (at most `MAX_BROADER`: the four
  nearest and the broadest kept one, "animal"). Broader terms are not tags of their own, so
  general words ("device", "covering", "structure") no longer lead the list; the catalog still
  indexes each at its tag's confidence, so "animal" finds a cat.
- Sure together, unsure alone: a broader term becomes a tag of its own when the summed
  probability of its classes is at least `SURE` (0.6) and at least `PROMOTION_GAIN` (2) times
  its likeliest class's: three unsure cat breeds (0.38, 0.35, 0.18) make "domestic cat" 0.92.
  Only the nearest such term of each of the 10 likeliest classes is considered, and a term
  above another promoted one is left to that one's `broader` ("cat", "mammal" under
  "domestic cat"). With 0.5 and no gain rule, "device" (0.58) and "weapon" (0.53) led a rocket
  photo's list above its "missile" (0.33), and "device" led a game screenshot's.
- Concept words join when the same job computes the features they come from (`reuses`; the
  default feature set computes them all). A person found by `faces` or `people` gives
  "person" at the detector's confidence (0.93 on the astronaut), ahead of ImageNet's guesses
  ("football helmet" 0.16): ImageNet has no class for people, so a portrait's best classes
  are garments and helmets.

`embedding`::

    {"model": {...}, "width": 451, "height": 300, "dimensions": 1280,
     "vector": [0.001234, ...], "normalized": true}

The vector is the classifier's pooled features (what its last layer reads), scaled to unit
length: similar pictures have a cosine similarity (dot product) near 1.

The classifier runs once per picture, in `tags`: `embedding` (and `semantic`, and custom
classifiers) depend on `tags` and take its `ClassifierAnalysis`, whatever the request named.
The same run also gives `Prediction.early`: the global averages of earlier blocks' outputs
(`EARLY_OUTPUTS`), which see strokes and small marks the last layer has pooled away; custom
classifiers may read them (`classifiers.inputs`). The graph is loaded with those tensors added as
outputs: the computation, hence tags and embeddings, is unchanged.

Input: the centre square covering 87.5% of the short side (the same view as "resize the short
side to 256, crop the middle 224"), resized to 224x224 with bicubic filtering as in the model's
original evaluation code, RGB scaled as (x - 127) / 128.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from sightline.indexing import IndexEntries
from sightline.models import LazyModel, Models
from sightline.models.imagenet_labels import LABELS_FILE, ClassLabel, read_labels
from sightline.models.runtime import SessionFactory
from sightline.vision import geometry
from sightline.vision.base import (
    Analysis,
    Inputs,
    Picture,
    ResultPart,
    analyzer_version,
)
from sightline.vision.concept_words import SOURCES as CONCEPT_SOURCES
from sightline.vision.concept_words import ConceptSource, ConceptWord, concept_words
from sightline.vision.vectors import EmbeddingResult, softmax, unit_length

MODEL = "efficientnet-lite0"
TAGS_VERSION = "4"
EMBEDDING_VERSION = "1"
INPUT_SIDE = 224
CROP_FRACTION = 0.875  # 224 / 256
DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.1
DEFAULT_MAX_TAGS = 10
MAX_BROADER = 5
SURE = 0.6  # a broader term this sure, and surer than any of its classes by
PROMOTION_GAIN = 2.0  # this factor, becomes a tag of its own
PROMOTION_CLASSES = 10  # the likeliest classes whose broader terms may become tags
MIN_CLASS_CONFIDENCE = 0.1  # `classes` holds the top 5 whatever their probability: less is noise
# Blocks 4 (40 channels, 28x28) and 10 (112 channels, 14x14) of 16. With the embedding, a
# linear head's 5-fold CV accuracy (10 digits x 20 / 5 kinds of small marks on busy backgrounds
# x 20): embedding alone 0.835 / 0.53; with block 4 0.84 / 0.64, 7 0.865 / 0.65, 10 0.88 / 0.60,
# 14 0.895 / 0.57; blocks 4 and 14 0.875 / 0.70, 4, 7 and 14 0.875 / 0.71, 4 and 10 0.875 / 0.71.
EARLY_OUTPUTS = ("/_blocks.4/Add_output_0", "/_blocks.10/Add_output_0")

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Vocabulary:
    """Every tag word with the classes it covers (the class named so, or lying under it).
    Stored grouped by word, not as a dense words x classes matrix: summing ~8,000 pairs is
    far cheaper than a ~1,700 x 1,000 product for every picture."""

    words: tuple[str, ...]
    is_class_name: npt.NDArray[np.bool_]
    classes: npt.NDArray[np.intp]  # class indices, word after word
    starts: npt.NDArray[np.intp]  # where each word's classes begin in `classes`
    sizes: npt.NDArray[np.int64]  # classes per word: fewer is narrower
    position: Mapping[str, int]  # each word's place in `words`

    @classmethod
    def of(cls, labels: Sequence[ClassLabel]) -> Vocabulary:
        class_names = {label.name for label in labels}
        covered: dict[str, list[int]] = {}
        for label in labels:
            for word in dict.fromkeys((label.name, *label.broader)):
                covered.setdefault(word, []).append(label.index)
        sizes = np.array([len(indices) for indices in covered.values()], np.int64)
        return cls(
            words=tuple(covered),
            is_class_name=np.array([word in class_names for word in covered]),
            classes=np.array([i for indices in covered.values() for i in indices], np.intp),
            starts=np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp),
            sizes=sizes,
            position={word: i for i, word in enumerate(covered)},
        )

    def confidences(self, probabilities: Floats) -> Floats:
        """Every word's confidence: the summed probability of its classes, at most 1."""
        sums: Floats = np.add.reduceat(probabilities[self.classes], self.starts)
        return np.minimum(sums, 1.0)

    def best_class(self, probabilities: Floats) -> Floats:
        """Every word's likeliest class's probability."""
        best: Floats = np.maximum.reduceat(probabilities[self.classes], self.starts)
        return best


@dataclass(frozen=True)
class Classifier:
    """The loaded model: an onnxruntime session plus the names of its 1000 outputs."""

    session: ort.InferenceSession
    labels: tuple[ClassLabel, ...]
    vocabulary: Vocabulary

    @classmethod
    def load(cls, path: Path, open_session: SessionFactory) -> Classifier:
        labels = tuple(read_labels(path.parent / LABELS_FILE))
        session = open_session(with_outputs(path, EARLY_OUTPUTS))
        return cls(session, labels, Vocabulary.of(labels))


def with_outputs(path: Path, tensors: Sequence[str]) -> bytes:
    """The ONNX model at `path` with inner `tensors` also among its outputs."""
    import onnx  # only when the model is loaded: importing it takes a while

    model = onnx.load(path)
    computed = {output for node in model.graph.node for output in node.output}
    for tensor in tensors:
        if tensor not in computed:
            raise ValueError(f"{path} computes no tensor {tensor!r}.")
        info = onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None)
        model.graph.output.append(info)
    serialized: bytes = model.SerializeToString()
    return serialized


@dataclass(frozen=True)
class Prediction:
    probabilities: Floats  # (1000,), sums to 1
    features: Floats  # (1280,), as the model gives them (not normalised)
    early: Floats  # (152,): each of `EARLY_OUTPUTS` averaged over the picture, unit length


def classifier(models: Models) -> LazyModel[Classifier]:
    """The shared handle: both features get the same loaded classifier."""
    return models.load(MODEL, lambda path: Classifier.load(path, models.session))


def model_input(image: Image.Image) -> Floats:
    """(3, 224, 224) float32 pixels for the model from an RGB image of any size."""
    width, height = image.size
    side = min(width, height) * CROP_FRACTION
    left, top = (width - side) / 2, (height - side) / 2
    square = image.resize(
        (INPUT_SIDE, INPUT_SIDE),
        Image.Resampling.BICUBIC,
        box=(left, top, left + side, top + side),
        reducing_gap=3.0,  # large photos: a fast box reduction first, invisible at 224 px
    )
    pixels = (np.asarray(square, np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def classify_batch(
    model: Classifier, images: Sequence[Image.Image]
) -> tuple[Floats, Floats, Floats]:
    """Class probabilities (N, 1000), pooled features (N, 1280) and early features (N, 152:
    each early block's output averaged over the picture and scaled to unit length, so each
    counts alike) for RGB images, in one session run (a benchmark measures batching with this;
    analyzers pass one picture)."""
    batch = np.stack([model_input(image) for image in images])
    logits, features, *blocks = model.session.run(
        ["logits", "features", *EARLY_OUTPUTS], {"pixels": batch}
    )
    early = np.hstack(
        [unit_length(np.asarray(block, np.float32).mean(axis=(2, 3))) for block in blocks]
    ).astype(np.float32)
    return softmax(np.asarray(logits, np.float32)), np.asarray(features, np.float32), early


def predict(picture: Picture, model: Classifier) -> Prediction:
    """The classifier's output for this picture."""
    probabilities, features, early = classify_batch(model, [picture.rgb])
    return Prediction(probabilities[0], features[0], early[0])


TagSource = Literal["imagenet", ConceptSource]


class Tag(ResultPart):
    """A word for the picture. `source`: "imagenet" (a class, or a broader term its unsure
    classes are sure of together) or the feature a concept word came from. `broader`: the
    WordNet terms above an ImageNet tag, nearest first (searchable like the tag itself)."""

    name: str
    confidence: float
    source: TagSource
    broader: list[str]


class ImageClass(ResultPart):
    name: str
    wnid: str
    confidence: float


class TagsResult(geometry.ModelResult):
    """`tags`: at most 10 words, most confident first, colour words last. `classes`: the
    likeliest ImageNet classes."""

    tags: list[Tag]
    classes: list[ImageClass]

    def index_entries(self) -> IndexEntries:
        """Every tag, every broader term (as sure as the surest tag it is listed under: "animal"
        finds a cat) and the likelier classes."""
        scored = [
            *((tag.name, tag.confidence) for tag in self.tags),
            *((term, tag.confidence) for tag in self.tags for term in tag.broader),
            *((c.name, c.confidence) for c in self.classes),
        ]
        return IndexEntries(tags=[(name, c) for name, c in scored if c >= MIN_CLASS_CONFIDENCE])


@dataclass(frozen=True, kw_only=True)
class ClassifierAnalysis(Analysis):
    """The `tags` analysis, with the classifier's output that dependent features reuse."""

    prediction: Prediction


def shared_prediction(inputs: Inputs) -> Prediction:
    """The classifier's output from the `tags` analysis among a dependent feature's inputs."""
    tags = inputs[TagsAnalyzer.name]
    if not isinstance(tags, ClassifierAnalysis):
        raise TypeError(f"The {TagsAnalyzer.name!r} input carries no classifier output.")
    return tags.prediction


def broader_shown(terms: Sequence[str]) -> list[str]:
    """At most `MAX_BROADER` terms: the nearest, and the broadest ("animal") when cut."""
    if len(terms) <= MAX_BROADER:
        return list(terms)
    return [*terms[: MAX_BROADER - 1], terms[-1]]


def imagenet_tags(
    probabilities: Floats,
    labels: Sequence[ClassLabel],
    vocabulary: Vocabulary,
    threshold: float,
) -> list[Tag]:
    """Classes at or above `threshold`, each with its broader terms, and the broader terms
    that are sure together while none of their classes is (see the module docstring)."""
    confidences = vocabulary.confidences(probabilities)
    best_class = vocabulary.best_class(probabilities)
    found: dict[str, Tag] = {}

    def add(name: str, confidence: float, broader: Sequence[str]) -> None:
        tag = Tag(
            name=name,
            confidence=geometry.confidence(confidence),
            source="imagenet",
            broader=broader_shown(broader),
        )
        if name not in found or tag.confidence > found[name].confidence:
            found[name] = tag

    promoted: dict[str, tuple[float, Sequence[str]]] = {}
    for index in np.argsort(-probabilities, kind="stable")[:PROMOTION_CLASSES]:
        label = labels[index]
        if probabilities[index] >= threshold:
            add(label.name, float(probabilities[index]), label.broader)
        for depth, term in enumerate(label.broader):
            word = vocabulary.position[term]
            together, alone = float(confidences[word]), float(best_class[word])
            if together >= SURE and together >= PROMOTION_GAIN * alone:
                promoted[term] = (together, label.broader[depth + 1 :])
                break
    implied = {term for _, above in promoted.values() for term in above}
    for term, (confidence, above) in promoted.items():
        if term not in implied:
            add(term, confidence, above)
    return sorted(found.values(), key=lambda tag: -tag.confidence)


def rank_tags(imagenet: Sequence[Tag], concepts: Sequence[ConceptWord], limit: int) -> list[Tag]:
    """ImageNet tags and concept words in one list, each name once (the surer kept): most
    confident first, colours after everything else, at most `limit`."""
    merged: dict[str, Tag] = {}
    for tag in [
        *(
            Tag(
                name=w.name,
                confidence=geometry.confidence(w.confidence),
                source=w.source,
                broader=[],
            )
            for w in concepts
        ),
        *imagenet,
    ]:
        if tag.name not in merged or tag.confidence > merged[tag.name].confidence:
            merged[tag.name] = tag
    ranked = sorted(merged.values(), key=lambda t: (t.source == "color", -t.confidence))
    return ranked[:limit]


def top_classes(probabilities: Floats, labels: Sequence[ClassLabel], k: int) -> list[ImageClass]:
    best = np.argsort(-probabilities, kind="stable")[:k]
    return [
        ImageClass(
            name=labels[i].name,
            wnid=labels[i].wnid,
            confidence=geometry.confidence(probabilities[i]),
        )
        for i in best
    ]


class TagsAnalyzer:
    """ImageNet classes with the broader words above them, and concept words from the
    features in `reuses` (see the module docstring)."""

    name = "tags"
    result_model = TagsResult
    depends_on = ()
    reuses = CONCEPT_SOURCES

    def __init__(
        self,
        models: Models,
        top_k: int = DEFAULT_TOP_K,
        threshold: float = DEFAULT_THRESHOLD,
        max_tags: int = DEFAULT_MAX_TAGS,
    ) -> None:
        self.top_k, self.threshold, self.max_tags = top_k, threshold, max_tags
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(
            TAGS_VERSION,
            self.model_version,
            (top_k, threshold, max_tags),
            (DEFAULT_TOP_K, DEFAULT_THRESHOLD, DEFAULT_MAX_TAGS),
        )
        self.model = classifier(models)

    def analyze(self, picture: Picture, inputs: Inputs) -> ClassifierAnalysis:
        with self.model.acquire() as loaded:
            prediction = predict(picture, loaded)
            probabilities = prediction.probabilities
            found = imagenet_tags(probabilities, loaded.labels, loaded.vocabulary, self.threshold)
            classes = top_classes(probabilities, loaded.labels, self.top_k)
        concepts = [w for w in concept_words(inputs) if w.confidence >= self.threshold]
        tags = rank_tags(found, concepts, self.max_tags)
        result = TagsResult(
            **geometry.header(picture, MODEL, self.model_version), tags=tags, classes=classes
        )
        return ClassifierAnalysis(result, prediction=prediction)


class EmbeddingAnalyzer:
    """A unit-length 1280-d image vector for similarity search (see the module docstring)."""

    name = "embedding"
    result_model = EmbeddingResult
    depends_on = (TagsAnalyzer.name,)
    reuses = ()

    def __init__(self, models: Models) -> None:
        self.model_version = models.registry.get(MODEL).version
        self.version = analyzer_version(EMBEDDING_VERSION, self.model_version)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        vector = unit_length(shared_prediction(inputs).features.astype(np.float64))
        return Analysis(EmbeddingResult.of(picture, MODEL, self.model_version, vector))
