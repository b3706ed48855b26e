"""`--format markdown`: the GitHub step summary."""

from __future__ import annotations

import json
from pathlib import Path

from autobot_guard.findings import InputError, Report
from autobot_guard.gate.baseline import Entry, Outcome
from autobot_guard.reporters import render
from autobot_guard.reporters.markdown_report import MAX_ROWS, escape
from tests.gate_util import LEGACY_WORKER, cli
from tests.test_reporters import manual_finding

HEADER = "| Line | Severity | Rule | Resource | Message |"
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: autobot-system}
data: {LOG_LEVEL: info}
"""


def test_findings_heading_tables_per_file_and_counts_per_rule(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(LEGACY_WORKER.replace("legacy-", "b-"), encoding="utf-8")
    result = cli("check", "a.yaml", "b.yaml", "--format", "markdown", cwd=tmp_path)
    assert result.returncode == 1
    summary = json.loads(cli("check", "a.yaml", "b.yaml", "-f", "json", cwd=tmp_path).stdout)[
        "summary"
    ]
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"## autobot-guard: {summary['errors']} errors, {summary['warnings']} warnings, "
        f"{summary['infos']} info, 0 exempted"
    )
    assert "### a.yaml" in lines and "### b.yaml" in lines
    assert lines.count(HEADER) == 2
    assert (
        "| 15 | error | liveness-probe | Deployment/autobot-system/legacy-worker "
        "| container 'worker' has no livenessProbe |" in lines
    )
    per_rule = lines[lines.index("### Findings per rule") :]
    assert "| liveness-probe | 2 |" in per_rule and "| readiness-probe | 2 |" in per_rule


def test_clean_run_says_no_findings(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG_MAP, encoding="utf-8")
    result = cli("check", "config.yaml", "-f", "markdown", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("## autobot-guard: 0 errors, 0 warnings")
    assert "No findings." in result.stdout and HEADER not in result.stdout


def test_cells_escape_pipes_newlines_and_markup() -> None:
    assert escape("a|b") == "a\\|b"
    assert escape("one\ntwo\r\nthree") == "one<br>two<br>three"
    assert escape("<script> *x* `y`") == "\\<script\\> \\*x\\* \\`y\\`"
    finding = manual_finding(message="value 'a|b'\nsecond line", file="dir/x_y.yaml")
    text = render(Report(findings=[finding], resources=1, files=1), "markdown")
    row = next(line for line in text.splitlines() if line.startswith("| 11 |"))
    assert row.count(" | ") == 4  # five cells, no stray separators
    assert "value 'a\\|b'<br>second line" in row
    assert "### dir/x\\_y.yaml" in text


def test_input_errors_and_baseline_sections() -> None:
    report = Report(errors=[InputError("bad.yaml", 3, "invalid YAML: x")], files=1)
    entry = Entry("r|K/n|p", "liveness-probe", "Deployment/ns/web", "w.yaml", "spec", "gone")
    report.baseline = Outcome("base.json", suppressed=4, fixed=[entry])
    text = render(report, "markdown")
    assert "1 input error" in text.splitlines()[0]
    assert "- bad.yaml:3: invalid YAML: x" in text
    assert "### Baseline base.json" in text
    assert "4 known findings not reported; 1 fixed since the baseline." in text
    assert "- fixed: liveness-probe Deployment/ns/web spec (w.yaml)" in text


def test_long_reports_are_cut_with_a_note() -> None:
    findings = [manual_finding(line=n) for n in range(1, MAX_ROWS + 6)]
    text = render(Report(findings=findings), "markdown")
    assert sum(1 for line in text.splitlines() if line.startswith("| ") and "error" in line) == (
        MAX_ROWS
    )
    assert "… and 5 more findings" in text
