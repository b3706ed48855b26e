"""`autobot-guard check --format ... --output ...` as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autobot_guard.reporters import FORMATS

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: autobot-system}
spec:
  bogus: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        readinessProbe: {httpGet: {path: /health, port: 80}}
"""


def check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "web.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def assert_report(fmt: str, text: str) -> None:
    """The file holds a whole report of format `fmt` naming the finding in deploy/web.yaml."""
    if fmt == "json":
        document = json.loads(text)
        assert any(
            f["rule"] == "liveness-probe" and f["file"].endswith("web.yaml")
            for f in document["findings"]
        )
    elif fmt == "sarif":
        document = json.loads(text)
        results = document["runs"][0]["results"]
        liveness = next(r for r in results if r["ruleId"] == "liveness-probe")
        location = liveness["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location == {"uri": "deploy/web.yaml", "uriBaseId": "%SRCROOT%"}
    elif fmt == "junit":
        root = ET.fromstring(text.encode("utf-8"))
        assert int(root.get("failures", "0")) >= 1
        assert any(c.get("name") == "liveness-probe" for c in root.iter("testcase"))
    elif fmt == "markdown":
        assert text.startswith("## autobot-guard: ")
        assert "### deploy/web.yaml" in text and "| 11 | error | liveness-probe |" in text
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>")
        assert re.search(r"<title>autobot-guard: \d+ errors, \d+ warnings?,", text)
        assert "<code>deploy/<wbr>web.yaml:11</code>" in text
        assert 'href="docs/rules.md#liveness-probe">liveness-probe</a>' in text
    elif fmt == "github":
        assert any(
            line.startswith("::error file=deploy/web.yaml,line=11,title=liveness-probe ")
            for line in text.splitlines()
        )
        assert text.splitlines()[-1].startswith("checked 1 resource in 1 file")
    else:
        assert "liveness-probe" in text and "\033[" not in text
        assert text.splitlines()[-1].startswith("checked 1 resource in 1 file")


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_to_output_file_exits_1_with_findings(workdir: Path, fmt: str) -> None:
    out = workdir / f"report.{fmt}"
    result = check(workdir, "deploy/web.yaml", "--format", fmt, "--output", str(out))
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert_report(fmt, out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_exits_0_with_fail_on_never(workdir: Path, fmt: str) -> None:
    out = workdir / "out" / f"report.{fmt}"
    out.parent.mkdir()
    result = check(workdir, "deploy", "-f", fmt, "-o", str(out), "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert_report(fmt, out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["sarif", "junit", "github"])
def test_format_to_stdout(workdir: Path, fmt: str) -> None:
    result = check(workdir, "deploy/web.yaml", "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert_report(fmt, result.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_path_exits_2(workdir: Path, fmt: str) -> None:
    out = workdir / f"report.{fmt}"
    result = check(workdir, "no/such.yaml", "--format", fmt, "--output", str(out))
    assert result.returncode == 2
    assert "no/such.yaml" in result.stderr
    text = out.read_text(encoding="utf-8")
    if fmt == "sarif":
        invocation = json.loads(text)["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert invocation["toolExecutionNotifications"][0]["level"] == "error"
    elif fmt == "junit":
        assert ET.fromstring(text.encode("utf-8")).get("errors") == "1"
    elif fmt == "github":
        assert text.startswith("::error file=no/such.yaml::")
    elif fmt == "json":
        assert json.loads(text)["inputErrors"][0]["file"].endswith("no/such.yaml")
    elif fmt == "html":
        assert '<dd id="count-inputErrors">1</dd>' in text and "no/<wbr>such.yaml" in text
