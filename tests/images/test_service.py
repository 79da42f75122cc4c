"""The image service's helpers that stand alone (its use cases are tested through the API)."""

from __future__ import annotations

import pytest

from sightline.images.service import clean_filename


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
