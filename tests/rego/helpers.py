"""What the Rego tests share: fixture paths, the check pipeline, a fake conftest on PATH."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.findings import Finding, Report
from autobot_guard.rules import RULES_BY_ID

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "policies" / "rego"
DATA = REPO / "tests" / "data" / "rego"
CASES = DATA / "cases"
CONVENTIONS = DATA / "conventions"
FAKE = Path(__file__).with_name("fake_conftest.py")


def check(
    paths: Sequence[str | Path], rego: str = "embedded", policies: str | Path | None = None
) -> Report:
    options = CheckOptions(
        [str(p) for p in paths],
        rego=rego,
        rego_policies=str(policies) if policies else None,
    )
    return run_check(options)


def rego_findings(report: Report, exempted: bool = False) -> list[Finding]:
    """The findings of Rego policies (rule ids outside the built-in registry)."""
    found = report.exempted if exempted else report.findings
    return [f for f in found if f.rule not in RULES_BY_ID]


def summary(findings: Iterable[Finding]) -> list[tuple[str, str, int, str, str]]:
    """(file name, rule, line, severity, resource) of each finding, for comparisons."""
    return [
        (Path(f.file).name, f.rule, f.line, f.severity.value, f.resource.display())
        for f in findings
    ]


def install_fake_conftest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Path:
    """Put the fake `conftest` first on PATH; return the file its invocations are logged to."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "conftest"
    script.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"runpy.run_path({str(FAKE)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "fake-conftest.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_CONFTEST", mode)
    monkeypatch.setenv("FAKE_CONFTEST_LOG", str(log))
    return log


def without_conftest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH on which no conftest can be found (the Python of the venv stays usable)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
