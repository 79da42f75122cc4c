"""Convert a TF.js graph model (a `model.json` plus its weight shards) to ONNX with tf2onnx.

Run by `sightline models prepare` in the converter Python (tensorflow-cpu, tf2onnx, onnx),
never imported by Sightline itself:

    python tfjs_graph.py --model-json PATH/movenet-multipose.json --out DIR

Writes DIR/model.onnx (opset 13) and prints one JSON line of provenance facts: the graph's
input and output names, types and shapes, and the sha256 of every source file.

Two TF.js quirks stop tf2onnx, so a patched copy of the model JSON is converted (the source
files are only read): the TF.js converter drops the `TArgs` attribute of `_FusedConv2D` and the
`index_type` attribute of `TopKV2`, both of which TensorFlow's op registry requires when
tf2onnx rebuilds the nodes. The values restored are the only ones these graphs use: float
extra arguments and int32 indices.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# tf2onnx 1.17 still calls np.product, which numpy 2 removed.
if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]

import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
from tf2onnx import optimizer  # noqa: E402
from tf2onnx.tfonnx import process_tf_graph  # noqa: E402

OPSET = 13
SOURCES = ("tensorflow-cpu", "tf2onnx", "onnx", "numpy")
ELEMENT_TYPES = {value: name for name, value in onnx.TensorProto.DataType.items()}


def patch_nodes(nodes: list[dict[str, Any]]) -> dict[str, int]:
    """Restore the attributes tf2onnx needs, in place; returns how many nodes of each op changed."""
    patched = {"_FusedConv2D": 0, "TopKV2": 0}
    for node in nodes:
        attributes = node.setdefault("attr", {})
        if node["op"] == "_FusedConv2D" and "TArgs" not in attributes:
            count = int(attributes.get("num_args", {}).get("i", "1"))
            attributes["TArgs"] = {"list": {"type": ["DT_FLOAT"] * count}}
            patched["_FusedConv2D"] += 1
        elif node["op"] == "TopKV2" and "index_type" not in attributes:
            attributes["index_type"] = {"type": "DT_INT32"}
            patched["TopKV2"] += 1
    return patched


def patched_copy(model_json: Path, folder: Path) -> tuple[Path, dict[str, int]]:
    """The model JSON with its nodes patched, written to `folder` next to links to the weight
    shards (tf2onnx reads them relative to the JSON)."""
    model = json.loads(model_json.read_text())
    topology = model["modelTopology"]
    patched = patch_nodes(topology["node"])
    for function in topology.get("library", {}).get("function", []):
        for kind, count in patch_nodes(function.get("nodeDef", [])).items():
            patched[kind] += count
    copy = folder / model_json.name
    copy.write_text(json.dumps(model))
    for shard in weight_shards(model_json):
        (folder / shard.name).symlink_to(shard.resolve())
    return copy, patched


def weight_shards(model_json: Path) -> list[Path]:
    model = json.loads(model_json.read_text())
    return [
        model_json.parent / path for group in model["weightsManifest"] for path in group["paths"]
    ]


def convert(model_json: Path, target: Path) -> onnx.ModelProto:
    """tf2onnx's own `--tfjs` pipeline, in process: parse, convert, optimize, save."""
    with tf.device("/cpu:0"), tf.Graph().as_default():
        graph = process_tf_graph(None, opset=OPSET, tfjs_path=str(model_json))
        optimized = optimizer.optimize_graph(graph, catch_errors=True)
        model = optimized.make_model(f"converted from {model_json.name}")
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return model


def describe(values: Any) -> list[dict[str, Any]]:
    """Name, element type and shape (None where dynamic) of graph inputs or outputs."""
    return [
        {
            "name": value.name,
            "type": ELEMENT_TYPES.get(value.type.tensor_type.elem_type, "UNKNOWN"),
            "shape": [
                dim.dim_value if dim.HasField("dim_value") else None
                for dim in value.type.tensor_type.shape.dim
            ],
        }
        for value in values
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-json", type=Path, required=True, help="the TF.js model.json")
    parser.add_argument("--out", type=Path, required=True, help="folder to write model.onnx to")
    args = parser.parse_args(argv)

    source: Path = args.model_json
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "model.onnx"
    with tempfile.TemporaryDirectory(prefix="tfjs-graph-") as folder:
        patched_json, patched = patched_copy(source, Path(folder))
        model = convert(patched_json, target)
    facts = {
        "source": source.name,
        "source_sha256": {path.name: sha256(path) for path in [source, *weight_shards(source)]},
        "patched_nodes": patched,
        "onnx_sha256": sha256(target),
        "opset": OPSET,
        "inputs": describe(model.graph.input),
        "outputs": describe(model.graph.output),
        "versions": {name: importlib.metadata.version(name) for name in SOURCES},
    }
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
