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
(over 251). `underexposed` when mean luma < 0.2 (`DARK_MEAN`) or over 35% of the picture is
black; `overexposed` when mean luma > 0.7 (`BRIGHT_MEAN`) or over 25% is white. These describe
the histogram as a camera's meter would: a drawing or a document on white paper reads as
overexposed, so judge photographs only (see the `image_type` feature). `score` is 1 for a mean
between 0.3 and 0.65, falling linearly to 0 at black or white, times one minus the clipped share
(counted from `CLIPPED_FREE` up, so a small black or white area costs nothing).

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

import numpy as np

from sightline.vision.base import (
    Analysis,
    Independent,
    Inputs,
    Picture,
    ResultModel,
    ResultPart,
)
from sightline.vision.geometry import confidence
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


class Sharpness(ResultPart):
    score: float
    blurry: bool
    blur_effect: float
    laplacian_variance: float


class Exposure(ResultPart):
    score: float
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
    version = "1"
    result_model = QualityResult

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis:
        luma = small_luma(picture)
        sharpness = _sharpness(luma)
        exposure = _exposure(luma)
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


def _exposure(luma: Grey) -> Exposure:
    mean = float(luma.mean()) / 255.0
    dark = float((luma < CLIP_DARK_LUMA).mean())
    bright = float((luma > CLIP_BRIGHT_LUMA).mean())
    low, high = WELL_EXPOSED
    off_mean = max(low - mean, 0.0) / low + max(mean - high, 0.0) / (1.0 - high)
    clipped = max(dark + bright - CLIPPED_FREE, 0.0) / (1.0 - CLIPPED_FREE)
    return Exposure(
        score=confidence((1.0 - min(off_mean, 1.0)) * (1.0 - min(clipped, 1.0))),
        mean_luma=round(mean, 4),
        clipped_dark=round(dark, 4),
        clipped_bright=round(bright, 4),
        underexposed=mean < DARK_MEAN or dark > CLIPPED_DARK_SHARE,
        overexposed=mean > BRIGHT_MEAN or bright > CLIPPED_BRIGHT_SHARE,
    )


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
