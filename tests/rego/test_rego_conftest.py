"""The conftest engine as a user meets it: the real conftest binary on PATH, one batch
per run, failures that name the object, and engine selection. A fake conftest is used
only for faults a real one cannot be made to produce (garbage output, a hang, a crash,
an unexpected exit status)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autobot_guard.errors import UsageError
from autobot_guard.findings import Report
from autobot_guard.loader import load_paths
from autobot_guard.rego.conftest import results_of
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
from tests.tools import tool

# Complete rules with two values for a ConfigMap: OPA's eval_conflict_error on it alone.
CONFLICT = """\
package main

import rego.v1

kind_name := input.kind if input.kind == "ConfigMap"

kind_name := "something else" if input.kind == "ConfigMap"

deny contains msg if {
\tkind_name
\tmsg := "never reached"
}

deny contains msg if {
\tinput.kind == "Deployment"
\tmsg := concat("", ["Deployment ", input.metadata.name, " is judged"])
}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@pytest.fixture
def conftest_binary() -> str:
    return tool("conftest")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env if env is not None else dict(os.environ),
    )


def test_auto_uses_conftest_when_it_is_on_path(conftest_binary: str) -> None:
    step = RegoStep.prepare("auto")
    assert (step.mode, step.executable) == ("conftest", conftest_binary)
    cases = sorted(CASES.glob("*.yaml"))
    assert len(rego_findings(check(cases, rego="auto"))) == 9


def test_auto_uses_embedded_without_conftest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_conftest(monkeypatch, tmp_path)
    assert RegoStep.prepare("auto").mode == "embedded"
    assert RegoStep.prepare("embedded").mode == "embedded"


def test_conftest_runs_once_per_check(
    conftest_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: Path
) -> None:
    """One conftest process judges every document (two per rule and file would take
    seconds on a real repository)."""
    calls = tmp_path / "calls"
    wrapper = tmp_path / "bin" / "conftest"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {conftest_binary} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    found = rego_findings(check([manifest], rego="conftest", policies=CONVENTIONS))
    assert len(found) == 8
    [call] = calls.read_text().splitlines()
    assert "--namespace autobot_guard.batch batch.json" in call


def test_an_evaluation_error_is_an_input_error_of_that_object(
    conftest_binary: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "conflict.rego").write_text(CONFLICT, encoding="utf-8")
    objects = tmp_path / "objects.yaml"
    objects.write_text(MANIFEST, encoding="utf-8")
    result = cli(str(objects), "--rego", "conftest", "--rego-policies", str(policies))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stdout.splitlines() if "Rego evaluation failed" in line]
    # Each ConfigMap of the manifest is named with its line; the others are still judged.
    assert [line.split(": Rego")[0] for line in errors] == [
        f"input error: {objects}:1",
        f"input error: {objects}:12",
    ]
    assert "ConfigMap/autobot-system/settings" in errors[0]
    assert "conflict" in errors[0] or "multiple outputs" in errors[0]
    assert "Deployment settings is judged" in result.stdout


def test_conftest_missing(manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_conftest(monkeypatch, tmp_path)
    result = cli(str(manifest), "--rego", "conftest", env=dict(os.environ))
    assert result.returncode == 2
    assert "conftest is not on PATH" in result.stderr
    assert "scripts/install-tools" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("garbage", "conftest failed (exit status 1): FAIL - batch.json"),
        (
            "fail",
            "conftest failed (exit status 1): Error: running test: load: loading policies: "
            "get compiler: 1 error occurred: policy/bad.rego:3: rego_parse_error",
        ),
        ("crash", "conftest failed (exit status 2): panic: runtime error"),
    ],
)
def test_conftest_faults_exit_2(
    mode: str, message: str, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_conftest(tmp_path, monkeypatch, mode)
    result = cli(str(manifest), "--rego", "conftest", "--format", "json", env=dict(os.environ))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_conftest_timeout(manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_conftest(tmp_path, monkeypatch, "sleep")
    began = time.monotonic()
    with pytest.raises(UsageError, match=r"conftest timed out after 0.5 s \(--rego-timeout\)"):
        RegoStep.prepare("conftest", None, timeout=0.5).run(
            Report(), load_paths([str(manifest)]).resources
        )
    assert time.monotonic() - began < 10  # the hung process was killed, not waited for


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "cannot parse conftest's JSON output"),
        ('{"filename": "x"}', "expected a list of results"),
        ('["x"]', "unexpected entry"),
        ('[{"filename": "batch.json", "failures": [{"msg": "x"}]}]', "unexpected failure"),
    ],
)
def test_unexpected_output_shapes(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        results_of(text)


def test_results_of_reads_the_batch_results() -> None:
    text = json.dumps(
        [
            {
                "filename": "batch.json",
                "namespace": "autobot_guard.batch",
                "successes": 0,
                "failures": [
                    {
                        "msg": "autobot-guard batch result",
                        "metadata": {"query": "q", "result": [0, "main", "deny", ["x"], False]},
                    }
                ],
            }
        ]
    )
    assert results_of(text) == [[0, "main", "deny", ["x"], False]]


def test_large_inputs_are_split_over_two_processes_with_the_same_findings(
    conftest_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From SPLIT_AT documents on, conftest processes judge chunks of CHUNK documents
    (two at a time) for the per-document namespaces and one more the combined ones; the findings are those of one
    process, and a failing document among them is still found alone."""
    from autobot_guard.rego import conftest

    split_at = 40
    many = tmp_path / "many.yaml"
    many.write_text("---\n".join([MANIFEST] * (split_at // 4 + 1)), encoding="utf-8")
    assert len(load_paths([str(many)]).resources) >= split_at
    one_process = rego_findings(check([many], rego="conftest", policies=CONVENTIONS))
    monkeypatch.setattr(conftest, "SPLIT_AT", split_at)
    monkeypatch.setattr(conftest, "CHUNK", 10)  # 5 chunks, 2 at a time: some wait their turn
    split = rego_findings(check([many], rego="conftest", policies=CONVENTIONS))
    assert [f.to_json() for f in split] == [f.to_json() for f in one_process]
    assert any(f.rule == "unique-name" for f in split)  # the combined namespace ran

    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "conflict.rego").write_text(CONFLICT, encoding="utf-8")
    deployments = tmp_path / "deployments.yaml"
    one = MANIFEST.split("---\n")[2]  # the Deployment
    assert "kind: Deployment" in one
    texts = [one.replace("name: settings", f"name: d{i}") for i in range(split_at)]
    texts.insert(split_at - 7, MANIFEST.split("---\n")[0])  # one ConfigMap among them
    deployments.write_text("---\n".join(texts), encoding="utf-8")
    report = check([deployments], rego="conftest", policies=policies)
    assert [e.message.split(":")[0] for e in report.errors] == [
        "Rego evaluation failed on ConfigMap/autobot-system/settings"
    ]
    assert len([f for f in rego_findings(report) if f.rule == "conftest:main"]) == split_at


def test_conftest_runs_with_a_lazier_go_collector_unless_the_user_chose_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autobot_guard.rego.conftest import GO_ENVIRONMENT, _environment

    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert _environment()["GOGC"] == "off" and _environment()["GOMEMLIMIT"] == "192MiB"
    assert _environment()["NO_COLOR"] == "1"
    for chosen in ("GOGC", "GOMEMLIMIT"):  # either one: the user tunes Go, not us
        monkeypatch.setenv(chosen, "50")
        environment = _environment()
        assert environment[chosen] == "50"
        assert all(environment.get(key) != value for key, value in GO_ENVIRONMENT.items())
        monkeypatch.delenv(chosen)
