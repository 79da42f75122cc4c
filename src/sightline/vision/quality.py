"""Technical quality of a picture, from pixel statistics alone (no model).

Result::

    {"score": 0.8297,
     "sharpness": {"score": 0.7672, "blurry": false, "blur_effect": 0.3164,
                   "laplacian_variance": 885.48},
     "exposure": {"score": 0.8978, "mean_luma": 0.442, "clipped_dark": 0.1386,
                  "clipped_bright": 0.0085, "underexposed": false, "overexposed": false},
     "noise": {"sigma": 1.369, "level": 0.2149, "noisy": false},
     "contrast": {"score": 1.0, "rms": 0.2956, "low_contrast": false}}

Everything is measured on the luma (Rec. 709 weights, 0-255) of the shared small copy
(`pixels.small_rgb`, longest side 512): quality as seen on a screen, with thresholds that do not
depend on the camera's resolution. A slightly soft 12-megapixel photo is sharp at that size.

Sharpness: the blur effect of Crété-Roffet et al. (2007), "The Blur Effect: Perception and
Estimation with a New No-Reference Perceptual Blur Metric". The picture is blurred again with an
11-pixel box filter along each axis; a sharp picture loses much of its neighbour-to-neighbour
variation that way, a blurred one little. `blur_effect` (0 sharp, 1 no detail at all) is the
share of variation kept, on the worse axis. Sharp photos measure 0.1-0.35, Gaussian blur of 1 px
0.3-0.5, of 4 px 0.7-0.85. Unlike the variance of the Laplacian it hardly depends on content and
contrast; that variance is reported too (`laplacian_variance`, 4-neighbour kernel), for those
with thresholds of their own. `score` falls linearly from 1 at blur effect `SHARP_BLUR` to 0 at
`SOFT_BLUR`; `blurry` is score < 0.5, i.e. blur effect over 0.45. A picture of one flat colour
has no detail: blur effect 1.

Exposure: `mean_luma` (0-1) and the shares of pixels clipped to black (luma under 4) and white
(over 251) describe the histogram; how they are judged (`judged_as`) depends on what the picture
is, from the `image_type` analysis when the same job makes one, else measured here (about 20 ms):
- "photo": `underexposed` when mean luma < 0.2 (`DARK_MEAN`) or over 35% of the picture is
  black; `overexposed` when mean luma > 0.7 (`BRIGHT_MEAN`) or over 25% is white, as a camera's
  meter would. `score` is 1 for a mean between 0.3 and 0.65, falling linearly to 0 at black or
  white, times one minus the clipped share (counted from `CLIPPED_FREE` up, so a small black or
  white area costs nothing).
- "page" (documents, screenshots, line drawings): white paper is not overexposure. The paper is
  the most common luma level; ink is every pixel more than 24 levels off it, and its strength
  the 75th percentile of that distance (anti-aliased letter edges and grey rules are many).
  `score` is that strength / 0.5 (`CLEAR_INK`), at most 1; ink weaker than 0.25 (`FAINT_INK`) is
  faint: `overexposed` on light paper, `underexposed` on dark. Measured: 18 of 18 rendered pages
  (invoice, receipts, claim forms, memo; clean and noisy, skewed JPEG scans) were all
  "overexposed" with exposure 0.0-0.20 and quality 0.16-0.62 before; now none, exposure 1.0,
  quality 0.95-1.0. Screen captures: 7 of 7 were overexposed (quality 0.46-0.61), now none
  (exposure 0.55-1.0: grey UI text is weaker ink). An invoice faded to a quarter of its
  contrast is overexposed.
- "light_background" (other pictures whose most common level is light, over 200, covers half
  the picture and 90% of its border: a product on a white backdrop, a silhouette): judged as a
  photo on the subject alone (the pixels off the backdrop), and only for being washed out: the
  lit backdrop shows the light was enough, so a dark subject is not underexposed. Brightened
  photos keep their blown-out highlights off the border (0.49-0.78 of it) and stay photos.

Noise: Immerkær's operator (1996, "Fast Noise Variance Estimation"), the difference of two
Laplacians, which cancels smooth image structure; for white Gaussian noise of deviation sigma
its response has deviation 6 sigma. The deviation is taken from the median absolute response
(divided by 0.6745) rather than the mean, so edges, text and texture covering under half the
picture do not count as noise. `sigma` is on the 0-255 scale at the small size: clean photos
measure 0.5-2, film grain or high ISO 3-8. `level` = sigma / (sigma + `NOISY_SIGMA`), so
`noisy` (sigma >= 5) is level >= 0.5. JPEG compression removes fine noise, lowering sigma.

Contrast: `rms` is the standard deviation of luma (0-1; 0.15-0.3 for most photos);
`low_contrast` below 0.08 (`LOW_CONTRAST_RMS`); `score` is rms / 0.15, at most 1.

`score` = sharpness^0.4 x exposure^0.3 x (1 - noise level)^0.2 x contrast^0.1, a weighted
geometric mean, so one failure (a picture entirely blurred, or all black) sinks it.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    ResultPart,
)
from sightline.vision.geometry import confidence
from sightline.vision.image_type import ImageTypeAnalyzer, ImageTypeResult
from sightline.vision.pixels import Grey, small_luma

BLUR_WINDOW = 11
SHARP_BLUR = 0.2
SOFT_BLUR = 0.7
CLIP_DARK_LUMA = 4.0
CLIP_BRIGHT_LUMA = 251.0
DARK_MEAN = 0.2
BRIGHT_MEAN = 0.7
CLIPPED_DARK_SHARE = 0.35
CLIPPED_BRIGHT_SHARE = 0.25
WELL_EXPOSED = (0.3, 0.65)
CLIPPED_FREE = 0.05
NOISY_SIGMA = 5.0
# Median of |N(0, 1)|: turns a median absolute value into a standard deviation.
MAD_TO_SIGMA = 0.6745
LOW_CONTRAST_RMS = 0.08
GOOD_CONTRAST_RMS = 0.15
WEIGHTS = {"sharpness": 0.4, "exposure": 0.3, "noise": 0.2, "contrast": 0.1}
# Pictures of ink on paper (or on a screen's background): exposure is how well the ink stands
# out from the paper, not where the histogram sits.
PAGE_TYPES = frozenset({"document", "screenshot", "line_drawing"})
BACKGROUND_TOLERANCE = 24.0
LIGHT_BACKGROUND_LEVEL = 200.0
LIGHT_BACKGROUND_SHARE = 0.5
# A backdrop surrounds its subject; blown-out highlights (a brightened photo: 0.49-0.78 of its
# border) do not.
BACKDROP_BORDER = 0.9
FAINT_INK = 0.25
CLEAR_INK = 0.5
INK_PERCENTILE = 75


class Sharpness(ResultPart):
    score: float
    blurry: bool
    blur_effect: float
    laplacian_variance: float


class Exposure(ResultPart):
    score: float
    judged_as: Literal["photo", "page", "light_background"]
    mean_luma: float
    clipped_dark: float
    clipped_bright: float
    underexposed: bool
    overexposed: bool


class Noise(ResultPart):
    sigma: float
    level: float
    noisy: bool


class Contrast(ResultPart):
    score: float
    rms: float
    low_contrast: bool


class QualityResult(ResultModel):
    score: float
    sharpness: Sharpness
    exposure: Exposure
    noise: Noise
    contrast: Contrast


class QualityAnalyzer(Independent):
    name = "quality"
    version = "2"
    result_model = QualityResult
    reuses = ("image_type",)

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        luma = small_luma(picture)
        sharpness = _sharpness(luma)
        exposure = _exposure(luma, _image_type(picture, inputs) in PAGE_TYPES)
        noise = _noise(luma)
        contrast = _contrast(luma)
        parts = {
            "sharpness": sharpness.score,
            "exposure": exposure.score,
            "noise": 1.0 - noise.level,
            "contrast": contrast.score,
        }
        score = math.prod(parts[name] ** weight for name, weight in WEIGHTS.items())
        result = QualityResult(
            score=confidence(score),
            sharpness=sharpness,
            exposure=exposure,
            noise=noise,
            contrast=contrast,
        )
        return Analysis(result)


def _sharpness(luma: Grey) -> Sharpness:
    effect = blur_effect(luma)
    score = confidence((SOFT_BLUR - effect) / (SOFT_BLUR - SHARP_BLUR))
    return Sharpness(
        score=score,
        blurry=score < 0.5,
        blur_effect=round(effect, 4),
        laplacian_variance=round(_laplacian_variance(luma), 2),
    )


def blur_effect(luma: Grey) -> float:
    """Crété-Roffet's blur effect, 0 (sharp) to 1 (blurred), the worse of the two axes."""
    effects = []
    for axis in (0, 1):
        variation = np.abs(np.diff(luma, axis=axis))
        total = float(variation.sum())
        if total == 0.0:
            return 1.0
        reblurred = np.abs(np.diff(_box_blur(luma, BLUR_WINDOW, axis), axis=axis))
        lost = float(np.maximum(variation - reblurred, 0.0).sum())
        effects.append((total - lost) / total)
    return max(effects)


def _box_blur(luma: Grey, size: int, axis: int) -> Grey:
    """Mean over `size` pixels along `axis`, the edge pixel repeated beyond the border."""
    half = size // 2
    padding = [(0, 0), (0, 0)]
    padding[axis] = (half, half)
    padded = np.pad(luma, padding, mode="edge")
    length = luma.shape[axis]
    # Adding shifted copies is several times faster than a cumulative sum along rows.
    total = np.zeros_like(luma)
    for shift in range(size):
        total += padded[shift : shift + length] if axis == 0 else padded[:, shift : shift + length]
    blurred: Grey = total / np.float32(size)
    return blurred


def _laplacian_variance(luma: Grey) -> float:
    if min(luma.shape) < 3:
        return 0.0
    laplacian = (
        luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    )
    return float(laplacian.var())


def _image_type(picture: Picture, inputs: Inputs) -> str:
    """The picture's type from the `image_type` analysis when the same job made one, else
    measured here (about 20 ms)."""
    analysis = inputs.get("image_type") or ImageTypeAnalyzer().analyze(picture, {})
    assert isinstance(analysis.result, ImageTypeResult)
    return analysis.result.type


def _exposure(luma: Grey, page: bool) -> Exposure:
    """Judged on the whole histogram for photos; on the ink's contrast for pages; on the
    subject alone for a picture mostly of one flat light background (a product on white)."""
    mean, dark, bright = _histogram(luma)
    level, background = _background(luma)
    subject = luma[~background]
    facts = {
        "mean_luma": round(mean, 4),
        "clipped_dark": round(dark, 4),
        "clipped_bright": round(bright, 4),
    }
    if page:
        # The stronger quarter of the ink: anti-aliased letter edges and grey rules are many.
        ink = (
            float(np.percentile(np.abs(subject - level), INK_PERCENTILE)) / 255.0
            if subject.size
            else 0.0
        )
        faint = ink < FAINT_INK
        return Exposure(
            score=confidence(ink / CLEAR_INK),
            judged_as="page",
            underexposed=faint and level < 128.0,
            overexposed=faint and level >= 128.0,
            **facts,
        )
    light_background = (
        level >= LIGHT_BACKGROUND_LEVEL
        and float(background.mean()) >= LIGHT_BACKGROUND_SHARE
        and _border_share(background) >= BACKDROP_BORDER
        and subject.size > 0
    )
    if light_background:
        # A lit backdrop says the light was enough: a dark subject on it (a black shoe, a
        # silhouette) is how it looks, so only a washed-out subject counts.
        mean, dark, bright = _histogram(subject)
        mean, dark = max(mean, WELL_EXPOSED[0]), 0.0
    low, high = WELL_EXPOSED
    off_mean = max(low - mean, 0.0) / low + max(mean - high, 0.0) / (1.0 - high)
    clipped = max(dark + bright - CLIPPED_FREE, 0.0) / (1.0 - CLIPPED_FREE)
    return Exposure(
        score=confidence((1.0 - min(off_mean, 1.0)) * (1.0 - min(clipped, 1.0))),
        judged_as="light_background" if light_background else "photo",
        underexposed=mean < DARK_MEAN or dark > CLIPPED_DARK_SHARE,
        overexposed=mean > BRIGHT_MEAN or bright > CLIPPED_BRIGHT_SHARE,
        **facts,
    )


def _border_share(mask: npt.NDArray[np.bool_]) -> float:
    edges = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    return float(edges.mean())


def _histogram(luma: Grey) -> tuple[float, float, float]:
    """Mean luma (0-1) and the shares clipped to black and to white."""
    return (
        float(luma.mean()) / 255.0,
        float((luma < CLIP_DARK_LUMA).mean()),
        float((luma > CLIP_BRIGHT_LUMA).mean()),
    )


def _background(luma: Grey) -> tuple[float, npt.NDArray[np.bool_]]:
    """The most common luma level (paper, a backdrop, a screen's background) and the pixels
    near it."""
    histogram = np.bincount(luma.astype(np.uint8).ravel(), minlength=256)
    level = float(histogram.argmax())
    near: npt.NDArray[np.bool_] = np.abs(luma - level) <= BACKGROUND_TOLERANCE
    return level, near


def _noise(luma: Grey) -> Noise:
    sigma = _noise_sigma(luma)
    level = sigma / (sigma + NOISY_SIGMA)
    return Noise(sigma=round(sigma, 3), level=confidence(level), noisy=sigma >= NOISY_SIGMA)


def _noise_sigma(luma: Grey) -> float:
    """Immerkær's estimate of the deviation of additive noise, with a median for robustness."""
    if min(luma.shape) < 3:
        return 0.0
    response = (
        luma[:-2, :-2]
        + luma[:-2, 2:]
        + luma[2:, :-2]
        + luma[2:, 2:]
        - 2 * (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:])
        + 4 * luma[1:-1, 1:-1]
    )
    magnitudes = np.abs(response).ravel()
    middle = magnitudes.size // 2
    # The upper median, by partition: np.median is an order of magnitude slower here.
    return float(np.partition(magnitudes, middle)[middle]) / (MAD_TO_SIGMA * 6.0)


def _contrast(luma: Grey) -> Contrast:
    rms = float(luma.std()) / 255.0
    return Contrast(
        score=confidence(rms / GOOD_CONTRAST_RMS),
        rms=round(rms, 4),
        low_contrast=rms < LOW_CONTRAST_RMS,
    )
