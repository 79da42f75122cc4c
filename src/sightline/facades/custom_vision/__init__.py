"""Azure Custom Vision (classification projects) answered by Sightline's classifiers."""

from sightline.facades.custom_vision.routes import router

__all__ = ["router"]
