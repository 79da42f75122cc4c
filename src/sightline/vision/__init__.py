"""Pure image analysis: decode untrusted bytes into a `Picture`, then run analyzers on it."""

from sightline.vision.base import Analyzer, Artifact, Picture, SkipFeature
from sightline.vision.decode import decode
from sightline.vision.registry import default_analyzers

__all__ = ["Analyzer", "Artifact", "Picture", "SkipFeature", "decode", "default_analyzers"]
