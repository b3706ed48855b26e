"""Baselines: adopt the gate on a repository that already has findings.

`autobot-guard baseline` records today's findings by `Finding.fingerprint()` (rule +
resource + field path: no line numbers, no file, so edits elsewhere and moving an object
between files keep it known). `check --baseline FILE` then reports only findings that are
not in the file, and lists the baseline entries no longer found as fixed. Fingerprints
are counted: two identical findings need two entries.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..findings import Finding, Report

BASELINE_VERSION = 1
DEFAULT_FILE = ".autobot-guard-baseline.json"
_FIELDS = ("rule", "resource", "file", "path", "message")


class BaselineError(Exception):
    """A baseline file that cannot be used: one line for the user."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded finding: the fingerprint decides, the rest is for humans."""

    fingerprint: str
    rule: str = ""
    resource: str = ""
    file: str = ""
    path: str = ""
    message: str = ""

    @classmethod
    def of(cls, finding: Finding) -> Entry:
        return cls(
            finding.fingerprint(),
            finding.rule,
            finding.resource.display(),
            _portable(finding.file),
            finding.path,
            finding.message,
        )

    def to_json(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, **{key: getattr(self, key) for key in _FIELDS}}

    def display(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.rule} {self.resource}{where} ({self.file})"


@dataclass(slots=True)
class Outcome:
    """What a baseline did to a report: JSON's `baseline` member."""

    file: str
    suppressed: int = 0
    fixed: list[Entry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "suppressed": self.suppressed,
            "fixed": [entry.to_json() for entry in self.fixed],
        }


def document(report: Report) -> dict[str, Any]:
    """The baseline file's content for `report`'s findings (exempted ones need no entry)."""
    return {
        "version": BASELINE_VERSION,
        "generatedBy": f"autobot-guard {__version__}",
        "kubernetesVersion": report.kubernetes_version,
        "policyPack": report.policy_pack,
        "findings": [Entry.of(finding).to_json() for finding in report.findings],
    }


def write(report: Report, output: str) -> int:
    """Write the baseline of `report` to `output`; the number of entries written."""
    text = json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {output}: {exc.strerror or exc}") from None
    return len(report.findings)


def load(file: str) -> list[Entry]:
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise BaselineError(f"baseline {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BaselineError(f"baseline {file}: cannot read: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or "version" not in data:
        raise BaselineError(f"baseline {file}: not an autobot-guard baseline (no version)")
    if data["version"] != BASELINE_VERSION:
        raise BaselineError(
            f"baseline {file}: unsupported version {data['version']!r} "
            f"(this autobot-guard reads version {BASELINE_VERSION})"
        )
    items = data.get("findings")
    if not isinstance(items, list):
        raise BaselineError(f"baseline {file}: 'findings' must be a list")
    entries = []
    for index, item in enumerate(items):
        fingerprint = item.get("fingerprint") if isinstance(item, dict) else None
        if not isinstance(fingerprint, str) or not fingerprint:
            raise BaselineError(f"baseline {file}: findings[{index}] has no fingerprint")
        human = {key: str(item.get(key) or "") for key in _FIELDS}
        entries.append(Entry(fingerprint, **human))
    return entries


def apply(report: Report, entries: list[Entry], file: str) -> Outcome:
    """Drop the findings the baseline knows (each entry covers one); list the fixed entries."""
    pool: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        pool[entry.fingerprint].append(entry)
    outcome = Outcome(file)
    new: list[Finding] = []
    for finding in report.findings:
        known = pool.get(finding.fingerprint())
        if known:
            known.pop(0)
            outcome.suppressed += 1
        else:
            new.append(finding)
    report.findings = new
    outcome.fixed = [entry for remaining in pool.values() for entry in remaining]
    return outcome


def _portable(file: str) -> str:
    """The file relative to the working directory (as the repository names it), if inside."""
    if file.startswith("<"):
        return file
    relative = os.path.relpath(os.path.abspath(file))
    return file if relative.startswith("..") else relative.replace(os.sep, "/")
