"""Input files for the recipes in docs/recipes, written in the folder layout each recipe
describes, with the truth the recipe's results are checked against. Deterministic: the same
call writes the same bytes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from support.documents import HUD_TEXT, claim_form, font, hud_screenshot, receipt
from support.garments import KINDS, garment

LABELLED_PER_KIND = 6
UNSORTED_PER_KIND = 3


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


# -- fashion catalogue ---------------------------------------------------------------------------


def fashion_catalogue(root: Path) -> dict[str, str]:
    """`catalogue/{dress,shirt,trousers}/sku-N.jpg` sorted by hand, `catalogue/unsorted/sku-N.jpg`
    with every kind mixed, and `new-arrivals/sku-501.jpg` (a dress). Returns each unsorted and
    new SKU's true kind."""
    truth: dict[str, str] = {}
    for row, kind in enumerate(KINDS, start=1):
        for n in range(LABELLED_PER_KIND):
            _write(root / "catalogue" / kind / f"sku-{row}{n + 1:02d}.jpg", garment(kind, n))
    # Interleaved, so the unsorted folder's order tells nothing about the kind.
    for n in range(UNSORTED_PER_KIND * len(KINDS)):
        kind = KINDS[n % len(KINDS)]
        sku = f"sku-4{n + 1:02d}"
        _write(root / "catalogue" / "unsorted" / f"{sku}.jpg", garment(kind, 100 + n))
        truth[sku] = kind
    _write(root / "new-arrivals" / "sku-501.jpg", garment("dress", 500))
    truth["sku-501"] = "dress"
    return truth


# -- insurance claims ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimsTruth:
    policy_claims: set[str]  # the claims whose scanned form carries the policy number
    # (claim, file) pairs that show the same photo, and whether the bytes are identical
    duplicates: dict[frozenset[tuple[str, str]], bool]


def insurance_claims(root: Path) -> ClaimsTruth:
    """Three claim folders of photos and scans (stand-in photos from scikit-image):
    C-1002 re-uses C-1001's first photo shrunk and re-compressed, and C-1003 sends C-1001's
    second photo byte for byte."""
    motorcycle = Image.fromarray(data.stereo_motorcycle()[0])
    first = _jpeg(motorcycle)
    second = _jpeg(Image.fromarray(data.coffee()))
    resized = _jpeg(motorcycle.resize((494, 333)), quality=70)
    files = {
        "C-1001": {
            "photo-1.jpg": first,
            "photo-2.jpg": second,
            "form.png": _png(claim_form().image),
        },
        "C-1002": {
            "photo-1.jpg": _jpeg(Image.fromarray(data.chelsea())),
            "photo-2.jpg": resized,
            "receipt.png": _png(receipt().image),
        },
        "C-1003": {
            "photo-1.jpg": second,
            "photo-2.jpg": _jpeg(Image.fromarray(data.rocket())),
        },
    }
    for claim, named in files.items():
        for name, content in named.items():
            _write(root / "claims" / claim / name, content)
    return ClaimsTruth(
        policy_claims={"C-1001"},
        duplicates={
            frozenset({("C-1001", "photo-1.jpg"), ("C-1002", "photo-2.jpg")}): False,
            frozenset({("C-1001", "photo-2.jpg"), ("C-1003", "photo-1.jpg")}): True,
        },
    )


# -- game telemetry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hud:
    score: int
    level: int
    hp: int
    max_hp: int
    ammo: int
    reserve: int

    def texts(self) -> tuple[str, str, str, str]:
        """In the order of `documents.HUD_TEXT`: top left, top right, bottom left, bottom
        right."""
        return (
            f"SCORE {self.score}",
            f"LEVEL {self.level}",
            f"HP {self.hp}/{self.max_hp}",
            f"AMMO {self.ammo}/{self.reserve}",
        )


# Dark panels behind the HUD corners, as many games draw them; they also hide the values that
# `hud_screenshot` draws, which are the same in every frame.
PANELS = ((24, 18, 440, 86), (940, 18, 1262, 86), (24, 626, 440, 712), (940, 626, 1262, 712))


def hud_frame(seed: int, hud: Hud) -> Image.Image:
    """A 1280x720 game frame: `hud_screenshot`'s busy scene with these HUD values."""
    image = hud_screenshot(seed).image
    draw = ImageDraw.Draw(image)
    for panel in PANELS:
        draw.rounded_rectangle(panel, radius=10, fill=(8, 10, 16))
    draw.rectangle([40, 690, 40 + 3 * hud.hp, 702], fill=(60, 200, 80))
    face = font(36, bold=True)
    for text, (_, position, color) in zip(hud.texts(), HUD_TEXT, strict=True):
        draw.text(position, text, fill=color, font=face, stroke_width=2, stroke_fill=(0, 0, 0))
    return image


def game_session(root: Path, frames: int = 8, interval: float = 2.0) -> list[Hud]:
    """`screenshots/frame-0001.png …`, one every `interval` seconds of a play session whose
    score climbs, health falls and ammunition runs down to a reload. Returns each frame's HUD."""
    rng = np.random.default_rng(42)
    score, level, hp, ammo, reserve = 12850, 7, 100, 30, 120
    huds = []
    for n in range(1, frames + 1):
        huds.append(Hud(score, level, hp, 100, ammo, reserve))
        _write(root / "screenshots" / f"frame-{n:04d}.png", _png(hud_frame(n, huds[-1])))
        score += int(rng.integers(1, 40)) * 10
        hp = max(5, hp - int(rng.integers(0, 18)))
        ammo -= int(rng.integers(3, 9))
        if ammo < 6:  # reload from the reserve
            reserve, ammo = reserve - (30 - ammo), 30
        if n == frames // 2:
            level += 1
    return huds
