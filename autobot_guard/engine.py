"""The one engine: resources -> rules -> findings (with exemptions applied) -> Report.

The CLI, the CI gate and the admission webhook all call `evaluate`; none of them
judges anything on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .config import PolicyPack
from .findings import Finding, InputError, Report, Severity
from .inventory import Inventory
from .parallel import split_map
from .resources import Resource
from .rules.base import Context, Rule, Violation
from .rules.exemption import exemptions

if TYPE_CHECKING:
    from .crds import CrdCatalogue


def evaluate(
    resources: Sequence[Resource],
    pack: PolicyPack,
    rules: Iterable[Rule] | None = None,
    inventory: Inventory | None = None,
    judged: Sequence[Resource] | None = None,
    extra_rule_ids: Iterable[str] = (),
    crds: CrdCatalogue | None = None,
) -> Report:
    """Judge `judged` (default: every resource) against `inventory` (default: `resources`).

    `extra_rule_ids`: ids of rules outside the registry (Rego policies) that exemption
    annotations may name. `crds`: the CRDs custom resources are validated against.
    """
    active = list(rules) if rules is not None else pack.enabled_rules()
    inventory = inventory if inventory is not None else Inventory(resources)
    context = Context(inventory, pack.kubernetes_version, frozenset(extra_rule_ids), crds)
    skipped = pack.skip_namespaces
    candidates = judged if judged is not None else resources
    to_judge = [r for r in candidates if r.namespace not in skipped]
    report = Report(kubernetes_version=pack.kubernetes_version, policy_pack=pack.source)
    report.resources = len(to_judge)
    report.checked = [(r.document.file, r.ref) for r in to_judge]

    by_kind: dict[str, list[Rule]] = {}  # which rules apply, decided once per kind

    def judge(batch: Sequence[Resource]) -> list[Finding]:
        out: list[Finding] = []
        for resource in batch:
            rules_for_kind = by_kind.get(resource.kind)
            if rules_for_kind is None:
                rules_for_kind = by_kind[resource.kind] = [
                    rule for rule in active if rule.kinds is None or resource.kind in rule.kinds
                ]
            out.extend(_judge(resource, rules_for_kind, context))
        return out

    # Warm the shared caches (validators, whole-set derivations) before a fork splits the
    # rest, so the two processes do not both build them.
    warm = _WARM_UP if len(to_judge) > _WARM_UP * 4 else len(to_judge)
    batches = [judge(to_judge[:warm]), *split_map(judge, to_judge[warm:])]
    found = [finding for batch in batches for finding in batch]
    report.errors = [_as_error(f) for f in found if f.rule == _RULE_FAILED]
    report.add(f for f in found if f.rule != _RULE_FAILED)
    return report


_WARM_UP = 100


# A rule that raised on a resource: carried like a finding (it may come back from the
# forked judge), then filed as an input error: the object was not fully checked.
_RULE_FAILED = "<rule failed>"


def _as_error(failed: Finding) -> InputError:
    return InputError(failed.file, failed.line, failed.message)


def _judge(resource: Resource, rules: list[Rule], context: Context) -> Iterable[Finding]:
    exempt = exemptions(resource)
    for rule in rules:
        try:
            violations = list(rule.check(resource, context))
        except Exception as exc:  # a bug must not cost the other results
            where = resource.ref
            yield Finding(
                rule=_RULE_FAILED,
                severity=Severity.ERROR,
                message=(
                    f"rule {rule.id} could not judge {where.kind}/"
                    f"{where.namespace or '-'}/{where.name} ({type(exc).__name__}: {exc}); "
                    "the other rules did. This is a bug in autobot-guard: please report it "
                    "with this document"
                ),
                fix="",
                file=resource.document.file,
                line=resource.line_of(()),
                resource=resource.ref,
                path=(),
            )
            continue
        for violation in violations:
            yield finding_of(resource, rule.id, rule.severity, rule.fix, violation, exempt)


def finding_of(
    resource: Resource,
    rule_id: str,
    severity: Severity,
    fix: str,
    violation: Violation,
    exempt: tuple[frozenset[str], str | None] | None = None,
    line: int | None = None,
) -> Finding:
    """The one place a rule's violation becomes a Finding, built-in and Rego rules alike:
    severity (capped by the violation), fix, file and line of the field, exemption."""
    exempt_ids, reason = exempt if exempt is not None else exemptions(resource)
    if violation.severity_cap is not None and violation.severity_cap.rank < severity.rank:
        severity = violation.severity_cap
    return Finding(
        rule=rule_id,
        severity=severity,
        message=violation.message,
        fix=violation.fix or fix,
        file=resource.document.file,
        line=line or resource.line_of(violation.path),
        resource=resource.ref,
        path=violation.path,
        exempt_reason=reason if rule_id in exempt_ids and reason else None,
    )
