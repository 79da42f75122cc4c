"""The sentence encoder on the real prepared all-MiniLM-L6-v2 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sightline.models import Models, ModelUnavailable
from sightline.models.sentences import BATCH_SIZE, DIMENSIONS, SentenceEncoder, sentence_encoder

# Cosine similarities from the torch model (transformers, mean pooling over the attention mask,
# L2 normalisation: the sentence-transformers pipeline) in the converter environment.
GOLDEN = {
    ("a cat", "kitten"): 0.70321,
    ("a cat", "a truck"): 0.32291,
    ("kitten", "a truck"): 0.26903,
}


@pytest.fixture(scope="module")
def encoder(models: Models) -> SentenceEncoder:
    with sentence_encoder(models).acquire() as loaded:
        return loaded


def test_vectors_are_unit_rows_in_input_order(encoder: SentenceEncoder) -> None:
    texts = ["a cat", "", "kitten", "the quick brown fox jumps over the lazy dog"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[2], encoder.encode(["kitten"])[0], atol=1e-5)


def test_no_texts_give_no_rows(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, DIMENSIONS)


def test_similarities_match_the_torch_model(encoder: SentenceEncoder) -> None:
    texts = ["a cat", "kitten", "a truck"]
    vectors = dict(zip(texts, encoder.encode(texts), strict=True))
    for (first, second), expected in GOLDEN.items():
        assert float(vectors[first] @ vectors[second]) == pytest.approx(expected, abs=1e-4)


def test_closer_meanings_are_closer(encoder: SentenceEncoder) -> None:
    cat, kitten, truck, lorry = encoder.encode(["a cat", "kitten", "a truck", "a lorry"])
    assert cat @ kitten > cat @ truck
    assert truck @ lorry > truck @ kitten


def test_batches_give_what_single_texts_give(encoder: SentenceEncoder) -> None:
    # More texts than one batch, of many lengths: sorting, batching and padding must all be
    # invisible in the result and its order.
    texts = [" ".join(["word"] * (i % 23)) + f" number {i}" for i in range(BATCH_SIZE + 9)]
    batched = encoder.encode(texts)
    single = np.stack([encoder.encode([text])[0] for text in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_padding_beside_a_long_text_changes_nothing(encoder: SentenceEncoder) -> None:
    alone = encoder.encode(["a cat"])[0]
    padded = encoder.encode(["a cat", "a cat " + "sitting on a mat " * 30])[0]
    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_texts_are_truncated_at_256_tokens_not_before(encoder: SentenceEncoder) -> None:
    # "word" is one token; [CLS] and [SEP] take two of the 256.
    early = encoder.encode(["word " * 200 + "cat", "word " * 200 + "truck"])
    late = encoder.encode(["word " * 260 + "cat", "word " * 260 + "truck"])
    assert float(early[0] @ early[1]) < 0.9999
    np.testing.assert_array_equal(late[0], late[1])


def test_every_user_shares_one_loaded_encoder(models: Models) -> None:
    assert sentence_encoder(models) is sentence_encoder(models)


def test_an_unprepared_model_skips_with_instructions(tmp_path: Path) -> None:
    empty = Models(tmp_path, threads=1, idle_seconds=0)
    with pytest.raises(ModelUnavailable, match="sightline models prepare"):
        with sentence_encoder(empty).acquire():
            pass
    empty.close()
