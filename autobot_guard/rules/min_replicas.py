from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from ..findings import Severity
from ..resources import Resource
from .base import Context, Rule, RuleSettings, Violation
from .common import as_int, hpa_for


class MinReplicasSettings(RuleSettings):
    minReplicas: int = Field(
        default=2, ge=0, description="The fewest replicas a Deployment or StatefulSet may run."
    )


class MinReplicas(Rule):
    """Deployments and StatefulSets run at least `minReplicas` replicas (default 2).

    A missing `spec.replicas` means 1, as Kubernetes defaults it. A workload that a
    HorizontalPodAutoscaler scales is skipped: the HPA owns its replica count and
    `hpa-replicas` judges the HPA's `minReplicas` instead.

    Why: a single replica is a single point of failure. A node drain, an eviction or a
    rolling update that meets a failing readiness probe leaves the backend or an agent
    with no pod at all, and a PodDisruptionBudget cannot protect one pod.
    """

    id = "min-replicas"
    default_severity = Severity.ERROR
    summary = "Deployments and StatefulSets run at least minReplicas replicas"
    fix = (
        "Set `spec.replicas` to at least the minimum (or let a HorizontalPodAutoscaler with "
        "a sufficient `minReplicas` scale the workload)."
    )
    kinds = frozenset({"Deployment", "StatefulSet"})
    # The HPA that owns the replica count. Not cross-resource: at admission a written
    # spec.replicas is enforced; only a defaulted one waits for the HPA (webhook/review.py).
    reads = frozenset({"HorizontalPodAutoscaler"})
    Settings = MinReplicasSettings
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-frontend, namespace: autobot-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: autobot-frontend}}
  template:
    metadata: {labels: {app: autobot-frontend}}
    spec:
      containers:
      - {name: frontend, image: "ghcr.io/mrveiss/autobot-frontend:1.4.0"}
"""
    passing_example = failing_example.replace("replicas: 1", "replicas: 2")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        hpa = hpa_for(resource, context.inventory)
        if hpa is not None:
            yield from self._below_hpa(resource, hpa)
            return
        minimum: int = self.settings.minReplicas
        value = resource.get("spec", "replicas")
        if value is None:
            if minimum > 1:
                yield Violation(
                    ("spec",),
                    f"{resource.kind} {resource.name!r} sets no spec.replicas, so it runs 1 "
                    f"replica; at least {minimum} are required",
                )
            return
        count = as_int(value)
        if count is not None and count < minimum:
            yield Violation(
                ("spec", "replicas"),
                f"{resource.kind} {resource.name!r} runs {count} "
                f"replica{'' if count == 1 else 's'}; at least {minimum} are required",
            )

    @staticmethod
    def _below_hpa(resource: Resource, hpa: Resource) -> Iterator[Violation]:
        """Under an HPA, a written spec.replicas below its minimum scales the workload down
        on every apply until the HPA reacts."""
        count = as_int(resource.get("spec", "replicas"))
        floor = as_int(hpa.get("spec", "minReplicas"))
        if count is not None and count < (floor if floor is not None else 1):
            yield Violation(
                ("spec", "replicas"),
                f"{resource.kind} {resource.name!r} sets spec.replicas {count}, below the "
                f"minReplicas {floor} of HorizontalPodAutoscaler {hpa.name!r}: every apply "
                "scales it down until the HPA reacts",
                fix="Remove spec.replicas from a workload an HPA scales: the HPA owns it.",
            )
