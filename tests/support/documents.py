"""Test documents rendered in code: a claim form, a memo, a receipt and a game screenshot whose
exact text is known, so text-reading features can be scored by word recall without binary
fixtures. Every function is deterministic: the same call draws the same pixels.

    form = claim_form()
    found = words(result["text"])
    assert word_recall(form.words, found) >= 0.95
    sideways = form.rotated(90)  # turned clockwise, as a phone photo taken sideways
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Color = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
WHITE: Color = (255, 255, 255)
INK: Color = (20, 20, 30)
POLICY_NUMBER = "POL-2024-118734"


@dataclass(frozen=True)
class Document:
    """A rendered image and the text drawn on it, one entry per visual line in reading order
    (a form's label and value share a line)."""

    image: Image.Image
    lines: tuple[str, ...]
    background: Color = WHITE

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def words(self) -> list[str]:
        return words(self.text)

    def rotated(self, angle: float) -> Document:
        """The same document turned clockwise by `angle` degrees; corners that the turn uncovers
        are filled with the background colour."""
        turned = self.image.rotate(
            -angle, Image.Resampling.BICUBIC, expand=True, fillcolor=self.background
        )
        return Document(turned, self.lines, self.background)

    def turned_point(self, x: float, y: float, angle: int) -> tuple[float, float]:
        """Where pixel coordinates (x, y) of this document land in `rotated(angle)`, for a
        multiple of 90 degrees."""
        width, height = self.image.size
        turns = {0: (x, y), 90: (height - y, x), 180: (width - x, height - y), 270: (y, width - x)}
        return turns[angle % 360]


def words(text: str) -> list[str]:
    """Lower-case words with punctuation stripped from their ends ("Number:" -> "number"),
    keeping the inside ("87/100", "pol-2024-118734"); pure punctuation is dropped."""
    stripped = (token.strip(string.punctuation).lower() for token in text.split())
    return [token for token in stripped if token]


def word_recall(expected: Iterable[str], found: Iterable[str]) -> float:
    """The share of expected words that were found, counting repeated words separately."""
    wanted = Counter(expected)
    got = Counter(found)
    total = sum(wanted.values())
    return sum(min(count, got[word]) for word, count in wanted.items()) / total if total else 1.0


def font(size: int, *, bold: bool = False, mono: bool = False) -> Font:
    """DejaVu where installed (Debian's fonts-dejavu-core), else Pillow's built-in font."""
    name = "DejaVuSansMono" if mono else "DejaVuSans"
    path = FONT_DIR / f"{name}{'-Bold' if bold else ''}.ttf"
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


CLAIM_FIELDS = (
    ("Policy Number:", POLICY_NUMBER),
    ("Claimant Name:", "Maria Jensen"),
    ("Date of Loss:", "14 March 2024"),
    ("Location:", "221 Harbour Road, Bristol"),
    ("Vehicle:", "2019 Toyota Corolla"),
    ("Registration:", "KX19 RBT"),
    ("Estimated Damage:", "$4,250.00"),
    ("Contact Phone:", "0117 496 0321"),
)
CLAIM_DESCRIPTION = (
    "Rear bumper and tail light damaged while the car",
    "was parked outside the office on Harbour Road.",
)


def claim_form(width: int = 1200) -> Document:
    """An insurance claim form: a title, labelled fields with boxed values, a free-text
    description and a signature line. Labels and values sit on the same row."""
    scale = width / 1200
    height = round(1000 * scale)
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    left, value_x = round(80 * scale), round(440 * scale)
    title, heading = font(round(40 * scale), bold=True), font(round(28 * scale))
    body = font(round(26 * scale))
    lines: list[str] = []

    def text_line(y: float, parts: list[tuple[float, str, Font]]) -> None:
        for x, text, face in parts:
            draw.text((x, y), text, fill=INK, font=face)
        lines.append(" ".join(text for _, text, _ in parts))

    text_line(50 * scale, [(left, "ACME MUTUAL INSURANCE", title)])
    text_line(110 * scale, [(left, "Vehicle Claim Form", heading)])
    draw.line([(left, 160 * scale), (width - left, 160 * scale)], fill=INK, width=3)
    y = 195 * scale
    for label, value in CLAIM_FIELDS:
        draw.rectangle(
            [value_x - 12 * scale, y - 10 * scale, width - left, y + 42 * scale],
            outline=(120, 120, 140),
            width=2,
        )
        text_line(y, [(left, label, body), (value_x, value, body)])
        y += 70 * scale
    text_line(y + 10 * scale, [(left, "Description of Damage:", body)])
    for row, sentence in enumerate(CLAIM_DESCRIPTION):
        text_line(y + (60 + 45 * row) * scale, [(left, sentence, body)])
    text_line(
        height - 90 * scale,
        [(left, "Signed: M. Jensen", body), (value_x + 260 * scale, "Date: 18/03/2024", body)],
    )
    return Document(image, tuple(lines))


MEMO_LINES = (
    "Memo to all staff",
    "The north car park will be closed",
    "for resurfacing from Monday 3 June.",
    "Please use the visitor spaces behind",
    "the warehouse until further notice.",
    "Badges are needed at the side gate.",
    "Thank you for your patience.",
    "Facilities team, extension 4417",
)


def memo(width: int = 640) -> Document:
    """A plain one-column note: one sentence fragment per line, top to bottom."""
    scale = width / 640
    image = Image.new("RGB", (width, round(480 * scale)), WHITE)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(MEMO_LINES):
        face = font(round((30 if row == 0 else 24) * scale), bold=row == 0)
        draw.text((40 * scale, (36 + 52 * row) * scale), line, fill=INK, font=face)
    return Document(image, MEMO_LINES)


RECEIPT_ITEMS = (
    ("Espresso", "2.80"),
    ("Oat Latte", "3.95"),
    ("Almond Croissant", "3.40"),
    ("Sparkling Water", "1.90"),
)


def receipt(width: int = 480) -> Document:
    """A till receipt in a monospaced font: item names on the left, prices right-aligned."""
    image = Image.new("RGB", (width, 560), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    face, bold = font(22, mono=True), font(26, bold=True, mono=True)
    lines: list[str] = []
    right = width - 40

    def row(y: int, left_text: str, right_text: str = "", face: Font = face) -> None:
        draw.text((40, y), left_text, fill=INK, font=face)
        if right_text:
            draw.text((right, y), right_text, fill=INK, font=face, anchor="ra")
        lines.append(f"{left_text} {right_text}".strip())

    row(30, "HARBOUR COFFEE CO", face=bold)
    row(72, "12 Quay Street, Bristol")
    row(106, "Receipt 000482  09:41")
    draw.line([(40, 150), (right, 150)], fill=INK, width=2)
    y = 170
    for item, price in RECEIPT_ITEMS:
        row(y, item, price)
        y += 40
    draw.line([(40, y + 5), (right, y + 5)], fill=INK, width=2)
    total = sum(float(price) for _, price in RECEIPT_ITEMS)
    row(y + 25, "TOTAL", f"{total:.2f}", face=bold)
    row(y + 75, "Paid by card")
    row(y + 115, "Thank you, see you soon")
    return Document(image, tuple(lines), (250, 248, 240))


HUD_TEXT = (
    ("SCORE 12850", (40, 30), (255, 220, 90)),
    ("LEVEL 7", (1060, 30), (120, 220, 255)),
    ("HP 87/100", (40, 640), (120, 255, 140)),
    ("AMMO 24/120", (960, 640), (255, 255, 255)),
)


def hud_screenshot(seed: int = 7) -> Document:
    """A 1280x720 game frame: a dark, busy, blurred scene with bright outlined HUD values."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 90, size=(9, 16, 3), dtype=np.uint8)
    scene = Image.fromarray(coarse).resize((1280, 720), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(scene)
    for _ in range(40):
        x, y = int(rng.integers(0, 1280)), int(rng.integers(0, 720))
        w, h = int(rng.integers(20, 220)), int(rng.integers(20, 160))
        fill = tuple(int(v) for v in rng.integers(10, 120, size=3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=fill)
    scene = scene.filter(ImageFilter.GaussianBlur(3))
    grain = rng.normal(0, 8, size=(720, 1280, 3))
    pixels = np.clip(np.asarray(scene, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 690, 40 + 3 * 87, 702], fill=(60, 200, 80))
    face = font(36, bold=True)
    for text, position, color in HUD_TEXT:
        draw.text(position, text, fill=color, font=face, stroke_width=2, stroke_fill=(0, 0, 0))
    return Document(image, tuple(text for text, _, _ in HUD_TEXT), (0, 0, 0))


def blank(size: tuple[int, int] = (640, 480), color: Color = WHITE) -> Document:
    return Document(Image.new("RGB", size, color), (), color)
