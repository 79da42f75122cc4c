"""`sightline show ID`: one image read out for people, a line in words per feature."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sightline.cli.output import Format, Printer, file_size, moment, output_options
from sightline.cli.remote import call, client_options
from sightline.client import Client

Result = Mapping[str, Any]

FEATURE_LABELS = {
    "metadata": "File details",
    "color": "Colours",
    "hash": "Fingerprint",
    "thumbnail": "Thumbnails",
    "tags": "Tags",
    "embedding": "Similarity vector",
    "semantic": "Meaning vector",
    "read": "Text (OCR)",
    "faces": "Faces",
    "people": "People",
    "objects": "Objects",
    "adult": "Sensitive content",
    "image_type": "Image type",
    "quality": "Quality",
    "smart_crop": "Smart crop",
}
IMAGE_STATUSES = {
    "pending": "waiting",
    "processing": "analysing",
    "done": "analysed",
    "failed": "failed",
}
WAITING = {"pending": "waiting", "running": "analysing"}
TEXT_EXCERPT = 80  # characters of the text read, on one line


def feature_label(name: str) -> str:
    """`Image type` for `image_type`; a classifier's `custom:NAME` reads as its name."""
    for prefix, kind in (("custom:", "classifier"), ("model:", "model")):
        if name.startswith(prefix):
            return f"{name.removeprefix(prefix)} ({kind})"
    return FEATURE_LABELS.get(name, name.replace("_", " ").capitalize())


def percent(confidence: float) -> str:
    return f"{confidence * 100:.0f}%"


def counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _tags(result: Result) -> str:
    # Most confident first, as the web app lists them (the API keeps the analyzers' order).
    tags = sorted(result.get("tags") or [], key=lambda tag: -(tag.get("confidence") or 0))
    return ", ".join(f"{tag['name']} {percent(tag['confidence'])}" for tag in tags) or "none"


def _image_type(result: Result) -> str:
    kind = str(result.get("type", "")).replace("_", " ")
    score = (result.get("scores") or {}).get(result.get("type"))
    words = f"{kind} ({percent(score)})" if score is not None else kind
    graphic = result.get("graphic")
    return f"{words}, a {graphic}" if graphic else words


def _colours(result: Result) -> str:
    words = ", ".join(result.get("dominant_colors") or []) or "none dominant"
    if result.get("is_black_and_white"):
        words += "; black and white"
    if result.get("accent_color"):
        words += f"; accent #{result['accent_color']}"
    return words


def _text(result: Result) -> str:
    lines = result.get("lines") or []
    if not lines:
        return "no text found"
    text = " / ".join(line["text"] for line in lines)
    excerpt = text if len(text) <= TEXT_EXCERPT else text[: TEXT_EXCERPT - 1] + "…"
    return f"{counted(len(lines), 'line', 'lines')}: “{excerpt}”"


def _found(key: str, one: str, many: str) -> Callable[[Result], str]:
    def describe(result: Result) -> str:
        found = result.get(key) or []
        if not found:
            return f"no {many}"
        sure = ", ".join(percent(item["confidence"]) for item in found[:5])
        return f"{counted(len(found), one, many)} ({sure}{', …' if len(found) > 5 else ''})"

    return describe


def _objects(result: Result) -> str:
    objects = [found for detector in result.get("detectors") or [] for found in detector["objects"]]
    if not objects:
        return "none found"
    return ", ".join(f"{found['label']} {percent(found['confidence'])}" for found in objects)


def _adult(result: Result) -> str:
    adult = "adult" if result.get("is_adult") else "not adult"
    racy = "racy" if result.get("is_racy") else "not racy"
    return (
        f"{adult} ({result.get('adult_score', 0):.2f}), {racy} ({result.get('racy_score', 0):.2f})"
    )


def _quality(result: Result) -> str:
    sharpness = result.get("sharpness") or {}
    exposure = result.get("exposure") or {}
    noise = result.get("noise") or {}
    contrast = result.get("contrast") or {}
    words = ["blurry" if sharpness.get("blurry") else "sharp"]
    if exposure.get("underexposed"):
        words.append("underexposed")
    elif exposure.get("overexposed"):
        words.append("overexposed")
    else:
        words.append("well exposed")
    words.append("noisy" if noise.get("noisy") else "little noise")
    if contrast.get("low_contrast"):
        words.append("low contrast")
    return f"{result.get('score', 0):.2f} of 1: {', '.join(words)}"


def _ratio(aspect: float) -> str:
    """`16:9` for 1.7778: the ratio as people write it."""
    ratio = Fraction(aspect).limit_denominator(32)
    return f"{ratio.numerator}:{ratio.denominator}"


def _smart_crop(result: Result) -> str:
    crops = result.get("crops") or []
    shown = [
        f"{_ratio(crop['aspect_ratio'])}: {crop['box']['w']}×{crop['box']['h']} at "
        f"{crop['box']['x']},{crop['box']['y']}"
        for crop in crops
    ]
    return "; ".join(shown) or "no crops"


def _labels(result: Result) -> str:
    """A custom classifier's (or your own model's) labels, the predicted ones first."""
    labels = ", ".join(
        f"{label['name']} {percent(label['confidence'])}" for label in result.get("labels") or []
    )
    if "predicted" in result:
        predicted = ", ".join(result["predicted"] or []) or "nothing above the threshold"
        return f"{predicted} ({labels})"
    if "dimensions" in result:
        return f"{result['dimensions']} numbers"
    return labels or "no labels"


def _metadata(result: Result) -> str:
    words = [f"{result.get('format', '')} {result.get('mode', '')}".strip()]
    exif = result.get("exif") or {}
    camera = " ".join(filter(None, (exif.get("camera_make"), exif.get("camera_model"))))
    if camera:
        words.append(camera)
    if exif.get("taken_at"):
        words.append(f"taken {exif['taken_at']}")
    if exif.get("gps"):
        words.append("with a location")
    return ", ".join(filter(None, words))


# In the order `show` lists them.
DESCRIBE: dict[str, Callable[[Result], str]] = {
    "tags": _tags,
    "image_type": _image_type,
    "color": _colours,
    "read": _text,
    "faces": _found("faces", "face", "faces"),
    "people": _found("people", "person", "people"),
    "objects": _objects,
    "quality": _quality,
    "adult": _adult,
    "smart_crop": _smart_crop,
    "metadata": _metadata,
    "hash": lambda result: f"perceptual hash {result.get('phash', '')}",
    "thumbnail": lambda result: ", ".join(f"{size} px" for size in result.get("sizes") or {}),
    "embedding": lambda result: f"{result.get('dimensions')} numbers",
    "semantic": lambda result: f"{result.get('dimensions')} numbers",
}


def describe_feature(name: str, feature: Mapping[str, Any]) -> str:
    """One feature in words: its result, or why there is none."""
    status = feature.get("status")
    if status == "skipped":
        return f"not applicable: {(feature.get('result') or {}).get('reason', '')}".rstrip(": ")
    if status == "failed":
        error = feature.get("error") or {}
        return f"failed: {error.get('message') or error.get('code') or 'no reason given'}"
    if status in WAITING:
        return WAITING[status]
    result = feature.get("result")
    if result is None:
        return "done"
    describe = DESCRIBE.get(name, _labels)
    try:
        return describe(result)
    except (KeyError, TypeError, AttributeError):
        # A result of a newer server, shaped otherwise: still say it is there.
        return "done"


def _reading_order(item: tuple[str, Any]) -> tuple[int, str]:
    """What people read first (tags, type, colours…) before the rest, alphabetically."""
    order = list(DESCRIBE)
    return (order.index(item[0]) if item[0] in order else len(order), item[0])


STATUS_STYLES = {"failed": "red", "skipped": "dim", "pending": "yellow", "running": "yellow"}


def summary(image: Mapping[str, Any]) -> Group:
    """The image for people: what it is, then a line per feature."""
    heading = Text()
    heading.append(image.get("filename") or "(no file name)", style="bold")
    heading.append(f"  {image['id']}", style="cyan")
    facts = [
        f"{image['width']}×{image['height']}",
        str(image.get("format", "")).upper(),
        file_size(image.get("size")),
        IMAGE_STATUSES.get(image["status"], image["status"]),
        f"uploaded {moment(image.get('created_at'))}",
    ]
    lines: list[Any] = [heading, Text(", ".join(filter(None, facts)))]
    if image.get("duplicate_of"):
        lines.append(Text(f"Same bytes as {image['duplicate_of']}"))
    if image.get("metadata"):
        pairs = ", ".join(f"{key}={value}" for key, value in image["metadata"].items())
        lines.append(Text(f"Metadata: {pairs}"))
    features = Table.grid(padding=(0, 2))
    features.add_column(style="bold", no_wrap=True)
    features.add_column()
    for name, feature in sorted((image.get("features") or {}).items(), key=_reading_order):
        style = STATUS_STYLES.get(feature.get("status", ""), "")
        features.add_row(feature_label(name), Text(describe_feature(name, feature), style=style))
    lines += [Text(""), features]
    return Group(*lines)


@click.command(
    epilog="""\b
Examples:
  sightline show img_01J…
  sightline show img_01J… --wait          # once it is analysed
  sightline show img_01J… --json          # the image as the server answers it
"""
)
@click.argument("image_id")
@click.option("--wait/--no-wait", default=False, help="Wait until the image is analysed.")
@output_options
@client_options
def show(image_id: str, wait: bool, output: Format, client: Client) -> None:
    """Read out one image: file, size, dimensions, status, and a line per feature (tags with
    their confidence, image type, colours, text read, faces, people, quality, custom
    classifiers' labels…; skipped and failed ones with the reason)."""
    fetch = client.wait if wait else client.get
    Printer(output).record(call(fetch, image_id), summary)
