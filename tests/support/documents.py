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


INVOICE_ROWS = (
    ("Website hosting, 12 months", "1", "240.00"),
    ("Domain renewal sightline.example", "2", "36.00"),
    ("Support hours, September", "6", "510.00"),
    ("Backup storage 200 GB", "1", "48.00"),
)


def invoice(width: int = 1240) -> Document:
    """An A4-shaped invoice: sender, invoice number and date, a ruled table of items with
    quantities and amounts, and a total; the numbers right-aligned."""
    scale = width / 1240
    image = Image.new("RGB", (width, round(1754 * scale)), WHITE)
    draw = ImageDraw.Draw(image)
    body, bold = font(round(26 * scale)), font(round(26 * scale), bold=True)
    left, right = round(90 * scale), width - round(90 * scale)
    lines: list[str] = []

    def row(y: float, parts: list[tuple[float, str, Font, str]]) -> None:
        for x, text, face, anchor in parts:
            draw.text((x, y * scale), text, fill=INK, font=face, anchor=anchor)
        lines.append(" ".join(text for _, text, _, _ in parts))

    row(90, [(left, "NORTHWIND WEB SERVICES", font(round(44 * scale), bold=True), "la")])
    row(160, [(left, "8 Canal Street, Leeds LS1 4AB", body, "la")])
    row(250, [(left, "INVOICE", font(round(36 * scale), bold=True), "la")])
    row(320, [(left, "Invoice number: INV-2024-0917", body, "la")])
    row(365, [(left, "Date: 09/13/2024", body, "la")])
    row(410, [(left, "Bill to: Harbour Coffee Co", body, "la")])
    draw.line([(left, 490 * scale), (right, 490 * scale)], fill=INK, width=2)
    quantity_x, amount_x = round(800 * scale), right
    row(
        505,
        [
            (left, "Description", bold, "la"),
            (quantity_x, "Qty", bold, "ra"),
            (amount_x, "Amount", bold, "ra"),
        ],
    )
    draw.line([(left, 550 * scale), (right, 550 * scale)], fill=INK, width=2)
    y = 575
    for item, quantity, amount in INVOICE_ROWS:
        row(
            y,
            [
                (left, item, body, "la"),
                (quantity_x, quantity, body, "ra"),
                (amount_x, amount, body, "ra"),
            ],
        )
        y += 55
    draw.line([(left, (y + 10) * scale), (right, (y + 10) * scale)], fill=INK, width=2)
    total = sum(float(amount) for _, _, amount in INVOICE_ROWS)
    row(y + 35, [(quantity_x, "Total", bold, "ra"), (amount_x, f"{total:.2f}", bold, "ra")])
    row(y + 200, [(left, "Payment within 30 days to account 40-22-18 61093345.", body, "la")])
    return Document(image, tuple(lines))


def long_receipt(items: int = 14) -> Document:
    """A narrow, long till receipt (about 1:4) in a monospaced font on slightly warm paper."""
    paper: Color = (248, 246, 238)
    height = 300 + 38 * items + 200
    image = Image.new("RGB", (420, height), paper)
    draw = ImageDraw.Draw(image)
    face = font(20, mono=True)
    lines: list[str] = []

    def row(y: int, left_text: str, right_text: str = "") -> None:
        draw.text((24, y), left_text, fill=INK, font=face)
        if right_text:
            draw.text((396, y), right_text, fill=INK, font=face, anchor="ra")
        lines.append(f"{left_text} {right_text}".strip())

    row(30, "CORNER GROCER")
    row(62, "Date: 09/13/2024  18:02")
    row(94, "Till 3  Receipt 7731")
    draw.line([(24, 140), (396, 140)], fill=INK, width=1)
    rng = np.random.default_rng(items)
    produce = ("Apples", "Bread", "Milk 2L", "Eggs x12", "Butter", "Coffee", "Rice 1kg")
    total = 0.0
    for index in range(items):
        price = float(rng.integers(50, 900)) / 100
        total += price
        row(160 + 38 * index, produce[index % len(produce)], f"{price:.2f}")
    y = 160 + 38 * items + 20
    draw.line([(24, y), (396, y)], fill=INK, width=1)
    row(y + 20, "TOTAL", f"{total:.2f}")
    row(y + 60, "Card payment")
    return Document(image, tuple(lines), paper)


FORM_FIELDS = (
    ("Policy number:", POLICY_NUMBER),
    ("Date:", "09/13/2024"),
    ("Insured:", "Daniel Okafor"),
    ("Claim type:", "Water damage"),
)


def dated_claim_form(width: int = 1000) -> Document:
    """A short claim form whose values sit close after their labels on one line, so a lost
    space joins them ("09/13/2024Date" when the next row starts with a label)."""
    image = Image.new("RGB", (width, 640), WHITE)
    draw = ImageDraw.Draw(image)
    body = font(26)
    lines = ["CLAIM FORM"]
    draw.text((60, 40), "CLAIM FORM", fill=INK, font=font(36, bold=True))
    y = 130
    for label, value in FORM_FIELDS:
        text = f"{label} {value}"
        draw.text((60, y), text, fill=INK, font=body)
        lines.append(text)
        y += 60
    text = "Date: 09/13/2024 Date of report: 09/14/2024"
    draw.text((60, y + 20), text, fill=INK, font=body)
    lines.append(text)
    return Document(image, tuple(lines))


def scanned(
    document: Document, *, quality: int = 32, sigma: float = 10.0, angle: float = 0.0, seed: int = 0
) -> Document:
    """A poor scan of `document`: turned by `angle` degrees, Gaussian noise of deviation
    `sigma`, then saved as a JPEG of `quality` and read back."""
    import io

    image = document.rotated(angle).image if angle else document.image
    pixels = np.asarray(image, np.float64)
    noisy = pixels + np.random.default_rng(seed).normal(0, sigma, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(
        buffer, "JPEG", quality=quality
    )
    buffer.seek(0)
    return Document(Image.open(buffer).convert("RGB"), document.lines, document.background)


def app_window(size: tuple[int, int] = (1280, 800)) -> Image.Image:
    """A desktop application window: title bar, toolbar with buttons, a sidebar list and a
    content pane of text rows, all flat colours."""
    width, height = size
    image = Image.new("RGB", size, (246, 247, 249))
    draw = ImageDraw.Draw(image)
    small, body = font(15), font(17)
    draw.rectangle([0, 0, width, 34], fill=(222, 225, 230))
    draw.text((14, 8), "Files - Projects", fill=(40, 40, 40), font=body)
    for index, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse([width - 90 + 26 * index, 10, width - 76 + 26 * index, 24], fill=colour)
    draw.rectangle([0, 34, width, 80], fill=(236, 238, 241))
    for index, label in enumerate(("New", "Open", "Save", "Share", "Delete")):
        x = 14 + 96 * index
        draw.rounded_rectangle(
            [x, 44, x + 84, 72], 5, fill=(255, 255, 255), outline=(190, 194, 200)
        )
        draw.text((x + 42, 58), label, fill=(30, 30, 30), font=body, anchor="mm")
    draw.rectangle([0, 80, 240, height], fill=(231, 234, 238))
    for index in range(14):
        draw.text((20, 100 + 32 * index), f"Folder {index + 1:02d}", fill=(50, 50, 60), font=body)
    draw.rectangle([0, 100 + 32 * 3 - 6, 240, 100 + 32 * 4 - 8], outline=(66, 133, 244))
    draw.line([(240, 80), (240, height)], fill=(200, 203, 208))
    for index in range(18):
        y = 100 + 36 * index
        if index % 2:
            draw.rectangle([241, y - 8, width, y + 26], fill=(255, 255, 255))
        draw.text(
            (260, y), f"report_{2024 - index}_{index * 7:03d}.pdf", fill=(30, 30, 30), font=body
        )
        draw.text((760, y), f"{(index * 37) % 900 + 12} KB", fill=(90, 90, 90), font=small)
        draw.text(
            (900, y), f"09/{index + 1:02d}/2024 10:{index * 3:02d}", fill=(90, 90, 90), font=small
        )
    draw.rectangle([0, height - 26, width, height], fill=(222, 225, 230))
    draw.text((12, height - 21), "18 items, 4.2 MB free", fill=(60, 60, 60), font=small)
    return image


def inventory_window() -> Image.Image:
    """A desktop application window: title bar, toolbar, sidebar, a table and buttons."""
    image = Image.new("RGB", (1280, 800), (236, 238, 242))
    draw = ImageDraw.Draw(image)
    small, body = font(16), font(18)
    bold = font(18, bold=True)
    draw.rectangle([0, 0, 1280, 36], fill=(52, 58, 70))
    draw.text((16, 8), "Inventory Manager - stock.db", fill=(240, 240, 240), font=body)
    for offset, color in enumerate(((235, 90, 80), (240, 190, 60), (90, 200, 100))):
        draw.ellipse([1180 + 30 * offset, 10, 1196 + 30 * offset, 26], fill=color)
    for index, item in enumerate(("File", "Edit", "View", "Reports", "Help")):
        draw.text((16 + 80 * index, 46), item, fill=INK, font=body)
    draw.line([(0, 76), (1280, 76)], fill=(200, 200, 208))
    draw.rectangle([0, 77, 230, 800], fill=(222, 226, 233))
    for index, item in enumerate(("Dashboard", "Products", "Suppliers", "Orders", "Settings")):
        if index == 1:
            draw.rectangle([8, 96 + 44 * index - 8, 222, 96 + 44 * index + 28], fill=(70, 120, 220))
        fill = (255, 255, 255) if index == 1 else INK
        draw.text((24, 96 + 44 * index), item, fill=fill, font=body)
    draw.text((260, 96), "Products", fill=INK, font=font(28, bold=True))
    draw.rectangle([260, 146, 700, 180], fill="white", outline=(170, 170, 180))
    draw.text((272, 154), "Search products...", fill=(150, 150, 160), font=small)
    for x, label in ((1000, "Add product"), (1140, "Export")):
        draw.rounded_rectangle([x, 142, x + 120, 182], radius=6, fill=(70, 120, 220))
        draw.text((x + 14, 152), label, fill="white", font=small)
    headings = ("SKU", "Name", "Supplier", "In stock", "Price")
    columns = (260, 380, 640, 900, 1060)
    draw.rectangle([250, 210, 1260, 246], fill=(214, 219, 228))
    for x, heading in zip(columns, headings, strict=True):
        draw.text((x, 218), heading, fill=INK, font=bold)
    rows = (
        ("A-1042", "Paper cups 12oz", "Northwind", "240", "18.50"),
        ("A-1043", "Espresso beans 1kg", "Roastery Co", "36", "21.00"),
        ("B-2210", "Oat milk 1L", "Dairy Free Ltd", "88", "1.30"),
        ("B-2211", "Napkins 500", "Northwind", "15", "6.25"),
        ("C-0007", "Milk jug steel", "Baristaware", "9", "12.90"),
    )
    for number, row in enumerate(rows):
        y = 262 + 44 * number
        if number % 2:
            draw.rectangle([250, y - 8, 1260, y + 34], fill=(246, 247, 250))
        for x, cell in zip(columns, row, strict=True):
            draw.text((x, y), cell, fill=INK, font=body)
    draw.text((260, 760), "5 products  |  Last sync 14:32", fill=(90, 90, 100), font=small)
    return image


def web_page(size: tuple[int, int] = (1366, 768)) -> Image.Image:
    """A browser screenshot: tab strip and address bar, a coloured site header with a
    navigation bar and a button, paragraphs of text and a flat coloured card."""
    width, height = size
    image = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(image)
    body, small = font(18), font(15)
    draw.rectangle([0, 0, width, 38], fill=(223, 225, 229))
    draw.rounded_rectangle([10, 6, 250, 38], 8, fill=WHITE)
    draw.text((24, 14), "Harbour News - Today", fill=(40, 40, 40), font=small)
    draw.rectangle([0, 38, width, 80], fill=WHITE)
    draw.rounded_rectangle([110, 44, width - 140, 74], 14, fill=(241, 243, 244))
    draw.text((130, 50), "https://news.example.org/harbour/today", fill=(60, 60, 60), font=body)
    draw.line([(0, 80), (width, 80)], fill=(210, 210, 210))
    draw.rectangle([0, 81, width, 150], fill=(22, 78, 140))
    draw.text((60, 100), "HARBOUR NEWS", fill=WHITE, font=font(30, bold=True))
    for index, item in enumerate(("Home", "Local", "Sport", "Weather", "Contact")):
        draw.text((520 + 110 * index, 108), item, fill=(220, 230, 245), font=body)
    draw.rounded_rectangle([width - 170, 98, width - 50, 134], 6, fill=(246, 178, 36))
    draw.text((width - 110, 116), "Subscribe", fill=(20, 20, 20), font=body, anchor="mm")
    draw.text(
        (60, 180),
        "Ferry timetable changes from Monday",
        fill=(20, 20, 20),
        font=font(28, bold=True),
    )
    sentence = "The harbour authority has published new crossing times for the winter season."
    for index in range(12):
        draw.text(
            (60, 240 + 30 * index),
            sentence if index % 4 != 3 else sentence[:40],
            fill=(50, 50, 50),
            font=body,
        )
    draw.rectangle([930, 180, 1300, 560], fill=(238, 243, 250), outline=(200, 210, 225))
    draw.text((950, 200), "Most read", fill=(22, 78, 140), font=font(22, bold=True))
    for index in range(8):
        draw.text(
            (950, 245 + 36 * index),
            f"{index + 1}. Story headline {index + 1}",
            fill=(40, 40, 40),
            font=body,
        )
    draw.rectangle([0, height - 60, width, height], fill=(240, 240, 240))
    draw.text((60, height - 40), "(c) 2024 Harbour News", fill=(90, 90, 90), font=small)
    return image


PAIRED_FIELDS = (
    "CLAIM FORM",
    f"Policy number: {POLICY_NUMBER}",
    "Date: 09/13/2024  Date of loss: 09/11/2024",
    "Insured: Daniel Okafor  Phone: 0117 496 0321",
    "Amount claimed: $4,250.00  Excess: $250.00",
    "Invoice INV-2024-0917 paid on 09/13/2024",
    "Ref 221 Harbour Road, Bristol BS1 4QT",
)


def paired_fields(face: str = "DejaVuSans-Bold", size: int = 20) -> Document:
    """Two fields on a row, a value and the next label two spaces apart ("09/13/2024  Date of
    loss"), in the DejaVu font file `face`: the recogniser tends to drop such spaces."""
    path = FONT_DIR / f"{face}.ttf"
    typeface = ImageFont.truetype(str(path), size) if path.exists() else font(size)
    step = int(size * 2.2)
    image = Image.new("RGB", (1300, 80 + len(PAIRED_FIELDS) * step), WHITE)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(PAIRED_FIELDS):
        draw.text((50, 40 + row * step), line, fill=INK, font=typeface)
    return Document(image, PAIRED_FIELDS)
