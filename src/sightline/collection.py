"""Collection names: every image, event, subscription and classifier belongs to one collection
(a tenant's library), and a caller bound to a collection sees nothing of any other.

A name is a slug: 1-64 lower-case letters, digits, `-` or `_`, starting with a letter or digit,
so it reads the same in a URL, a log line and a SQL index. Images uploaded without naming one go
to `default`, as everything stored before collections existed did.
"""

from __future__ import annotations

import re

from sightline.errors import InvalidCollection

DEFAULT_COLLECTION = "default"
MAX_LENGTH = 64
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
RULE = "1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit"


def collection_name(value: str) -> str:
    """`value` if it is a valid collection name; `InvalidCollection` otherwise."""
    if not NAME.fullmatch(value):
        raise InvalidCollection(
            f"A collection name is {RULE}; got {value[: MAX_LENGTH + 1]!r}.", rule=RULE
        )
    return value
