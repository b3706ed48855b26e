"""Verified fixes as text changes: SARIF replacements, unified diffs, review suggestions.

`check --suggest-fixes` plans the fixes exactly as `autobot-guard fix` would (the same
re-check) without writing anything, and attaches them to the report: each fixed finding
gets a `Suggestion` (its own edits applied alone to the file as it is, as SARIF
`fixes[].artifactChanges[].replacements`), and `Report.changes` holds each file with all
its fixes applied (the Markdown summary's diffs, the pull request review suggestions).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .yamledit import changed_line_ranges

if TYPE_CHECKING:
    from ..check import CheckOptions
    from ..config import PolicyPack
    from ..findings import Finding, Report
    from ..rego import RegoStep

REVIEW_MARKER = "autobot-guard-suggestion"


@dataclass(frozen=True, slots=True)
class Replacement:
    """Whole lines replaced: old lines [start_line, start_line + line_count) (1-based; a
    count of 0 inserts before start_line) by `text`; char_offset/char_length: the same
    region in characters of the file's text."""

    start_line: int
    line_count: int
    char_offset: int
    char_length: int
    text: str

    def to_sarif(self) -> dict[str, Any]:
        region: dict[str, Any] = {
            "startLine": self.start_line,
            "startColumn": 1,
            "endLine": self.start_line + self.line_count,
            "endColumn": 1,
            "charOffset": self.char_offset,
            "charLength": self.char_length,
        }
        replacement: dict[str, Any] = {"deletedRegion": region}
        if self.text:
            replacement["insertedContent"] = {"text": self.text}
        return replacement


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One finding's fix as text: what it does and the replacements in its file."""

    description: str
    file: str
    replacements: tuple[Replacement, ...]


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file with every verified fix applied: its text before and after."""

    file: str
    old: str
    new: str
    rules: tuple[str, ...]  # rule ids of the findings the change fixes

    def diff(self, label: str | None = None, context: int = 3) -> str:
        name = (label or self.file).lstrip("/")  # a/tmp/x.yaml, not a//tmp/x.yaml
        return "".join(
            _terminated(
                difflib.unified_diff(
                    self.old.splitlines(keepends=True),
                    self.new.splitlines(keepends=True),
                    _git_quoted(f"a/{name}"),
                    _git_quoted(f"b/{name}"),
                    n=context,
                )
            )
        )


_GIT_ESCAPES = {"\n": "\\n", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


def _git_quoted(path: str) -> str:
    """`path` in a diff header as git writes it: in quotes with C escapes when it holds a
    quote, a backslash or a control character (a newline would forge a header line)."""
    if not any(c in _GIT_ESCAPES or ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return path
    quoted = "".join(
        _GIT_ESCAPES.get(c) or (f"\\{ord(c):03o}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
        for c in path
    )
    return f'"{quoted}"'


def _terminated(lines: Any) -> Any:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def replacements(old: str, new: str) -> tuple[Replacement, ...]:
    """The line changes from `old` to `new`, with character offsets into `old`."""
    starts = [0]
    for line in old.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out = []
    for first, count, lines in changed_line_ranges(old, new):
        offset = starts[first - 1]
        length = starts[first - 1 + count] - offset
        out.append(Replacement(first, count, offset, length, "".join(lines)))
    return tuple(out)


def attach(
    report: Report,
    full: Sequence[Finding],
    options: CheckOptions,
    pack: PolicyPack,
    rego: RegoStep,
) -> None:
    """Plan the fixes of `report.findings` against the whole check (`full`: the findings
    before --changed-since / --baseline narrowed them) and attach them to the report."""
    from ..findings import Report as ReportType
    from .command import plan_for

    before = ReportType(findings=list(full), errors=list(report.errors))
    planned = plan_for(options.paths, pack, rego, before, report.findings)
    if planned is None:
        return
    result, sources = planned
    for candidate in result.fixed:
        finding = candidate.finding
        source = sources[finding.file]
        alone = result.singles[id(finding)]
        finding.suggestion = Suggestion(
            candidate.describe(),
            finding.file,
            replacements(source.shown(source.text), source.shown(alone)),
        )
    report.changes = [
        FileChange(
            plan.source.file,
            plan.source.shown(plan.source.text),
            plan.source.shown(plan.new_text),
            tuple(sorted({c.finding.rule for c in plan.fixed})),
        )
        for plan in result.files
    ]


def sarif_fixes(finding: Finding, artifact_location: dict[str, str]) -> list[dict[str, Any]]:
    """SARIF 2.1.0 `fixes` of a result: one fix, one artifact change, its replacements."""
    suggestion = finding.suggestion
    if suggestion is None or not suggestion.replacements:
        return []
    return [
        {
            "description": {"text": f"autobot-guard fix: {suggestion.description}"},
            "artifactChanges": [
                {
                    "artifactLocation": artifact_location,
                    "replacements": [r.to_sarif() for r in suggestion.replacements],
                }
            ],
        }
    ]


def fence(text: str, info: str) -> str:
    """`text` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def review_comments(changes: Sequence[FileChange], path_of: Any) -> list[dict[str, Any]]:
    """Pull request review comments, one per changed range, each a GitHub suggestion.

    A suggestion replaces the lines it is anchored on, so a pure insertion is anchored on
    the line above it (the first line when it is at the top) and repeats that line. Each
    body ends with a marker holding a hash of path, lines and content: the action skips a
    suggestion whose marker a comment of the pull request already has.
    """
    comments: list[dict[str, Any]] = []
    for change in changes:
        old_lines = change.old.splitlines(keepends=True)
        path = path_of(change.file)
        for first, count, new_lines in changed_line_ranges(change.old, change.new):
            if count:
                start, end, content = first, first + count - 1, "".join(new_lines)
            elif first > 1:
                start = end = first - 1
                content = old_lines[first - 2] + "".join(new_lines)
            else:
                start = end = 1
                content = "".join(new_lines) + (old_lines[0] if old_lines else "")
            if content and not content.endswith("\n"):
                content += "\n"
            digest = hashlib.sha256(f"{path}|{start}|{end}|{content}".encode()).hexdigest()[:16]
            body = (
                f"**autobot-guard fix** ({', '.join(change.rules)}): a change that removes "
                f"findings here, verified by a re-check.\n\n{fence(content, 'suggestion')}\n"
                f"<!-- {REVIEW_MARKER}:{digest} -->"
            )
            comment: dict[str, Any] = {"path": path, "line": end, "side": "RIGHT", "body": body}
            if start != end:
                comment["start_line"] = start
                comment["start_side"] = "RIGHT"
            comments.append(comment)
    return comments


def write_review_comments(report: Report, path: str) -> int:
    """Write the review comments of `report.changes` as JSON ({"comments": [...]}, each in
    the shape of GitHub's "create a review comment" API); returns how many."""
    import json

    from ..reporters.sarif_report import workspace_path

    comments = review_comments(report.changes, workspace_path)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"comments": comments}, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return len(comments)
