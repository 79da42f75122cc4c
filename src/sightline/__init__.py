"""Sightline: a self-hosted image intelligence backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sightline.client import ApiError, AsyncClient, Client, Retry

__all__ = ["ApiError", "AsyncClient", "Client", "Retry", "__version__"]


def __getattr__(name: str) -> Any:
    # The Python client, imported on first use: the server and the workers never use it, and
    # its models would add a fifth of a second to every start-up.
    if name in __all__:
        from sightline import client

        return getattr(client, name)
    raise AttributeError(f"module 'sightline' has no attribute {name!r}")
