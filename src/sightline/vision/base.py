"""The analyzer interface: a named, versioned function from a decoded picture to a typed result.

Analyzers are pure: they see pixels and bytes, never the catalog or the blob store. Each returns
an `Analysis`: its result, a pydantic `ResultModel` whose JSON is what gets stored and answered,
and the `Artifact`s (thumbnails) that the result refers to by sha256, which the caller stores,
so `vision` stays free of storage concerns. The result declares what the catalog indexes
(`index_entries`); the analyzer declares which features' analyses it takes as inputs.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np
from PIL import Image, ImageCms, ImageOps
from pydantic import BaseModel, ConfigDict

from sightline.indexing import IndexEntries

JSON = dict[str, Any]
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
log = logging.getLogger(__name__)
HIGH_BIT_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
T = TypeVar("T")


@dataclass(frozen=True)
class Artifact:
    """Binary output of an analyzer, stored as a blob by whoever runs the analyzer."""

    data: bytes
    content_type: str
    width: int
    height: int

    @cached_property
    def sha256(self) -> str:
        """The blob's address: blobs are stored by the sha256 of their bytes."""
        return hashlib.sha256(self.data).hexdigest()


class ResultPart(BaseModel):
    """A piece of a result: immutable, and exactly the keys the JSON has."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ResultModel(ResultPart):
    """A feature's result. `model_dump(mode="json")` is what is stored and answered, keys in
    field order."""

    def index_entries(self) -> IndexEntries:
        """What the catalog indexes of this result; nothing, unless a feature says otherwise."""
        return IndexEntries()


class ArtifactRef(ResultPart):
    """An artifact as results describe it: the stored blob and what it holds."""

    sha256: str
    content_type: str
    size: int
    width: int
    height: int

    @classmethod
    def of(cls, artifact: Artifact) -> ArtifactRef:
        return cls(
            sha256=artifact.sha256,
            content_type=artifact.content_type,
            size=len(artifact.data),
            width=artifact.width,
            height=artifact.height,
        )


@dataclass(frozen=True)
class Analysis:
    """What an analyzer found: the result, and the artifacts its `ArtifactRef`s name, by their
    path in the result (`"sizes.128"`)."""

    result: ResultModel
    artifacts: Mapping[str, Artifact] = field(default_factory=dict)


# Analyses of other features of the same picture, by feature name (see `Analyzer`).
Inputs = Mapping[str, Analysis]


@dataclass
class Picture:
    """A decoded, validated image. `image` is the file as opened (first frame loaded);
    `size` is the file's (width, height), that of `image` unless it was decoded at a reduced
    scale (an upload's check, never for analysis)."""

    data: bytes
    image: Image.Image
    format: str
    content_type: str
    sha256: str = field(default="")
    size: tuple[int, int] = field(default=(0, 0))
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.data).hexdigest()
        if self.size == (0, 0):
            self.size = self.image.size

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` once per picture: features share converted and resized pixels (model
        outputs are shared as inputs, see `Analyzer`). Not locked: one picture's features run
        one after another, in one thread."""
        if key not in self._memo:
            self._memo[key] = compute()
        result: T = self._memo[key]
        return result

    def close(self) -> None:
        """Free the pixels and everything made from them; the facts (size, format, bytes,
        sha256) stay readable. Decoding reserves a picture's memory only while it is open."""
        self.image.close()
        self._memo.clear()
        for derived in ("oriented", "rgb"):  # cached properties
            self.__dict__.pop(derived, None)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @cached_property
    def oriented(self) -> Image.Image:
        """First frame with EXIF orientation applied, in RGB or RGBA (8 bits per channel)."""
        frame = ImageOps.exif_transpose(self.image) or self.image
        if frame.mode in HIGH_BIT_DEPTH_MODES:
            frame = _to_8bit_grey(frame)
        mode = "RGBA" if has_alpha(frame) else "RGB"
        return _to_srgb(frame, mode) or frame.convert(mode)

    @cached_property
    def rgb(self) -> Image.Image:
        """`oriented` flattened onto white, for analyzers that need plain RGB pixels."""
        if self.oriented.mode == "RGB":
            return self.oriented
        canvas = Image.new("RGB", self.oriented.size, (255, 255, 255))
        canvas.paste(self.oriented, mask=self.oriented.getchannel("A"))
        return canvas


def has_alpha(image: Image.Image) -> bool:
    """Whether the picture has transparency (known from the header, before decoding)."""
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _to_srgb(frame: Image.Image, mode: str) -> Image.Image | None:
    """Apply an embedded colour profile (Display P3 phone photos, CMYK print files), so colours
    and thumbnails look as intended; None when there is none or it cannot be used."""
    icc = frame.info.get("icc_profile")
    if not icc or frame.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return None
    try:
        converted = ImageCms.profileToProfile(
            frame,
            ImageCms.ImageCmsProfile(io.BytesIO(icc)),
            SRGB,
            outputMode=mode,
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("Ignoring an unusable ICC profile: %s", exc)
        return None
    return converted


def _to_8bit_grey(frame: Image.Image) -> Image.Image:
    """Scale 16-bit or float greyscale to 0-255 by its own range (Pillow would just clip).
    In place: one float64 copy of a large picture is 8 bytes a pixel already."""
    pixels = np.array(frame, dtype=np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    if high > low:
        pixels -= low
        pixels *= 255.0 / (high - low)
        np.rint(pixels, out=pixels)
    else:
        pixels.fill(0.0)
    return Image.fromarray(pixels.astype(np.uint8), mode="L")


def analyzer_version(
    algorithm: str,
    model_version: str,
    settings: tuple[object, ...] = (),
    defaults: tuple[object, ...] = (),
) -> str:
    """`<algorithm>-<model>`, plus every setting when any differs from its default: the code,
    the model and the settings each change the results, so each is in the version."""
    if settings == defaults:
        return f"{algorithm}-{model_version}"
    custom = "".join(
        f"-{value:g}" if isinstance(value, float) else f"-{value}" for value in settings
    )
    return f"{algorithm}-{model_version}{custom}"


class Analyzer(Protocol):
    """One feature. `version` changes whenever results for the same picture would change.

    `analyze` gets the analyses of the features in `depends_on` (computed first, also when
    the request did not name them) and of those in `reuses` that the same job computes (run
    first when both are named); a feature a dependency could not be computed for ends as
    that dependency did. `result_model` is the type of `Analysis.result`.
    """

    name: str
    version: str

    @property
    def result_model(self) -> type[ResultModel]: ...

    @property
    def depends_on(self) -> tuple[str, ...]: ...

    @property
    def reuses(self) -> tuple[str, ...]: ...

    def analyze(self, picture: Picture, inputs: Inputs) -> Analysis: ...


class Independent:
    """A mixin for analyzers that need no other feature's analysis."""

    depends_on: tuple[str, ...] = ()
    reuses: tuple[str, ...] = ()
