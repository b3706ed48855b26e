"""The one engine: resources -> rules -> findings (with exemptions applied) -> Report.

The CLI, the CI gate and the admission webhook all call `evaluate`; none of them
judges anything on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .config import PolicyPack
from .findings import Finding, Report
from .inventory import Inventory
from .resources import Resource
from .rules.base import Context, Rule

EXEMPT_ANNOTATION = "autobot-guard.io/exempt"
EXEMPT_REASON_ANNOTATION = "autobot-guard.io/exempt-reason"


def exemptions(resource: Resource) -> tuple[frozenset[str], str | None]:
    """Rule ids exempted on the object or its pod template, and the reason given (if any)."""
    ids: set[str] = set()
    reason: str | None = None
    sources = [resource.annotations]
    if resource.is_workload:
        sources.append(resource.pod_annotations)
    for notes in sources:
        value = notes.get(EXEMPT_ANNOTATION)
        if isinstance(value, str):
            ids.update(part.strip() for part in value.split(",") if part.strip())
        given = notes.get(EXEMPT_REASON_ANNOTATION)
        if isinstance(given, str) and given.strip() and reason is None:
            reason = given.strip()
    return frozenset(ids), reason


def evaluate(
    resources: Sequence[Resource],
    pack: PolicyPack,
    rules: Iterable[Rule] | None = None,
    inventory: Inventory | None = None,
    judged: Sequence[Resource] | None = None,
) -> Report:
    """Judge `judged` (default: every resource) against `inventory` (default: `resources`)."""
    active = list(rules) if rules is not None else pack.enabled_rules()
    inventory = inventory if inventory is not None else Inventory(resources)
    context = Context(inventory, pack.kubernetes_version)
    skipped = pack.skip_namespaces
    report = Report(kubernetes_version=pack.kubernetes_version, policy_pack=pack.source)
    for resource in judged if judged is not None else resources:
        if resource.namespace in skipped:
            continue
        report.resources += 1
        report.checked.append((resource.document.file, resource.ref))
        exempt_ids, reason = exemptions(resource)
        for rule in active:
            if not rule.applies_to(resource):
                continue
            for violation in rule.check(resource, context):
                severity = rule.severity
                if (
                    violation.severity_cap is not None
                    and violation.severity_cap.rank < severity.rank
                ):
                    severity = violation.severity_cap
                finding = Finding(
                    rule=rule.id,
                    severity=severity,
                    message=violation.message,
                    fix=violation.fix or rule.fix,
                    file=resource.document.file,
                    line=resource.line_of(violation.path),
                    resource=resource.ref,
                    path=_render(violation.path),
                )
                if rule.id in exempt_ids and reason:
                    finding.exempt_reason = reason
                    report.exempted.append(finding)
                else:
                    report.findings.append(finding)
    report.findings.sort(key=_order)
    report.exempted.sort(key=_order)
    return report


def _order(finding: Finding) -> tuple[str, int, str, str]:
    return (finding.file, finding.line, finding.rule, finding.path)


def _render(path: tuple[str | int, ...]) -> str:
    from .findings import render_path

    return render_path(path)
