"""Sentence embeddings: texts to unit vectors whose dot product measures closeness of meaning.

The model is all-MiniLM-L6-v2, prepared as one ONNX graph that already does what the
sentence-transformers pipeline does after BERT (mean of the token states under the attention
mask, then unit length; see `converters/minilm.py`). Here only tokenizing is left:
truncated to 256 tokens (the pipeline's `max_seq_length`) and padded to the longest text of
each batch, which the mean over the attention mask makes invisible in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from sightline.models import LazyModel, Models
from sightline.models.runtime import SessionFactory

MODEL = "all-minilm-l6-v2"
TOKENIZER_FILE = "tokenizer.json"
DIMENSIONS = 384
MAX_TOKENS = 256
BATCH_SIZE = 64
PAD_ID = 0  # BERT's [PAD]; the attention mask hides it from the result anyway

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SentenceEncoder:
    """The loaded model: an onnxruntime session and its tokenizer. Safe to share between
    threads: neither is changed after loading."""

    session: ort.InferenceSession
    tokenizer: Tokenizer

    @classmethod
    def load(cls, path: Path, open_session: SessionFactory) -> SentenceEncoder:
        tokenizer = Tokenizer.from_file(str(path.parent / TOKENIZER_FILE))
        # The file pads and truncates everything to 128 tokens; the pipeline truncates at 256
        # and pads per batch, which `_run` does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        return cls(open_session(path), tokenizer)

    def encode(self, texts: Sequence[str]) -> Floats:
        """`(len(texts), 384)` float32 unit rows, in the order of `texts`."""
        encodings = self.tokenizer.encode_batch(list(texts))
        # Batches of similar lengths carry little padding: ~30% faster for many short texts.
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        vectors = np.zeros((len(encodings), DIMENSIONS), np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            vectors[rows] = self._run([encodings[row].ids for row in rows])
        return vectors

    def _run(self, token_ids: list[list[int]]) -> Floats:
        width = max(len(ids) for ids in token_ids)
        ids = np.full((len(token_ids), width), PAD_ID, np.int64)
        mask = np.zeros((len(token_ids), width), np.int64)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        (embedding,) = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(embedding, np.float32)


def sentence_encoder(models: Models) -> LazyModel[SentenceEncoder]:
    """The shared handle: every user of the sentence model gets the same loaded copy."""
    return models.load(MODEL, lambda path: SentenceEncoder.load(path, models.session))
