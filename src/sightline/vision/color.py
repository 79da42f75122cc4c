"""Colour scheme, after Azure Computer Vision 3.2's "Color" feature, with snake_case keys.

Result::

    {"dominant_color_foreground": "blue", "dominant_color_background": "white",
     "dominant_colors": ["white", "blue"], "accent_color": "1E3CC8",
     "is_black_and_white": false,
     "palette": [{"hex": "#ffffff", "name": "white", "fraction": 0.61}, ...]}

Colour names are one of `COLOR_NAMES`. Every pixel of a small copy of the picture is named after
the nearest of a few reference colours in CIELAB, where distance follows perceived difference,
so that navy is blue rather than black and brown is not dark orange. The foreground is the
central box (the middle half of each side, a quarter of the area), where subjects usually sit;
the background is the outer band, an eighth of each side wide.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt
from PIL import Image

from sightline.indexing import IndexEntries
from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    ResultPart,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

ANALYSIS_SIDE = 64
PALETTE_SIZE = 5
ACCENT_CANDIDATES = 16
DOMINANT_SHARE = 0.10
MAX_DOMINANT = 3
# Below this CIELAB chroma a pixel reads as grey; JPEG noise on grey pictures stays well under it.
COLORFUL_CHROMA = 12.0
BLACK_AND_WHITE_MAX_COLORFUL = 0.02
# An accent must cover some of the picture, or a few stray pixels would win on vividness.
ACCENT_MIN_SHARE = 0.01

# Several anchors per name outline the region each name covers; blue needs the most, because
# CIELAB bends saturated blues towards purple.
REFERENCE_COLORS: dict[str, tuple[str, ...]] = {
    "black": ("000000",),
    "gray": ("808080", "404040", "B4B4B4"),
    "white": ("FFFFFF",),
    "red": ("FF0000", "DC143C", "B22222", "8B0000"),
    "orange": ("FFA500", "FF8C00", "FF7F00", "FF7F50"),
    "yellow": ("FFFF00", "FFD700", "F0E68C", "DAA520"),
    "green": ("008000", "00FF00", "228B22", "006400", "90EE90", "9ACD32", "6B8E23", "2E8B57"),
    "teal": ("008080", "40E0D0", "20B2AA", "00CED1", "00FFFF"),
    "blue": (
        "0000FF",
        "0000CD",
        "000080",
        "191970",
        "0047AB",
        "4169E1",
        "6495ED",
        "1E90FF",
        "4682B4",
        "87CEEB",
        "ADD8E6",
    ),
    "purple": ("800080", "9400D3", "663399", "4B0082", "9370DB", "DA70D6"),
    "pink": ("FFC0CB", "FF69B4", "FF00FF", "FF1493", "DB7093", "FFB6C1"),
    "brown": ("8B4513", "A0522D", "D2691E", "D2B48C", "654321", "DEB887"),
}
COLOR_NAMES = tuple(sorted(REFERENCE_COLORS))

# sRGB (D65) to CIE XYZ, and the D65 white point, from IEC 61966-2-1.
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _linear_table() -> FloatArray:
    encoded = np.arange(256, dtype=np.float64) / 255.0
    linear: FloatArray = np.where(
        encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4
    )
    return linear


LINEAR = _linear_table()


def to_lab(rgb: npt.NDArray[np.uint8]) -> FloatArray:
    """CIELAB (D65) of an (..., 3) array of 8-bit sRGB colours."""
    xyz = LINEAR[rgb] @ SRGB_TO_XYZ.T / D65_WHITE
    epsilon = (6 / 29) ** 3
    f = np.where(xyz > epsilon, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab: FloatArray = np.stack(
        [
            116 * f[..., 1] - 16,
            500 * (f[..., 0] - f[..., 1]),
            200 * (f[..., 1] - f[..., 2]),
        ],
        axis=-1,
    )
    return lab


def _hex_rgb(code: str) -> tuple[int, int, int]:
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


REFERENCE_LAB = to_lab(
    np.array(
        [_hex_rgb(code) for name in COLOR_NAMES for code in REFERENCE_COLORS[name]],
        dtype=np.uint8,
    )
)
REFERENCE_NAME = np.array(
    [index for index, name in enumerate(COLOR_NAMES) for _ in REFERENCE_COLORS[name]]
)


def name_colors(lab: FloatArray) -> IntArray:
    """Index into COLOR_NAMES of the nearest reference colour, for an (N, 3) array of CIELAB."""
    # |x - r|² expanded, so memory is N x references rather than N x references x 3.
    distances = (
        (lab**2).sum(axis=1)[:, None] - 2 * lab @ REFERENCE_LAB.T + (REFERENCE_LAB**2).sum(axis=1)
    )
    names: IntArray = REFERENCE_NAME[distances.argmin(axis=1)]
    return names


def color_name(rgb: tuple[int, int, int]) -> str:
    return COLOR_NAMES[int(name_colors(to_lab(np.array([rgb], dtype=np.uint8)))[0])]


class PaletteColor(ResultPart):
    hex: str
    name: str
    fraction: float


class ColorResult(ResultModel):
    dominant_color_foreground: str
    dominant_color_background: str
    dominant_colors: list[str]
    accent_color: str
    is_black_and_white: bool
    palette: list[PaletteColor]

    def shares(self) -> list[tuple[str, float]]:
        """Each dominant colour name with its share of the picture (its palette colours'
        summed fractions; at least `DOMINANT_SHARE`, which made it dominant), largest first."""
        summed: dict[str, float] = {}
        for color in self.palette:
            summed[color.name] = summed.get(color.name, 0.0) + color.fraction
        named = [
            (name, round(max(summed.get(name, 0.0), DOMINANT_SHARE), 4))
            for name in self.dominant_colors
        ]
        return sorted(named, key=lambda pair: -pair[1])

    def index_entries(self) -> IndexEntries:
        """The dominant colour names, as sure as their share of the picture, so that "red"
        finds a mostly red picture (and only weakly one with a red corner)."""
        return IndexEntries(tags=self.shares())


class ColorAnalyzer(Independent):
    name = "color"
    version = "1"
    result_model = ColorResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        small = _shrink(picture.rgb)
        pixels = np.asarray(small, dtype=np.uint8)
        height, width = pixels.shape[:2]
        lab = to_lab(pixels.reshape(-1, 3))
        names = name_colors(lab).reshape(height, width)
        chroma = np.hypot(lab[:, 1], lab[:, 2])
        colorful = float(np.mean(chroma > COLORFUL_CHROMA))
        result = ColorResult(
            dominant_color_foreground=_most_common(names[_centre(height), _centre(width)]),
            dominant_color_background=_most_common(names[_border(height, width)]),
            dominant_colors=_dominant(names),
            accent_color=_accent(small),
            is_black_and_white=colorful <= BLACK_AND_WHITE_MAX_COLORFUL,
            palette=[
                PaletteColor(hex="#" + _hex(rgb).lower(), name=color_name(rgb), fraction=share)
                for rgb, share in _quantize(small, PALETTE_SIZE)
            ],
        )
        return Analysis(result)


def _shrink(image: Image.Image) -> Image.Image:
    """At most ANALYSIS_SIDE pixels a side, by box averaging: fast, and it never upscales."""
    factor = -(-max(image.size) // ANALYSIS_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _centre(side: int) -> slice:
    start = side // 4
    return slice(start, max(start + 1, side - start))


def _border(height: int, width: int) -> npt.NDArray[np.bool_]:
    band_y, band_x = max(1, height // 8), max(1, width // 8)
    rows, cols = np.ogrid[:height, :width]
    mask: npt.NDArray[np.bool_] = (
        (rows < band_y) | (rows >= height - band_y) | (cols < band_x) | (cols >= width - band_x)
    )
    return mask


def _most_common(names: IntArray) -> str:
    counts = np.bincount(names.ravel(), minlength=len(COLOR_NAMES))
    return COLOR_NAMES[int(counts.argmax())]


def _dominant(names: IntArray) -> list[str]:
    """Names covering DOMINANT_SHARE of the picture; never empty, so there is always an answer."""
    shares = np.bincount(names.ravel(), minlength=len(COLOR_NAMES)) / names.size
    ranked = [int(index) for index in np.argsort(-shares, kind="stable")[:MAX_DOMINANT]]
    dominant = [COLOR_NAMES[index] for index in ranked if shares[index] >= DOMINANT_SHARE]
    return dominant or [COLOR_NAMES[ranked[0]]]


def _accent(image: Image.Image) -> str:
    """The most vivid colour that is not rare: chroma weighted by the square root of its share.

    On a colourless picture every score is zero and the most common colour wins.
    """
    candidates = [
        (rgb, share)
        for rgb, share in _quantize(image, ACCENT_CANDIDATES)
        if share >= ACCENT_MIN_SHARE
    ]
    lab = to_lab(np.array([rgb for rgb, _ in candidates], dtype=np.uint8))
    shares = np.array([share for _, share in candidates])
    scores = np.hypot(lab[:, 1], lab[:, 2]) * np.sqrt(shares)
    return _hex(candidates[int(scores.argmax())][0])


def _quantize(image: Image.Image, colors: int) -> list[tuple[tuple[int, int, int], float]]:
    """Median-cut palette, most common first, with each colour's share of the pixels."""
    quantized = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts: Counter[tuple[int, int, int]] = Counter()
    for count, index in quantized.getcolors(colors) or []:
        assert isinstance(index, int)  # a "P" image's colours are palette indices
        red, green, blue = palette[3 * index : 3 * index + 3]
        counts[(red, green, blue)] += count
    total = image.width * image.height
    return [(rgb, round(count / total, 4)) for rgb, count in counts.most_common()]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "{:02X}{:02X}{:02X}".format(*rgb)
