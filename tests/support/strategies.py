"""Hypothesis strategies for what clients send: JSON documents, and text of every kind."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Finite numbers only: JSON has no NaN or Infinity (the strict parser refuses them).
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
)
keys = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value (of the Unicode the parser keeps: no lone surrogates)."""
    return st.recursive(
        scalars | texts,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=max_leaves,
    )


def json_objects() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(keys, json_values(), max_size=6)


# Anything at all: surrogates, control characters, the odd escape.
any_text = st.text(max_size=200)
