"""The result object every entry point shares: findings, input errors and a summary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .audit.outcome import AuditOutcome
    from .edits import Edit
    from .fix.suggest import FileChange, Suggestion


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}


FieldPath = tuple[str | int, ...]  # ("spec", "containers", 0, "image")
# The "file" of an object listed from a cluster (`audit`): cluster:Kind/namespace/name.
LIVE_PREFIX = "cluster:"


def render_path(path: FieldPath) -> str:
    """("spec", "containers", 0, "image") -> "spec.containers[0].image"."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif out:
            out.append(f".{part}")
        else:
            out.append(str(part))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    api_version: str
    kind: str
    namespace: str | None
    name: str

    def display(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


@dataclass(slots=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    fix: str
    file: str
    line: int
    resource: ResourceRef
    path: FieldPath  # of the field at fault; reports show it as `path_text`
    exempt_reason: str | None = None
    edits: tuple[Edit, ...] = ()  # the rule's fix for it, if it has one (see edits.py)
    suggestion: Suggestion | None = None  # the fix as text, with `check --suggest-fixes`

    @property
    def path_text(self) -> str:
        """The field path as reports write it: "spec.containers[0].image"."""
        return render_path(self.path)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
            "file": self.file,
            "line": self.line,
            "resource": self.resource.to_json(),
            "path": self.path_text,
        }
        if self.exempt_reason is not None:
            out["exemptReason"] = self.exempt_reason
        return out

    def location(self) -> str:
        """Where: `file:line`, or for a live object (no line) `cluster:Kind/ns/name` and
        the field path."""
        if self.line:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.path_text}" if self.path else self.file

    def order(self) -> tuple[str, int, str, str]:
        """Report order: by file, line, rule, field path."""
        return (self.file, self.line, self.rule, self.path_text)

    def fingerprint(self) -> str:
        """Stable across line shifts: rule + resource + field path."""
        return f"{self.rule}|{self.resource.display()}|{self.path_text}"


@dataclass(frozen=True, slots=True)
class InputError:
    """A file or document that could not be checked (exit status 2)."""

    file: str
    line: int | None
    message: str

    def display(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


class Recorded(Protocol):
    """A finding as a baseline records it (gate/baseline.py's Entry)."""

    def display(self) -> str: ...
    def to_json(self) -> dict[str, str]: ...


class Suppression(Protocol):
    """What a step that hides known findings did (`check --baseline`: gate/baseline.py's
    Outcome), as every format reports it."""

    @property
    def file(self) -> str: ...
    @property
    def suppressed(self) -> int: ...
    @property
    def fixed(self) -> Sequence[Recorded]: ...
    def to_json(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    exempted: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    checked: list[tuple[str, ResourceRef]] = field(default_factory=list)  # (file, resource) judged
    resources: int = 0
    files: int = 0
    target: str = ""  # what was checked, for the summary line
    policy_pack: str = ""
    kubernetes_version: str = ""
    baseline: Suppression | None = None  # what `check --baseline` suppressed and saw fixed
    audit: AuditOutcome | None = None  # `audit`: the cluster, what was listed and left alone
    # rule id -> (summary, documentation, severity) of rules outside the registry (Rego)
    rule_docs: dict[str, tuple[str, str, Severity]] = field(default_factory=dict)
    # with `check --suggest-fixes`: every file the verified fixes change, old and new text
    changes: list[FileChange] = field(default_factory=list)

    def add(self, findings: Iterable[Finding]) -> None:
        """File findings (exempted ones apart) and keep both lists in report order."""
        for finding in findings:
            (self.exempted if finding.exempt_reason else self.findings).append(finding)
        self.findings.sort(key=Finding.order)
        self.exempted.sort(key=Finding.order)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def summary(self) -> dict[str, int]:
        return {
            "resources": self.resources,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "exempted": len(self.exempted),
            "inputErrors": len(self.errors),
        }

    def exit_code(self, fail_on: Severity | None) -> int:
        """0 clean, 1 findings at or above `fail_on` (None: never), 2 input errors."""
        if self.errors:
            return 2
        if fail_on is not None and any(f.severity.rank >= fail_on.rank for f in self.findings):
            return 1
        return 0


_PARENTHESISED = re.compile(r"\s*\([^()]*\)")
_NUMBER = re.compile(r"\d+(?:\.\d+)*[A-Za-z]*")  # 3, 1.35, 500m, 2Gi, 8080


def message_key(message: str) -> str:
    """What of a message tells findings apart on one field, without its volatile details.

    Parenthesised details (innermost first) are left out: they show the labels, names, counts
    or config source behind a finding, which edits elsewhere change. Numbers with their unit
    become `#`: counts, quantities, ports, versions. Words and quoted names stay: they say
    which field or label is at fault (`cpu`/`memory`, `'component'`/`'logging'`).
    """
    text, previous = message, None
    while text != previous:
        text, previous = _PARENTHESISED.sub("", text), text
    return " ".join(_NUMBER.sub("#", text).split())
