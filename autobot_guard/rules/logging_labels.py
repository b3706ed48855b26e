from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from ..edits import AutoFix, SetField
from ..findings import Severity
from ..resources import WORKLOADS, Resource
from .base import Context, Rule, RuleSettings, Violation
from .common import existing_path

DEFAULT_LABELS: dict[str, str | None] = {"app": None, "component": None, "logging": "centralized"}


class LoggingLabelsSettings(RuleSettings):
    requiredLabels: dict[str, str | None] = Field(
        default_factory=lambda: dict(DEFAULT_LABELS),
        description=(
            "Labels every pod template must carry: label -> required value, or null for "
            "any non-empty value."
        ),
    )


class LoggingLabels(Rule):
    """Pod templates carry the labels the log pipeline filters on.

    Every workload's pod template (a bare Pod's own labels) must carry each label of
    `requiredLabels`; a label mapped to a value must have exactly that value, a label
    mapped to null any non-empty value. The AutoBot default is `app`, `component` and
    `logging: centralized`.

    Why: fluentd ships container logs with the pod's labels, and the Elasticsearch
    index routing and Kibana dashboards select on `logging=centralized`, `app` and
    `component`. A pod without them logs into the void: its output is collected but
    nobody finds it when an agent misbehaves.
    """

    id = "logging-labels"
    default_severity = Severity.ERROR
    summary = "Pod templates carry the required logging labels"
    fix = (
        "Add the missing labels to the pod template's `metadata.labels` (e.g. "
        '`app: autobot-<name>`, `component: <role>`, `logging: "centralized"`).'
    )
    autofix = AutoFix(
        "Adds each missing label, or corrects it, when its value is known: the value the pack "
        "requires, else the workload's selector (`matchLabels`), else the workload's own "
        "labels; `app` falls back to the workload's name.",
        "A label with neither (usually `component`: the workload's role) is left to a human.",
    )
    kinds = WORKLOADS
    Settings = LoggingLabelsSettings
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-rag-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-rag-agent}}
  template:
    metadata:
      labels: {app: autobot-rag-agent, component: ai-agent}
    spec:
      containers:
      - {name: rag-agent, image: "ghcr.io/mrveiss/autobot-rag-agent:1.4.0"}
"""
    passing_example = failing_example.replace(
        "component: ai-agent}", "component: ai-agent, logging: centralized}"
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        labels = resource.pod_labels
        labels_path = (*resource.template_path, "metadata", "labels")
        whose = "pod" if resource.kind == "Pod" else "pod template"
        required: dict[str, str | None] = self.settings.requiredLabels
        for key, wanted in required.items():
            value = labels.get(key)
            known = wanted if wanted is not None else _derived(resource, key)
            edits = (SetField((*labels_path, key), known, before="spec"),) if known else ()
            if value is None:
                need = f" (required: {wanted!r})" if wanted is not None else ""
                yield Violation(
                    existing_path(resource, labels_path),
                    f"{whose} has no label {key!r}{need}",
                    edits=edits,
                )
            elif wanted is None and str(value) == "":
                yield Violation((*labels_path, key), f"{whose} label {key!r} is empty", edits=edits)
            elif wanted is not None and str(value) != wanted:
                yield Violation(
                    (*labels_path, key),
                    f"{whose} label {key!r} is {str(value)!r}; {wanted!r} is required",
                    edits=edits,
                )


def _derived(resource: Resource, key: str) -> str | None:
    """The value a label must have on the pods, where the workload says it: its selector's
    matchLabels (the pods must carry it to be selected), its own labels, and for `app` its
    name (the convention `app: <workload name>`)."""
    selector = resource.get("spec", "selector")
    match_labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    for source in (match_labels, resource.metadata.get("labels")):
        value = source.get(key) if isinstance(source, dict) else None
        if isinstance(value, str) and value:
            return value
    return resource.name if key == "app" and resource.name else None
