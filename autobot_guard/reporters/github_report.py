"""`--format github`: GitHub Actions workflow commands, one annotation per finding.

Escaping follows @actions/core (toolkit `command.ts`): data escapes `%`, CR and LF;
property values also escape `:` and `,`. Exempted findings are not annotated.
"""

from __future__ import annotations

from ..findings import LIVE_PREFIX, Finding, InputError, Report, Severity
from .sarif_report import workspace_path
from .text_report import summary_line

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(report: Report, *, color: bool = False) -> str:
    lines = [_input_error(error) for error in report.errors]
    lines += [_finding(finding) for finding in report.findings]
    lines.append(summary_line(report, color=False))
    return "\n".join(lines) + "\n"


def _finding(finding: Finding) -> str:
    properties = {
        # an audited object is no file of the repository: named in the title instead
        "file": None if finding.file.startswith(LIVE_PREFIX) else workspace_path(finding.file),
        "line": str(finding.line) if finding.line else None,
        "title": f"{finding.rule} {finding.resource.display()}"
        + ("" if finding.line else f" {finding.path_text}"),  # an audited object: no line
    }
    return command(COMMANDS[finding.severity], properties, f"{finding.message} Fix: {finding.fix}")


def _input_error(error: InputError) -> str:
    properties = {
        "file": workspace_path(error.file)
        if error.file and not error.file.startswith(LIVE_PREFIX)
        else None,
        "title": error.file if error.file.startswith(LIVE_PREFIX) else None,
        "line": str(error.line) if error.line else None,
    }
    return command("error", properties, error.message)


def command(name: str, properties: dict[str, str | None], message: str) -> str:
    given = ",".join(
        f"{key}={escape_property(value)}" for key, value in properties.items() if value
    )
    return f"::{name}{' ' + given if given else ''}::{escape_data(message)}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
