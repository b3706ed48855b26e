from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from ..edits import AutoFix, SetField
from ..findings import Severity
from ..resources import Resource
from .base import Context, Rule, RuleSettings, Violation
from .common import as_int


class HpaReplicasSettings(RuleSettings):
    minReplicas: int = Field(
        default=2, ge=0, description="The lowest `minReplicas` a HorizontalPodAutoscaler may set."
    )


class HpaReplicas(Rule):
    """A HorizontalPodAutoscaler keeps at least `minReplicas` pods (default 2) and can scale up.

    The HPA's `spec.minReplicas` must be at least the configured minimum (a missing
    field means 1, as Kubernetes defaults it), and `spec.maxReplicas` must not be below
    the HPA's own `minReplicas`.

    Why: an HPA scales a quiet workload down to its `minReplicas`. With the default of 1
    the chat agent runs as a single pod every night, and one eviction takes it offline;
    a `maxReplicas` below `minReplicas` is rejected by the API server.
    """

    id = "hpa-replicas"
    default_severity = Severity.ERROR
    summary = "HPAs keep at least minReplicas pods and maxReplicas >= minReplicas"
    fix = "Set `spec.minReplicas` to at least the minimum and `spec.maxReplicas` above it."
    autofix = AutoFix(
        "Sets `spec.minReplicas` to the minimum (written before `maxReplicas` when it was "
        "missing); not applied when `maxReplicas` is below the minimum.",
        "A `maxReplicas` below `minReplicas` is left to a human: how far to scale out is a "
        "capacity decision.",
    )
    kinds = frozenset({"HorizontalPodAutoscaler"})
    Settings = HpaReplicasSettings
    failing_example = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""
    passing_example = failing_example.replace(
        "  maxReplicas: 10\n", "  minReplicas: 2\n  maxReplicas: 10\n"
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        required: int = self.settings.minReplicas
        raw_min = resource.get("spec", "minReplicas")
        minimum = 1 if raw_min is None else as_int(raw_min)
        if minimum is None:
            return  # not an integer: the schema rule reports it
        if minimum < required:
            if raw_min is None:
                yield Violation(
                    ("spec",),
                    f"HorizontalPodAutoscaler {resource.name!r} sets no minReplicas, so it scales "
                    f"down to 1 replica; at least {required} are required",
                    edits=(SetField(("spec", "minReplicas"), required, before="maxReplicas"),),
                )
            else:
                yield Violation(
                    ("spec", "minReplicas"),
                    f"HorizontalPodAutoscaler {resource.name!r} minReplicas {minimum} is below "
                    f"the minimum {required}",
                    edits=(SetField(("spec", "minReplicas"), required),),
                )
        maximum = as_int(resource.get("spec", "maxReplicas"))
        if maximum is not None and maximum < minimum:
            yield Violation(
                ("spec", "maxReplicas"),
                f"HorizontalPodAutoscaler {resource.name!r} maxReplicas {maximum} is below its "
                f"minReplicas {minimum}",
            )
