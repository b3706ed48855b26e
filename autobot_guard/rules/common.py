"""Small helpers that several rules share (ports, replicas, HPAs, exemptions' registry)."""

from __future__ import annotations

import copy
from typing import Any

from ..inventory import Inventory
from ..resources import Container, Resource

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
SCALABLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


def declared_ports(container: dict[str, Any]) -> tuple[set[int], set[str]]:
    """(containerPort numbers, port names) a container declares."""
    numbers: set[int] = set()
    names: set[str] = set()
    ports = container.get("ports")
    if isinstance(ports, list):
        for port in ports:
            if not isinstance(port, dict):
                continue
            number = port.get("containerPort")
            if isinstance(number, int) and not isinstance(number, bool):
                numbers.add(number)
            name = port.get("name")
            if isinstance(name, str):
                names.add(name)
    return numbers, names


def hpa_for(resource: Resource, inventory: Inventory) -> Resource | None:
    """The HorizontalPodAutoscaler whose scaleTargetRef names this workload, if any."""

    def build() -> dict[tuple[str | None, str, str], Resource]:
        index: dict[tuple[str | None, str, str], Resource] = {}
        for candidate in inventory.resources:
            if candidate.kind != "HorizontalPodAutoscaler":
                continue
            target = candidate.get("spec", "scaleTargetRef")
            if isinstance(target, dict):
                key = (candidate.namespace, str(target.get("kind")), str(target.get("name")))
                index.setdefault(key, candidate)
        return index

    index = inventory.memo("hpa-by-target", build, frozenset({"HorizontalPodAutoscaler"}))
    return index.get((resource.namespace, resource.kind, resource.name))


def replicas(resource: Resource, inventory: Inventory) -> int | None:
    """How many pods a workload runs at least: HPA minReplicas when scaled, else spec.replicas.

    None for kinds without a replica count (DaemonSet, Job, bare Pod counts as 1).
    """
    if resource.kind == "Pod":
        return 1
    if resource.kind not in SCALABLE:
        return None
    hpa = hpa_for(resource, inventory)
    if hpa is not None:
        value = hpa.get("spec", "minReplicas")
        return value if isinstance(value, int) and not isinstance(value, bool) else 1
    value = resource.get("spec", "replicas")
    if value is None:
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def container_label(container: Container) -> str:
    kind = (
        "init container"
        if container.init
        else "ephemeral container"
        if container.ephemeral
        else "container"
    )
    return f"{kind} {container.name!r}"


def as_int(value: Any) -> int | None:
    """`value` if it is a YAML integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def existing_path(resource: Resource, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The longest leading part of `path` that exists in the resource: where a missing field
    is reported (its nearest existing parent)."""
    from ..locate import existing_depth

    return path[: existing_depth(resource.data, path)]


def mapping_at(data: Any, *path: str) -> dict[str, Any]:
    """The mapping at `path` inside `data`, or {} when absent or not a mapping."""
    node = data
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def object_label(resource: Resource) -> str:
    """Like `Deployment autobot-system/autobot-backend` (`Kind name` when cluster-scoped)."""
    if resource.namespace:
        return f"{resource.kind} {resource.namespace}/{resource.name}"
    return f"{resource.kind} {resource.name}"


def describe_labels(labels: dict[str, Any], limit: int = 3) -> str:
    """Like `labels app=autobot-backend, component=api, +2 more`; `no labels` when empty."""
    items = [f"{key}={value}" for key, value in labels.items()]
    if not items:
        return "no labels"
    shown = ", ".join(items[:limit])
    more = f", +{len(items) - limit} more" if len(items) > limit else ""
    return f"labels {shown}{more}"


def pod_labels_path(resource: Resource) -> tuple[str | int, ...]:
    """Where a workload's pod template labels are (the Pod's own labels for a bare Pod)."""
    return (*resource.template_path, "metadata", "labels")


def name_list(resources: list[Resource], limit: int = 2) -> str:
    """Like `Deployment ns/a, StatefulSet ns/b, +3 more`, for messages naming several objects."""
    shown = ", ".join(object_label(resource) for resource in resources[:limit])
    extra = len(resources) - limit
    return shown if extra <= 0 else f"{shown}, +{extra} more"


def selector_of(resource: Resource) -> dict[str, Any] | None:
    """A label selector for exactly the pods of a workload, as a new object would carry it.

    The workload's own `spec.selector` (matchLabels / matchExpressions), or for a bare Pod,
    a Job or a CronJob (whose selectors Kubernetes generates) the pod template's labels.
    None when there is nothing to select by: a new object would then need a human.
    """
    if resource.kind in ("Pod", "Job", "CronJob"):
        labels = resource.pod_labels
        if labels and all(isinstance(v, str) for v in labels.values()):
            return {"matchLabels": dict(labels)}
        return None
    selector = resource.get("spec", "selector")
    if not isinstance(selector, dict):
        return None
    out = {
        k: copy.deepcopy(selector[k]) for k in ("matchLabels", "matchExpressions") if k in selector
    }
    return out if any(out.values()) else None


def new_metadata(resource: Resource, name: str) -> dict[str, Any]:
    """metadata of a new object written beside `resource`: its name, the namespace the
    resource's file names (none if it names none) and the resource's own labels."""
    metadata: dict[str, Any] = {"name": name}
    if isinstance(resource.metadata.get("namespace"), str):
        metadata["namespace"] = resource.metadata["namespace"]
    labels = resource.metadata.get("labels")
    if isinstance(labels, dict) and labels:
        metadata["labels"] = copy.deepcopy(labels)
    return metadata


def free_name(inventory: Inventory, kind: str, resource: Resource, *names: str) -> str | None:
    """The first of `names` that no object of `kind` in the resource's namespace has."""
    for name in names:
        if inventory.find(kind, resource.namespace, name) is None:
            return name
    return None
