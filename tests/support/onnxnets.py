"""Tiny ONNX networks built with onnx.helper, whose outputs can be computed by hand, and the
files a user model needs (manifest, labels, tokenizer), for the bring-your-own-model tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

OPSET = 17
IR_VERSION = 8  # old enough for any onnxruntime the project supports
ELEMENT_TYPES = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8}


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _image_input(width: int, height: int, layout: str, dtype: str) -> onnx.ValueInfoProto:
    shape = [1, 3, height, width] if layout == "NCHW" else [1, height, width, 3]
    return helper.make_tensor_value_info("images", ELEMENT_TYPES[dtype], shape)


def _channel_means(layout: str, dtype: str) -> list[onnx.NodeProto]:
    """`images` -> `means` [1, 3]: the per-channel mean of the input tensor."""
    cast = [helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT)]
    source = "pixels" if dtype == "uint8" else "images"
    axes = [2, 3] if layout == "NCHW" else [1, 2]
    return [
        *(cast if dtype == "uint8" else []),
        helper.make_node("ReduceMean", [source], ["means"], axes=axes, keepdims=0),
    ]


def pooled_linear(
    path: Path,
    weights: npt.NDArray[np.floating[Any]],
    bias: npt.NDArray[np.floating[Any]],
    *,
    width: int,
    height: int,
    layout: str = "NCHW",
    dtype: str = "float32",
) -> Path:
    """A classifier or image encoder: output `[1, K]` = channel means `[1, 3]` @ weights `[3, K]`
    + bias `[K]`."""
    graph = helper.make_graph(
        [
            *_channel_means(layout, dtype),
            helper.make_node("Gemm", ["means", "weights", "bias"], ["scores"]),
        ],
        "pooled_linear",
        [_image_input(width, height, layout, dtype)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, weights.shape[1]])],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
            numpy_helper.from_array(bias.astype(np.float32), "bias"),
        ],
    )
    return _save(graph, path)


def fixed_output(path: Path, output: npt.NDArray[np.float32], *, width: int, height: int) -> Path:
    """A "detector" whose output is always `output`; the input is still read (times zero), so
    the graph declares and needs an input of the given size."""
    graph = helper.make_graph(
        [
            *_channel_means("NCHW", "float32"),
            helper.make_node("ReduceSum", ["means"], ["total"], keepdims=1),
            helper.make_node("Mul", ["total", "zero"], ["nothing"]),
            helper.make_node("Add", ["answer", "nothing"], ["output0"]),
        ],
        "fixed_output",
        [_image_input(width, height, "NCHW", "float32")],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output.astype(np.float32), "answer"),
            numpy_helper.from_array(np.zeros((1,), dtype=np.float32), "zero"),
        ],
    )
    return _save(graph, path)


def text_encoder(path: Path, embeddings: npt.NDArray[np.float32], *, mask: bool = True) -> Path:
    """Output `[B, D]` = the sum of the token embeddings `[V, D]` (times the attention mask)."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])
    inputs = [ids]
    nodes = [helper.make_node("Gather", ["embeddings", "input_ids"], ["vectors"], axis=0)]
    summed = "vectors"
    if mask:
        inputs.append(
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])
        )
        nodes += [
            helper.make_node("Cast", ["attention_mask"], ["weights"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["weights", "last"], ["column"]),
            helper.make_node("Mul", ["vectors", "column"], ["masked"]),
        ]
        summed = "masked"
    nodes.append(
        helper.make_node("ReduceSum", [summed, "tokens_axis"], ["text_embeds"], keepdims=0)
    )
    graph = helper.make_graph(
        nodes,
        "text_encoder",
        inputs,
        [
            helper.make_tensor_value_info(
                "text_embeds", TensorProto.FLOAT, ["batch", embeddings.shape[1]]
            )
        ],
        initializer=[
            numpy_helper.from_array(embeddings.astype(np.float32), "embeddings"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "last"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tokens_axis"),
        ],
    )
    return _save(graph, path)


def word_tokenizer(path: Path, words: list[str]) -> Path:
    """A whitespace word-level tokenizer: `[PAD]` is id 0, `[UNK]` 1, then `words` in order."""
    vocab = {"[PAD]": 0, "[UNK]": 1} | {word: index + 2 for index, word in enumerate(words)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(path))
    return path


def write_manifest(folder: Path, **fields: Any) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps(fields))
    return path
