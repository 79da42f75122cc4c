"""The byte-counted semaphore that decodes share."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sightline.memory_budget import MemoryBudget

DEADLINE_S = 30.0  # generous: only a broken budget takes this long


class Holder:
    """A thread that reserves `size` bytes and holds them until told to let go."""

    def __init__(self, budget: MemoryBudget, size: int) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(budget, size), daemon=True)
        self.thread.start()

    def _run(self, budget: MemoryBudget, size: int) -> None:
        with budget.reserve(size):
            self.holding.set()
            self.release.wait(DEADLINE_S)

    def let_go(self) -> None:
        self.release.set()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()


@contextmanager
def holders(budget: MemoryBudget, *sizes: int) -> Iterator[list[Holder]]:
    started = [Holder(budget, size) for size in sizes]
    try:
        yield started
    finally:
        for holder in started:
            holder.release.set()


def wait_until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(int(DEADLINE_S / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("the condition never came true")


def test_reservations_that_fit_are_held_together_and_given_back() -> None:
    budget = MemoryBudget(100)
    with budget.reserve(60), budget.reserve(40):
        assert budget.reserved == 100
    assert budget.reserved == 0


def test_a_reservation_that_does_not_fit_waits_until_memory_is_given_back() -> None:
    budget = MemoryBudget(100)
    with holders(budget, 70) as (first,):
        assert first.holding.wait(DEADLINE_S)
        with holders(budget, 50) as (second,):
            wait_until(lambda: budget.waiting == 50)
            assert not second.holding.is_set()
            assert budget.reserved == 70
            first.let_go()
            assert second.holding.wait(DEADLINE_S)
            assert (budget.reserved, budget.waiting) == (50, 0)
            second.let_go()
    assert budget.reserved == 0


def test_turns_are_first_come_first_served() -> None:
    """A small reservation that would fit does not overtake a large one queued before it, so
    large pictures are not starved by a stream of small ones."""
    budget = MemoryBudget(100)
    with holders(budget, 60) as (first,):
        assert first.holding.wait(DEADLINE_S)
        with holders(budget, 80) as (large,):
            wait_until(lambda: budget.waiting == 80)
            with holders(budget, 10) as (small,):
                wait_until(lambda: budget.waiting == 90)
                assert not small.holding.is_set()
                first.let_go()
                assert large.holding.wait(DEADLINE_S)
                assert small.holding.wait(DEADLINE_S)  # 80 + 10 fit together
                assert budget.reserved == 90
                large.let_go()
                small.let_go()
    assert (budget.reserved, budget.waiting) == (0, 0)


def test_memory_is_given_back_when_the_block_raises() -> None:
    budget = MemoryBudget(100)
    with pytest.raises(RuntimeError), budget.reserve(100):
        raise RuntimeError("analysis failed")
    with budget.reserve(100):
        assert budget.reserved == 100


@pytest.mark.parametrize("size", [101, -1])
def test_a_size_beyond_the_capacity_is_refused_at_once(size: int) -> None:
    budget = MemoryBudget(100)
    with pytest.raises(ValueError, match="Cannot reserve"), budget.reserve(size):
        pass
    assert (budget.reserved, budget.waiting) == (0, 0)


def test_a_budget_needs_a_capacity() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        MemoryBudget(0)
