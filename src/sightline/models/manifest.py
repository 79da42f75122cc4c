"""User models: ONNX classifiers, YOLO-format detectors and CLIP-style image/text encoder pairs
that people bring, described by a JSON manifest.

`sightline models add manifest.json` validates the manifest against its ONNX files (the declared
input size, layout and type against the graph's input; a trial run's output against the labels),
then copies everything into `<model_dir>/user/<name>/` under fixed names, next to the normalised
`manifest.json` (every default filled in, labels inline) and `added.json` (file checksums):

    {"name": "pets", "kind": "detector", "model": "pets.onnx", "labels": "labels.txt",
     "format": "yolov8", "confidence": 0.3, "iou": 0.5,
     "input": {"width": 640, "height": 640, "layout": "NCHW", "color": "RGB",
               "dtype": "float32", "scale": "1/255", "mean": [0, 0, 0], "std": [1, 1, 1],
               "resize": "letterbox"},
     "license": "AGPL-3.0", "description": "cats and dogs", "version": "2"}

File paths are relative to the manifest. Pixels reach the model as `(pixel * scale - mean) / std`
per channel, `mean` and `std` in the model's channel order; `uint8` models get raw pixels.
`resize`: `letterbox` fits the picture inside the input and pads it with grey 114, centred (the
detectors' default); `stretch` ignores the aspect ratio; `center_crop` covers the input and cuts
the overflow evenly (the default for classifiers and clip). The model's version as Sightline
reports it is the manifest's `version` plus a checksum of the files and the normalised manifest
(`2+1a2b3c4d`), so replacing a model always changes the version its results carry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from sightline.errors import InvalidModel, UnknownModel
from sightline.models.files import file_sha256, swap_into_place
from sightline.models.runtime import onnx_session
from sightline.models.specs import BUILTIN_NAMES, ModelSpec

log = logging.getLogger(__name__)

USER_DIR = "user"
MANIFEST = "manifest.json"
ADDED = "added.json"
# Files are stored under fixed names, so a stored manifest never points outside its folder.
STORED_NAMES = {
    "model": "model.onnx",
    "text_model": "text_model.onnx",
    "tokenizer": "tokenizer.json",
}
DEFAULT_RESIZE = {"classifier": "center_crop", "detector": "letterbox", "clip": "center_crop"}
DEFAULT_TEXT_MAX_LENGTH = 77  # CLIP's context length
ONNX_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)"}

NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

Kind = Literal["classifier", "detector", "clip"]


def _fraction(value: Any) -> Any:
    """`"1/255"` as well as `0.00392`: the fraction is how model cards write it."""
    if isinstance(value, str) and "/" in value:
        numerator, _, denominator = value.partition("/")
        try:
            return float(numerator) / float(denominator)
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"{value!r} is not a number or a fraction") from exc
    return value


Channels = tuple[float, float, float]
Positive = Annotated[float, Field(gt=0)]


class InputSpec(BaseModel):
    """How a picture becomes the model's input tensor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    color: Literal["RGB", "BGR"] = "RGB"
    dtype: Literal["float32", "uint8"] = "float32"
    scale: Annotated[float, BeforeValidator(_fraction), Field(gt=0)] = 1 / 255
    mean: Channels = (0.0, 0.0, 0.0)
    std: tuple[Positive, Positive, Positive] = (1.0, 1.0, 1.0)
    resize: Literal["letterbox", "stretch", "center_crop"] = "letterbox"

    @model_validator(mode="after")
    def _raw_pixels_take_no_normalisation(self) -> InputSpec:
        normalising = (self.scale, self.mean, self.std) != (1 / 255, (0, 0, 0), (1, 1, 1))
        if self.dtype == "uint8" and normalising:
            raise ValueError("uint8 models get raw 0-255 pixels: scale, mean and std do not apply")
        return self

    def shape(self) -> tuple[int, int, int, int]:
        if self.layout == "NCHW":
            return (1, 3, self.height, self.width)
        return (1, self.height, self.width, 3)


class ModelManifest(BaseModel):
    """A user model, as written in its manifest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN.pattern, max_length=64)
    kind: Kind
    model: str = Field(min_length=1, description="The ONNX file; for clip the image encoder.")
    text_model: str | None = Field(default=None, min_length=1)
    tokenizer: str | None = Field(default=None, min_length=1)
    text_max_length: int | None = Field(default=None, gt=0, le=4096)
    labels: list[Annotated[str, Field(min_length=1)]] | str | None = Field(
        default=None, description="Class names in output order, or a file with one per line."
    )
    input: InputSpec
    format: Literal["yolov8", "yolov5"] | None = None
    confidence: float = Field(default=0.25, ge=0, le=1)
    iou: float = Field(default=0.45, gt=0, le=1)
    activation: Literal["softmax", "sigmoid", "none"] = "softmax"
    output: str | None = Field(default=None, description="Output to read; default the first.")
    text_output: str | None = None
    license: str | None = None
    description: str | None = None
    version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,32}$")

    @model_validator(mode="before")
    @classmethod
    def _defaults_by_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("kind") not in DEFAULT_RESIZE:
            return data
        data = dict(data)
        if isinstance(data.get("input"), dict) and "resize" not in data["input"]:
            data["input"] = {**data["input"], "resize": DEFAULT_RESIZE[data["kind"]]}
        if data["kind"] == "clip":
            data.setdefault("text_max_length", DEFAULT_TEXT_MAX_LENGTH)
        return data

    @model_validator(mode="after")
    def _fields_match_kind(self) -> ModelManifest:
        clip_fields = ("text_model", "tokenizer", "text_max_length", "text_output")
        if self.kind == "clip":
            missing = [
                field for field in ("text_model", "tokenizer") if getattr(self, field) is None
            ]
            if missing:
                raise ValueError(f"a clip model needs {' and '.join(missing)}")
            if self.labels is not None:
                raise ValueError("a clip model has no labels")
            return self
        if self.labels is None or self.labels == []:
            raise ValueError(f"a {self.kind} needs labels (a list or a file with one per line)")
        extra = [field for field in clip_fields if getattr(self, field) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} only apply to clip models")
        if self.kind == "detector" and self.format is None:
            raise ValueError("a detector needs its output format: yolov8 or yolov5")
        return self

    def label_list(self) -> list[str]:
        if not isinstance(self.labels, list):
            raise InvalidModel(
                f"{self.name}: labels were not read from their file.", name=self.name
            )
        return self.labels

    def detector_format(self) -> Literal["yolov8", "yolov5"]:
        if self.format is None:
            raise InvalidModel(f"{self.name} is not a detector.", name=self.name)
        return self.format

    def text_encoder(self) -> tuple[str, str, int]:
        """The text model file, the tokenizer file and the token count of a clip pair."""
        if self.text_model is None or self.tokenizer is None:
            raise InvalidModel(f"{self.name} is not a clip model.", name=self.name)
        return self.text_model, self.tokenizer, self.text_max_length or DEFAULT_TEXT_MAX_LENGTH


def add_user_model(model_dir: Path, manifest_path: Path, *, replace: bool = False) -> ModelSpec:
    """Validate the manifest and its files and install them as `<model_dir>/user/<name>/`.

    Raises `InvalidModel` for a manifest or model that does not check out, or a name that is
    taken (a built-in's always; a user model's unless `replace`)."""
    manifest = _read_manifest(manifest_path)
    if manifest.name in BUILTIN_NAMES:
        raise InvalidModel(f"{manifest.name!r} is a built-in model's name.", name=manifest.name)
    users = model_dir / USER_DIR
    target = users / manifest.name
    if target.exists() and not replace:
        raise InvalidModel(
            f"A user model named {manifest.name!r} exists; pass --replace to replace it.",
            name=manifest.name,
        )
    sources = _source_files(manifest, manifest_path.parent)
    manifest = manifest.model_copy(
        update={
            "labels": _labels(manifest, manifest_path.parent),
            **{field: STORED_NAMES[field] for field in sources},
        }
    )
    _check_model_files(manifest, sources)
    users.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=users, prefix=f".{manifest.name}-"))
    try:
        _write(staging, manifest, sources)
        swap_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("Added user model %s (%s)", manifest.name, manifest.kind)
    return _spec(target)


def remove_user_model(model_dir: Path, name: str) -> None:
    target = model_dir / USER_DIR / name
    if not NAME_PATTERN.fullmatch(name) or not (target / MANIFEST).is_file():
        raise UnknownModel(f"No user model named {name!r}.", name=name)
    # Renamed away first, so a crash half-way through never leaves a half-deleted model.
    doomed = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-removed-"))
    target.rename(doomed / name)
    shutil.rmtree(doomed)
    log.info("Removed user model %s", name)


def user_specs(model_dir: Path) -> list[ModelSpec]:
    """One spec per installed user model; a broken one is logged and left out."""
    users = model_dir / USER_DIR
    if not users.is_dir():
        return []
    specs = []
    for folder in sorted(users.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            specs.append(_spec(folder))
        except (OSError, ValueError, KeyError, TypeError, InvalidModel) as exc:
            # ValueError covers malformed JSON and pydantic's ValidationError.
            log.warning("Ignoring the user model in %s: %s", folder, exc)
    return specs


def load_manifest(spec: ModelSpec) -> ModelManifest:
    if not spec.manifest:
        raise InvalidModel(f"{spec.name!r} is not a user model.", name=spec.name)
    return ModelManifest.model_validate(spec.manifest)


def feature_of(spec: ModelSpec) -> str:
    """The feature a user model's results appear under: detectors all feed `objects`."""
    return "objects" if spec.manifest.get("kind") == "detector" else f"model:{spec.name}"


def text_feed(
    session: ort.InferenceSession, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[np.int64]]:
    """The text encoder's inputs by name: the one input that is not an attention mask or token
    types gets the token ids (int64 throughout, as Hugging Face exports expect)."""
    names = [graph_input.name for graph_input in session.get_inputs()]
    id_inputs = [name for name in names if "mask" not in name and "token_type" not in name]
    if len(id_inputs) != 1:
        raise InvalidModel(
            f"The text model's inputs are {', '.join(names)}: it needs exactly one for token ids "
            "besides an optional attention mask and token types."
        )
    feed = {name: mask if "mask" in name else np.zeros_like(ids) for name in names}
    feed[id_inputs[0]] = ids
    return feed


def _check_model_files(manifest: ModelManifest, files: dict[str, Path]) -> None:
    """Open each ONNX file and check it against the manifest with one trial run on zeros."""
    image_session = _session(files["model"])
    _check_image_input(image_session, manifest)
    outputs = _trial_image_run(image_session, manifest)
    if manifest.kind == "classifier":
        _check_classifier_output(outputs, manifest)
    elif manifest.kind == "detector":
        _check_detector_output(outputs, manifest)
    else:
        _check_text_encoder(files, manifest, image_dimensions=int(outputs.size))


def _read_manifest(path: Path) -> ModelManifest:
    try:
        return ModelManifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise InvalidModel(f"Cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        raise InvalidModel(f"{path} is not a valid model manifest: {_explain(exc)}") from exc


def _explain(exc: ValidationError) -> str:
    def where(location: tuple[int | str, ...]) -> str:
        return ".".join(str(part) for part in location) or "manifest"

    return "; ".join(f"{where(error['loc'])}: {error['msg']}" for error in exc.errors())


def _source_files(manifest: ModelManifest, folder: Path) -> dict[str, Path]:
    files = {}
    for field in STORED_NAMES:
        relative = getattr(manifest, field)
        if relative is None:
            continue
        path = folder / relative
        if not path.is_file():
            raise InvalidModel(f"{field}: {path} does not exist.", name=manifest.name)
        files[field] = path
    return files


def _labels(manifest: ModelManifest, folder: Path) -> list[str] | None:
    if not isinstance(manifest.labels, str):
        return manifest.labels
    path = folder / manifest.labels
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidModel(f"labels: cannot read {path}: {exc}", name=manifest.name) from exc
    while lines and not lines[-1]:
        lines.pop()
    if not lines or not all(lines):
        # A blank line inside the list would shift every later class by one.
        raise InvalidModel(f"labels: {path} has empty lines or no labels.", name=manifest.name)
    return lines


def _session(path: Path) -> ort.InferenceSession:
    try:
        return onnx_session(path, threads=1)
    except Exception as exc:  # onnxruntime's exception classes are not public
        raise InvalidModel(f"{path.name} is not a model onnxruntime can load: {exc}") from exc


def _run(
    session: ort.InferenceSession,
    feed: dict[str, npt.NDArray[Any]],
    output: str | None,
    what: str = "the model",
) -> npt.NDArray[Any]:
    names = [node.name for node in session.get_outputs()]
    if output is not None and output not in names:
        raise InvalidModel(
            f"{what.capitalize()} has no output {output!r}; it has {', '.join(names)}."
        )
    try:
        result = session.run([output or names[0]], feed)[0]
    except Exception as exc:  # onnxruntime's exception classes are not public
        raise InvalidModel(f"A trial run of {what} failed: {exc}") from exc
    return np.asarray(result)


def _check_image_input(session: ort.InferenceSession, manifest: ModelManifest) -> None:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise InvalidModel(f"The model has {len(inputs)} inputs; an image model takes one.")
    declared = manifest.input.shape()
    graph_shape = list(inputs[0].shape)
    fits = len(graph_shape) == 4 and all(
        not isinstance(got, int) or got == want
        for got, want in zip(graph_shape[1:], declared[1:], strict=True)
    )
    if not fits:
        raise InvalidModel(
            f"The manifest declares {manifest.input.layout} input {list(declared)} but the "
            f"model's input is {graph_shape}.",
            name=manifest.name,
        )
    if inputs[0].type != ONNX_TYPES[manifest.input.dtype]:
        raise InvalidModel(
            f"The manifest declares {manifest.input.dtype} input but the model takes "
            f"{inputs[0].type}.",
            name=manifest.name,
        )


def _trial_image_run(session: ort.InferenceSession, manifest: ModelManifest) -> npt.NDArray[Any]:
    zeros = np.zeros(manifest.input.shape(), dtype=manifest.input.dtype)
    return _run(session, {session.get_inputs()[0].name: zeros}, manifest.output)


def _check_classifier_output(output: npt.NDArray[Any], manifest: ModelManifest) -> None:
    if output.size != len(manifest.label_list()):
        raise InvalidModel(
            f"The model outputs {list(output.shape)} ({output.size} scores) but the manifest "
            f"lists {len(manifest.label_list())} labels.",
            name=manifest.name,
        )


def _check_detector_output(output: npt.NDArray[Any], manifest: ModelManifest) -> None:
    classes = len(manifest.label_list())
    if manifest.format == "yolov8":
        expected, axis = f"[1, {4 + classes}, N] (4 box values + {classes} class scores)", 1
        values = 4 + classes
    else:
        expected, axis = f"[1, N, {5 + classes}] (4 box values, objectness, {classes} scores)", 2
        values = 5 + classes
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[axis] != values:
        raise InvalidModel(
            f"A {manifest.format} detector with {classes} labels outputs {expected}; this one "
            f"outputs {list(output.shape)}.",
            name=manifest.name,
        )


def _check_text_encoder(
    files: dict[str, Path], manifest: ModelManifest, image_dimensions: int
) -> None:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(files["tokenizer"]))
    except Exception as exc:  # tokenizers raises plain Exception for a malformed file
        raise InvalidModel(f"tokenizer: not a Hugging Face tokenizer.json: {exc}") from exc
    session = _session(files["text_model"])
    # The highest token id: an embedding table smaller than the vocabulary fails here, not later.
    ids = np.full((1, manifest.text_encoder()[2]), tokenizer.get_vocab_size() - 1, dtype=np.int64)
    feed = text_feed(session, ids, np.ones_like(ids))
    output = _run(session, feed, manifest.text_output, "the text model")
    if output.size != image_dimensions:
        raise InvalidModel(
            f"The text model outputs {list(output.shape)} but the image model outputs "
            f"{image_dimensions} values; a clip pair shares one embedding space.",
            name=manifest.name,
        )


def _write(staging: Path, manifest: ModelManifest, sources: dict[str, Path]) -> None:
    checksums = {}
    for field, source in sources.items():
        stored = staging / STORED_NAMES[field]
        shutil.copyfile(source, stored)
        checksums[stored.name] = file_sha256(stored)
    normalised = manifest.model_dump(mode="json", exclude_none=True)
    (staging / MANIFEST).write_text(json.dumps(normalised, indent=2) + "\n")
    added = {"added_at": datetime.now(UTC).isoformat(), "sha256": checksums}
    (staging / ADDED).write_text(json.dumps(added, indent=2) + "\n")


def _spec(folder: Path) -> ModelSpec:
    manifest = ModelManifest.model_validate_json((folder / MANIFEST).read_bytes())
    if manifest.name != folder.name:
        raise InvalidModel(f"The manifest names {manifest.name!r}, not {folder.name!r}.")
    normalised = manifest.model_dump(mode="json", exclude_none=True)
    checksums = json.loads((folder / ADDED).read_text())["sha256"]
    identity = json.dumps({"files": checksums, "manifest": normalised}, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return ModelSpec(
        name=manifest.name,
        version=f"{manifest.version}+{digest[:8]}",
        task=_task(manifest),
        license=manifest.license or "unspecified (user model)",
        source=f"user model: {manifest.description or 'added with `sightline models add`'}",
        input_size=f"{manifest.input.width}x{manifest.input.height}",
        install_hint="Add it again with `sightline models add manifest.json`.",
        locate=_stored_file(manifest.name, STORED_NAMES["model"]),
        manifest=normalised,
    )


def _task(manifest: ModelManifest) -> str:
    if manifest.kind == "clip":
        return "image-text embedding (clip, user model)"
    count = len(manifest.label_list())
    if manifest.kind == "detector":
        return f"object detector ({manifest.format}, {count} labels, user model)"
    return f"classifier ({count} labels, user model)"


def _stored_file(name: str, filename: str) -> Callable[[Path], Path | None]:
    def locate(model_dir: Path) -> Path | None:
        path = model_dir / USER_DIR / name / filename
        return path if path.is_file() else None

    return locate
