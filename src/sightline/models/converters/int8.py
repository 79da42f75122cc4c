"""Quantize a bundled fp32 vision model to int8 (static, QDQ), calibrated on pictures drawn here.

Run by `sightline models prepare` in Sightline's own Python (onnxruntime's quantization tools
and onnx, both runtime dependencies), never imported by Sightline itself:

    python int8.py --kind text-detector --source PP-OCRv6_det_small.onnx --out DIR
    python int8.py --kind faces --source centerface.onnx --out DIR

Writes DIR/model.onnx. Static quantization: weights int8 per output channel, activations uint8
with ranges (min/max) observed on a calibration set, in QDQ form that onnxruntime fuses into
integer kernels. Dynamic quantization was measured first: its ConvInteger kernels made the text
detector 7x slower, not faster. Models older than opset 13 are converted to it first (per-
channel scales need it). The model's metadata (the recogniser's character list, for one) is kept.

The calibration set is drawn in code, deterministically, so nothing is downloaded: pages of
rendered text (sizes 10-48 px, dark on light and light on dark, some turned a quarter) and
photo-like pictures (smooth colour fields, noise, blobs and edges), each given to the model as
Sightline's analyzers prepare it (see `tensors`). Prints one JSON line of provenance facts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CALIBRATION_PICTURES = 24
HEAD_DEPTH = 3  # convolutions from an output that stay in float (see `heads`)
WEIGHTED = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
MIN_OPSET = 13
WORDS = (
    "Invoice Total Date Policy Number Name Address Claim Form Receipt Amount EUR 1,240.50 "
    "2026-03-14 Ref 88-4471 Vehicle Damage Estimate Settings Cancel OK Score Level 12850 "
    "the quick brown fox jumps over lazy dog PRICE Qty 3 x 4.99 Subtotal TAX 19% Signature"
).split()


def pictures(count: int, seed: int = 0) -> Iterator[Image.Image]:
    """Alternately a page of text and a photo-like picture, 480-960 px on the long side."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        size = (int(rng.integers(480, 961)), int(rng.integers(360, 721)))
        yield page(rng, size) if index % 2 == 0 else photo(rng, size)


def page(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    dark = rng.random() < 0.25
    paper = tuple(int(v) for v in rng.integers(0, 60, 3)) if dark else (250, 248, 240)
    ink = (235, 235, 235) if dark else tuple(int(v) for v in rng.integers(0, 80, 3))
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    y = int(rng.integers(5, 40))
    while y < size[1] - 10:
        height = int(rng.integers(10, 49))
        font = ImageFont.load_default(size=height)
        text = " ".join(rng.choice(WORDS, int(rng.integers(1, 8))))
        draw.text((int(rng.integers(5, 80)), y), text, fill=ink, font=font)
        y += int(height * rng.uniform(1.3, 2.5))
    if rng.random() < 0.3:
        image = image.rotate(90, expand=True)
    return image


def photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    corners = rng.integers(0, 256, (2, 2, 3)).astype(np.float32)
    ys, xs = np.linspace(0, 1, height)[:, None, None], np.linspace(0, 1, width)[None, :, None]
    field = (
        corners[0, 0] * (1 - ys) * (1 - xs)
        + corners[0, 1] * (1 - ys) * xs
        + corners[1, 0] * ys * (1 - xs)
        + corners[1, 1] * ys * xs
    )
    noisy = field + rng.normal(0, rng.uniform(2, 30), (height, width, 3))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = (
            x0,
            y0,
            x0 + int(rng.integers(10, width // 2)),
            y0 + int(rng.integers(10, height // 2)),
        )
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=color)
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2))))


def tensors(kind: str, image: Image.Image) -> np.ndarray:
    """The model's input for `image`, as the analyzers build it (`vision/read.py`
    `detector_input`: BGR, longest side at most 960, sides multiples of 32, (x/255 - 0.5)/0.5;
    `vision/faces.py` `input_tensor`: RGB 0-255 at most 640 px, padded to multiples of 32)."""
    if kind == "text-detector":
        scale = min(1.0, 960 / max(image.size))
        size = (
            max(32, round(image.width * scale / 32) * 32),
            max(32, round(image.height * scale / 32) * 32),
        )
        pixels = np.asarray(image.resize(size), np.float32)[:, :, ::-1] / 255.0
        return ((pixels - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis].astype(np.float32)
    scale = min(1.0, 640 / max(image.size))
    fitted = image.resize((round(image.width * scale), round(image.height * scale)))
    pixels = np.asarray(fitted, np.float32).transpose(2, 0, 1)
    padded = np.zeros((1, 3, -(-fitted.height // 32) * 32, -(-fitted.width // 32) * 32), np.float32)
    padded[0, :, : fitted.height, : fitted.width] = pixels
    return padded


class Calibration(CalibrationDataReader):
    def __init__(self, kind: str, input_name: str) -> None:
        self._feeds = (
            {input_name: tensors(kind, image)} for image in pictures(CALIBRATION_PICTURES)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def free_image_size(model: onnx.ModelProto) -> None:
    """CenterFace declares a fixed 10x3x32x32 input: one picture of any size instead (as
    `vision/faces.py` loads it), weights dropped from the inputs so they fold as constants."""
    weights = {initializer.name for initializer in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for values, names in (
        (model.graph.input, ("height", "width")),
        (model.graph.output, ("rows", "columns")),
    ):
        for value in values:
            batch, _channels, rows, columns = value.type.tensor_type.shape.dim
            batch.dim_value = 1
            rows.dim_param, columns.dim_param = names


def heads(model: onnx.ModelProto, depth: int = HEAD_DEPTH) -> list[str]:
    """The nodes within `depth` convolutions of an output: left in float, so the output maps
    keep their range and detail whatever the calibration pictures held. (CenterFace with its
    heads quantized found no face at all: the drawn pictures hold none, so the heatmap's
    observed range was near zero. The text detector with only its last layer in float drew
    one box round a whole photo of a cup, read as "8".)"""
    producer = {name: node for node in model.graph.node for name in node.output}
    excluded: dict[str, int] = {}
    stack = [(producer[value.name], 0) for value in model.graph.output if value.name in producer]
    while stack:
        node, convolutions = stack.pop()
        convolutions += node.op_type in WEIGHTED
        if convolutions > depth or excluded.get(node.name, depth + 1) <= convolutions:
            continue
        excluded[node.name] = convolutions
        stack.extend((producer[name], convolutions) for name in node.input if name in producer)
    return list(excluded)


def quantize(kind: str, source: Path, out: Path) -> dict[str, object]:
    model = onnx.load(str(source))
    if kind == "faces":
        free_image_size(model)
    for index, node in enumerate(model.graph.node):  # nodes are excluded by name
        node.name = node.name or f"{node.op_type}_{index}"
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < MIN_OPSET:
        model = version_converter.convert_version(model, MIN_OPSET)
    with tempfile.TemporaryDirectory() as scratch:
        plain, prepared = Path(scratch) / "plain.onnx", Path(scratch) / "prepared.onnx"
        onnx.save(model, str(plain))
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        input_name = next(
            value.name
            for value in onnx.load(str(prepared)).graph.input
            if value.name not in {i.name for i in model.graph.initializer}
        )
        target = out / "model.onnx"
        quantize_static(
            str(prepared),
            str(target),
            Calibration(kind, input_name),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=heads(model),
        )
    quantized = onnx.load(str(target))
    kept = {prop.key for prop in quantized.metadata_props}
    quantized.metadata_props.extend(p for p in model.metadata_props if p.key not in kept)
    onnx.save(quantized, str(target))
    return {
        "kind": kind,
        "source": str(source),
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "calibration_pictures": CALIBRATION_PICTURES,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("text-detector", "faces"), required=True)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(quantize(args.kind, args.source, args.out)))


if __name__ == "__main__":
    main(sys.argv[1:])
