"""What both engines produce (`Hit`: a document, a kind of result, the rule's value) and
how a hit becomes a `Finding`, so conftest and the embedded engine report identically.

Conventions (conftest's, extended): a `deny`/`violation` value fails (error), a `warn`
value warns (warning); a value is a message string (an empty one is a success) or an
object with a string `msg` and optional `rule` (the finding's rule id, default
`conftest:<namespace>`), `severity` (error, warning or info), `field` (the offending
field's path, as a list of keys and indexes or a dotted string, for the line), `fix`,
and `_loc` (`{"file", "line"}`, used when it names the document's own file).

A hit of kind "error" is an evaluation that failed on its document (the embedded engine:
conflicting values of a complete rule, recursion, ...), `value` `{"error", "subject"}`:
`to_finding`, which knows the document's file, raises it as a UsageError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import finding_of
from ..errors import UsageError
from ..findings import Finding, InputError, Severity
from ..resources import FieldPath, Resource
from ..rules.base import RuleSettings, Violation

FAILURE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
WARNING = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")
ERROR = "error"  # Hit.kind of an evaluation that failed on the document
SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
DEFAULT_FIX = "Change the object so that the Rego policy (namespace {namespace}) passes."
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Hit:
    index: int  # position of the resource in the list the engine was given
    namespace: str
    kind: str  # "failure", "warning" or ERROR
    value: Any  # the rule's value: a message or an object with "msg"; ERROR: see above
    loc: Any = None  # conftest's `loc` / the object's `_loc`, if any

    def as_tuple(self) -> tuple[Any, ...]:  # plain data, for a forked worker
        return (self.index, self.namespace, self.kind, self.value, self.loc)


def rule_kind(name: str) -> str | None:
    if FAILURE.match(name):
        return "failure"
    if WARNING.match(name):
        return "warning"
    return None


def exception_name(rule: str) -> str:
    """The name an `exception` rule lists to switch `rule` off (as conftest strips it)."""
    for prefix in ("violation_", "deny_", "warn_"):
        if rule.startswith(prefix):
            return rule[len(prefix) :]
    return rule


def check_value(value: Any, namespace: str, rule: str) -> bool:
    """Whether a rule's value reports something; conftest's error for a bad object."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict):
        if not isinstance(value.get("msg"), str):
            raise UsageError(
                f"Rego rule data.{namespace}.{rule} returned an object without a string "
                f'"msg" field: {str(value)[:200]}'
            )
        message: str = value["msg"]
        return message != ""
    return False  # other values are ignored, as conftest does


def describe_document(document: Any) -> str:
    """Kind/namespace/name of a Kubernetes object as the engines see it (ResourceRef.display)."""
    data = document if isinstance(document, dict) else {}
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    parts = [data.get("kind"), meta.get("namespace"), meta.get("name") or meta.get("generateName")]
    return "/".join(str(part) for part in parts if part not in (None, "")) or "a document"


def failure(resource: Resource, hit: Hit) -> InputError:
    """The input error of an ERROR hit: the object (file, line) the evaluation failed on."""
    value = hit.value if isinstance(hit.value, dict) else {"error": str(hit.value)}
    reason = value.get("error") or "the Rego engine gave no reason"
    subject = f"Rego evaluation failed on {resource.ref.display()}"
    if value.get("subject") == "the combined input":
        subject = "Rego evaluation failed on the combined input (conftest --combine)"
    return InputError(resource.document.file, resource.line_of(()), f"{subject}: {reason}")


def to_finding(
    resource: Resource, hit: Hit, configured: Mapping[str, RuleSettings] | None = None
) -> Finding | None:
    """A Rego rule's value as a violation of rule `rule` (default conftest:<namespace>),
    filed by the engine's one `finding_of` like a built-in rule's. `configured` is what
    the policy pack says about Rego rules (PolicyPack.rego_settings): a disabled rule's
    hit is None, a configured severity wins over the policy's own, as for built-ins."""
    if hit.kind == ERROR:
        raise UsageError(failure(resource, hit).display())
    value = hit.value
    meta: dict[str, Any] = value if isinstance(value, dict) else {}
    message = value if isinstance(value, str) else str(meta.get("msg", ""))
    rule = meta.get("rule")
    rule_id = (
        rule.strip() if isinstance(rule, str) and rule.strip() else f"conftest:{hit.namespace}"
    )
    settings = configured.get(rule_id) if configured else None
    if settings is not None and not settings.enabled:
        return None
    default = Severity.ERROR if hit.kind == "failure" else Severity.WARNING
    severity = meta.get("severity")
    level = SEVERITIES.get(severity.lower(), default) if isinstance(severity, str) else default
    if settings is not None and settings.severity is not None:
        level = settings.severity
    fix = meta.get("fix")
    violation = Violation(
        field_path(meta.get("field")), message, fix if isinstance(fix, str) and fix else None
    )
    line = _loc_line(hit.loc if hit.loc is not None else meta.get("_loc"), resource)
    return finding_of(
        resource, rule_id, level, DEFAULT_FIX.format(namespace=hit.namespace), violation, line=line
    )


def findings_of(
    resources: Sequence[Resource],
    hits: list[Hit],
    configured: Mapping[str, RuleSettings] | None = None,
) -> list[Finding]:
    """The findings of `hits` (none of kind ERROR) on `resources`, enabled rules only."""
    found = (to_finding(resources[hit.index], hit, configured) for hit in hits)
    return [finding for finding in found if finding is not None]


def field_path(value: Any) -> FieldPath:
    """["spec", "containers", 0] or "spec.containers[0]" -> ("spec", "containers", 0)."""
    if isinstance(value, list):
        parts: list[str | int] = []
        for part in value:
            if isinstance(part, bool) or not isinstance(part, str | int | float):
                break
            parts.append(int(part) if isinstance(part, float) else part)
        return tuple(parts)
    if isinstance(value, str):
        return tuple(int(index) if index else key for key, index in _PATH_PART.findall(value))
    return ()


def _loc_line(loc: Any, resource: Resource) -> int | None:
    if not isinstance(loc, dict):
        return None
    file, line = loc.get("file"), loc.get("line")
    if file not in (None, "", resource.document.file):
        return None  # a location in another file (conftest saw a per-document copy)
    try:
        number = int(str(line))
    except ValueError:
        return None
    return number if number > 0 else None
