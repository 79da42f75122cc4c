"""Features from the user's own models (`sightline models add`), one per model, named
`model:<name>`. Detectors are not here: they all feed the `objects` feature.

A classifier gives its top labels:

    {"model": {"name": "birds", "version": "1+1a2b3c4d"}, "width": 640, "height": 480,
     "labels": [{"name": "robin", "confidence": 0.83}, {"name": "wren", "confidence": 0.06}]}

A clip-style encoder pair gives the picture's embedding, L2-normalised, so that the cosine
similarity to a text embedding from `encode_text` is a dot product:

    {"model": {"name": "my-clip", "version": "1+1a2b3c4d"}, "width": 640, "height": 480,
     "dimensions": 512, "vector": [0.0123, -0.0456, ...], "normalized": true}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from sightline.errors import InvalidModel
from sightline.indexing import MIN_LABEL_CONFIDENCE, IndexEntries
from sightline.models import LazyModel, Models, ModelSpec
from sightline.models.manifest import ModelManifest, feature_of, load_manifest, text_feed
from sightline.vision import geometry, yolo
from sightline.vision.base import (
    Analysis,
    Analyzer,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    analyzer_version,
)
from sightline.vision.pixels import rgb_array
from sightline.vision.vectors import EmbeddingResult, softmax, unit_length

if TYPE_CHECKING:
    from tokenizers import Tokenizer

CODE_VERSION = "1"
TOP_LABELS = 5
PREFIX = "model:"  # what `feature_of` names user models' features with
Vector = npt.NDArray[np.float32]


class LabelsResult(geometry.ModelResult):
    labels: list[geometry.Label]

    def index_entries(self) -> IndexEntries:
        return IndexEntries(
            labels=[label.name for label in self.labels if label.confidence >= MIN_LABEL_CONFIDENCE]
        )


# The results of user models' features, one per kind: classifiers', then clip models'.
USER_RESULTS: tuple[type[ResultModel], ...] = (LabelsResult, EmbeddingResult)


class UserModelAnalyzer(Independent):
    """A user model's feature: named after the model, versioned by its files and manifest."""

    def __init__(self, models: Models, spec: ModelSpec) -> None:
        self.manifest = load_manifest(spec)
        self.name = feature_of(spec)
        self.version = analyzer_version(CODE_VERSION, spec.version)
        self.spec = spec
        self.model = models.onnx(spec.name)


class UserClassifierAnalyzer(UserModelAnalyzer):
    result_model = LabelsResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        with self.model.acquire() as session:
            scores = _activate(run_image(session, picture, self.manifest), self.manifest)
        labels = self.manifest.label_list()
        best = np.argsort(-scores, kind="stable")[:TOP_LABELS]
        result = LabelsResult(
            **geometry.header(picture, self.spec.name, self.spec.version),
            labels=[
                geometry.Label(name=labels[index], confidence=geometry.confidence(scores[index]))
                for index in best.tolist()
            ],
        )
        return Analysis(result)


@dataclass(frozen=True)
class TextEncoder:
    """The text half of a clip pair, loaded apart from the image half: analysing pictures never
    needs it, only searching by text does."""

    session: ort.InferenceSession
    tokenizer: Tokenizer


class UserEncoderAnalyzer(UserModelAnalyzer):
    result_model = EmbeddingResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        with self.model.acquire() as session:
            vector = unit_length(run_image(session, picture, self.manifest))
        return Analysis(EmbeddingResult.of(picture, self.spec.name, self.spec.version, vector))


def user_analyzers(models: Models) -> dict[str, Analyzer]:
    """One analyzer per registered user classifier and clip model, keyed by feature name."""
    analyzers: list[Analyzer] = []
    for spec in models.registry.specs():
        kind = spec.manifest.get("kind")
        if kind == "classifier":
            analyzers.append(UserClassifierAnalyzer(models, spec))
        elif kind == "clip":
            analyzers.append(UserEncoderAnalyzer(models, spec))
    return {analyzer.name: analyzer for analyzer in analyzers}


def text_encoder(models: Models, spec: ModelSpec) -> LazyModel[TextEncoder]:
    text_model, tokenizer, max_length = load_manifest(spec).text_encoder()

    def build(image_model: Path) -> TextEncoder:
        folder = image_model.parent
        return TextEncoder(
            models.session(folder / text_model),
            load_tokenizer(folder / tokenizer, max_length),
        )

    return models.load(spec.name, build, key=f"{spec.name}:text")


def encode_text(models: Models, spec: ModelSpec, texts: list[str]) -> Vector:
    """`[len(texts), dimensions]` L2-normalised text embeddings from a clip model's text half
    (`[0, 0]` for no texts)."""
    if spec.manifest.get("kind") != "clip":
        raise InvalidModel(f"{spec.name!r} is not a clip model.", name=spec.name)
    manifest = load_manifest(spec)
    with text_encoder(models, spec).acquire() as encoder:
        session, tokenizer = encoder.session, encoder.tokenizer
        output = manifest.text_output or session.get_outputs()[0].name
        rows = []
        # One text per run: exported text encoders often fix the batch size at 1.
        for encoding in tokenizer.encode_batch(texts):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            mask = np.asarray([encoding.attention_mask], dtype=np.int64)
            rows.append(np.asarray(session.run([output], text_feed(session, ids, mask))[0]))
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return unit_length(np.stack([row.reshape(-1) for row in rows])).astype(np.float32)


def load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """A Hugging Face tokenizer that pads and truncates every text to `max_length` tokens,
    padding with the tokenizer's own pad token when it names one, else with id 0."""
    from tokenizers import Tokenizer  # only here: only searching by text needs it

    tokenizer = Tokenizer.from_file(str(path))
    padding = tokenizer.padding or {}
    pad_id = int(padding.get("pad_id", 0))
    pad_token = padding.get("pad_token") or tokenizer.id_to_token(pad_id) or "[PAD]"
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(length=max_length, pad_id=pad_id, pad_token=pad_token)
    return tokenizer


def run_image(
    session: ort.InferenceSession, picture: Picture, manifest: ModelManifest
) -> npt.NDArray[np.float64]:
    """The model's output for the picture, flattened (a batch of one)."""
    fitted, _ = yolo.fit(rgb_array(picture), manifest.input)
    tensor = yolo.to_tensor(fitted, manifest.input)
    output = manifest.output or session.get_outputs()[0].name
    result = session.run([output], {session.get_inputs()[0].name: tensor})[0]
    return np.asarray(result, dtype=np.float64).reshape(-1)


def _activate(scores: npt.NDArray[np.float64], manifest: ModelManifest) -> npt.NDArray[np.float64]:
    if manifest.activation == "softmax":
        return softmax(scores)
    if manifest.activation == "sigmoid":
        return np.asarray(np.exp(-np.logaddexp(0, -scores)))  # 1 / (1 + e^-x), overflow-free
    return scores
