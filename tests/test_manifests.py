"""The reference manifests (manifests/): clean under the bundled policy pack, complete
against the stack table of autobot-stack.md, and renderable by kustomize."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobot_guard.paths import bundled_manifests
from tests.tools import tool

MANIFESTS = bundled_manifests()
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
# Custom resources (no bundled schema: `schema` reports them as info).
CUSTOM_KINDS = {"ExternalSecret", "Certificate", "Issuer"}

# The components of the stack table (autobot-stack.md) -> the `app` label of the pod
# template of their workload, and the workload kind when the stack demands one.
COMPONENTS: dict[str, tuple[str, str | None]] = {
    "backend": ("autobot-backend", None),
    "frontend": ("autobot-frontend", None),
    "chat agent": ("autobot-chat-agent", None),
    "rag agent": ("autobot-rag-agent", None),
    "knowledge agent": ("autobot-knowledge-agent", None),
    "research agent": ("autobot-research-agent", None),
    "ollama": ("autobot-ollama", None),
    "ai-stack": ("autobot-ai-stack", None),
    "npu-worker": ("autobot-npu-worker", None),
    "browser worker": ("autobot-browser-worker", None),
    "chromadb": ("autobot-chromadb", None),
    "redis": ("autobot-redis", None),
    "postgres": ("autobot-postgres", None),
    "fluentd": ("autobot-log-collector", "DaemonSet"),  # a log collector on every node
    "elasticsearch": ("autobot-elasticsearch", None),
    "kibana": ("autobot-kibana", None),
    # Not in the stack table: autobot-guard's own admission webhook (manifests/webhook/).
    "admission webhook": ("autobot-guard", "Deployment"),
}


def manifest_files() -> list[Path]:
    return sorted(
        path
        for path in MANIFESTS.rglob("*")
        if path.suffix in (".yaml", ".yml", ".json") and path.is_file()
    )


def objects(include_kustomization: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    """Every object of the manifest files, read with PyYAML (independently of the engine)."""
    out = []
    for path in manifest_files():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is None:
                continue
            if document.get("kind") == "Kustomization" and not include_kustomization:
                continue
            out.append((path, document))
    return out


def workloads() -> list[dict[str, Any]]:
    return [obj for _, obj in objects() if obj["kind"] in WORKLOAD_KINDS]


def identity(obj: dict[str, Any]) -> tuple[str, str | None, str]:
    return (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


# (a) ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # From an unrelated directory: with no PATH the CLI must find the bundled manifests.
    result = cli("check", "--format", "json", cwd=tmp_path_factory.mktemp("cwd"))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_check_without_arguments_is_clean(json_report: dict[str, Any]) -> None:
    summary = json_report["summary"]
    assert summary["errors"] == 0, [f for f in json_report["findings"] if f["severity"] == "error"]
    assert summary["warnings"] == 0, [
        f for f in json_report["findings"] if f["severity"] == "warning"
    ]
    assert summary["inputErrors"] == 0
    assert json_report["inputErrors"] == []
    assert {f["severity"] for f in json_report["findings"]} <= {"info"}
    # Every object of every file was checked (the Kustomization file is a resource too).
    assert summary["resources"] == len(objects(include_kustomization=True))
    assert json_report["kubernetesVersion"] == "1.35"
    assert Path(json_report["policyPack"]).name == "autobot-guard.yaml"


def test_check_without_arguments_checks_the_bundled_manifests(
    json_report: dict[str, Any], tmp_path: Path
) -> None:
    # The JSON contract has no field naming what was checked; the text summary does.
    result = cli("check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "(the bundled AutoBot reference manifests)" in summary, summary
    assert f"checked {json_report['summary']['resources']} resources" in summary
    assert "0 errors, 0 warnings" in summary
    # ... and every finding of the JSON run comes from those files.
    for finding in [*json_report["findings"], *json_report["exempted"]]:
        assert Path(finding["file"]).resolve().is_relative_to(MANIFESTS.resolve()), finding


def test_the_only_info_is_the_kustomization_every_custom_resource_is_validated(
    json_report: dict[str, Any],
) -> None:
    # The bundled pack's CRDs (policies/crds) give every ExternalSecret, Certificate and
    # Issuer a schema: none is left as "no schema" info.
    infos = [f for f in json_report["findings"] if f["severity"] == "info"]
    assert [(i["rule"], i["resource"]["kind"], i["path"]) for i in infos] == [
        ("schema", "Kustomization", "kind")
    ]
    assert infos[0]["message"].startswith("a kustomize build file")
    assert Path(infos[0]["file"]).resolve() == (MANIFESTS / "kustomization.yaml").resolve()
    custom = [obj for _, obj in objects() if obj["kind"] in CUSTOM_KINDS]
    assert {obj["kind"] for obj in custom} >= {"ExternalSecret", "Certificate", "Issuer"}


def test_every_exemption_has_a_reason(json_report: dict[str, Any]) -> None:
    assert json_report["exempted"], "the reference stack exempts its single-replica stores"
    for finding in json_report["exempted"]:
        assert isinstance(finding.get("exemptReason"), str), finding
        assert finding["exemptReason"].strip(), finding


# (b) ---------------------------------------------------------------------------------


def test_every_component_of_the_stack_has_a_workload() -> None:
    by_app: dict[str, list[dict[str, Any]]] = {}
    for workload in workloads():
        app = workload["spec"]["template"]["metadata"]["labels"].get("app")
        by_app.setdefault(app, []).append(workload)
    for component, (app, kind) in COMPONENTS.items():
        assert app in by_app, f"{component}: no workload whose pod template has app={app}"
        assert len(by_app[app]) == 1, f"{component}: several workloads with app={app}"
        if kind:
            assert by_app[app][0]["kind"] == kind, component
    # And nothing unaccounted for.
    assert set(by_app) == {app for app, _ in COMPONENTS.values()}


def test_every_pod_template_has_the_logging_labels() -> None:
    for workload in workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        where = "/".join(map(str, identity(workload)))
        assert labels.get("app"), where
        assert labels.get("component"), where
        assert labels.get("logging") == "centralized", where
        assert labels.get("app.kubernetes.io/name") == "autobot", where
        if labels["component"] == "ai-agent":
            assert labels.get("agent-type"), where


def test_chat_agent_hpa_is_the_plans() -> None:
    hpas = [
        obj
        for _, obj in objects()
        if obj["kind"] == "HorizontalPodAutoscaler"
        and obj["spec"]["scaleTargetRef"]["name"] == "autobot-chat-agent"
    ]
    assert len(hpas) == 1
    (hpa,) = hpas
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["namespace"] == "autobot-system"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["minReplicas"] == 2
    assert hpa["spec"]["maxReplicas"] == 10
    targets = {
        metric["resource"]["name"]: metric["resource"]["target"]
        for metric in hpa["spec"]["metrics"]
        if metric["type"] == "Resource"
    }
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    # The chat agent Deployment leaves its replica count to the HPA.
    (chat,) = [
        w
        for w in workloads()
        if identity(w) == ("Deployment", "autobot-system", "autobot-chat-agent")
    ]
    assert "replicas" not in chat["spec"]


def test_autobot_config_defines_log_level() -> None:
    configs = [
        obj
        for _, obj in objects()
        if identity(obj) == ("ConfigMap", "autobot-system", "autobot-config")
    ]
    assert len(configs) == 1
    assert configs[0]["data"]["log-level"]
    # The agents read LOG_LEVEL from it, as the plan says.
    for workload in workloads():
        if workload["spec"]["template"]["metadata"]["labels"].get("component") != "ai-agent":
            continue
        env = {e["name"]: e for e in workload["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["LOG_LEVEL"]["valueFrom"]["configMapKeyRef"] == {
            "name": "autobot-config",
            "key": "log-level",
        }, workload["metadata"]["name"]


def test_no_secret_value_is_in_git() -> None:
    for path, obj in objects():
        if obj["kind"] == "Secret":
            where = f"{path}: Secret {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
            assert "data" not in obj, f"{where} has data"
            assert "stringData" not in obj, f"{where} has stringData"


# (c) ---------------------------------------------------------------------------------


def test_kustomize_renders_what_the_files_hold() -> None:
    tool("kubectl")
    result = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]
    rendered_ids = sorted(identity(obj) for obj in rendered)
    file_ids = sorted(identity(obj) for _, obj in objects())
    assert len(set(file_ids)) == len(file_ids), "an object is defined twice"
    assert rendered_ids == file_ids
