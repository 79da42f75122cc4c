"""Pick a backend implementation by URL scheme from a table of lazy import strings."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sightline.errors import ConfigurationError


def load_backend(family: str, url: str, table: Mapping[str, str], **options: Any) -> Any:
    """Import the class registered for the URL's scheme and build it with `from_url(url, ...)`.

    `postgresql+psycopg://` counts as `postgresql`: the driver suffix is SQLAlchemy's business.
    """
    scheme = urlsplit(url).scheme.split("+")[0]
    target = table.get(scheme)
    if target is None:
        raise ConfigurationError(
            f"Unsupported {family} URL {url!r}: the scheme must be one of "
            f"{', '.join(sorted(table))}."
        )
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name).from_url(url, **options)
