from __future__ import annotations

from collections.abc import Iterator

from ..findings import Severity
from ..resources import Resource
from .base import Context, Rule, Violation

# The annotations that exempt an object (the engine honours them, this rule checks them).
EXEMPT = "autobot-guard.io/exempt"
REASON = "autobot-guard.io/exempt-reason"


def exemptions(resource: Resource) -> tuple[frozenset[str], str | None]:
    """Rule ids exempted on the object or its pod template, and the reason given (if any)."""
    ids: set[str] = set()
    reason: str | None = None
    if not resource.annotations and not resource.pod_annotations:
        return frozenset(), None
    sources = [resource.annotations]
    if resource.is_workload:
        sources.append(resource.pod_annotations)
    for notes in sources:
        value = notes.get(EXEMPT)
        if isinstance(value, str):
            ids.update(part.strip() for part in value.split(",") if part.strip())
        given = notes.get(REASON)
        if isinstance(given, str) and given.strip() and reason is None:
            reason = given.strip()
    return frozenset(ids), reason


class Exemption(Rule):
    """Exemption annotations name known rules and give a reason.

    An object (or a workload's pod template) may carry
    `autobot-guard.io/exempt: "rule-a,rule-b"` to exempt itself from those rules; it must
    also carry `autobot-guard.io/exempt-reason: "..."`. Without a reason the exemption is
    not honoured and this rule reports it; an unknown rule id is reported too, so a typo
    cannot hide a finding. Exempted findings stay visible as "exempted" in the JSON and
    SARIF reports.

    Why: an exemption is a decision someone must be able to read and revisit later.
    """

    id = "exemption"
    default_severity = Severity.ERROR
    summary = "Exemption annotations name known rules and carry a reason"
    fix = (
        f'Add `{REASON}: "<why this object cannot comply>"` next to `{EXEMPT}`, '
        "and use rule ids from `autobot-guard rules`."
    )
    failing_example = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd
  namespace: autobot-logging
  annotations:
    autobot-guard.io/exempt: security-context
spec:
  selector: {matchLabels: {app: autobot-fluentd}}
  template:
    metadata: {labels: {app: autobot-fluentd}}
    spec:
      containers:
      - {name: fluentd, image: "fluent/fluentd-kubernetes-daemonset:v1.17-debian-elasticsearch8-1"}
"""
    passing_example = failing_example.replace(
        "    autobot-guard.io/exempt: security-context\n",
        "    autobot-guard.io/exempt: security-context\n"
        '    autobot-guard.io/exempt-reason: "reads root-owned host logs under /var/log"\n',
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if EXEMPT not in resource.annotations and EXEMPT not in resource.pod_annotations:
            return
        from . import RULES_BY_ID

        places: list[tuple[tuple[str | int, ...], dict[str, object]]] = [
            (("metadata", "annotations"), resource.annotations)
        ]
        if resource.is_workload and resource.template_path:
            places.append(
                ((*resource.template_path, "metadata", "annotations"), resource.pod_annotations)
            )
        has_reason = any(
            isinstance(a.get(REASON), str) and str(a.get(REASON)).strip() for _, a in places
        )
        for path, notes in places:
            value = notes.get(EXEMPT)
            if value is None:
                continue
            if not isinstance(value, str):
                yield Violation(
                    (*path, EXEMPT), f"{EXEMPT} must be a string of comma-separated rule ids"
                )
                continue
            if not has_reason:
                yield Violation(
                    (*path, EXEMPT),
                    f"exemption from {value.strip()!r} has no {REASON}: it is not honoured",
                )
            for rule_id in (part.strip() for part in value.split(",")):
                if rule_id and rule_id not in RULES_BY_ID and rule_id not in context.extra_rule_ids:
                    yield Violation((*path, EXEMPT), f"exemption names unknown rule {rule_id!r}")
