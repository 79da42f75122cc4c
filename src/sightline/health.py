"""Readiness: the components a process depends on, each `ok`, `degraded` or `down`.

A process is ready when it can do its job: an API when it can take uploads, a worker when it can
take jobs. Only a down component that job needs makes it unready (`required`); the others show
their trouble in the answer and in `sightline_component_up`, so that a probe does not take a
process out of service for something it works around (an API keeps taking uploads while the
queue is down: they wait in the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # it works, but not fully: the reason says how
    DOWN = "down"


@dataclass(frozen=True)
class Degraded:
    """What a check returns when its component works, but not fully."""

    reason: str


@dataclass(frozen=True)
class Component:
    """One part of a process. `check` raises when the part is down and returns `Degraded` when
    it works only in part; anything else it returns means ok."""

    name: str
    check: Callable[[], object]
    required: bool = True


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, Health]
    reasons: dict[str, str]  # why, for each component that is not ok
    ready: bool

    @property
    def status(self) -> str:
        if not self.ready:
            return "unavailable"
        return (
            "ready" if all(health is Health.OK for health in self.checks.values()) else "degraded"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checks": {name: str(health) for name, health in self.checks.items()},
            "reasons": self.reasons,
        }

    def up(self) -> dict[str, int]:
        """1 for each component that is ok, else 0: `sightline_component_up`."""
        return {name: int(health is Health.OK) for name, health in self.checks.items()}


def readiness(components: Sequence[Component]) -> Readiness:
    """Check every component now (each probe is one cheap call to the part)."""
    checks: dict[str, Health] = {}
    reasons: dict[str, str] = {}
    ready = True
    for component in components:
        try:
            found = component.check()
        except Exception as exc:  # a failing part is reported, not raised
            checks[component.name] = Health.DOWN
            reasons[component.name] = f"{type(exc).__name__}: {exc}"
            ready = ready and not component.required
            continue
        if isinstance(found, Degraded):
            checks[component.name] = Health.DEGRADED
            reasons[component.name] = found.reason
        else:
            checks[component.name] = Health.OK
    return Readiness(checks, reasons, ready)
