"""Sightline: a self-hosted image intelligence backend."""

__version__ = "0.1.0"

from sightline.client import ApiError, Client  # noqa: E402  (after __version__, which it uses)

__all__ = ["ApiError", "Client", "__version__"]
