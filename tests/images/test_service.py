"""The image service's helpers that stand alone (its use cases are tested through the API): the
parsers of what clients send, over any input: client metadata and file names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sightline.errors import InvalidMetadata, InvalidParameter
from sightline.images.service import (
    MAX_FILENAME_LENGTH,
    checked_filename,
    clean_filename,
    parse_metadata,
)
from support.strategies import any_text, json_objects, json_values

LIMIT = 4096


@given(any_text)
@example('{"note": "\\ud800"}')  # escaped: refused by the JSON parser
@example('{"note": "\ud800"}')  # as such (a command line's undecodable bytes): once a crash
def test_any_text_is_metadata_or_invalid_metadata(raw: str) -> None:
    try:
        value = parse_metadata(raw, LIMIT)
    except InvalidMetadata:
        return
    assert isinstance(value, dict)


@given(json_values())
def test_json_that_is_no_object_is_refused(value: Any) -> None:
    if isinstance(value, dict):
        return
    try:
        parse_metadata(json.dumps(value), LIMIT)
    except InvalidMetadata as exc:
        assert "JSON object" in exc.message or not json.dumps(value).strip()
    else:
        raise AssertionError("accepted")


@given(json_objects())
def test_an_object_within_the_limit_comes_back_as_sent(value: dict[str, Any]) -> None:
    text = json.dumps(value, ensure_ascii=False)
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(compact.encode()) > LIMIT:
        try:
            parse_metadata(text, LIMIT)
        except InvalidMetadata:
            return
        raise AssertionError("accepted over the limit")
    assert parse_metadata(text, LIMIT) == value


@given(st.none() | any_text)
def test_any_file_name_is_kept_whole_or_refused(filename: str | None) -> None:
    try:
        name = checked_filename(filename)
    except InvalidParameter:
        return
    if name is not None:
        assert 0 < len(name) <= MAX_FILENAME_LENGTH
        assert name.isprintable() and "/" not in name and "\\" not in name
        assert name not in (".", "..")
        sent = iter(filename or "")
        assert all(character in sent for character in name)  # what was sent, less some


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("photo\x00.php.jpg", "photo.php.jpg"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("a" * 300 + ".jpg", "a" * 255),
        ("..", None),
        (".", None),
        ("folder/..", None),
        (".\u202e.", None),
        ("  ", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_clean_base_name_is_kept(sent: str | None, kept: str | None) -> None:
    assert clean_filename(sent) == kept


@pytest.mark.parametrize("sent", ["..", ".", "folder/..", ".\u202e.", "  "])
def test_a_client_name_that_is_no_file_name_is_stored_as_none(sent: str) -> None:
    assert checked_filename(sent) is None


def test_a_client_name_past_the_limit_is_refused_not_cut() -> None:
    with pytest.raises(InvalidParameter):
        checked_filename("a" * 300 + ".jpg")
