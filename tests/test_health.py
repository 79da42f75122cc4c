"""Readiness: only a required component that is down makes a process unready."""

from __future__ import annotations

from sightline.errors import BackendError
from sightline.health import Component, Degraded, Health, readiness


def down() -> None:
    raise BackendError("Connection refused.")


def test_every_component_ok_is_ready() -> None:
    found = readiness([Component("catalog", lambda: 12), Component("queue", dict)])
    assert found.ready and found.status == "ready"
    assert found.as_dict() == {
        "status": "ready",
        "checks": {"catalog": "ok", "queue": "ok"},
        "reasons": {},
    }
    assert found.up() == {"catalog": 1, "queue": 1}


def test_an_optional_component_down_or_degraded_leaves_it_ready_but_degraded() -> None:
    found = readiness(
        [
            Component("catalog", lambda: None),
            Component("queue", down, required=False),
            Component("models", lambda: Degraded("tags skipped"), required=False),
        ]
    )
    assert found.ready and found.status == "degraded"
    assert found.checks == {"catalog": Health.OK, "queue": Health.DOWN, "models": Health.DEGRADED}
    assert found.reasons == {
        "queue": "BackendError: Connection refused.",
        "models": "tags skipped",
    }
    assert found.up() == {"catalog": 1, "queue": 0, "models": 0}


def test_a_required_component_down_makes_it_unavailable() -> None:
    found = readiness([Component("catalog", down), Component("queue", lambda: None)])
    assert not found.ready and found.status == "unavailable"
    assert found.checks == {"catalog": Health.DOWN, "queue": Health.OK}
