"""Pure image analysis: decode untrusted bytes into a `Picture`, then run analyzers on it.

The feature registry (`sightline.vision.registry.build_analyzers`) is not re-exported here: it
imports every analyzer and, through them, the model runtime, which decoding does not need.
"""

from sightline.errors import SkipFeature
from sightline.vision.base import (
    Analysis,
    Analyzer,
    Artifact,
    Independent,
    Inputs,
    Picture,
    ResultModel,
)
from sightline.vision.decode import Decoder, decode

__all__ = [
    "Analysis",
    "Analyzer",
    "Artifact",
    "Decoder",
    "Independent",
    "Inputs",
    "Picture",
    "ResultModel",
    "SkipFeature",
    "decode",
]
