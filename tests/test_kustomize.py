"""`check --kustomize DIR` with the real `kubectl kustomize`, through the real CLI.

tests/data/kustomize/ is a base (Deployment, Service, a configMapGenerator) and a staging
overlay (namespace, namePrefix, its own worker Deployment, and a patch that drops the
replicas to 1 and points the livenessProbe at an undeclared port).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from autobot_guard.gate.kustomize import ORIGIN, first_error, load
from tests.gate_util import MANIFESTS, ROOT, cli, line_after
from tests.tools import tool

DATA = ROOT / "tests" / "data" / "kustomize"
BASE_DEPLOYMENT = DATA / "base" / "deployment.yaml"
WORKER = DATA / "overlay" / "worker.yaml"
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture
def kubectl() -> str:
    return tool("kubectl")


needs_kubectl = pytest.mark.usefixtures("kubectl")


def check_json(*args: str, cwd: Path = ROOT) -> dict[str, Any]:
    result = cli("check", *args, "-f", "json", cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return dict(json.loads(result.stdout))


def by_rule(document: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in document["findings"] if f["rule"] == rule]


@needs_kubectl
def test_overlay_findings_are_reported_on_the_source_files_and_lines() -> None:
    document = check_json("--kustomize", "tests/data/kustomize/overlay")
    (replicas,) = by_rule(document, "min-replicas")
    assert replicas["file"] == "tests/data/kustomize/base/deployment.yaml"
    assert replicas["line"] == line_after(BASE_DEPLOYMENT, "spec:", "replicas: 2")
    assert replicas["resource"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "autobot-staging",
        "name": "staging-web",
    }
    (port,) = by_rule(document, "probe-port")
    assert port["file"] == "tests/data/kustomize/base/deployment.yaml"
    assert port["line"] == line_after(BASE_DEPLOYMENT, "livenessProbe:", "port: http")
    assert "'metrics'" in port["message"]  # judged as rendered, located in the source
    (liveness,) = by_rule(document, "liveness-probe")
    assert liveness["file"] == "tests/data/kustomize/overlay/worker.yaml"
    assert liveness["line"] == line_after(WORKER, "containers:", "- name: worker")
    files = {f["file"] for f in document["findings"]}
    assert files <= {
        "tests/data/kustomize/base/deployment.yaml",
        "tests/data/kustomize/base/service.yaml",
        "tests/data/kustomize/base/kustomization.yaml",
        "tests/data/kustomize/overlay/worker.yaml",
    }, files


@needs_kubectl
def test_text_output_and_exit_status() -> None:
    result = cli("check", "--kustomize", "tests/data/kustomize/overlay", cwd=ROOT)
    assert result.returncode == 1
    assert "tests/data/kustomize/base/deployment.yaml" in result.stdout
    assert "(kustomize build of tests/data/kustomize/overlay)" in result.stdout.splitlines()[-1]
    assert result.stderr == ""


@needs_kubectl
def test_origin_annotation_is_removed_before_judging() -> None:
    loaded = load(str(DATA / "overlay"))
    assert not loaded.errors
    names = {r.name for r in loaded.resources}
    assert {"staging-web", "staging-worker"} <= names
    assert any(n.startswith("staging-web-settings-") for n in names)  # the generated ConfigMap
    for resource in loaded.resources:
        assert ORIGIN not in resource.annotations
        assert ORIGIN not in json.dumps(resource.data)
    web = next(r for r in loaded.resources if r.name == "staging-web" and r.kind == "Deployment")
    assert web.annotations == {"team": "web"}  # the object's own annotations stay
    worker = next(r for r in loaded.resources if r.name == "staging-worker")
    assert "annotations" not in worker.metadata  # only kustomize's was there
    generated = next(r for r in loaded.resources if r.kind == "ConfigMap")
    assert generated.document.file.endswith("base/kustomization.yaml")
    assert generated.line_of(()) == line_after(DATA / "base" / "kustomization.yaml", "", "- name:")


@needs_kubectl
def test_rendering_manifests_reports_what_checking_the_files_reports() -> None:
    rendered = check_json("--kustomize", "manifests")
    direct = check_json("manifests")

    def keyed(findings: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {
            (f["file"], f["line"], f["rule"], json.dumps(f["resource"]), f["path"])
            for f in findings
            if not f["file"].endswith("kustomization.yaml")
        }

    assert keyed(rendered["findings"]) == keyed(direct["findings"])
    assert keyed(rendered["exempted"]) == keyed(direct["exempted"])
    assert rendered["summary"]["resources"] == direct["summary"]["resources"] - 1
    assert MANIFESTS.is_dir()


@needs_kubectl
def test_sarif_of_a_kustomize_build_is_valid_with_fingerprints() -> None:
    result = cli("check", "--kustomize", "tests/data/kustomize/overlay", "-f", "sarif", cwd=ROOT)
    document = json.loads(result.stdout)
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(
        document
    )
    results = document["runs"][0]["results"]
    assert results and all(r["partialFingerprints"]["autobotGuard/v2"] for r in results)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "tests/data/kustomize/base/deployment.yaml" in uris


@needs_kubectl
def test_baseline_of_a_kustomize_build(tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    made = cli("baseline", "--kustomize", "tests/data/kustomize/overlay", "-o", str(baseline))
    assert made.returncode == 0, made.stderr
    again = cli("check", "--kustomize", "tests/data/kustomize/overlay", "--baseline", str(baseline))
    assert again.returncode == 0, again.stdout


def test_missing_kubectl_is_a_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = cli(
        "check", "--kustomize", str(DATA / "overlay"), env={"PATH": str(empty), "HOME": "/"}
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "kubectl" in result.stderr and "not on PATH" in result.stderr


@needs_kubectl
def test_kustomize_failure_shows_its_first_error_line(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n", encoding="utf-8")
    result = cli("check", "--kustomize", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "kustomize failed" in result.stderr and "missing.yaml" in result.stderr
    assert "autobot-guard-kustomize-" not in result.stderr  # our wrapper stays out of it


@needs_kubectl
def test_directory_without_kustomization_or_missing(tmp_path: Path) -> None:
    result = cli("check", "--kustomize", str(tmp_path))
    assert result.returncode == 2 and "kustomize failed" in result.stderr
    missing = cli("check", "--kustomize", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a directory" in missing.stderr


def test_paths_and_kustomize_together_are_refused() -> None:
    result = cli("check", "manifests", "--kustomize", "manifests", cwd=ROOT)
    assert result.returncode == 2
    assert "give no PATH" in result.stderr


def test_first_error_reads_kubectl_and_klog_forms() -> None:
    assert first_error("error: accumulating resources: boom\nmore\n") == (
        "accumulating resources: boom"
    )
    klog = 'E1126 12:00:00.0 1 run.go:72] "command failed" err="no \\"x\\" here"\n'
    assert first_error(klog) == 'no "x" here'
    assert first_error("") == "no error message"
