"""Pure image analysis: decode untrusted bytes into a `Picture`, then run analyzers on it.

The feature registry (`sightline.vision.registry.build_analyzers`) is not re-exported here: it
imports the model runtime, which itself builds on `vision.base`.
"""

from sightline.vision.base import Analyzer, Artifact, Picture, SkipFeature
from sightline.vision.decode import decode

__all__ = ["Analyzer", "Artifact", "Picture", "SkipFeature", "decode"]
