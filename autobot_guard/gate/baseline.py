"""Baselines: adopt the gate on a repository that already has findings.

`autobot-guard baseline` records today's findings. `check --baseline FILE` then reports
only findings that are not in the file, and lists the baseline entries no longer found as
fixed. Entries are counted: two identical findings need two entries.

A finding matches an entry by `Finding.fingerprint()` (rule + resource + field path: no
line numbers, no file, so edits elsewhere and moving an object between files keep it known)
and by its message, because one field can carry several findings of one rule (cpu and
memory requests, four securityContext settings, two labels). Messages also quote values
that change without the problem changing (counts, quantities, versions, the labels or
names shown in parentheses), so matching pairs the findings in three passes:

1. the same fingerprint and the same message;
2. the same fingerprint and the same message key (`message_key`: numbers and parenthesised
   details left out), for what pass 1 left;
3. the same fingerprint alone, only against entries without a message (files written by
   hand or trimmed), for what is still left.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict, deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..findings import Finding, Report, message_key

BASELINE_VERSION = 1
DEFAULT_FILE = ".autobot-guard-baseline.json"
_FIELDS = ("rule", "resource", "file", "path", "message")


class BaselineError(Exception):
    """A baseline file that cannot be used: one line for the user."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded finding: fingerprint and message decide (see `apply`), the rest is for
    humans. An entry without a message matches on the fingerprint alone.
    """

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
            finding.path_text,
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
    """Drop the findings the baseline knows (each entry covers one); list the fixed entries.

    Pairs in the three passes of the module's docstring, each over every finding still
    unmatched, so a finding with its exact message is never left out by a similar one.
    """
    findings = report.findings
    fingerprints = [finding.fingerprint() for finding in findings]
    messages = [finding.message for finding in findings]
    keys = {message: message_key(message) for message in {*messages, *(e.message for e in entries)}}
    used, matched = [False] * len(entries), [False] * len(findings)
    _pair(
        [(e.fingerprint, e.message) if e.message else None for e in entries],
        list(zip(fingerprints, messages, strict=True)),
        used,
        matched,
    )
    _pair(
        [(e.fingerprint, keys[e.message]) if e.message else None for e in entries],
        [(fp, keys[message]) for fp, message in zip(fingerprints, messages, strict=True)],
        used,
        matched,
    )
    _pair([None if e.message else e.fingerprint for e in entries], fingerprints, used, matched)
    report.findings = [f for f, known in zip(findings, matched, strict=True) if not known]
    outcome = Outcome(file, suppressed=sum(matched))
    outcome.fixed = [entry for entry, gone in zip(entries, used, strict=True) if not gone]
    return outcome


def _pair(
    entry_keys: Sequence[Hashable | None],
    finding_keys: Sequence[Hashable],
    used: list[bool],
    matched: list[bool],
) -> None:
    """Pair each unmatched finding with the first unused entry of its key (None: no key)."""
    pool: dict[Hashable, deque[int]] = defaultdict(deque)
    for index, key in enumerate(entry_keys):
        if key is not None and not used[index]:
            pool[key].append(index)
    if not pool:
        return
    for position, key in enumerate(finding_keys):
        if not matched[position] and (candidates := pool.get(key)):
            used[candidates.popleft()] = True
            matched[position] = True


def _portable(file: str) -> str:
    """The file relative to the working directory (as the repository names it), if inside."""
    if file.startswith("<"):
        return file
    relative = os.path.relpath(os.path.abspath(file))
    return file if relative.startswith("..") else relative.replace(os.sep, "/")
