"""conftest's conventions in the Rego step (embedded engine): deny/violation/warn,
exception, string or object results, rule ids, severities, fields and lines, combined
policies, exemption annotations, and the errors that exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autobot_guard.errors import UsageError
from autobot_guard.loader import load_paths
from autobot_guard.rego import evaluate_resources
from tests.rego.helpers import CONVENTIONS, DATA, REPO, check, rego_findings

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: autobot-system
  labels:
    verdict: deny
    skippable: "true"
data:
  key: value
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: skipped
  namespace: autobot-system
  labels:
    skippable: "true"
    skip: "yes"
  annotations:
    description: exempt from deny_skippable by the policy's exception rule
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: settings
  namespace: autobot-system
spec:
  replicas: 3
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
        - name: x
          image: ghcr.io/mrveiss/x:1.0
---
apiVersion: v1
kind: Secret
metadata:
  name: quiet
  namespace: autobot-system
  labels:
    verdict: located
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def findings_of(
    path: Path, policies: Path = CONVENTIONS
) -> list[tuple[str, str, int, str, str, str]]:
    report = check([path], policies=policies)
    return [
        (f.rule, f.severity.value, f.line, f.resource.display(), f.path_text, f.message)
        for f in rego_findings(report)
    ]


def test_results_follow_conftest_conventions(manifest: Path) -> None:
    assert findings_of(manifest) == [
        (
            "conftest:main",
            "error",
            1,
            "ConfigMap/autobot-system/settings",
            "",
            "ConfigMap settings is denied",
        ),
        (
            "conftest:main",
            "warning",
            1,
            "ConfigMap/autobot-system/settings",
            "",
            "ConfigMap has no description annotation",
        ),
        ("skippable", "error", 1, "ConfigMap/autobot-system/settings", "", "skippable failure"),
        # the policy's own _loc (line 2 of the file): a Secret whose "" deny is a success
        ("located", "error", 2, "Secret/autobot-system/quiet", "", "located"),
        (
            "unique-name",
            "warning",
            4,
            "ConfigMap/autobot-system/settings",
            "metadata.name",
            "name settings is used by several objects",
        ),
        (
            "conftest:main",
            "info",
            10,
            "ConfigMap/autobot-system/settings",
            "data.key",
            "the key is informational",
        ),
        (
            "unique-name",
            "warning",
            26,
            "Deployment/autobot-system/settings",
            "metadata.name",
            "name settings is used by several objects",
        ),
        (
            "no-three-replicas",
            "error",
            29,
            "Deployment/autobot-system/settings",
            "spec.replicas",
            "three replicas are not allowed here",
        ),
    ]
    # the exception rule switched deny_skippable off for "skipped"; nothing else fires there
    assert "ConfigMap/autobot-system/skipped" not in str(findings_of(manifest))


def test_object_fix_is_the_finding_fix(manifest: Path) -> None:
    report = check([manifest], policies=CONVENTIONS)
    fixes = {f.rule: f.fix for f in rego_findings(report)}
    assert fixes["no-three-replicas"] == "Run 2 or 4 replicas."
    assert "namespace main" in fixes["conftest:main"]


def test_exemption_annotations_apply_to_rego_rule_ids(tmp_path: Path) -> None:
    path = tmp_path / "exempt.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              namespace: autobot-system
              labels: {verdict: deny}
              annotations:
                description: x
                autobot-guard.io/exempt: "conftest:main,no-hostpath"
                autobot-guard.io/exempt-reason: "a test fixture"
            """
        ),
        encoding="utf-8",
    )
    report = check([path], policies=CONVENTIONS)
    assert rego_findings(report) == []
    [exempted] = rego_findings(report, exempted=True)
    assert (exempted.rule, exempted.exempt_reason) == ("conftest:main", "a test fixture")
    # conftest:main is a known rule id to the exemption rule; no-hostpath is not one of
    # these policies' ids, so naming it is reported
    unknown = [f.message for f in report.findings if f.rule == "exemption"]
    assert unknown == ["exemption names unknown rule 'no-hostpath'"]


def test_exemption_naming_a_shipped_rego_rule_is_not_unknown(tmp_path: Path) -> None:
    path = tmp_path / "exempt.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: autobot-system\n"
        "  annotations:\n    autobot-guard.io/exempt: no-hostpath,approved-registry\n"
        "    autobot-guard.io/exempt-reason: test\n",
        encoding="utf-8",
    )
    for mode in ("embedded", "off"):
        report = check([path], rego=mode)
        assert [f for f in report.findings if f.rule == "exemption"] == [], mode


def test_rego_off_reports_nothing(manifest: Path) -> None:
    assert rego_findings(check([manifest], rego="off", policies=CONVENTIONS)) == []


def test_skipped_namespaces_are_not_judged(tmp_path: Path) -> None:
    path = tmp_path / "kube-system.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: kube-system\n"
        "  labels: {verdict: deny}\n",
        encoding="utf-8",
    )
    assert rego_findings(check([path], policies=CONVENTIONS)) == []


def test_in_process_api_for_the_webhook(manifest: Path) -> None:
    resources = load_paths([str(manifest)]).resources
    findings = evaluate_resources(resources, CONVENTIONS)
    assert [(f.rule, f.line) for f in findings] == [
        ("conftest:main", 1),
        ("conftest:main", 1),
        ("skippable", 1),
        ("located", 2),
        ("unique-name", 4),
        ("conftest:main", 10),
        ("unique-name", 26),
        ("no-three-replicas", 29),
    ]
    # one object, as at admission: no cross-document finding
    single = evaluate_resources(resources[2:3], CONVENTIONS)
    assert [f.rule for f in single] == ["no-three-replicas"]
    # the bundled policies by default: the Deployment has no team or owner label
    assert [(f.rule, f.resource.display(), f.path_text) for f in evaluate_resources(resources)] == [
        ("ownership-labels", "Deployment/autobot-system/settings", "metadata.labels")
    ]


def test_in_process_api_is_thread_safe(manifest: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    resources = load_paths([str(manifest)]).resources
    expected = evaluate_resources(resources, CONVENTIONS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: evaluate_resources(resources, CONVENTIONS), range(16)))
    assert all(result == expected for result in results)


# -- errors: one line, exit status 2, never a traceback -------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_syntax_error_names_file_and_line(manifest: Path) -> None:
    result = cli(str(manifest), "--rego", "embedded", "--rego-policies", str(DATA / "syntax-error"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "syntax-error/broken.rego:7: Rego syntax error:" in result.stderr


def test_object_without_msg_is_an_error(manifest: Path, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n")
    with pytest.raises(
        UsageError, match=re.escape('data.main.deny returned an object without a string "msg"')
    ):
        check([pod], policies=DATA / "object-without-msg")


def test_missing_policy_directory(manifest: Path, tmp_path: Path) -> None:
    result = cli(str(manifest), "--rego", "embedded", "--rego-policies", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "Rego policy directory" in result.stderr and "does not exist" in result.stderr


def test_directory_without_policies(manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no \.rego files"):
        check([manifest], policies=tmp_path)


def test_embedded_timeout_is_a_usage_error(tmp_path: Path) -> None:
    from autobot_guard.rego.step import RegoStep

    path = tmp_path / "many.yaml"
    path.write_text(
        "".join(
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(300)
        )
    )
    resources = load_paths([str(path)]).resources
    step = RegoStep.prepare("embedded", str(CONVENTIONS), timeout=1e-6)
    from autobot_guard.findings import Report

    with pytest.raises(UsageError, match="timed out"):
        step.run(Report(), resources)


def test_timeout_must_be_positive(manifest: Path) -> None:
    result = cli(str(manifest), "--rego-timeout", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
