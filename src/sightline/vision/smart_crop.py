"""Smart crops: for each aspect ratio, the largest box of that ratio that keeps what matters.

Result (boxes in `picture.rgb` pixels, via `geometry.box`)::

    {"width": 640, "height": 480, "regions": {"faces": 1, "text": 0},
     "crops": [{"aspect_ratio": 1.0, "box": {"x": 160, "y": 0, "w": 480, "h": 480},
                "contains_all_regions": true}, ...]}

The largest box of a ratio spans the whole picture one way, so choosing a crop is choosing where
to slide it the other way. What matters is of two kinds:

- Regions that callers inject (`salient_regions`, named by kind: faces, text lines, objects),
  each read from another feature's result with a weight; `regions` in the result counts those
  of each kind that were known. A required source's feature is a dependency, computed for
  every crop (the registry's faces); another's kind is known only when the same job computed
  its feature (`read`, `objects`: reading text costs ten times a crop), so a crop keeps text
  when asked together.
  The crop must contain them all; when they cannot all fit (faces at both ends of a panorama
  cropped to 9:16), the heaviest are kept first, each only if it still fits with those before
  it, and `contains_all_regions` is false. A region is contained in whole or not at all.
- A saliency map computed from the pixels, on a copy `MAP_SIDE` (64) pixels at most a side:
  the mean of two classic maps, each normalised to sum 1, weighted towards the middle of the
  picture (a Gaussian, `CENTRE_SIGMA` of the width and height), where subjects usually are.
  The spectral residual (Hou and Zhang, 2007) finds what the picture's own statistics do not
  predict: the log amplitude spectrum minus its local 3x3 mean, turned back into an image with
  the original phase, squared and smoothed. Centre-surround colour contrast (after Itti et al.,
  1998) finds places whose CIELAB colour differs from their surroundings: the distance between
  the picture smoothed a little and smoothed a lot, less a just-noticeable difference. A flat
  background scores zero in both.

Among the positions that keep the regions, the crop covers the most saliency. Positions within
`TIE_SHARE` of the best are a tie, broken by composition: the saliency centre inside the crop
nearest a third line or the middle, then the crop nearest the picture's centre. A picture with
no saliency at all is cropped in the middle.

A required source's feature that cannot be computed (a missing face model's `SkipFeature`)
ends the crop as it ended, rather than cropping without what it would have found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from sightline.vision.base import Analysis, Inputs, Picture, ResultModel, ResultPart
from sightline.vision.color import to_lab
from sightline.vision.geometry import Box, FramedResult, box, frame
from sightline.vision.pixels import shrink, small_image

FloatArray = npt.NDArray[np.float64]

DEFAULT_ASPECT_RATIOS = (1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16)
MAP_SIDE = 64
FINE_SIGMA = 2.5
COARSE_SIGMA = 10.0
SPECTRAL_WEIGHT = 0.5
MIN_GREY_DEVIATION = 1.0
# CIELAB distance people can just tell apart: less is no contrast at all.
JUST_NOTICEABLE = 1.0
# Of the picture's width and height: subjects tend to be central, so the middle counts more.
CENTRE_SIGMA = 0.35
TIE_SHARE = 0.02
COMPOSITION_LINES = (1 / 3, 1 / 2, 2 / 3)


@dataclass(frozen=True)
class Region:
    """Something a crop must keep, in `picture.rgb` pixels; heavier regions are kept first."""

    x0: float
    y0: float
    x1: float
    y1: float
    weight: float = 1.0


@dataclass(frozen=True)
class RegionSource:
    """Regions of one kind (faces, text lines, objects), read from `feature`'s result. Only a
    `required` source makes its feature a dependency (see the module docstring)."""

    feature: str
    regions: Callable[[ResultModel], list[Region]]
    required: bool = False


class Crop(ResultPart):
    aspect_ratio: float
    box: Box
    contains_all_regions: bool


class SmartCropResult(FramedResult):
    regions: dict[str, int]  # regions known of each kind: "faces", "text", "objects"
    crops: list[Crop]


@dataclass(frozen=True)
class _Span:
    """A region along the axis the crop slides on."""

    start: float
    end: float
    weight: float


class SmartCropAnalyzer:
    name = "smart_crop"
    version = "2"
    result_model = SmartCropResult

    def __init__(
        self,
        salient_regions: Mapping[str, RegionSource] | None = None,
        aspect_ratios: Sequence[float] = DEFAULT_ASPECT_RATIOS,
    ) -> None:
        if not aspect_ratios or any(not ratio > 0 for ratio in aspect_ratios):
            raise ValueError(f"Aspect ratios must be positive numbers, not {aspect_ratios!r}.")
        self.salient_regions = dict(salient_regions or {})
        sources = self.salient_regions.values()
        self.depends_on = tuple(dict.fromkeys(s.feature for s in sources if s.required))
        self.reuses = tuple(dict.fromkeys(s.feature for s in sources if not s.required))
        self.aspect_ratios = tuple(float(ratio) for ratio in aspect_ratios)
        if self.aspect_ratios != DEFAULT_ASPECT_RATIOS:  # other ratios, other results
            self.version = f"{SmartCropAnalyzer.version}-" + "-".join(
                f"{ratio:.4g}" for ratio in self.aspect_ratios
            )

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        width, height = picture.rgb.size
        known = {
            kind: source.regions(inputs[source.feature].result)
            for kind, source in self.salient_regions.items()
            if source.feature in inputs
        }
        regions = [region for kind_regions in known.values() for region in kind_regions]
        saliency = saliency_map(picture)
        crops = []
        for ratio in self.aspect_ratios:
            (x0, y0, x1, y1), contains_all = _best_crop(width, height, ratio, saliency, regions)
            crops.append(
                Crop(
                    aspect_ratio=round(ratio, 4),
                    box=box(x0, y0, x1, y1, width, height),
                    contains_all_regions=contains_all,
                )
            )
        result = SmartCropResult(
            **frame(picture),
            regions={kind: len(kind_regions) for kind, kind_regions in known.items()},
            crops=crops,
        )
        return Analysis(result)


def saliency_map(picture: Picture) -> FloatArray:
    """Saliency on a copy at most MAP_SIDE pixels a side; sums to 1, or is all 0 when flat."""
    pixels = shrink(small_image(picture), MAP_SIDE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    rows, cols = pixels.shape[:2]
    fine = _gaussian_smoother(rows, FINE_SIGMA), _gaussian_smoother(cols, FINE_SIGMA)
    coarse = _gaussian_smoother(rows, COARSE_SIGMA), _gaussian_smoother(cols, COARSE_SIGMA)
    spectral = _normalised(_spectral_residual(pixels, fine))
    contrast = _normalised(_colour_contrast(pixels, fine, coarse))
    combined = SPECTRAL_WEIGHT * spectral + (1 - SPECTRAL_WEIGHT) * contrast
    return _normalised(combined * _centre_prior(rows, cols))


def _spectral_residual(
    pixels: npt.NDArray[np.uint8], smooth: tuple[FloatArray, FloatArray]
) -> FloatArray:
    grey = pixels.astype(np.float64).mean(axis=2)
    # The residual does not depend on contrast, so it would make compression noise salient.
    if grey.std() < MIN_GREY_DEVIATION:
        return np.zeros_like(grey)
    spectrum = np.fft.fft2(grey)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - _local_mean(log_amplitude)
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    return _smoothed(saliency, smooth)


def _colour_contrast(
    pixels: npt.NDArray[np.uint8],
    fine: tuple[FloatArray, FloatArray],
    coarse: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """CIELAB distance between each place and its surroundings."""
    lab = to_lab(pixels)
    centre = np.stack([_smoothed(lab[..., channel], fine) for channel in range(3)], axis=-1)
    surround = np.stack([_smoothed(lab[..., channel], coarse) for channel in range(3)], axis=-1)
    distance: FloatArray = np.linalg.norm(centre - surround, axis=-1)
    return np.maximum(distance - JUST_NOTICEABLE, 0.0)


def _centre_prior(rows: int, cols: int) -> FloatArray:
    y = (np.arange(rows) + 0.5) / rows - 0.5
    x = (np.arange(cols) + 0.5) / cols - 0.5
    prior: FloatArray = np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * CENTRE_SIGMA**2))
    return prior


def _local_mean(values: FloatArray) -> FloatArray:
    """3x3 mean, the border repeated."""
    padded = np.pad(values, 1, mode="edge")
    rows, cols = values.shape
    total = np.zeros_like(values)
    for dy in range(3):
        for dx in range(3):
            total += padded[dy : dy + rows, dx : dx + cols]
    mean: FloatArray = total / 9.0
    return mean


def _gaussian_smoother(size: int, sigma: float) -> FloatArray:
    """A (size, size) matrix that smooths a vector with a Gaussian, each row summing to 1."""
    positions = np.arange(size, dtype=np.float64)
    weights = np.exp(-(((positions[:, None] - positions[None, :]) / sigma) ** 2) / 2)
    smoother: FloatArray = weights / weights.sum(axis=1, keepdims=True)
    return smoother


def _smoothed(values: FloatArray, smooth: tuple[FloatArray, FloatArray]) -> FloatArray:
    rows, cols = smooth
    result: FloatArray = rows @ values @ cols.T
    return result


def _normalised(values: FloatArray) -> FloatArray:
    total = float(values.sum())
    return values / total if total > 0 else np.zeros_like(values)


def _best_crop(
    width: int, height: int, ratio: float, saliency: FloatArray, regions: list[Region]
) -> tuple[tuple[float, float, float, float], bool]:
    """The crop's corners in picture pixels, and whether it holds every region."""
    if width / height > ratio:
        crop_w, crop_h = max(1, min(width, round(height * ratio))), height
    else:
        crop_w, crop_h = width, max(1, min(height, round(width / ratio)))
    slides_x = crop_w < width
    length, window = (width, crop_w) if slides_x else (height, crop_h)
    profile = saliency.sum(axis=0 if slides_x else 1)
    spans = [
        _Span(r.x0, r.x1, r.weight) if slides_x else _Span(r.y0, r.y1, r.weight) for r in regions
    ]
    offset, contains_all = _slide(length, window, profile, spans)
    if slides_x:
        return (offset, 0.0, offset + crop_w, float(crop_h)), contains_all
    return (0.0, offset, float(crop_w), offset + crop_h), contains_all


def _slide(length: int, window: int, profile: FloatArray, spans: list[_Span]) -> tuple[float, bool]:
    """Where a `window` sliding along `length` pixels should start."""
    low, high, contains_all = _feasible(length, window, spans)
    offsets = np.arange(low, high + 1, dtype=np.float64)
    # Saliency mass and its first moment up to each pixel position, from the map's cells.
    cells = np.linspace(0.0, length, len(profile) + 1)
    centres = (cells[:-1] + cells[1:]) / 2
    mass = np.concatenate([[0.0], np.cumsum(profile)])
    moment = np.concatenate([[0.0], np.cumsum(profile * centres)])
    covered = np.interp(offsets + window, cells, mass) - np.interp(offsets, cells, mass)
    first = np.interp(offsets + window, cells, moment) - np.interp(offsets, cells, moment)
    best = float(covered.max())
    ties = covered >= best * (1 - TIE_SHARE) if best > 0 else np.ones(len(offsets), dtype=bool)
    centre_in_crop = np.where(covered > 0, first / np.maximum(covered, 1e-12) - offsets, window / 2)
    fraction = centre_in_crop / window
    composition = np.min([np.abs(fraction - line) for line in COMPOSITION_LINES], axis=0)
    off_centre = np.abs(offsets + window / 2 - length / 2)
    order = np.lexsort((offsets, off_centre, np.round(composition, 3), ~ties))
    return float(offsets[order[0]]), contains_all


def _feasible(length: int, window: int, spans: list[_Span]) -> tuple[int, int, bool]:
    """The range of whole-pixel offsets that keeps the heaviest spans that fit together."""
    low, high = 0, length - window
    contains_all = True
    for span in sorted(spans, key=lambda s: (-s.weight, s.start, s.end)):
        start, end = max(span.start, 0.0), min(span.end, float(length))
        if end <= start:
            continue
        # The window [o, o + window] holds [start, end] for end - window <= o <= start; half a
        # pixel of slack, as boxes are rounded to whole pixels anyway.
        new_low = max(low, int(np.ceil(end - window - 0.5)))
        new_high = min(high, int(np.floor(start + 0.5)))
        if new_low <= new_high:
            low, high = new_low, new_high
        else:
            contains_all = False
    return low, high, contains_all
