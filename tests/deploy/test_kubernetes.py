"""deploy/kubernetes/: every manifest valid against the Kubernetes API's OpenAPI schemas
(kubernetes-validate ships them; strict: an unknown field fails), and the Deployment as
docs/deploy.md describes it: replicas, probes on /health, the image's non-root user on a
read-only root, the secrets as files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from outbound.server.config import SECRET_SETTINGS, SETTINGS, env_name

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for path in MANIFESTS for doc in documents(path)}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_manifest_is_valid_kubernetes(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_refuses_what_the_api_server_would() -> None:
    deployment = resources()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_set_is_complete() -> None:
    assert sorted(resources()) == ["Deployment", "PodDisruptionBudget", "Secret", "Service"]


def test_the_deployment_runs_hardened_replicas_probed_on_health() -> None:
    found = resources()
    deployment = found["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] >= 2
    assert found["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    # The image's fixed user (Containerfile), never root, on a read-only root filesystem.
    uid = re.search(r"--uid (\d+)", (ROOT / "Containerfile").read_text()).group(1)  # type: ignore[union-attr]
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    # Graceful stops outlast the refresh commit timeout (late provider answers are kept).
    commit_timeout = SETTINGS["refresh_commit_timeout"].default
    assert pod["terminationGracePeriodSeconds"] > commit_timeout


def test_the_secrets_are_files_from_the_secret() -> None:
    found = resources()
    (container,) = found["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    known = {env_name(name) for name in SETTINGS} | {
        env_name(name) + "_FILE" for name in SECRET_SETTINGS
    }
    assert set(env) <= known, set(env) - known
    assert "OUTBOUND_MASTER_KEY" not in env and "OUTBOUND_DATABASE_URL" not in env
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "secrets"]
    secret_keys = set(found["Secret"]["stringData"])
    assert secret_keys == {"master-key", "database-url"}
    for name in ("OUTBOUND_MASTER_KEY_FILE", "OUTBOUND_DATABASE_URL_FILE"):
        directory, key = env[name].rsplit("/", 1)
        assert directory == mount["mountPath"] and key in secret_keys
