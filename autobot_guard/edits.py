"""What a rule's fix is: small typed edits of the judged object, declared with its violation.

A rule that knows the right value attaches edits to the `Violation` it yields; `autobot-guard
fix` applies them to the file (keeping everything else as written), and `check
--suggest-fixes` offers them in SARIF, the Markdown summary and pull request suggestions.
Paths are relative to the resource, as the violation's own path is. Plain data only: a
violation travels between processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .findings import render_path

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SetField:
    """Set the field at `path` to `value`, creating the mappings on the way that are missing.

    `before`: when a key has to be created in a mapping that holds `before`, it goes in front
    of it (a pod template's `metadata` before its `spec`), else it goes last.
    """

    path: FieldPath
    value: Any
    before: str | None = None

    def describe(self) -> str:
        return f"set {render_path(self.path)} to {_show(self.value)}"


@dataclass(frozen=True, slots=True)
class AppendItem:
    """Append `value` to the existing list at `path`."""

    path: FieldPath
    value: Any

    def describe(self) -> str:
        return f"added {_show(self.value)} to {render_path(self.path)}"


@dataclass(frozen=True, slots=True)
class AddDocument:
    """Write `data` as a new document right after the resource's own, in the same file.

    `comment` is written above it (one line per line of text, each made a YAML comment).
    """

    data: dict[str, Any]
    comment: str = ""

    def describe(self) -> str:
        metadata = self.data.get("metadata") or {}
        where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
        return f"added {self.data.get('kind')} {where}{metadata.get('name')}"


Edit = SetField | AppendItem | AddDocument


@dataclass(frozen=True, slots=True)
class AutoFix:
    """What `autobot-guard fix` does about a rule's findings, as `explain` prints it.

    `does`: the change it makes (None: it changes nothing); `leaves`: what it leaves to a
    human, and why (a guess would be worse than the finding).
    """

    does: str | None
    leaves: str = ""


NO_AUTOFIX = AutoFix(None, "The remedy needs a human: autobot-guard fix changes nothing.")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
