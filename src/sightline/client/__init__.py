"""The Python client of the Sightline HTTP API: `Client` (sync) and `AsyncClient`, the same
calls, typed answers (models.py) that also read like the JSON mappings, retries (`Retry`)."""

from sightline.client.clients import AsyncClient, Client
from sightline.client.exchange import ApiError, Retry
from sightline.client.models import (
    Feature,
    Image,
    Result,
    ScoredImage,
    SearchPage,
    UploadedImage,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Feature",
    "Image",
    "Result",
    "Retry",
    "ScoredImage",
    "SearchPage",
    "UploadedImage",
]
