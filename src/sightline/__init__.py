"""Sightline: a self-hosted image intelligence backend."""

__version__ = "0.1.0"

from sightline.client import ApiError, AsyncClient, Client, Retry  # noqa: E402  (after __version__)

__all__ = ["ApiError", "AsyncClient", "Client", "Retry", "__version__"]
