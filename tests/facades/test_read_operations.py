"""Read answers kept for polling: until they expire, and no more of them than the cap."""

from __future__ import annotations

from sightline.facades.azure_cv.reads import ReadOperations


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_until_it_expires() -> None:
    clock = Clock()
    operations = ReadOperations(keep_seconds=10, clock=clock)
    operations.keep("a", {"status": "succeeded"})
    clock.now = 9.9
    assert operations.get("a") == {"status": "succeeded"}
    clock.now = 10.0
    assert operations.get("a") is None


def test_past_the_cap_the_oldest_answers_go_first() -> None:
    operations = ReadOperations(max_operations=2, clock=Clock())
    for name in "abc":
        operations.keep(name, {"id": name})
    assert [operations.get(name) for name in "abc"] == [None, {"id": "b"}, {"id": "c"}]
