from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Severity
from ..quantities import parse_quantity
from ..resources import WORKLOADS, Container, FieldPath, Resource
from .base import Context, Rule, Violation
from .common import SCALABLE, container_label, mapping_at


@dataclass(frozen=True, slots=True)
class UtilizationMetric:
    """A metric the HPA computes as a percentage of the pods' requests."""

    resource: str  # cpu / memory
    container: str | None  # ContainerResource: only this container counts
    path: FieldPath  # where the metric is written in the HPA
    what: str  # how the message names it


class HpaTarget(Rule):
    """An HPA scales a workload of the checked set, whose pods request what it measures.

    `spec.scaleTargetRef` must name (kind + name, same namespace) a Deployment,
    StatefulSet, ReplicaSet or ReplicationController among the checked manifests.
    For every utilization metric (autoscaling/v2 `Resource` and `ContainerResource`
    metrics with `target.type: Utilization`, autoscaling/v1
    `targetCPUUtilizationPercentage`, and the implicit 80 % CPU target of an HPA without
    metrics), every container of the target — and every sidecar init container
    (`restartPolicy: Always`), which the HPA counts too — must request that resource;
    for `ContainerResource` only the named container, which must exist. `AverageValue`
    targets need no request.

    Why: utilization is usage divided by request. When one container has no request the
    HPA cannot compute it: it logs "missing request for cpu" and never scales, so the
    chat agent stays at its minimum however busy it gets. A `scaleTargetRef` with a typo
    fails the same silent way.
    """

    id = "hpa-target"
    default_severity = Severity.ERROR
    summary = "HPAs target a checked workload whose containers request the scaled resources"
    fix = (
        "Make `scaleTargetRef` name the workload (kind, name, same namespace) and give every "
        "container of its pod template a request for each resource the HPA scales on by "
        "utilization, or use an `AverageValue` target."
    )
    kinds = frozenset({"HorizontalPodAutoscaler"})
    reads = WORKLOADS  # the one its scaleTargetRef names
    cross_resource = True
    failing_example = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        resources:
          requests: {cpu: 500m}
"""
    passing_example = failing_example.replace("{cpu: 500m}", "{cpu: 500m, memory: 1Gi}")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        ref = resource.get("spec", "scaleTargetRef")
        if not isinstance(ref, dict):
            return  # required by the schema
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            return
        target = context.inventory.find(kind, resource.namespace, name)
        if target is None:
            yield Violation(
                ("spec", "scaleTargetRef", "name"),
                f"scaleTargetRef {kind} {name!r} is not among the checked resources of "
                f"namespace {resource.namespace!r}",
            )
            return
        if kind not in SCALABLE or not target.is_workload:
            yield Violation(
                ("spec", "scaleTargetRef", "kind"),
                f"scaleTargetRef {kind} {name!r} cannot be scaled by a HorizontalPodAutoscaler",
            )
            return
        for metric in _utilization_metrics(resource):
            yield from _check_metric(metric, target)


def _check_metric(metric: UtilizationMetric, target: Resource) -> Iterator[Violation]:
    containers = _counted_containers(target)
    if metric.container is not None:
        containers = [c for c in containers if c.name == metric.container]
        if not containers:
            yield Violation(
                (*metric.path[:-1], "container"),
                f"{metric.what} names container {metric.container!r}, which {target.kind} "
                f"{target.name!r} does not have",
            )
            return
    for container in containers:
        if not _requests(container, metric.resource):
            yield Violation(
                metric.path,
                f"HPA scales {target.kind} {target.name!r} on {metric.what}, but "
                f"{container_label(container)} has no {metric.resource} request",
            )


def _utilization_metrics(hpa: Resource) -> Iterator[UtilizationMetric]:
    spec = mapping_at(hpa.data, "spec")
    if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        yield UtilizationMetric(
            "cpu",
            None,
            ("spec", "targetCPUUtilizationPercentage"),
            "cpu utilization (targetCPUUtilizationPercentage)",
        )
        return
    metrics = spec.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        # Kubernetes defaults an HPA without metrics to 80 % average CPU utilization.
        yield UtilizationMetric(
            "cpu", None, ("spec",), "cpu utilization (the 80% default of an HPA without metrics)"
        )
        return
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            continue
        kind = metric.get("type")
        key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(str(kind))
        source = metric.get(key) if key else None
        if key is None or not isinstance(source, dict):
            continue
        name = source.get("name")
        target = source.get("target")
        if not isinstance(name, str) or not isinstance(target, dict):
            continue
        if target.get("type") != "Utilization":
            continue
        container = source.get("container") if key == "containerResource" else None
        yield UtilizationMetric(
            name,
            str(container) if container is not None else None,
            ("spec", "metrics", index, key, "name"),
            f"{name} utilization (metrics[{index}])",
        )


def _counted_containers(target: Resource) -> list[Container]:
    """Containers whose requests make up a pod's request in the HPA's arithmetic."""
    return [c for c in target.containers() if not c.init or c.data.get("restartPolicy") == "Always"]


def _requests(container: Container, name: str) -> bool:
    value = mapping_at(container.data, "resources", "requests").get(name)
    if value is None:
        return False
    quantity = parse_quantity(value)
    return quantity is None or quantity > 0  # an unparsable value is the schema rule's
