"""The conftest engine: the subprocess adapter, against conftest's documented JSON output
(a fake `conftest` on PATH that prints that shape), its failures, and engine selection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autobot_guard.errors import UsageError
from autobot_guard.rego.conftest import parse_output
from autobot_guard.rego.results import DEFAULT_FIX
from autobot_guard.rego.step import RegoStep
from tests.rego.helpers import (
    CASES,
    CONVENTIONS,
    REPO,
    check,
    install_fake_conftest,
    rego_findings,
    without_conftest,
)
from tests.rego.test_rego_conventions import MANIFEST

# The shape of `conftest test --output json` (conftest output/json.go, output/result.go):
# one entry per file and namespace; `loc` and `metadata` only when present.
RECORDED = """\
[
\t{
\t\t"filename": "docs/000000.json",
\t\t"namespace": "main",
\t\t"successes": 3,
\t\t"warnings": [
\t\t\t{
\t\t\t\t"msg": "ConfigMap has no description annotation"
\t\t\t}
\t\t],
\t\t"failures": [
\t\t\t{
\t\t\t\t"msg": "ConfigMap settings is denied"
\t\t\t},
\t\t\t{
\t\t\t\t"msg": "skippable failure",
\t\t\t\t"metadata": {
\t\t\t\t\t"rule": "skippable"
\t\t\t\t}
\t\t\t}
\t\t]
\t},
\t{
\t\t"filename": "docs/000001.json",
\t\t"namespace": "main",
\t\t"successes": 5,
\t\t"exceptions": [
\t\t\t{
\t\t\t\t"msg": "data.main.exception[_][_] == \\"skippable\\""
\t\t\t}
\t\t]
\t},
\t{
\t\t"filename": "docs/000002.json",
\t\t"namespace": "main",
\t\t"successes": 4,
\t\t"failures": [
\t\t\t{
\t\t\t\t"msg": "three replicas are not allowed here",
\t\t\t\t"loc": {
\t\t\t\t\t"line": 7
\t\t\t\t},
\t\t\t\t"metadata": {
\t\t\t\t\t"field": ["spec", "replicas"],
\t\t\t\t\t"rule": "no-three-replicas",
\t\t\t\t\t"severity": "warning"
\t\t\t\t}
\t\t\t}
\t\t]
\t}
]
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def as_json(findings: list) -> list[dict]:
    return [f.to_json() for f in findings]


def invocations(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def test_parse_recorded_output() -> None:
    hits = parse_output(RECORDED, documents=3, combined=False)
    assert [(h.index, h.namespace, h.kind, h.value, h.loc) for h in hits] == [
        (0, "main", "failure", {"msg": "ConfigMap settings is denied"}, None),
        (0, "main", "failure", {"msg": "skippable failure", "rule": "skippable"}, None),
        (0, "main", "warning", {"msg": "ConfigMap has no description annotation"}, None),
        (
            2,
            "main",
            "failure",
            {
                "msg": "three replicas are not allowed here",
                "field": ["spec", "replicas"],
                "rule": "no-three-replicas",
                "severity": "warning",
            },
            {"line": 7},
        ),
    ]


def test_recorded_output_becomes_findings(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = tmp_path / "recorded.json"
    recorded.write_text(RECORDED, encoding="utf-8")
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(CONVENTIONS / "main.rego", policies)  # per-document only: one invocation
    install_fake_conftest(tmp_path, monkeypatch, f"recorded:{recorded}")
    report = check([manifest], rego="conftest", policies=policies)
    assert [
        (f.rule, f.severity.value, f.line, f.resource.display(), f.path, f.fix)
        for f in rego_findings(report)
    ] == [
        (
            "conftest:main",
            "error",
            1,
            "ConfigMap/autobot-system/settings",
            "",
            DEFAULT_FIX.format(namespace="main"),
        ),
        (
            "conftest:main",
            "warning",
            1,
            "ConfigMap/autobot-system/settings",
            "",
            DEFAULT_FIX.format(namespace="main"),
        ),
        (
            "skippable",
            "error",
            1,
            "ConfigMap/autobot-system/settings",
            "",
            DEFAULT_FIX.format(namespace="main"),
        ),
        # conftest's loc (line 7 of the document's file) wins over the field's line
        (
            "no-three-replicas",
            "warning",
            7,
            "Deployment/autobot-system/settings",
            "spec.replicas",
            DEFAULT_FIX.format(namespace="main"),
        ),
    ]


def test_conftest_and_embedded_give_the_same_findings(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = as_json(rego_findings(check([manifest], rego="embedded", policies=CONVENTIONS)))
    log = install_fake_conftest(tmp_path, monkeypatch)
    via_conftest = as_json(rego_findings(check([manifest], rego="conftest", policies=CONVENTIONS)))
    assert via_conftest == embedded
    assert len(embedded) == 8
    per_document, combined = invocations(log)
    policy = str(CONVENTIONS.resolve())
    assert per_document == [
        "test",
        "--output",
        "json",
        "--policy",
        policy,
        "--namespace",
        "main",
        "docs",
    ]
    assert combined == [
        "test",
        "--output",
        "json",
        "--policy",
        policy,
        "--namespace",
        "main.combine.names",
        "--combine",
        "docs",
    ]


def test_shipped_policies_through_conftest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = sorted(CASES.glob("*.yaml"))
    embedded = as_json(rego_findings(check(cases, rego="embedded")))
    log = install_fake_conftest(tmp_path, monkeypatch)
    assert as_json(rego_findings(check(cases, rego="auto"))) == embedded  # auto: conftest on PATH
    assert len(embedded) == 9  # 2 of them ownership-labels, enforced by default
    [only] = invocations(log)  # no combined policy is shipped: one invocation
    assert "--combine" not in only
    assert [only[i + 1] for i, a in enumerate(only) if a == "--namespace"] == [
        "main.hostpath",
        "main.images",
        "main.ingress",
        "main.labels",
        "main.loadbalancer",
    ]


def test_auto_uses_embedded_without_conftest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_conftest(monkeypatch, tmp_path)
    assert RegoStep.prepare("auto").mode == "embedded"
    install_fake_conftest(tmp_path, monkeypatch)
    assert RegoStep.prepare("auto").mode == "conftest"
    assert RegoStep.prepare("embedded").mode == "embedded"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
    )


def env_of(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import os

    return dict(os.environ)


def test_conftest_missing(manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_conftest(monkeypatch, tmp_path)
    result = cli(str(manifest), "--rego", "conftest", env=env_of(monkeypatch))
    assert result.returncode == 2
    assert "conftest is not on PATH" in result.stderr
    assert "https://www.conftest.dev/install/" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("garbage", "conftest failed (exit status 1): FAIL - docs/000000.json"),
        (
            "fail",
            "conftest failed (exit status 1): Error: running test: load: loading policies: get compiler: 1 error occurred: policy/bad.rego:3: rego_parse_error",
        ),
        ("crash", "conftest failed (exit status 2): panic: runtime error"),
    ],
)
def test_conftest_errors_exit_2(
    mode: str, message: str, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_conftest(tmp_path, monkeypatch, mode)
    result = cli(str(manifest), "--rego", "conftest", "--format", "json", env=env_of(monkeypatch))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_conftest_timeout(manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_conftest(tmp_path, monkeypatch, "sleep")
    with pytest.raises(UsageError, match=r"conftest timed out after 0.5 s \(--rego-timeout\)"):
        RegoStep.prepare("conftest", None, timeout=0.5).run(
            __import__("autobot_guard.findings").findings.Report(),
            __import__("autobot_guard.loader").loader.load_paths([str(manifest)]).resources,
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "cannot parse conftest's JSON output"),
        ('{"filename": "x"}', "expected a list of results"),
        ('[{"filename": "docs/000000.json"}]', "unexpected entry"),
        (
            '[{"filename": "docs/000009.json", "namespace": "main", "failures": [{"msg": "x"}]}]',
            "unknown input",
        ),
        (
            '[{"filename": "docs/000000.json", "namespace": "main", "failures": [{"message": "x"}]}]',
            "bad failures entry",
        ),
    ],
)
def test_unexpected_output_shapes(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_output(text, documents=1, combined=False)


def test_combined_results_map_by_document() -> None:
    text = json.dumps(
        [
            {
                "filename": "Combined",
                "namespace": "main.combine.names",
                "successes": 0,
                "warnings": [
                    {"msg": "dup", "metadata": {"document": "docs/000002.json"}},
                    {"msg": "anywhere"},
                ],
            }
        ]
    )
    hits = parse_output(text, documents=3, combined=True)
    assert [(h.index, h.kind) for h in hits] == [(2, "warning"), (0, "warning")]
