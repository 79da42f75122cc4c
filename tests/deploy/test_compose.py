"""The Compose files of docs/deploy, checked as Compose reads them (no container engine runs
here): every service healthy-checked or a one-shot, start-up order without cycles, state on
volumes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
HEALTHCHECK = ["CMD", "python3", "/opt/sightline/healthcheck.py"]
SIGHTLINE = ("migrate", "api", "worker")


def compose(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return document


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    services: dict[str, Any] = compose("compose.yaml")["services"]
    return services


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}, whichever of its two forms is used."""
    found = service.get("depends_on", {})
    if isinstance(found, list):
        return {name: "service_started" for name in found}
    return {name: condition["condition"] for name, condition in found.items()}


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_every_long_running_service_has_a_health_check(scaled: dict[str, Any]) -> None:
    assert set(scaled) == {"postgres", "redis", "minio", "buckets", "migrate", "api"} | {
        "worker",
        "lb",
    }
    for name, service in scaled.items():
        healthcheck = service.get("healthcheck", {})
        if one_shot(service):
            assert "test" not in healthcheck, name
        else:
            assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name
            assert not healthcheck.get("disable"), name
            assert service["restart"] == "unless-stopped", name


def test_services_start_in_order_without_cycles(scaled: dict[str, Any]) -> None:
    for name, service in scaled.items():
        for target, condition in dependencies(service).items():
            if condition == "service_healthy":
                assert "test" in scaled[target].get("healthcheck", {}), (name, target)
            else:
                assert condition == "service_completed_successfully", (name, target)
                assert one_shot(scaled[target]), (name, target)
    started: list[str] = []
    waiting = dict(scaled)
    while waiting:
        ready = [name for name in waiting if set(dependencies(waiting[name])) <= set(started)]
        assert ready, f"a cycle among {sorted(waiting)}"
        started += ready
        for name in ready:
            del waiting[name]
    assert dependencies(scaled["migrate"]) == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        assert dependencies(scaled[name])["migrate"] == "service_completed_successfully"
        assert dependencies(scaled[name])["redis"] == "service_healthy"
    assert dependencies(scaled["lb"]) == {"api": "service_healthy"}


def test_the_store_queues_notifications_and_needs_no_api_to_start(
    scaled: dict[str, Any],
) -> None:
    minio = scaled["minio"]
    environment = minio["environment"]
    assert "depends_on" not in minio
    endpoint = environment["MINIO_NOTIFY_WEBHOOK_ENDPOINT_SIGHTLINE"]
    assert re.fullmatch(r"http://lb:8080/v1/storage/events", endpoint)
    queue = environment["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_SIGHTLINE"]
    assert any(volume.endswith(f":{queue}") for volume in minio["volumes"])
    assert environment["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_SIGHTLINE"].startswith("Bearer ")
    rule = scaled["buckets"]["entrypoint"]
    assert "arn:minio:sqs::SIGHTLINE:webhook" in rule and "--prefix prod/incoming/" in rule
    assert "s3://images/prod?" in scaled["api"]["environment"]["SIGHTLINE_BLOB_URL"]


def test_state_lives_on_named_volumes(scaled: dict[str, Any]) -> None:
    declared = set(compose("compose.yaml")["volumes"])
    for name, path in [
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("minio", "/data"),
    ]:
        mounts = dict(volume.split(":")[:2][::-1] for volume in scaled[name]["volumes"])
        assert mounts[path] in declared, name
    assert "pgvector" in scaled["postgres"]["image"]
    command = scaled["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "always"


def test_replicas_of_one_image_behind_the_load_balancer(scaled: dict[str, Any]) -> None:
    images = {scaled[name]["image"] for name in SIGHTLINE}
    assert len(images) == 1
    builds = {scaled[name]["build"]["dockerfile"] for name in SIGHTLINE}
    assert builds == {"docs/deploy/Dockerfile"}
    assert (DEPLOY / scaled["api"]["build"]["context"] / "docs/deploy/Dockerfile").is_file()
    assert scaled["migrate"]["command"] == ["migrate"]
    assert scaled["api"]["command"] == ["serve", "--no-workers"]
    assert scaled["worker"]["command"][0] == "worker"
    assert scaled["api"]["deploy"]["replicas"] >= 2
    assert scaled["worker"]["deploy"]["replicas"] >= 2
    for name in ("api", "worker"):
        assert scaled[name]["healthcheck"]["test"] == HEALTHCHECK
    assert scaled["worker"]["environment"]["SIGHTLINE_WORKER_HTTP_PORT"] == "9090"
    # Only the load balancer (and the store, for presigned URLs) are published.
    assert "ports" not in scaled["api"] and "ports" not in scaled["worker"]
    assert scaled["lb"]["ports"] == ["8080:8080"]
    source, _, target = scaled["lb"]["volumes"][0].partition(":")
    config = (DEPLOY / source).read_text()
    assert target.startswith("/etc/nginx/conf.d/")
    assert "listen 8080;" in config and "http://api:8080" in config
    assert "location = /lb-healthz" in config
    assert scaled["lb"]["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/lb-healthz"


def test_the_single_node_file_is_one_service_with_its_data_on_a_volume() -> None:
    document = compose("compose.single.yaml")
    (service,) = document["services"].values()
    assert service["build"]["dockerfile"] == "docs/deploy/Dockerfile"
    assert service["command"][0] == "serve" and "--no-workers" not in service["command"]
    assert service["healthcheck"]["test"] == HEALTHCHECK
    assert service["ports"] == ["8080:8080"]
    volume, _, path = service["volumes"][0].partition(":")
    assert volume in document["volumes"]
    assert path == "/data"
    assert "SIGHTLINE_DATA_DIR=/data" in (DEPLOY / "Dockerfile").read_text()
