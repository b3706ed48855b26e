"""Small helpers that several rules share (ports, replicas, HPAs, exemptions' registry)."""

from __future__ import annotations

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

    index = inventory.memo("hpa-by-target", build)
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
    kind = "init container" if container.init else "container"
    return f"{kind} {container.name!r}"
