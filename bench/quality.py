"""Quality benchmark: how well search, tags, custom classifiers and OCR serve what people ask.

Everything goes through the HTTP API of a fresh `sightline serve` (temporary data dir, free
loopback port), on pictures the benchmark builds: photos that ship with scikit-image and
scikit-learn, documents and screenshots rendered with PIL, sklearn's digits, rendered glyphs.

- **search**: natural queries (articles, synonyms, people, colours, documents), each with its
  intended images, in text and semantic mode: mean reciprocal rank of the first intended image
  (0 when absent from the first page), how many text queries find nothing, and how many hits
  semantic search returns that are not intended (also for queries nothing should match).
- **tags**: precision of the first 5 tag names against hand-written acceptable words per image;
  whether person photos carry a person word and documents a document word; `image_type`;
  how many rendered charts and logos (tests/support/graphics.py) carry the tag "chart" or
  "logo", and how many catalog pictures (photos, documents, screenshots) wrongly do.
- **classifiers**: for each set (sklearn digits upscaled, rendered letters, crops of photos):
  a multiclass classifier trained through the API (examples uploaded, version trained), its
  cross-validated accuracy, held-out accuracy by the top label and by `predicted` as a caller
  reads it, against an SVC on raw pixels tuned by cross-validation on the training images only.
- **ocr**: claim-form pages in DejaVu Sans, Serif and Mono (clean, noisy JPEG, skewed, turned
  90/180/270): word recall and key fields found by `read` and by Tesseract (orientation from its
  OSD, or the best-confidence turn when OSD gives none), key fields found by text search, and
  the lines `read` returns on photos without text.

Server side (`sightline serve` on this environment): the default features for the first three
parts; the classifiers' server computes `--classifier-features` on upload. Optional response
fields (`strategy`, `total`, `threshold`, tags' `source`/`broader`, new image types) are read
when present and ignored otherwise.

    .venv/bin/python bench/quality.py                 # every part (a few minutes on 2 cores)
    .venv/bin/python bench/quality.py --quick --json  # smaller sets
    .venv/bin/python bench/quality.py --parts search,tags
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import data as samples
from sklearn.datasets import load_digits, load_sample_images

from sightline.client import Client
from sightline.client import Image as Analysed
from sightline.settings import DEFAULT_FEATURES
from upload import running_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.documents import (  # noqa: E402 - the test suite's rendered documents
    FONT_DIR,
    Document,
    hud_screenshot,
    inventory_window,
    receipt,
    word_recall,
    words,
)
from support.graphics import bar_chart, line_chart, logo, pie_chart  # noqa: E402

PARTS = ("search", "tags", "classifiers", "ocr")
SEARCH_COLLECTION = "quality-search"
OCR_COLLECTION = "quality-ocr"
GRAPHICS_COLLECTION = "quality-graphics"
CHARTS_PER_KIND = 6
LOGOS = 12
SEARCH_LIMIT = 20
TOP_TAGS = 5
ANALYSIS_TIMEOUT_S = 600.0
TRAINING_TIMEOUT_S = 900.0
INK = (20, 20, 30)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- arguments -------------------------------------------------------------------------------


def parse_parts(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"parts are {', '.join(PARTS)}; not {unknown}")
    return chosen


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure search, tags, custom classifiers and OCR on packaged pictures and "
        "rendered documents, through a fresh local `sightline serve`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--parts", type=parse_parts, default=",".join(PARTS), help="comma-separated parts to run"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sets: one font for OCR, 10 training and 10 test images per class",
    )
    parser.add_argument("--workers", type=int, default=2, help="analysis worker threads")
    parser.add_argument(
        "--classifier-features",
        default="metadata,thumbnail,tags,embedding",
        help="default features of the classifiers' server (what each uploaded example gets)",
    )
    parser.add_argument(
        "--tesseract",
        default=shutil.which("tesseract"),
        help="Tesseract executable for the OCR baseline (`make bench-quality` installs it); "
        "without one the baseline is left out",
    )
    parser.add_argument("--seed", type=int, default=14, help="seed of every generated set")
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="seconds to wait for /healthz"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server-log", type=Path, default=None, help="keep the servers' output in this file"
    )
    return parser.parse_args(argv)


# -- pictures --------------------------------------------------------------------------------


def encoded(image: Image.Image, kind: str = "JPEG", quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
            buffer, "JPEG", quality=quality
        )
    else:
        image.save(buffer, kind)
    return buffer.getvalue()


def photo_arrays() -> dict[str, np.ndarray]:
    """The packaged photos, none of which shows text."""
    china, flower = load_sample_images().images
    return {
        "astronaut": samples.astronaut(),
        "coffee": samples.coffee(),
        "chelsea": samples.chelsea(),
        "rocket": samples.rocket(),
        "coins": samples.coins(),
        "camera": samples.camera(),
        "grass": samples.grass(),
        "brick": samples.brick(),
        "china": china,
        "flower": flower,
    }


def font_file(name: str) -> str:
    path = FONT_DIR / f"{name}.ttf"
    if not path.exists():
        raise SystemExit(f"{path} not found: install fonts-dejavu-core")
    return str(path)


def dejavu(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file(name), size)


def invoice() -> Image.Image:
    """A one-page invoice: letterhead, addresses, an item table with rules, totals."""
    image = Image.new("RGB", (1000, 1300), "white")
    draw = ImageDraw.Draw(image)
    body, bold = dejavu("DejaVuSans", 22), dejavu("DejaVuSans-Bold", 22)
    title = dejavu("DejaVuSans-Bold", 44)
    draw.text((70, 60), "INVOICE", fill=INK, font=title)
    draw.text((600, 70), "Northwind Supplies Ltd", fill=INK, font=bold)
    draw.text((600, 102), "8 Mill Lane, Leeds LS1 4AB", fill=INK, font=body)
    draw.text((70, 160), "Invoice number: INV-30417", fill=INK, font=body)
    draw.text((70, 195), "Invoice date: 02/10/2024", fill=INK, font=body)
    draw.text((70, 230), "Due date: 02/11/2024", fill=INK, font=body)
    draw.text((600, 160), "Bill to:", fill=INK, font=bold)
    draw.text((600, 195), "Harbour Cafe", fill=INK, font=body)
    draw.text((600, 230), "12 Quay Street, Bristol", fill=INK, font=body)
    top = 320
    columns = (70, 520, 660, 800)
    draw.rectangle([60, top - 10, 940, top + 32], fill=(225, 228, 235))
    for x, heading in zip(columns, ("Description", "Qty", "Unit", "Amount"), strict=True):
        draw.text((x, top), heading, fill=INK, font=bold)
    items = (
        ("Paper cups 12oz (box)", "4", "18.50", "74.00"),
        ("Espresso beans 1kg", "6", "21.00", "126.00"),
        ("Oat milk 1L (case)", "3", "15.60", "46.80"),
        ("Napkins (pack of 500)", "2", "6.25", "12.50"),
        ("Delivery", "1", "9.90", "9.90"),
    )
    y = top + 55
    for row in items:
        for x, cell in zip(columns, row, strict=True):
            draw.text((x, y), cell, fill=INK, font=body)
        draw.line([(60, y + 38), (940, y + 38)], fill=(180, 180, 190), width=1)
        y += 52
    draw.text((660, y + 30), "Subtotal", fill=INK, font=body)
    draw.text((800, y + 30), "269.20", fill=INK, font=body)
    draw.text((660, y + 65), "VAT 20%", fill=INK, font=body)
    draw.text((800, y + 65), "53.84", fill=INK, font=body)
    draw.text((660, y + 105), "Total", fill=INK, font=bold)
    draw.text((800, y + 105), "323.04", fill=INK, font=bold)
    draw.text((70, 1180), "Payment within 30 days. Bank: 20-45-77 12345678", fill=INK, font=body)
    return image


def search_set() -> dict[str, bytes]:
    """The search and tags catalog: ten photos, three documents and two screenshots."""
    pictures = {name: encoded(Image.fromarray(array)) for name, array in photo_arrays().items()}
    pictures["receipt"] = encoded(receipt().image)
    pictures["invoice"] = encoded(invoice())
    pictures["claim_form"] = encoded(
        claim_page("DejaVuSans", np.random.default_rng(0)).document.image
    )
    pictures["app_screenshot"] = encoded(inventory_window(), "PNG")
    pictures["game_screenshot"] = encoded(hud_screenshot().image, "PNG")
    return pictures


def graphics_set(seed: int) -> dict[str, tuple[str, bytes]]:
    """Rendered charts (bar, line, pie) and logos: name -> (the word it should get, data);
    every third picture a JPEG."""
    rng = np.random.default_rng(seed)
    renders = [("chart", render) for render in (bar_chart, line_chart, pie_chart)] * CHARTS_PER_KIND
    renders += [("logo", logo)] * LOGOS
    return {
        f"{word}_{render.__name__}_{index}": (
            word,
            encoded(render(rng), "JPEG" if index % 3 == 2 else "PNG", quality=85),
        )
        for index, (word, render) in enumerate(renders)
    }


# -- claim forms -----------------------------------------------------------------------------


FIRST_NAMES = ("Maria", "James", "Aisha", "Tomasz", "Elena", "Kwame", "Sofia", "Daniel")
LAST_NAMES = ("Jensen", "Okafor", "Novak", "Lindqvist", "Moreau", "Patel", "Castillo", "Byrne")
STREETS = ("Harbour Road", "Mill Lane", "Station Street", "Church View", "Kings Parade")
CITIES = ("Bristol", "Leeds", "Cardiff", "Norwich", "York")
VEHICLES = ("2019 Toyota Corolla", "2021 Ford Focus", "2017 Honda Civic", "2020 Kia Ceed")


@dataclass(frozen=True)
class ClaimPage:
    document: Document
    key_fields: tuple[str, ...]  # values a user would search for: numbers, dates, amounts


def _date(rng: np.random.Generator) -> str:
    return f"{rng.integers(1, 13):02d}/{rng.integers(1, 29):02d}/{rng.integers(2021, 2026)}"


def claim_page(font_name: str, rng: np.random.Generator) -> ClaimPage:
    """A claim form in one DejaVu face with random values: labels on the left, values boxed on
    the right, two fields sharing some rows (where run-together words happen)."""
    width, height = 1240, 1754  # A4 at 150 dpi
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    body, title = dejavu(font_name, 26), dejavu(font_name, 40)
    policy = f"POL-{rng.integers(2019, 2026)}-{rng.integers(100000, 1000000)}"
    claim = f"CLM-{rng.integers(10, 100)}-{rng.integers(10000, 100000)}"
    loss_date, signed_date = _date(rng), _date(rng)
    amount = f"${rng.integers(300, 9999):,}.{rng.integers(0, 100):02d}"
    phone = f"0{rng.integers(100, 1000)} {rng.integers(100, 1000)} {rng.integers(1000, 10000)}"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    fields: list[list[tuple[str, str]]] = [
        [("Policy number:", policy)],
        [("Claim number:", claim), ("Date of loss:", loss_date)],
        [("Policyholder:", f"{first} {last}")],
        [("Address:", f"{rng.integers(1, 300)} {rng.choice(STREETS)}, {rng.choice(CITIES)}")],
        [("Vehicle:", str(rng.choice(VEHICLES)))],
        [("Estimated damage:", amount), ("Phone:", phone)],
    ]
    lines: list[str] = []
    draw.text((90, 80), "ACME MUTUAL INSURANCE", fill=INK, font=title)
    draw.text((90, 140), "Motor Vehicle Claim Form", fill=INK, font=body)
    lines += ["ACME MUTUAL INSURANCE", "Motor Vehicle Claim Form"]
    draw.line([(90, 190), (width - 90, 190)], fill=INK, width=3)
    y = 240
    for row in fields:
        # (label x, value x, box right edge) of each field on the row
        slots = (
            [(90, 400, width - 90)] if len(row) == 1 else [(90, 400, 640), (680, 900, width - 90)]
        )
        parts = []
        for (label, value), (label_x, value_x, right) in zip(row, slots, strict=True):
            draw.rectangle([value_x - 10, y - 10, right, y + 42], outline=(120, 120, 140), width=2)
            draw.text((label_x, y), label, fill=INK, font=body)
            draw.text((value_x, y), value, fill=INK, font=body)
            parts += [label, value]
        lines.append(" ".join(parts))
        y += 80
    description = (
        "Description: the rear bumper and tail light were damaged",
        "while the car was parked outside the pharmacy.",
    )
    for number, sentence in enumerate(description):
        draw.text((90, y + 20 + 45 * number), sentence, fill=INK, font=body)
    lines += list(description)
    closing = f"Signed: {first[0]}. {last}"
    draw.text((90, y + 200), closing, fill=INK, font=body)
    draw.text((700, y + 200), f"Date: {signed_date}", fill=INK, font=body)
    lines.append(f"{closing} Date: {signed_date}")
    keys = (policy, claim, loss_date, amount, signed_date)
    return ClaimPage(Document(image, tuple(lines)), keys)


def noisy_jpeg(image: Image.Image, rng: np.random.Generator) -> bytes:
    """A poor scan: slightly blurred, grainy, JPEG quality 35."""
    soft = image.filter(ImageFilter.GaussianBlur(0.8))
    grain = rng.normal(0, 10, size=(soft.height, soft.width, 1))
    pixels = np.clip(np.asarray(soft, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    return encoded(Image.fromarray(pixels), quality=35)


OCR_VARIANTS: dict[str, Callable[[Document, np.random.Generator], bytes]] = {
    "clean": lambda page, rng: encoded(page.image, "PNG"),
    "noisy jpeg": lambda page, rng: noisy_jpeg(page.image, rng),
    "skew 2.5": lambda page, rng: encoded(page.rotated(2.5).image, quality=80),
    "turned 90": lambda page, rng: encoded(page.rotated(90).image, quality=85),
    "turned 180": lambda page, rng: encoded(page.rotated(180).image, quality=85),
    "turned 270": lambda page, rng: encoded(page.rotated(270).image, quality=85),
}
OCR_FONTS = ("DejaVuSans", "DejaVuSerif", "DejaVuSansMono")


@dataclass(frozen=True)
class OcrSample:
    name: str
    font: str
    variant: str
    data: bytes
    page: ClaimPage


def ocr_set(seed: int, quick: bool) -> list[OcrSample]:
    rng = np.random.default_rng(seed)
    found = []
    for font_name in OCR_FONTS[:1] if quick else OCR_FONTS:
        for variant, make in OCR_VARIANTS.items():
            page = claim_page(font_name, rng)
            name = f"{font_name} {variant}"
            found.append(OcrSample(name, font_name, variant, make(page.document, rng), page))
    return found


# -- classifier sets -------------------------------------------------------------------------


@dataclass
class LabelledSet:
    name: str
    train: list[tuple[bytes, str]]
    test: list[tuple[bytes, str]]


def digits_set(per_class: int, rng: np.random.Generator) -> LabelledSet:
    """sklearn's 8x8 digits (0-16) as 64x64 greyscale PNGs, blocks kept sharp."""
    digits = load_digits()
    train: list[tuple[bytes, str]] = []
    test: list[tuple[bytes, str]] = []
    for label in range(10):
        rows = rng.permutation(np.flatnonzero(digits.target == label))[: 2 * per_class]
        for number, row in enumerate(rows):
            pixels = (digits.images[row] * (255 / 16)).astype(np.uint8)
            picture = Image.fromarray(pixels, "L").resize((64, 64), Image.Resampling.NEAREST)
            (train if number < per_class else test).append((encoded(picture, "PNG"), str(label)))
    return LabelledSet("digits 8x8", train, test)


GLYPH_FONTS = (
    "DejaVuSans",
    "DejaVuSerif",
    "DejaVuSansMono",
    "DejaVuSans-Bold",
    "DejaVuSerif-Italic",
    "DejaVuSansCondensed",
)
GLYPHS = "ABDEGHKMRS"


def glyph(letter: str, rng: np.random.Generator) -> bytes:
    """One letter, 64x64 greyscale: random face, size, offset, slant and paper/ink tones."""
    paper = int(rng.integers(170, 256))
    ink = int(rng.integers(0, 90))
    canvas = Image.new("L", (96, 96), paper)
    face = dejavu(str(rng.choice(GLYPH_FONTS)), int(rng.integers(30, 52)))
    draw = ImageDraw.Draw(canvas)
    offset = rng.integers(-8, 9, size=2)
    draw.text((48 + int(offset[0]), 48 + int(offset[1])), letter, fill=ink, font=face, anchor="mm")
    turned = canvas.rotate(float(rng.uniform(-12, 12)), Image.Resampling.BILINEAR, fillcolor=paper)
    grain = rng.normal(0, 6, size=(64, 64))
    small = np.asarray(turned.crop((16, 16, 80, 80)), dtype=np.float64) + grain
    return encoded(Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "L"), "PNG")


def glyphs_set(per_class: int, rng: np.random.Generator) -> LabelledSet:
    train = [(glyph(letter, rng), letter) for letter in GLYPHS for _ in range(per_class)]
    test = [(glyph(letter, rng), letter) for letter in GLYPHS for _ in range(per_class)]
    return LabelledSet("letters (rendered)", train, test)


def photo_crop(photo: np.ndarray, rng: np.random.Generator) -> bytes:
    """A random crop (30-70 % of each side), maybe mirrored, tone-shifted, 160 px, JPEG."""
    picture = Image.fromarray(photo).convert("RGB")
    width, height = picture.size
    crop_w, crop_h = (int(side * rng.uniform(0.3, 0.7)) for side in (width, height))
    left, top = int(rng.integers(0, width - crop_w)), int(rng.integers(0, height - crop_h))
    crop = picture.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    toned = np.asarray(crop, dtype=np.float64) * rng.uniform(0.8, 1.2)
    crop = Image.fromarray(np.clip(toned, 0, 255).astype(np.uint8))
    crop.thumbnail((160, 160), Image.Resampling.LANCZOS)
    return encoded(crop, quality=85)


def photos_set(per_class: int, rng: np.random.Generator) -> LabelledSet:
    china, flower = load_sample_images().images
    photos = {
        "astronaut": samples.astronaut(),
        "coffee": samples.coffee(),
        "chelsea": samples.chelsea(),
        "rocket": samples.rocket(),
        "china": china,
        "flower": flower,
        "hubble": samples.hubble_deep_field(),
        "cells": samples.immunohistochemistry(),
    }
    train, test = [], []
    for label, photo in photos.items():
        train += [(photo_crop(photo, rng), label) for _ in range(per_class)]
        test += [(photo_crop(photo, rng), label) for _ in range(per_class)]
    return LabelledSet("photo crops", train, test)


# -- reading answers -------------------------------------------------------------------------


def tag_names(image: Analysed) -> list[str]:
    """The `tags` result's names in order, from either shape: `{name, confidence, kind}` or
    `{name, confidence, source, broader}`."""
    result = feature_result(image, "tags") or {}
    return [str(tag["name"]) for tag in result.get("tags", []) if isinstance(tag, dict)]


def indexed_tag_words(image: Analysed) -> list[str]:
    """Every tag name and folded broader term (new shape), lower-case."""
    result = feature_result(image, "tags") or {}
    found = []
    for tag in result.get("tags", []):
        found.append(str(tag["name"]).lower())
        found += [str(term).lower() for term in tag.get("broader", [])]
    return found


def feature_result(image: Analysed, feature: str) -> dict[str, Any] | None:
    state = image.get("features", {}).get(feature)
    if not state or state.get("status") != "done":
        return None
    result: dict[str, Any] | None = state.get("result")
    return result


def upload_all(client: Client, pictures: dict[str, bytes]) -> dict[str, Analysed]:
    """Upload each picture (file name = its key), wait for every analysis; name -> image."""
    ids = {}
    for name, data in pictures.items():
        ids[name] = client.upload(data, filename=f"{name}.img")["id"]
    return {
        name: client.wait(image_id, timeout=ANALYSIS_TIMEOUT_S, interval=0.5)
        for name, image_id in ids.items()
    }


# -- search ----------------------------------------------------------------------------------


PEOPLE = {"astronaut", "camera"}
DOCUMENTS = {"receipt", "invoice", "claim_form"}
SCREENSHOTS = {"app_screenshot", "game_screenshot"}
GREYSCALE = {"coins", "camera", "grass", "brick"}
QUERIES: tuple[tuple[str, set[str]], ...] = (
    ("flower", {"flower"}),
    ("a flower", {"flower"}),
    ("blossom", {"flower"}),
    ("petals", {"flower"}),
    ("orange flower", {"flower"}),
    ("the building", {"china"}),
    ("temple", {"china"}),
    ("woman", {"astronaut"}),
    ("person", PEOPLE),
    ("people", PEOPLE),
    ("portrait", {"astronaut"}),
    ("a man with a camera", {"camera"}),
    ("hot drink", {"coffee"}),
    ("a cup of coffee", {"coffee"}),
    ("red cup", {"coffee"}),
    ("cat", {"chelsea"}),
    ("an animal", {"chelsea"}),
    ("a rocket launch", {"rocket"}),
    ("coins", {"coins"}),
    ("money", {"coins"}),
    ("grass", {"grass"}),
    ("brick wall", {"brick"}),
    ("black and white photo", GREYSCALE),
    ("receipt", {"receipt"}),
    ("invoice", {"invoice"}),
    ("document", DOCUMENTS),
    ("insurance claim form", {"claim_form"}),
    ("text", DOCUMENTS | SCREENSHOTS),
    ("screenshot", SCREENSHOTS),
    ("video game", {"game_screenshot"}),
)
# Nothing in the catalog matches these: a good answer is short or empty.
NO_MATCH_QUERIES = ("snowboard", "a bowl of soup", "giraffe", "electric guitar", "traffic jam")


@dataclass
class QueryOutcome:
    query: str
    mode: str
    rank: int | None  # 1-based rank of the first intended image on the first page
    hits: int
    unintended: int
    strategy: str | None
    total: int | None
    threshold: float | None
    top: list[str]


def run_query(
    client: Client, query: str, mode: str, intended: set[str], names: dict[str, str]
) -> QueryOutcome:
    answer = client.search(query, mode=mode, limit=SEARCH_LIMIT)
    found = [names.get(item["image"]["id"], "?") for item in answer["items"]]
    rank = next((index + 1 for index, name in enumerate(found) if name in intended), None)
    return QueryOutcome(
        query,
        mode,
        rank,
        len(found),
        sum(1 for name in found if name not in intended),
        answer.get("strategy"),
        answer.get("total"),
        answer.get("threshold"),
        found[:3],
    )


def search_report(client: Client, images: dict[str, Analysed]) -> dict[str, Any]:
    names = {image["id"]: name for name, image in images.items()}
    report: dict[str, Any] = {"catalog": len(images), "queries": len(QUERIES)}
    for mode in ("text", "semantic"):
        outcomes = [run_query(client, q, mode, want, names) for q, want in QUERIES]
        misses = [run_query(client, q, mode, set(), names) for q in NO_MATCH_QUERIES]
        reciprocal = [1 / o.rank if o.rank else 0.0 for o in outcomes]
        report[mode] = {
            "mrr": round(float(np.mean(reciprocal)), 3),
            "first_hit_intended": sum(1 for o in outcomes if o.rank == 1),
            "found_on_first_page": sum(1 for o in outcomes if o.rank),
            "empty_answers": sum(1 for o in outcomes if not o.hits),
            "mean_unintended_hits": round(float(np.mean([o.unintended for o in outcomes])), 2),
            "no_match_mean_hits": round(float(np.mean([o.hits for o in misses])), 2),
            "no_match_empty": sum(1 for o in misses if not o.hits),
            "no_match_queries": len(misses),
            "strategies": dict(Counter(o.strategy or "-" for o in outcomes)),
            "threshold": next((o.threshold for o in outcomes if o.threshold is not None), None),
            "per_query": [
                {
                    "query": o.query,
                    "rank": o.rank,
                    "hits": o.hits,
                    "unintended": o.unintended,
                    "strategy": o.strategy,
                    "total": o.total,
                    "top": o.top,
                }
                for o in outcomes + misses
            ],
        }
    return report


# -- tags ------------------------------------------------------------------------------------


PERSON_WORDS = {"person", "people", "portrait", "man", "woman", "human", "face", "selfie"}
DOCUMENT_WORDS = {"document", "text", "receipt", "invoice", "form", "paper", "bill"}
ACCEPTABLE: dict[str, set[str]] = {
    "astronaut": PERSON_WORDS | {"astronaut", "space suit", "spacesuit", "flag", "suit"},
    "coffee": {"coffee", "espresso", "cup", "mug", "saucer", "spoon", "drink", "beverage"}
    | {"cappuccino", "tableware", "crockery", "red", "brown", "table"},
    "chelsea": {"cat", "tabby", "tiger cat", "egyptian mau", "feline", "animal", "mammal"}
    | {"pet", "kitten", "carnivore", "placental", "vertebrate", "lynx", "brown", "orange"},
    "rocket": {"rocket", "missile", "projectile", "space shuttle", "spacecraft", "launch"}
    | {"vehicle", "smoke", "sky", "blue", "craft", "weapon"},
    "coins": {"coin", "coins", "money", "currency", "cash", "metal", "silver", "grey", "gray"},
    "camera": PERSON_WORDS
    | {"camera", "photographer", "tripod", "grey", "gray", "black"}
    | {"white", "black and white", "coat", "grass"},
    "grass": {"grass", "lawn", "field", "meadow", "plant", "hay", "vegetation", "grey", "gray"}
    | {"texture", "pattern"},
    "brick": {"brick", "bricks", "wall", "brick wall", "stone wall", "texture", "pattern"}
    | {"grey", "gray", "building material", "masonry"},
    "china": {"temple", "palace", "pagoda", "building", "architecture", "tower", "tree", "sky"}
    | {"stupa", "monastery", "structure", "roof", "lake", "blue", "red", "orange", "green"},
    "flower": {"flower", "dahlia", "blossom", "bloom", "petal", "petals", "plant", "orange"}
    | {"daisy", "flora", "vascular plant", "green", "pink", "yellow", "garden"},
    "receipt": DOCUMENT_WORDS | {"menu", "white"},
    "invoice": DOCUMENT_WORDS | {"white"},
    "claim_form": DOCUMENT_WORDS | {"white"},
    "app_screenshot": {"screenshot", "text", "window", "screen", "computer", "monitor"}
    | {"website", "software", "interface", "menu", "display", "document"},
    "game_screenshot": {"screenshot", "text", "video game", "game", "screen", "display"}
    | {"computer", "monitor", "scoreboard"},
}


def acceptable(tag: str, words_ok: set[str]) -> bool:
    """A tag is right when it or one of its words is an acceptable word ("tabby cat")."""
    name = tag.lower()
    return name in words_ok or any(part in words_ok for part in re.split(r"[\s,-]+", name))


def tags_report(images: dict[str, Analysed]) -> dict[str, Any]:
    per_image = {}
    for name, words_ok in ACCEPTABLE.items():
        names = tag_names(images[name])
        first = names[:TOP_TAGS]
        good = sum(1 for tag in first if acceptable(tag, words_ok))
        image_type = feature_result(images[name], "image_type") or {}
        per_image[name] = {
            "precision_at_5": round(good / TOP_TAGS, 3),
            "first_tags": first,
            "tag_count": len(names),
            "image_type": image_type.get("type"),
        }
    people = {
        name: {
            "in_first_5": any(acceptable(t, PERSON_WORDS) for t in tag_names(images[name])[:5]),
            "anywhere": any(acceptable(t, PERSON_WORDS) for t in indexed_tag_words(images[name])),
        }
        for name in sorted(PEOPLE)
    }
    documents = {
        name: {
            "in_first_5": any(
                acceptable(t, DOCUMENT_WORDS) for t in tag_names(images[name])[:TOP_TAGS]
            ),
            "image_type": per_image[name]["image_type"],
        }
        for name in sorted(DOCUMENTS)
    }
    return {
        "precision_at_5": round(
            float(np.mean([entry["precision_at_5"] for entry in per_image.values()])), 3
        ),
        "photos_precision_at_5": round(
            float(
                np.mean(
                    [
                        entry["precision_at_5"]
                        for name, entry in per_image.items()
                        if name not in DOCUMENTS | SCREENSHOTS
                    ]
                )
            ),
            3,
        ),
        "people": people,
        "documents": documents,
        "screenshots_image_type": {name: per_image[name]["image_type"] for name in SCREENSHOTS},
        "per_image": per_image,
    }


def graphics_report(
    expected: dict[str, str],
    rendered: dict[str, Analysed],
    catalog: dict[str, Analysed],
) -> dict[str, Any]:
    """Per word: rendered pictures of its kind that carry it, and other pictures (rendered of
    the other kind, or the catalog's) that carry it."""
    tagged = {name: set(tag_names(image)) for name, image in {**rendered, **catalog}.items()}
    report = {}
    for word in ("chart", "logo"):
        own = [name for name, kind in expected.items() if kind == word]
        others = [name for name in tagged if expected.get(name) != word]
        wrong = sorted(name for name in others if word in tagged[name])
        report[word] = {
            "found": sum(1 for name in own if word in tagged[name]),
            "of": len(own),
            "wrongly_on": wrong,
            "others": len(others),
        }
    return report


# -- OCR -------------------------------------------------------------------------------------


def contains_phrase(tokens: Sequence[str], phrase: str) -> bool:
    """Whether the value's words appear together, in order, among the read words: what a
    search for it needs (run-together words like "09/13/2024date" do not count)."""
    wanted = words(phrase)
    if not wanted:
        return True
    return any(
        list(tokens[start : start + len(wanted)]) == wanted
        for start in range(len(tokens) - len(wanted) + 1)
    )


@dataclass
class OcrScore:
    recall: float
    missed_keys: list[str]
    keys: int

    @property
    def keys_found(self) -> int:
        return self.keys - len(self.missed_keys)


def score_reading(page: ClaimPage, text: str) -> OcrScore:
    found = words(text)
    missed = [value for value in page.key_fields if not contains_phrase(found, value)]
    return OcrScore(word_recall(page.document.words, found), missed, len(page.key_fields))


TESSERACT_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.MULTILINE)


@dataclass
class TesseractReading:
    text: str
    how: str  # "osd" or "best of 4"


def tesseract_words(executable: str, path: Path) -> tuple[str, float]:
    """Text (words in reading order) and mean word confidence of `tesseract --psm 3`."""
    command = [executable, str(path), "stdout", "--psm", "3", "-l", "eng", "tsv"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    tokens, confidences = [], []
    for row in output.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[11].strip() and float(cells[10]) >= 0:
            tokens.append(cells[11])
            confidences.append(float(cells[10]))
    return " ".join(tokens), float(np.mean(confidences)) if confidences else 0.0


def tesseract_read(executable: str, data: bytes, folder: Path) -> TesseractReading:
    """Upright by Tesseract's orientation detection (`--psm 0`) when it answers, else by
    reading all four turns and keeping the most confident; then `--psm 3`."""
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    path = folder / "page.png"
    picture.save(path)
    osd = subprocess.run(
        [executable, str(path), "stdout", "--psm", "0"], capture_output=True, text=True
    )
    match = TESSERACT_ROTATE.search(osd.stdout)
    if osd.returncode == 0 and match:
        # "Rotate: N" is how far to turn the page clockwise to make it upright.
        picture.rotate(-int(match.group(1)), expand=True).save(path)
        return TesseractReading(tesseract_words(executable, path)[0], "osd")
    best = ("", -1.0)
    for turn in (0, 90, 180, 270):
        picture.rotate(turn, expand=True).save(path)
        best = max(best, tesseract_words(executable, path), key=lambda reading: reading[1])
    return TesseractReading(best[0], "best of 4")


def read_text(image: Analysed) -> tuple[str, int]:
    result = feature_result(image, "read") or {}
    return str(result.get("text", "")), len(result.get("lines", []))


def summary(scores: Sequence[OcrScore]) -> dict[str, Any]:
    keys = sum(score.keys for score in scores)
    found = sum(score.keys_found for score in scores)
    return {
        "word_recall": round(float(np.mean([score.recall for score in scores])), 3),
        "min_word_recall": round(min(score.recall for score in scores), 3),
        "key_fields_found": found,
        "key_fields": keys,
        "key_field_share": round(found / keys, 3) if keys else None,
    }


def ocr_report(
    client: Client,
    samples_: Sequence[OcrSample],
    images: dict[str, Analysed],
    photos: dict[str, Analysed],
    tesseract: str | None,
) -> dict[str, Any]:
    sightline_scores, tesseract_scores, rows = [], [], []
    search_missed: list[str] = []
    searched = 0
    ways: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="quality-tesseract-") as folder:
        for sample in samples_:
            image = images[sample.name]
            text, _lines = read_text(image)
            ours = score_reading(sample.page, text)
            sightline_scores.append(ours)
            row: dict[str, Any] = {
                "page": sample.name,
                "sightline_recall": round(ours.recall, 3),
                "sightline_keys": f"{ours.keys_found}/{ours.keys}",
                "sightline_missed": ours.missed_keys,
            }
            for value in sample.page.key_fields:
                answer = client.search(value, limit=SEARCH_LIMIT)
                searched += 1
                if image["id"] not in [item["image"]["id"] for item in answer["items"]]:
                    search_missed.append(value)
            if tesseract:
                reading = tesseract_read(tesseract, sample.data, Path(folder))
                theirs = score_reading(sample.page, reading.text)
                tesseract_scores.append(theirs)
                ways[reading.how] += 1
                row["tesseract_recall"] = round(theirs.recall, 3)
                row["tesseract_keys"] = f"{theirs.keys_found}/{theirs.keys}"
                row["tesseract_missed"] = theirs.missed_keys
            rows.append(row)
    by_variant = {
        variant: summary(
            [
                s
                for s, sample in zip(sightline_scores, samples_, strict=True)
                if sample.variant == variant
            ]
        )["word_recall"]
        for variant in OCR_VARIANTS
        if any(sample.variant == variant for sample in samples_)
    }
    return {
        "pages": len(samples_),
        "sightline": summary(sightline_scores),
        "sightline_recall_by_variant": by_variant,
        "tesseract": summary(tesseract_scores) if tesseract_scores else None,
        "tesseract_orientation": dict(ways),
        "search_key_fields_found": searched - len(search_missed),
        "search_key_fields": searched,
        "search_missed": search_missed,
        "text_free_photos_lines": {name: read_text(image)[1] for name, image in photos.items()},
        "per_page": rows,
    }


# -- classifiers -----------------------------------------------------------------------------


def raw_pixels(data: bytes) -> np.ndarray:
    """The SVC's input: the picture at 16x16 (greyscale stays greyscale), scaled to [0, 1]."""
    opened = Image.open(io.BytesIO(data))
    picture = opened.convert("L" if opened.mode in ("L", "1", "I;16") else "RGB")
    small = picture.resize((16, 16), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64).ravel() / 255


def svc_baseline(labelled: LabelledSet, seed: int) -> dict[str, Any]:
    """An RBF SVC on raw pixels, C and gamma chosen by 5-fold CV on the training images only."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    X = np.stack([raw_pixels(data) for data, _ in labelled.train])
    y = [label for _, label in labelled.train]
    grid = {"C": [1, 10, 100], "gamma": ["scale", 0.003, 0.01, 0.03]}
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    search = GridSearchCV(SVC(kernel="rbf"), grid, cv=folds).fit(X, y)
    X_test = np.stack([raw_pixels(data) for data, _ in labelled.test])
    truth = [label for _, label in labelled.test]
    held_out = float(np.mean(search.predict(X_test) == np.asarray(truth)))
    return {
        "cv_accuracy": round(float(search.best_score_), 3),
        "held_out_accuracy": round(held_out, 3),
        "params": {key: value for key, value in search.best_params_.items()},
    }


def train_through_api(client: Client, labelled: LabelledSet, key: str) -> dict[str, Any]:
    client.create_classifier(key, "multiclass", description=f"quality bench: {labelled.name}")
    by_label: dict[str, list[bytes]] = {}
    for data, label in labelled.train:
        by_label.setdefault(label, []).append(data)
    for label, pictures in by_label.items():
        for start in range(0, len(pictures), 10):
            report = client.upload_examples(key, pictures[start : start + 10], label)
            if report["failed"]:
                raise RuntimeError(f"examples of {label!r} refused: {report['items'][:2]}")
    began = time.perf_counter()
    version = client.train(key)
    ready = client.wait_for_version(
        key, version["number"], timeout=TRAINING_TIMEOUT_S, interval=0.5
    )
    seconds = time.perf_counter() - began
    if ready["status"] != "ready":
        raise RuntimeError(f"training {key} failed: {ready.get('error')}")
    metrics = ready.get("metrics") or {}
    overall = metrics.get("overall", {})
    by_top = by_predicted = 0
    for data, label in labelled.test:
        verdict = client.predict(key, data, version=ready["number"])
        ranked = sorted(verdict["labels"], key=lambda entry: -entry["confidence"])
        by_top += ranked[0]["name"] == label
        by_predicted += verdict.get("predicted") == [label]
    head = metrics.get("head") or {}
    return {
        "cv_accuracy": overall.get("accuracy"),
        "held_out_top_label": round(by_top / len(labelled.test), 3),
        "held_out_predicted": round(by_predicted / len(labelled.test), 3),
        "head": head.get("chosen"),
        "candidates": head.get("candidates"),
        "training_seconds": round(seconds, 1),
    }


def classifiers_report(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    per_class = 10 if args.quick else 20
    rng = np.random.default_rng(args.seed)
    sets = [
        digits_set(per_class, rng),
        glyphs_set(per_class, rng),
        photos_set(per_class // 2 if args.quick else 15, rng),
    ]
    found = {}
    for number, labelled in enumerate(sets):
        labels = len({label for _, label in labelled.train})
        log(
            f"classifier set {labelled.name}: {len(labelled.train)} training images, "
            f"{labels} labels"
        )
        entry: dict[str, Any] = {
            "labels": labels,
            "train": len(labelled.train),
            "test": len(labelled.test),
        }
        entry["sightline"] = train_through_api(client, labelled, f"quality-{number}")
        entry["svc_raw_pixels"] = svc_baseline(labelled, args.seed)
        found[labelled.name] = entry
    return found


# -- running ---------------------------------------------------------------------------------


@dataclass
class Report:
    parts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Timer:
    seconds: dict[str, float]
    name: str
    began: float = 0.0

    def __enter__(self) -> None:
        self.began = time.perf_counter()
        log(f"-- {self.name}")

    def __exit__(self, *_exc: object) -> None:
        self.seconds[self.name] = round(time.perf_counter() - self.began, 1)


def run(args: argparse.Namespace) -> Report:
    report = Report()
    parts = set(args.parts)
    if parts & {"search", "tags", "ocr"}:
        features = ",".join(DEFAULT_FEATURES)
        with running_server(
            args.workers, features, args.startup_timeout, args.server_log
        ) as server:
            with Client(server.base_url, timeout=300.0, collection=SEARCH_COLLECTION) as client:
                with Timer(report.seconds, "upload and analyse the search catalog"):
                    catalog = upload_all(client, search_set())
                if "search" in parts:
                    with Timer(report.seconds, "search"):
                        report.parts["search"] = search_report(client, catalog)
                if "tags" in parts:
                    report.parts["tags"] = tags_report(catalog)
            if "tags" in parts:
                with Client(
                    server.base_url, timeout=300.0, collection=GRAPHICS_COLLECTION
                ) as client:
                    graphics = graphics_set(args.seed)
                    with Timer(report.seconds, "upload and analyse rendered charts and logos"):
                        rendered = upload_all(
                            client, {name: data for name, (_word, data) in graphics.items()}
                        )
                    expected = {name: word for name, (word, _data) in graphics.items()}
                    report.parts["tags"]["graphics"] = graphics_report(expected, rendered, catalog)
            if "ocr" in parts:
                with Client(server.base_url, timeout=300.0, collection=OCR_COLLECTION) as client:
                    pages = ocr_set(args.seed, args.quick)
                    with Timer(report.seconds, "upload and analyse the OCR pages"):
                        read = upload_all(client, {page.name: page.data for page in pages})
                    photos = {
                        name: image
                        for name, image in catalog.items()
                        if name not in DOCUMENTS | SCREENSHOTS | {"rocket", "coins"}
                    }
                    with Timer(report.seconds, "ocr scoring, search and tesseract"):
                        report.parts["ocr"] = ocr_report(
                            client, pages, read, photos, args.tesseract
                        )
    if "classifiers" in parts:
        with running_server(
            args.workers, args.classifier_features, args.startup_timeout, args.server_log
        ) as server:
            with Client(server.base_url, timeout=300.0) as client:
                with Timer(report.seconds, "classifiers"):
                    report.parts["classifiers"] = classifiers_report(client, args)
    return report


# -- report ----------------------------------------------------------------------------------


def fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: Iterable[Sequence[str]]) -> list[str]:
    rows = [list(row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_report(report: Report) -> str:
    lines: list[str] = []
    search = report.parts.get("search")
    if search:
        lines.append(f"SEARCH ({search['queries']} queries, catalog of {search['catalog']})")
        rows = [
            [
                "mode",
                "MRR",
                "first=intended",
                "on page 1",
                "empty",
                "unintended/q",
                "no-match hits/q",
                "no-match empty",
                "strategies",
            ]
        ]
        for mode in ("text", "semantic"):
            entry = search[mode]
            rows.append(
                [
                    mode,
                    fraction(entry["mrr"]),
                    str(entry["first_hit_intended"]),
                    str(entry["found_on_first_page"]),
                    str(entry["empty_answers"]),
                    str(entry["mean_unintended_hits"]),
                    str(entry["no_match_mean_hits"]),
                    f"{entry['no_match_empty']}/{entry['no_match_queries']}",
                    ", ".join(f"{k} {v}" for k, v in sorted(entry["strategies"].items())),
                ]
            )
        lines += table(rows)
        lines.append("per query (rank of the first intended image, - = not on page 1; hits):")
        text_rows, semantic_rows = search["text"]["per_query"], search["semantic"]["per_query"]
        rows = [["query", "text rank", "text hits", "semantic rank", "semantic hits"]]
        for text_row, semantic_row in zip(text_rows, semantic_rows, strict=True):
            rows.append(
                [
                    f"  {text_row['query']}",
                    str(text_row["rank"] or "-"),
                    str(text_row["hits"]),
                    str(semantic_row["rank"] or "-"),
                    str(semantic_row["hits"]),
                ]
            )
        lines += table(rows)
        lines.append("")
    tags = report.parts.get("tags")
    if tags:
        lines.append(
            f"TAGS  precision@5 {fraction(tags['precision_at_5'])} "
            f"(photos {fraction(tags['photos_precision_at_5'])})"
        )
        for name, entry in tags["per_image"].items():
            lines.append(
                f"  {name:<16} p@5 {entry['precision_at_5']:.1f}  type {entry['image_type']!s:<10} "
                + ", ".join(entry["first_tags"])
            )
        for name, entry in tags["people"].items():
            lines.append(
                f"  person word on {name}: first 5 {entry['in_first_5']}, "
                f"anywhere {entry['anywhere']}"
            )
        for name, entry in tags["documents"].items():
            lines.append(
                f"  document word on {name}: first 5 {entry['in_first_5']}, "
                f"image_type {entry['image_type']}"
            )
        for word, entry in tags.get("graphics", {}).items():
            lines.append(
                f"  {word}: on {entry['found']} of {entry['of']} rendered, wrongly on "
                f"{len(entry['wrongly_on'])} of {entry['others']} others "
                + ", ".join(entry["wrongly_on"])
            )
        lines.append("")
    classifiers = report.parts.get("classifiers")
    if classifiers:
        lines.append("CLASSIFIERS (multiclass; accuracy)")
        rows = [
            [
                "set",
                "labels",
                "train/test",
                "CV",
                "held-out top",
                "held-out predicted",
                "SVC CV",
                "SVC held-out",
                "head",
            ]
        ]
        for name, entry in classifiers.items():
            ours, svc = entry["sightline"], entry["svc_raw_pixels"]
            rows.append(
                [
                    name,
                    str(entry["labels"]),
                    f"{entry['train']}/{entry['test']}",
                    fraction(ours["cv_accuracy"]),
                    fraction(ours["held_out_top_label"]),
                    fraction(ours["held_out_predicted"]),
                    fraction(svc["cv_accuracy"]),
                    fraction(svc["held_out_accuracy"]),
                    str(ours["head"] or "-"),
                ]
            )
        lines += table(rows)
        lines.append("")
    ocr = report.parts.get("ocr")
    if ocr:
        lines.append(f"OCR ({ocr['pages']} claim-form pages)")
        rows = [["reader", "word recall", "min recall", "key fields"]]
        for reader in ("sightline", "tesseract"):
            entry = ocr[reader]
            if entry is None:
                rows.append([reader, "not run: no tesseract", "", ""])
                continue
            rows.append(
                [
                    reader,
                    fraction(entry["word_recall"]),
                    fraction(entry["min_word_recall"]),
                    f"{entry['key_fields_found']}/{entry['key_fields']}",
                ]
            )
        lines += table(rows)
        for reader in ("sightline", "tesseract"):
            missed = [
                f"{value} ({row['page']})"
                for row in ocr["per_page"]
                for value in row.get(f"{reader}_missed", [])
            ]
            if missed:
                lines.append(f"  {reader} missed: " + ", ".join(missed))
        lines.append(
            "  sightline recall by variant: "
            + ", ".join(f"{k} {v:.3f}" for k, v in ocr["sightline_recall_by_variant"].items())
        )
        if ocr["tesseract_orientation"]:
            lines.append(f"  tesseract orientation: {ocr['tesseract_orientation']}")
        lines.append(
            f"  key fields found by text search: {ocr['search_key_fields_found']}"
            f"/{ocr['search_key_fields']}"
            + (f" (missed {', '.join(ocr['search_missed'])})" if ocr["search_missed"] else "")
        )
        lines.append(
            "  read lines on photos without text: "
            + ", ".join(f"{k} {v}" for k, v in ocr["text_free_photos_lines"].items())
        )
        lines.append("")
    lines.append(
        "seconds: " + ", ".join(f"{name} {value}" for name, value in report.seconds.items())
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    try:
        report = run(args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped and data removed")
        return 130
    report.seconds["total"] = round(time.perf_counter() - began, 1)
    if args.json:
        print(json.dumps({"parts": report.parts, "seconds": report.seconds}, indent=2))
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
