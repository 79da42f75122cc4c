"""The Kubernetes manifests of docs/deploy/kubernetes: valid against the API's own schemas
(kubernetes-validate, offline, strict: unknown fields are errors) and wired together."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "kubernetes"
KUBERNETES = "1.37.0"


@functools.cache
def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return found


def resource(kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        document
        for document in documents()
        if document["kind"] == kind and document["metadata"]["name"] == name
    ]
    return found


def pod(kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = resource(kind, name)["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize(
    "document", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}"
)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_validation_refuses_a_misspelt_field() -> None:
    document = resource("Deployment", "sightline-api")
    misspelt = {**document, "spec": {**document["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES, strict=True)


def test_the_manifests_hold_every_piece() -> None:
    kinds = {(document["kind"], document["metadata"]["name"]) for document in documents()}
    assert kinds == {
        ("ConfigMap", "sightline"),
        ("Secret", "sightline"),
        ("Job", "sightline-migrate-0-1-0"),
        ("Deployment", "sightline-api"),
        ("Service", "sightline-api"),
        ("PodDisruptionBudget", "sightline-api"),
        ("Deployment", "sightline-worker"),
        ("Service", "sightline-worker"),
        ("PodDisruptionBudget", "sightline-worker"),
        ("HorizontalPodAutoscaler", "sightline-worker"),
    }


@pytest.mark.parametrize(
    ("name", "args", "port"),
    [
        ("sightline-api", ["serve", "--no-workers"], 8080),
        ("sightline-worker", ["worker", "--concurrency", "2"], 9090),
    ],
)
def test_each_role_is_probed_on_its_port(name: str, args: list[str], port: int) -> None:
    (container,) = pod("Deployment", name)["containers"]
    assert container["args"] == args
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    if name == "sightline-worker":
        assert {"name": "SIGHTLINE_WORKER_HTTP_PORT", "value": str(port)} in container["env"]
    service = resource("Service", name)["spec"]
    assert service["selector"] == resource("Deployment", name)["spec"]["selector"]["matchLabels"]


def test_pods_run_one_image_as_a_user_with_the_shared_settings() -> None:
    pods = [pod("Deployment", "sightline-api"), pod("Deployment", "sightline-worker")]
    pods.append(pod("Job", "sightline-migrate-0-1-0"))
    images = set()
    for spec in pods:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
        (container,) = spec["containers"]
        images.add(container["image"])
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["envFrom"] == [
            {"configMapRef": {"name": "sightline"}},
            {"secretRef": {"name": "sightline"}},
        ]
        assert {"memory", "cpu"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert {"/data", "/tmp"} <= mounts
    assert images == {"sightline:0.1.0"}
    assert pods[2]["containers"][0]["args"] == ["migrate"]
    assert "SIGHTLINE_CATALOG_URL" in resource("Secret", "sightline")["stringData"]


def test_workers_are_sized_for_the_models_and_the_decode_budget() -> None:
    (container,) = pod("Deployment", "sightline-worker")["containers"]
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "2Gi"}
    # The lease lets a worker's running jobs finish after SIGTERM (60 s by default).
    assert pod("Deployment", "sightline-worker")["terminationGracePeriodSeconds"] > 60


def test_disruptions_and_autoscaling_target_the_deployments() -> None:
    for name in ("sightline-api", "sightline-worker"):
        budget = resource("PodDisruptionBudget", name)["spec"]
        labels = resource("Deployment", name)["spec"]["selector"]["matchLabels"]
        assert budget["selector"]["matchLabels"] == labels
    assert resource("PodDisruptionBudget", "sightline-api")["spec"]["minAvailable"] == 1
    autoscaler = resource("HorizontalPodAutoscaler", "sightline-worker")["spec"]
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "sightline-worker",
    }
    (metric,) = autoscaler["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"] == {
        "name": "sightline_queue_jobs",
        "selector": {"matchLabels": {"state": "queued"}},
    }
    assert autoscaler["minReplicas"] >= 2
