"""The analyzers a picture gets unless asked otherwise, keyed by feature name."""

from __future__ import annotations

from sightline.vision.base import Analyzer
from sightline.vision.color import ColorAnalyzer
from sightline.vision.hash import HashAnalyzer
from sightline.vision.metadata import MetadataAnalyzer
from sightline.vision.thumbnail import ThumbnailAnalyzer

# Spelled out rather than derived from default_analyzers(), so that naming the features never
# constructs an analyzer (model-backed ones will be costly to build).
DEFAULT_FEATURES: tuple[str, ...] = ("metadata", "color", "hash", "thumbnail")


def default_analyzers() -> dict[str, Analyzer]:
    """Fresh instances keyed by feature name, in `DEFAULT_FEATURES` order."""
    analyzers: list[Analyzer] = [
        MetadataAnalyzer(),
        ColorAnalyzer(),
        HashAnalyzer(),
        ThumbnailAnalyzer(),
    ]
    return {analyzer.name: analyzer for analyzer in analyzers}
