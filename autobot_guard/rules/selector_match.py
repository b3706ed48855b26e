from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..edits import AutoFix
from ..findings import Severity
from ..resources import FieldPath, Resource
from ..selectors import Requirement, Selector, parse_label_selector, parse_map_selector
from .base import Context, Rule, Violation

SELECTOR_REQUIRED = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorMatch(Rule):
    """A workload's `spec.selector` selects its own pod template.

    Deployments, StatefulSets, DaemonSets and ReplicaSets must have a selector
    (apps/v1 requires one) and it must not be empty. Every `matchLabels` entry and every
    `matchExpressions` requirement (In, NotIn, Exists, DoesNotExist) must hold for the pod
    template's labels. A ReplicationController's or Job's selector is optional (it
    defaults to the template's labels), but when one is written it must match too.

    Why: the API server rejects a Deployment whose selector does not match its template
    ("selector does not match template labels"), so the rollout fails in CI or, worse,
    during the migration itself; the plan's StatefulSets for Redis and Elasticsearch had no
    selector and no pod labels at all.
    """

    id = "selector-match"
    default_severity = Severity.ERROR
    summary = "A workload's selector selects its own pod template labels"
    fix = (
        "Make `spec.selector.matchLabels` a subset of the pod template's `metadata.labels` "
        "(usually just `app: autobot-<name>`); selectors are immutable, so choose it once."
    )
    kinds = frozenset({*SELECTOR_REQUIRED, "ReplicationController", "Job"})
    autofix = AutoFix(
        None,
        "Which of selector and labels is right needs a human (`logging-labels` adds "
        "labels a selector names).",
    )
    failing_example = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: autobot-redis, namespace: autobot-data}
spec:
  serviceName: autobot-redis
  selector: {matchLabels: {app: autobot-redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers:
      - {name: redis, image: "redis/redis-stack-server:7.4.0-v3"}
"""
    passing_example = failing_example.replace("{app: redis}", "{app: autobot-redis}")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        raw = resource.get("spec", "selector")
        if raw is None:
            if resource.kind in SELECTOR_REQUIRED:
                yield Violation(
                    ("spec",),
                    f"{resource.kind} {resource.name!r} has no spec.selector "
                    f"({resource.api_version} requires one)",
                )
            return
        if resource.kind == "ReplicationController":
            selector = parse_map_selector(raw)  # empty or absent: defaults to the template
            if selector is not None:
                yield from _mismatches(selector, resource.pod_labels, map_style=True)
            return
        selector = parse_label_selector(raw)
        if selector is None:
            return  # malformed: the schema rule reports it
        if selector.is_empty:
            yield Violation(
                ("spec", "selector"),
                "spec.selector is empty: it would select every pod of the namespace",
            )
            return
        yield from _mismatches(selector, resource.pod_labels, map_style=False)


def _mismatches(
    selector: Selector, labels: Mapping[str, Any], map_style: bool
) -> Iterator[Violation]:
    """One violation per selector term the pod template labels fail.

    `map_style`: a ReplicationController's plain label map rather than a LabelSelector.
    """
    base: FieldPath = ("spec", "selector")
    for key, value in selector.match_labels:
        if key in labels and str(labels[key]) == value:
            continue
        path: FieldPath = (*base, key) if map_style else (*base, "matchLabels", key)
        yield Violation(
            path, f"spec.selector requires {key}={value}, but the pod template {_has(labels, key)}"
        )
    for index, requirement in enumerate(selector.expressions):
        path = (*base, "matchExpressions", index)
        if requirement.operator not in OPERATORS:
            yield Violation(
                (*path, "operator"),
                f"spec.selector.matchExpressions[{index}] has unknown operator "
                f"{requirement.operator!r} (use {', '.join(OPERATORS)})",
            )
        elif not requirement.matches(labels):
            yield Violation(
                path,
                f"spec.selector requires {_describe(requirement)}, but the pod template "
                f"{_has(labels, requirement.key)}",
            )


def _has(labels: Mapping[str, Any], key: str) -> str:
    return f"has {key}={labels[key]}" if key in labels else f"has no label {key!r}"


def _describe(requirement: Requirement) -> str:
    if requirement.operator in ("Exists", "DoesNotExist"):
        return f"{requirement.key} {requirement.operator}"
    return f"{requirement.key} {requirement.operator} ({', '.join(sorted(requirement.values))})"
