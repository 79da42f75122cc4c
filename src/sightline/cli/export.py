"""`sightline export`: images and their results as CSV, JSON Lines or Parquet, for
spreadsheets and data tools.

One row per image, or per tag, per line of text read or per face. It streams: the images are
listed a page at a time (each page carrying only the results the chosen fields read), and rows
are written as they come (Parquet a row group at a time), so memory stays the same however
many images there are.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import click

from sightline.cli.images import filter_options
from sightline.cli.output import Printer
from sightline.cli.remote import PAGE, call, client_options, images_of
from sightline.client import Client

Image = Mapping[str, Any]
Item = Mapping[str, Any]  # a tag, a line of text, a face (or the image itself)
Cell = str | int | float | bool | None


def result_of(image: Image, feature: str) -> Mapping[str, Any]:
    """The feature's result, or an empty one while it has none (pending, skipped, failed)."""
    state = (image.get("features") or {}).get(feature) or {}
    if state.get("status") != "done":
        return {}
    return state.get("result") or {}


@dataclass(frozen=True)
class Field:
    """A column: its name, the feature whose result it reads (None: the image itself), its
    type (for Parquet: `string`, `int`, `float` or `bool`) and its value in a row."""

    name: str
    feature: str | None
    kind: str
    value: Callable[[Image, Item], Cell]


def _image(name: str, kind: str = "string") -> Field:
    return Field(name, None, kind, lambda image, _item: image.get(name))


def _joined(values: Iterable[object]) -> str | None:
    text = "; ".join(str(value) for value in values)
    return text or None


def _count(feature: str, key: str) -> Field:
    def value(image: Image, _item: Item) -> int | None:
        result = result_of(image, feature)
        return len(result.get(key) or []) if result else None

    return Field(feature, feature, "int", value)


def _from(feature: str, name: str, kind: str, read: Callable[[Mapping[str, Any]], Cell]) -> Field:
    def value(image: Image, _item: Item) -> Cell:
        result = result_of(image, feature)
        return read(result) if result else None

    return Field(name, feature, kind, value)


def _key(feature: str, name: str, kind: str) -> Field:
    """The result's own `name`."""
    return _from(feature, name, kind, lambda result: result.get(name))


def _first_tag(key: str) -> Callable[[Mapping[str, Any]], Cell]:
    def read(result: Mapping[str, Any]) -> Cell:
        tags = result.get("tags") or []
        value: Cell = tags[0][key] if tags else None
        return value

    return read


IMAGE_FIELDS = [
    _image("id"),
    _image("filename"),
    _image("status"),
    _image("content_type"),
    _image("format"),
    _image("size", "int"),
    _image("width", "int"),
    _image("height", "int"),
    _image("sha256"),
    _image("collection"),
    _image("duplicate_of"),
    _image("created_at"),
    Field(
        "metadata",
        None,
        "string",
        lambda image, _item: json.dumps(image.get("metadata") or {}, ensure_ascii=False),
    ),
]
DEFAULT_IMAGE_FIELDS = ["id", "filename", "status", "size", "width", "height", "created_at"]

# Per feature, the columns of a row per image.
FEATURE_FIELDS: dict[str, list[Field]] = {
    "tags": [
        _from("tags", "tags", "string", lambda r: _joined(t["name"] for t in r.get("tags") or [])),
        _from("tags", "top_tag", "string", _first_tag("name")),
        _from("tags", "top_tag_confidence", "float", _first_tag("confidence")),
    ],
    "image_type": [
        _from("image_type", "image_type", "string", lambda r: r.get("type")),
        _from(
            "image_type",
            "image_type_confidence",
            "float",
            lambda r: (r.get("scores") or {}).get(r.get("type")),
        ),
        _from("image_type", "graphic", "string", lambda r: r.get("graphic")),
    ],
    "color": [
        _from("color", "dominant_colors", "string", lambda r: _joined(r["dominant_colors"])),
        _from("color", "accent_color", "string", lambda r: r.get("accent_color")),
        _from("color", "black_and_white", "bool", lambda r: r.get("is_black_and_white")),
    ],
    "read": [_from("read", "text", "string", lambda r: r.get("text"))],
    "faces": [_count("faces", "faces")],
    "people": [_count("people", "people")],
    "quality": [
        _from("quality", "quality", "float", lambda r: r.get("score")),
        _from("quality", "blurry", "bool", lambda r: (r.get("sharpness") or {}).get("blurry")),
    ],
    "adult": [
        _key("adult", "is_adult", "bool"),
        _key("adult", "adult_score", "float"),
        _key("adult", "is_racy", "bool"),
        _key("adult", "racy_score", "float"),
    ],
    "hash": [_from("hash", "phash", "string", lambda r: r.get("phash"))],
}
DEFAULT_FEATURES = ["tags", "image_type", "color", "read", "faces", "people", "quality"]


def classifier_fields(feature: str) -> list[Field]:
    """A custom classifier's (`custom:NAME`) or your own model's (`model:NAME`) labels: the
    predicted ones (the likeliest for a model), and the likeliest's confidence."""

    def predicted(result: Mapping[str, Any]) -> Cell:
        if "predicted" in result:
            return _joined(result["predicted"] or [])
        labels = result.get("labels") or []
        return labels[0]["name"] if labels else None

    def confidence(result: Mapping[str, Any]) -> Cell:
        labels = result.get("labels") or []
        value: Cell = max((label["confidence"] for label in labels), default=None)
        return value

    return [
        _from(feature, feature, "string", predicted),
        _from(feature, f"{feature} confidence", "float", confidence),
    ]


@dataclass(frozen=True)
class RowKind:
    """What one row stands for: the image itself, or each item of one feature's result."""

    feature: str | None
    items: Callable[[Image], Sequence[Item]]
    fields: list[Field]


def _items(feature: str, key: str) -> Callable[[Image], Sequence[Item]]:
    return lambda image: result_of(image, feature).get(key) or []


def _item(name: str, kind: str, read: Callable[[Item], Cell]) -> Field:
    return Field(name, None, kind, lambda _image, item: read(item))


def _side(side: str) -> Field:
    """`x`, `y`, `w` or `h` of the item's box."""
    return _item(side, "int", lambda item: (item.get("box") or {}).get(side))


BOX = [_side(side) for side in ("x", "y", "w", "h")]


ROW_KINDS: dict[str, RowKind] = {
    "images": RowKind(None, lambda image: [image], []),
    "tags": RowKind(
        "tags",
        _items("tags", "tags"),
        [
            _item("tag", "string", lambda tag: tag["name"]),
            _item("confidence", "float", lambda tag: tag["confidence"]),
            _item("source", "string", lambda tag: tag.get("source")),
            _item("broader", "string", lambda tag: _joined(tag.get("broader") or [])),
        ],
    ),
    "lines": RowKind(
        "read",
        _items("read", "lines"),
        [
            _item("line", "int", lambda line: line["number"]),
            _item("text", "string", lambda line: line["text"]),
            _item("confidence", "float", lambda line: line["confidence"]),
            *BOX,
        ],
    ),
    "faces": RowKind(
        "faces",
        _items("faces", "faces"),
        [
            _item("face", "int", lambda face: face["number"]),
            _item("confidence", "float", lambda face: face["confidence"]),
            *BOX,
        ],
    ),
}


def fields_of(rows: str, features: Sequence[str]) -> list[Field]:
    """Every field a row of kind `rows` may have, with `features`' columns for image rows."""
    if rows != "images":
        return [*IMAGE_FIELDS, *ROW_KINDS[rows].fields]
    known = [*IMAGE_FIELDS]
    for feature in features:
        if feature.startswith(("custom:", "model:")):
            known += classifier_fields(feature)
        else:
            known += FEATURE_FIELDS.get(feature, [])
    return known


def choose_fields(
    rows: str, features: Sequence[str] | None, names: Sequence[str] | None
) -> list[Field]:
    """The columns asked for: `names` in their order, else the image's main fields and every
    column of `features` (the row kind's own columns for tag, line and face rows)."""
    chosen_features = list(features) if features else DEFAULT_FEATURES
    unknown = [f for f in chosen_features if f not in FEATURE_FIELDS and ":" not in f]
    if unknown and rows == "images":
        raise click.BadParameter(
            f"no columns for {', '.join(unknown)}; features with columns: "
            f"{', '.join(FEATURE_FIELDS)}, custom:NAME, model:NAME",
            param_hint="--features",
        )
    available = {field.name: field for field in fields_of(rows, chosen_features)}
    if names:
        missing = [name for name in names if name not in available]
        if missing:
            raise click.BadParameter(
                f"unknown {', '.join(missing)}; with these --rows and --features: "
                f"{', '.join(available)}",
                param_hint="--fields",
            )
        return [available[name] for name in names]
    defaults = [available[name] for name in DEFAULT_IMAGE_FIELDS]
    if rows != "images":
        return [*defaults[:2], *ROW_KINDS[rows].fields]
    return defaults + [field for field in available.values() if field.feature is not None]


def export_rows(
    client: Client,
    rows: str,
    fields: Sequence[Field],
    filters: Mapping[str, Any],
    *,
    page_size: int = PAGE,
) -> Iterator[dict[str, Cell]]:
    """The rows, as the pages of images come: each page carries only the results the
    fields read."""
    kind = ROW_KINDS[rows]
    features = {field.feature for field in fields if field.feature} | (
        {kind.feature} if kind.feature else set()
    )
    images = images_of(client, page_size=page_size, results=",".join(sorted(features)), **filters)
    for image in images:
        for number, item in enumerate(kind.items(image), start=1):
            numbered = item if rows == "images" else {**item, "number": number}
            yield {field.name: field.value(image, numbered) for field in fields}


class RowWriter(Protocol):
    def write(self, row: Mapping[str, Cell]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    def __init__(self, stream: IO[str], fields: Sequence[Field]) -> None:
        self.writer = csv.DictWriter(stream, [field.name for field in fields])
        self.writer.writeheader()

    def write(self, row: Mapping[str, Cell]) -> None:
        self.writer.writerow(row)

    def close(self) -> None:
        pass


class JsonLinesWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, row: Mapping[str, Cell]) -> None:
        self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


ROW_GROUP = 10_000  # rows a Parquet row group holds: what export keeps in memory at most


class ParquetWriter:
    """Rows in row groups of `group_size`: only one group is held at a time."""

    def __init__(self, path: Path, fields: Sequence[Field], group_size: int = ROW_GROUP) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise click.ClickException(
                "Parquet needs pyarrow: pip install 'sightline[parquet]'."
            ) from exc
        types = {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
        }
        self.pa = pa
        self.schema = pa.schema([(field.name, types[field.kind]) for field in fields])
        self.writer = pq.ParquetWriter(path, self.schema)
        self.group_size = group_size
        self.group: list[Mapping[str, Cell]] = []

    def write(self, row: Mapping[str, Cell]) -> None:
        self.group.append(row)
        if len(self.group) >= self.group_size:
            self._flush()

    def _flush(self) -> None:
        if self.group:
            self.writer.write_table(self.pa.Table.from_pylist(self.group, schema=self.schema))
            self.group = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@click.command(
    epilog="""\b
Examples:
  sightline export -o images.csv                 # a row per image, the main results
  sightline export --rows tags -o tags.parquet   # a row per tag
  sightline export --rows lines --status done > text.csv
  sightline export --features tags,custom:defects --fields id,filename,tags,custom:defects
  sightline export --format jsonl --after 2026-12-01 | jq .
"""
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write; default: standard output (CSV and JSON Lines only).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    help="Default: from the --output file's extension (.csv, .jsonl, .parquet), else csv.",
)
@click.option(
    "--rows",
    type=click.Choice(list(ROW_KINDS)),
    default="images",
    show_default=True,
    help="A row per image, per tag, per line of text read, or per face.",
)
@click.option(
    "--features",
    help="Comma-separated features whose columns a row per image has (custom:NAME for a "
    f"classifier); default: {','.join(DEFAULT_FEATURES)}.",
)
@click.option(
    "--fields",
    help="Comma-separated columns, in this order; default: the image's main ones and the "
    "features' (a wrong name lists the choices).",
)
@filter_options
@client_options
def export(
    output: Path | None,
    format_: str | None,
    rows: str,
    features: str | None,
    fields: str | None,
    filters: dict[str, Any],
    client: Client,
) -> None:
    """Export images and their results as CSV, JSON Lines or Parquet (pip install
    'sightline[parquet]'), newest first, streaming: any number of images in constant memory.
    Cells of results not there (pending, skipped, failed) are empty."""
    chosen = choose_fields(rows, _listed(features), _listed(fields))
    format_ = format_ or EXTENSIONS.get(output.suffix.lower() if output else "", "csv")
    if format_ == "parquet" and output is None:
        raise click.UsageError("Parquet is written to a file: give --output FILE.parquet.")
    with ExitStack() as closing:
        writer = _writer(format_, output, chosen, closing)
        count = call(write_all, writer, export_rows(client, rows, chosen, filters))
    where = f" to {output}" if output else ""
    Printer().note(f"{count} {rows if count != 1 else rows.removesuffix('s')} exported{where}")


def write_all(writer: RowWriter, rows: Iterable[Mapping[str, Cell]]) -> int:
    """Writes the rows as they come; returns how many."""
    count = 0
    for row in rows:
        writer.write(row)
        count += 1
    writer.close()
    return count


def _listed(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _writer(
    format_: str, output: Path | None, fields: list[Field], closing: ExitStack
) -> RowWriter:
    if format_ == "parquet":
        assert output is not None  # checked with the options
        return ParquetWriter(output, fields)
    if output is None:
        stream = sys.stdout
    else:
        # newline="": the csv module writes its own line ends.
        stream = closing.enter_context(output.open("w", encoding="utf-8", newline=""))
    return CsvWriter(stream, fields) if format_ == "csv" else JsonLinesWriter(stream)
