"""Azure Computer Vision 3.2 (`/vision/v3.2/...`): what `azure-cognitiveservices-vision-
computervision`'s `ComputerVisionClient` calls. See docs/compat/azure-computer-vision.md."""

from sightline.facades.azure_cv.routes import router

__all__ = ["router"]
