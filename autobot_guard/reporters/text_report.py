"""`--format text`: findings grouped by file, colour on a terminal, a summary line."""

from __future__ import annotations

from itertools import groupby

from ..findings import Finding, Report, Severity
from ..printable import visible
from . import plural

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render(report: Report, *, color: bool = False) -> str:
    lines: list[str] = []
    for error in report.errors:
        lines.append(f"{_paint('input error', '31;1', color)}: {visible(error.display())}")
    if report.errors and report.findings:
        lines.append("")
    for file, group in groupby(report.findings, key=lambda f: f.file):
        lines.append(_paint(visible(file), "1", color))
        for finding in group:
            lines.extend(_finding_lines(finding, color))
        lines.append("")
    lines.extend(baseline_lines(report))
    lines.extend(audit_lines(report))
    lines.append(summary_line(report, color))
    return "\n".join(lines) + "\n"


def baseline_lines(report: Report) -> list[str]:
    """With `--baseline`: how many known findings were not reported, and which are fixed."""
    outcome = report.baseline
    if outcome is None:
        return []
    known = f"{outcome.suppressed} known finding{'s' if outcome.suppressed != 1 else ''}"
    lines = [f"baseline {outcome.file}: {known} not reported"]
    if outcome.fixed:
        lines.append(f"fixed since baseline ({len(outcome.fixed)}):")
        lines.extend(f"  {visible(entry.display())}" for entry in outcome.fixed)
    return [*lines, ""]


def audit_lines(report: Report) -> list[str]:
    """With `audit`: what was listed, left alone or not listed, and the reports written."""
    return [*report.audit.lines(), ""] if report.audit is not None else []


def render_quiet(report: Report, *, color: bool = False) -> str:
    """One line per finding and per input error, no summary: for scripts and editors."""
    lines = [
        visible(f"{f.location()}: {f.severity.value} {f.rule} {f.resource.display()}: {f.message}")
        for f in report.findings
    ]
    lines.extend(visible(error.display()) for error in report.errors)
    return "".join(f"{line}\n" for line in lines)


def _finding_lines(finding: Finding, color: bool) -> list[str]:
    severity = _paint(f"{finding.severity.value:<7}", _COLORS[finding.severity], color)
    where = visible(f"{finding.rule:<21} {finding.resource.display()}")
    head = f"  {finding.line or '':>5}  {severity}  {where}"
    path = f"  ({finding.path_text})" if finding.path else ""
    return [
        head,
        visible(f"         {finding.message}{path}"),
        visible(f"         fix: {finding.fix}"),
    ]


def summary_line(report: Report, color: bool = False) -> str:
    summary = report.summary()
    parts = [
        plural(summary["errors"], "error"),
        plural(summary["warnings"], "warning"),
        f"{summary['infos']} info",
        f"{summary['exempted']} exempted",
    ]
    if report.errors:
        parts.append(plural(len(report.errors), "input error"))
    checked = f"checked {plural(report.resources, 'resource')} in {plural(report.files, 'file')}"
    if report.audit is not None:  # no files: the objects of a cluster
        checked = f"audited {plural(report.resources, 'resource')}"
    if report.target:
        checked += f" ({report.target})"
    text = (
        f"{checked} with policy pack {report.policy_pack} "
        f"(Kubernetes {report.kubernetes_version}): " + ", ".join(parts)
    )
    status = (
        "31;1"
        if summary["errors"] or report.errors
        else ("33;1" if summary["warnings"] else "32;1")
    )
    return _paint(text, status, color)
