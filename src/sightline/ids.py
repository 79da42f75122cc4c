"""Identifiers that sort by creation time, so "newest first" is an index scan on the id."""

from __future__ import annotations

import secrets
import time


def time_sorted_id(prefix: str) -> str:
    """`prefix` + 12 hex digits of milliseconds since the epoch + 16 random hex digits."""
    return f"{prefix}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"


def new_image_id() -> str:
    return time_sorted_id("img_")


def is_image_id(value: str) -> bool:
    return (
        len(value) == 32
        and value.startswith("img_")
        and all(c in "0123456789abcdef" for c in value[4:])
    )
