"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run; the driver lists every registered rule. Exempted findings are results with an
in-source suppression, input errors are tool execution notifications.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..findings import LIVE_PREFIX, Finding, InputError, Report, Severity, message_key
from ..rules import ALL_RULES
from ..rules.base import Rule

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "autobotGuard/v2"  # v2: the message key joined the hash
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: Report, *, color: bool = False) -> str:
    rules = [_rule_descriptor(rule) for rule in ALL_RULES]
    index = {descriptor["id"]: position for position, descriptor in enumerate(rules)}
    for finding in [*report.findings, *report.exempted]:
        if finding.rule not in index:  # a Rego policy's rule: described by its source
            index[finding.rule] = len(rules)
            rules.append(_external_descriptor(finding.rule, report.rule_docs.get(finding.rule)))
    seen: Counter[tuple[str, str]] = Counter()
    results = [_result(f, index[f.rule], seen) for f in report.findings]
    results += [_result(f, index[f.rule], seen, suppressed=True) for f in report.exempted]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "autobot-guard",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [_invocation(report.errors)],
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
        "results": results,
        "properties": {
            "policyPack": report.policy_pack,
            "kubernetesVersion": report.kubernetes_version,
            "summary": report.summary(),
        },
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _external_descriptor(rule_id: str, docs: tuple[str, str, Severity] | None) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"id": rule_id, "name": _pascal(rule_id)}
    if docs:
        summary, documentation, severity = docs
        descriptor["defaultConfiguration"] = {"level": LEVELS[severity]}
        descriptor["shortDescription"] = {"text": summary}
        descriptor["fullDescription"] = {
            "text": documentation.split("\n\n", 1)[0].replace("\n", " ")
        }
        descriptor["help"] = {"text": documentation, "markdown": documentation}
    return descriptor


def _rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    documentation = rule.documentation()
    first_paragraph = documentation.split("\n\n", 1)[0].replace("\n", " ")
    markdown = (
        f"{documentation}\n\n**How to fix:** {rule.fix}\n\n"
        f"Failing example:\n\n```yaml\n{rule.failing_example.rstrip()}\n```\n\n"
        f"Passing example:\n\n```yaml\n{rule.passing_example.rstrip()}\n```\n"
    )
    return {
        "id": rule.id,
        "name": _pascal(rule.id),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": first_paragraph},
        "help": {"text": f"{documentation}\n\nHow to fix: {rule.fix}", "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS[rule.default_severity]},
        "properties": {"tags": ["kubernetes", "compliance", "autobot-guard"]},
    }


def _result(
    finding: Finding, rule_index: int, seen: Counter[tuple[str, str]], suppressed: bool = False
) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": _physical_location(finding.file, finding.line),
        "logicalLocations": [
            {
                "name": finding.resource.name,
                "fullyQualifiedName": finding.resource.display(),
                "kind": "resource",
            }
        ],
    }
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message} Fix: {finding.fix}"},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding, seen)},
        "properties": {
            "path": finding.path_text,
            "resource": finding.resource.to_json(),
            "severity": finding.severity.value,
        },
    }
    if finding.suggestion is not None:  # check --suggest-fixes: the verified fix
        from ..fix.suggest import sarif_fixes

        result["fixes"] = sarif_fixes(finding, artifact_location(finding.file))
    if suppressed:
        suppression: dict[str, Any] = {"kind": "inSource", "status": "accepted"}
        if finding.exempt_reason:
            suppression["justification"] = finding.exempt_reason
        result["suppressions"] = [suppression]
    return result


def _fingerprint(finding: Finding, seen: Counter[tuple[str, str]]) -> str:
    """sha256 of rule|resource|field path|message key: independent of line numbers.

    The message key (numbers and parenthesised details left out, as baselines compare
    messages) tells apart findings on one field: a cpu request fixed and a memory request
    broken is a new alert, not the old one. A repeat of the same key in the same file gets
    an occurrence number so the results stay distinct.
    """
    key = f"{finding.fingerprint()}|{message_key(finding.message)}"
    seen[(finding.file, key)] += 1
    occurrence = seen[(finding.file, key)]
    if occurrence > 1:
        key = f"{key}|{occurrence}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _invocation(errors: list[InputError]) -> dict[str, Any]:
    notifications = []
    for error in errors:
        notification: dict[str, Any] = {"level": "error", "message": {"text": error.message}}
        if error.file:
            physical = _physical_location(error.file, error.line)
            notification["locations"] = [{"physicalLocation": physical}]
        notifications.append(notification)
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}


def _physical_location(file: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(file)}
    if line and line >= 1:
        physical["region"] = {"startLine": line}
    return physical


def workspace_path(file: str) -> str:
    """`file` relative to the working directory with forward slashes, else absolute."""
    if (file.startswith("<") and file.endswith(">")) or file.startswith(LIVE_PREFIX):
        return file  # <stdin>, an object of a cluster (audit): not a path
    absolute = Path(os.path.abspath(file))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def artifact_location(file: str) -> dict[str, str]:
    """A path under the working directory becomes a relative URI against %SRCROOT%."""
    path = workspace_path(file)
    if path.startswith("<"):
        return {"uri": quote(path.strip("<>"))}
    if path.startswith(LIVE_PREFIX):  # an absolute URI of its own scheme, no base
        return {"uri": quote(path, safe="/:")}
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def _pascal(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in rule_id.replace("_", "-").split("-"))
