"""A trained head as a standalone ONNX model, so users can run it outside Sightline.

The graph takes the embedding (`embedding`, float32 [N, D]), L2-normalises each row (raw and
unit-length vectors give the same result, as in `Head.probabilities`), applies the linear layer
and a softmax (multiclass) or a sigmoid per label (multilabel), and outputs `probabilities`
[N, labels]. The label list, kind, threshold and embedding model travel in the model's
metadata; `labels_of` reads the labels back.
"""

from __future__ import annotations

import json

import numpy as np

from sightline import __version__
from sightline.classifiers.training import ClassifierKind, Head

# Opset 17 / IR 8: run by onnxruntime 1.13 and later and by most other runtimes.
OPSET = 17
IR_VERSION = 8
# A zero vector divides by this instead of by 0 and stays zero, as `unit_length` keeps it.
TINY_NORM = float(np.finfo(np.float32).tiny)
INPUT, OUTPUT = "embedding", "probabilities"


def to_onnx(
    head: Head, *, embedding_model: dict[str, str], threshold: float | None = None
) -> bytes:
    """The serialised ONNX model of `head`; `embedding_model` (e.g. name and version) says
    which vectors it expects, `threshold` the cut-off its metrics were computed at."""
    import onnx  # only here: it takes 0.2-0.3 s to import
    from onnx import TensorProto, helper, numpy_helper

    if head.kind is ClassifierKind.MULTICLASS:
        activation = helper.make_node("Softmax", ["logits"], [OUTPUT], axis=1)
    else:
        activation = helper.make_node("Sigmoid", ["logits"], [OUTPUT])
    nodes = [
        helper.make_node("ReduceL2", [INPUT], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
        helper.make_node("Div", [INPUT, "safe_norm"], ["unit"]),
        # Gemm with transB: unit @ weights.T + bias, weights stored (labels, D) as trained.
        helper.make_node("Gemm", ["unit", "weights", "bias"], ["logits"], transB=1),
        activation,
    ]
    graph = helper.make_graph(
        nodes,
        "sightline_classifier_head",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", head.dimensions])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", len(head.labels)])],
        initializer=[
            numpy_helper.from_array(np.array([TINY_NORM], np.float32), "tiny"),
            numpy_helper.from_array(np.asarray(head.weights, np.float32), "weights"),
            numpy_helper.from_array(np.asarray(head.bias, np.float32), "bias"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="sightline",
        producer_version=__version__,
        doc_string=f"A {head.kind.value} classifier head over image embeddings.",
    )
    metadata = {
        "labels": json.dumps(list(head.labels)),
        "kind": head.kind.value,
        "embedding_model": json.dumps(embedding_model, sort_keys=True),
        "input": (
            f"{INPUT}: float32 [N, {head.dimensions}] image embeddings from the embedding model "
            "(normalised to unit length inside the graph)"
        ),
        "output": (
            f"{OUTPUT}: float32 [N, {len(head.labels)}], one column per label in `labels` "
            f"order ({activation.op_type.lower()})"
        ),
    }
    if threshold is not None:
        metadata["threshold"] = repr(float(threshold))
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    data: bytes = model.SerializeToString()
    return data


def labels_of(model_bytes: bytes) -> list[str]:
    """The label list stored in an exported model, in output column order; `ValueError` for
    anything else."""
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    try:
        model = onnx.load_model_from_string(model_bytes)
    except DecodeError as exc:
        raise ValueError(f"Not an ONNX model: {exc}") from exc
    for prop in model.metadata_props:
        if prop.key == "labels":
            labels = json.loads(prop.value)
            if isinstance(labels, list) and all(isinstance(label, str) for label in labels):
                return labels
    raise ValueError("The model has no `labels` list in its metadata.")
