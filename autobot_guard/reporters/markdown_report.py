"""`--format markdown`: a GitHub step summary ($GITHUB_STEP_SUMMARY) or PR comment.

A heading with the counts, one table per file (line, severity, rule, resource, message),
the counts per rule, input errors, and what a baseline suppressed or saw fixed. Cell text
is escaped: `|` and Markdown punctuation get a backslash, newlines become <br>. Tables stop
after MAX_ROWS findings so a huge report stays under GitHub's 1 MiB summary limit.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import groupby

from ..findings import Report
from . import plural
from .sarif_report import workspace_path
from .text_report import summary_line

MAX_ROWS = 1000
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def escape(text: str) -> str:
    """Text safe inside a Markdown table cell or heading."""
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def render(report: Report, *, color: bool = False) -> str:
    summary = report.summary()
    counts = [
        plural(summary["errors"], "error"),
        plural(summary["warnings"], "warning"),
        f"{summary['infos']} info",
        f"{summary['exempted']} exempted",
    ]
    if report.errors:
        counts.append(plural(len(report.errors), "input error"))
    lines = [f"## autobot-guard: {', '.join(counts)}", "", escape(summary_line(report)), ""]
    if report.errors:
        lines += ["### Input errors", ""]
        for error in report.errors:
            where = escape(_display(error.file)) + (f":{error.line}" if error.line else "")
            lines.append(f"- {where}: {escape(error.message)}")
        lines.append("")
    if not report.findings:
        lines += ["No findings.", ""]
    else:
        lines += _tables(report)
        lines += ["### Findings per rule", "", "| Rule | Findings |", "|---|---:|"]
        per_rule = Counter(finding.rule for finding in report.findings)
        lines += [f"| {escape(rule)} | {count} |" for rule, count in sorted(per_rule.items())]
        lines.append("")
    if report.changes:
        lines += _suggested_changes(report)
    if report.baseline is not None:
        lines += _baseline(report)
    if report.audit is not None:
        lines += ["### Audit", "", *(f"- {escape(line)}" for line in report.audit.lines()), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _tables(report: Report) -> list[str]:
    lines: list[str] = []
    shown = 0
    for file, group in groupby(report.findings, key=lambda f: f.file):
        if shown >= MAX_ROWS:
            break
        lines += [f"### {escape(_display(file))}", ""]
        lines += ["| Line | Severity | Rule | Resource | Message |", "|---:|---|---|---|---|"]
        for finding in group:
            if shown >= MAX_ROWS:
                break
            shown += 1
            cells = [
                str(finding.line) if finding.line else escape(finding.path_text),
                finding.severity.value,
                escape(finding.rule),
                escape(finding.resource.display()),
                escape(finding.message),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if len(report.findings) > shown:
        lines += [f"… and {len(report.findings) - shown} more findings (see the SARIF).", ""]
    return lines


def _suggested_changes(report: Report) -> list[str]:
    """`check --suggest-fixes`: each file's verified fixes as a diff (`autobot-guard fix`
    applies them)."""
    from ..fix.suggest import fence

    fixable = sum(1 for finding in report.findings if finding.suggestion is not None)
    lines = [
        "### Suggested fixes",
        "",
        f"`autobot-guard fix` removes {plural(fixable, 'finding')} with these changes, "
        "verified by a re-check:",
        "",
    ]
    for change in report.changes:
        name = _display(change.file)
        lines += [f"#### {escape(name)} ({escape(', '.join(change.rules))})", ""]
        lines += [fence(change.diff(name), "diff"), ""]
    return lines


def _baseline(report: Report) -> list[str]:
    outcome = report.baseline
    assert outcome is not None
    lines = [
        f"### Baseline {escape(outcome.file)}",
        "",
        f"{plural(outcome.suppressed, 'known finding')} not reported; "
        f"{plural(len(outcome.fixed), 'fixed since the baseline', '')}.",
        "",
    ]
    lines += [f"- fixed: {escape(entry.display())}" for entry in outcome.fixed]
    return [*lines, ""] if outcome.fixed else lines


def _display(file: str) -> str:
    return workspace_path(file) if file else "<input>"
