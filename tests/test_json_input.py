"""The strict JSON parser every client input goes through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline import json_input
from support.strategies import any_text, json_values


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_refused() -> None:
    assert json_input.loads(nested(json_input.MAX_DEPTH)) is not None
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        json_input.loads(nested(json_input.MAX_DEPTH + 1))
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        json_input.loads(nested(100_000))  # deeper than the interpreter's own recursion limit


@pytest.mark.parametrize(
    "document",
    ['"\\ud800"', '{"\\udc00": 1}', '["ok", {"a": ["\\ud83d"]}]', "NaN", "[-Infinity]", "1e400"],
)
def test_values_no_store_can_keep_are_refused(document: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json_input.loads(document)


def test_ordinary_documents_read_as_the_standard_parser_reads_them() -> None:
    document = '{"name": "日本 😀 \\ud83d\\ude00", "n": [1, 2.5, -3e10, true, null], "e": {}}'
    assert json_input.loads(document) == json.loads(document)
    assert json_input.loads(document.encode()) == json.loads(document)


@pytest.mark.parametrize("document", [b"\xff", b'{"a": "\xe9"}', b"[\xc3(]"])
def test_bytes_that_are_not_utf8_are_refused_as_json(document: bytes) -> None:
    # Once a UnicodeDecodeError, which FastAPI answered as a bare 400 `HttpError`.
    with pytest.raises(json.JSONDecodeError, match="not UTF-8"):
        json_input.loads(document)


@given(st.one_of(any_text, st.binary(max_size=200)))
def test_any_document_is_a_value_or_a_json_error(document: str | bytes) -> None:
    try:
        json_input.loads(document)
    except json.JSONDecodeError:
        pass


@given(json_values())
def test_every_json_value_reads_back_as_written(value: Any) -> None:
    assert json_input.loads(json.dumps(value)) == value
    assert json_input.loads(json.dumps(value, ensure_ascii=False).encode()) == value
