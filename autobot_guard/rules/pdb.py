from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..findings import Severity
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from ..selectors import parse_label_selector
from .base import Context, Rule, Violation
from .common import as_int, describe_labels, hpa_for, name_list, object_label, pod_labels_path
from .common import replicas as replica_count

SCOPE = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
_PERCENT = re.compile(r"^(\d+)%$")


@dataclass(slots=True)
class Budget:
    """A PodDisruptionBudget with what it selects, judged at the workloads' minimum scale."""

    pdb: Resource
    workloads: list[Resource]
    pods: int | None  # None when a selected workload's replica count is unknown
    field: str | None  # "maxUnavailable" / "minAvailable" (the one Kubernetes uses), if any
    allowed: int | None  # disruptions allowed with every pod healthy; None if unknown


def scaled(value: Any, total: int) -> int | None:
    """An IntOrString as Kubernetes scales it: ints as is, "N%" of total rounded up."""
    number = as_int(value)
    if number is not None:
        return number
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return -(-int(match.group(1)) * total // 100) if match else None


def allowed_disruptions(spec: dict[str, Any], pods: int, v1beta1: bool) -> int | None:
    """status.disruptionsAllowed the disruption controller computes with all pods healthy."""
    if spec.get("maxUnavailable") is not None:
        unavailable = scaled(spec["maxUnavailable"], pods)
        if unavailable is None:
            return None
        desired = max(0, pods - unavailable)
    elif spec.get("minAvailable") is not None:
        desired_or_none = scaled(spec["minAvailable"], pods)
        if desired_or_none is None:
            return None
        desired = desired_or_none
    else:
        desired = 1 if v1beta1 else 0  # policy/v1beta1 defaulted minAvailable to 1
    return max(0, pods - desired)


def budgets(inventory: Inventory) -> tuple[dict[int, Budget], dict[int, list[Budget]]]:
    """(id(PDB) -> Budget, id(workload) -> Budgets selecting its pods), computed once."""

    def build() -> tuple[dict[int, Budget], dict[int, list[Budget]]]:
        by_pdb: dict[int, Budget] = {}
        by_workload: dict[int, list[Budget]] = {}
        for pdb in inventory.resources:
            if pdb.kind != "PodDisruptionBudget" or pdb.group != "policy":
                continue
            v1beta1 = pdb.api_version == "policy/v1beta1"
            selector = parse_label_selector(pdb.get("spec", "selector"))
            if selector is None or (v1beta1 and selector.is_empty):
                workloads: list[Resource] = []  # null selects nothing; so did {} in v1beta1
            else:
                workloads = inventory.select_workloads(pdb.namespace, selector)
            counts = [replica_count(workload, inventory) for workload in workloads]
            pods = None if None in counts else sum(c for c in counts if c is not None)
            spec = pdb.get("spec") if isinstance(pdb.get("spec"), dict) else {}
            field = next(
                (f for f in ("maxUnavailable", "minAvailable") if spec.get(f) is not None), None
            )
            allowed = None if pods is None else allowed_disruptions(spec, pods, v1beta1)
            budget = Budget(pdb, workloads, pods, field, allowed)
            by_pdb[id(pdb)] = budget
            for workload in workloads:
                by_workload.setdefault(id(workload), []).append(budget)
        return by_pdb, by_workload

    return inventory.memo("pdb:budgets", build)


class PodDisruptionBudget(Rule):
    """A workload with 2 or more replicas has a PodDisruptionBudget that allows a disruption.

    For Deployments, StatefulSets and ReplicaSets whose replica count is at least 2 (the
    HPA's minReplicas when an HPA scales the workload, else spec.replicas), a
    PodDisruptionBudget of the same namespace must select the pods (matchLabels and
    matchExpressions; `selector: {}` selects every pod of the namespace, a missing selector
    none). A workload selected by more than one PDB is reported: the eviction API refuses
    to evict such pods. A PDB that allows no disruption at the selected workloads' minimum
    scale is reported on the PDB itself, for any replica count: `maxUnavailable: 0` (or a
    percentage rounding to 0) or `minAvailable` (an int, or a percentage rounded up as
    Kubernetes does) at or above the number of pods.

    Why: without a PDB a node drain or cluster upgrade may evict every replica of the
    backend or an agent at once; with a PDB that allows nothing, `kubectl drain` hangs and
    node upgrades stall until someone deletes the pods by hand.
    """

    id = "pdb"
    default_severity = Severity.WARNING
    summary = "Replicated workloads have a PodDisruptionBudget that allows a disruption"
    fix = (
        "Add a policy/v1 PodDisruptionBudget whose selector matches the pod labels, with "
        "`maxUnavailable: 1` (or `minAvailable` below the minimum replica count)."
    )
    kinds = SCOPE | {"PodDisruptionBudget"}
    # the workloads a PDB selects; a workload's PDBs, and its HPA for its replica count
    reads = WORKLOADS | {"PodDisruptionBudget", "HorizontalPodAutoscaler"}
    cross_resource = True
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  replicas: 2
  selector: {matchLabels: {app: autobot-backend}}
  template:
    metadata: {labels: {app: autobot-backend}}
    spec:
      containers:
      - {name: backend, image: "ghcr.io/mrveiss/autobot-backend:1.4.0"}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: autobot-backend}}
"""
    passing_example = failing_example.replace("minAvailable: 2", "maxUnavailable: 1")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        by_pdb, by_workload = budgets(context.inventory)
        if resource.kind == "PodDisruptionBudget":
            budget = by_pdb.get(id(resource))
            if budget is not None and budget.allowed == 0 and budget.pods:
                yield self._blocking(budget)
            return
        if resource.group != "apps":
            return
        found = by_workload.get(id(resource), [])
        if len(found) > 1:
            yield Violation(
                pod_labels_path(resource),
                f"the pods of {object_label(resource)} are selected by {len(found)} "
                f"PodDisruptionBudgets ({', '.join(b.pdb.name for b in found)}): eviction "
                "refuses such pods, so drains block",
            )
            return
        count = replica_count(resource, context.inventory)
        if not found and count is not None and count >= 2:
            scale = (
                f"HPA minReplicas {count}"
                if hpa_for(resource, context.inventory)
                else f"{count} replicas"
            )
            yield Violation(
                pod_labels_path(resource),
                f"no PodDisruptionBudget selects the pods of {object_label(resource)} "
                f"({scale}; {describe_labels(resource.pod_labels)})",
            )

    @staticmethod
    def _blocking(budget: Budget) -> Violation:
        spec_value = budget.pdb.get("spec", budget.field) if budget.field else None
        setting = f"{budget.field} {spec_value}" if budget.field else "minAvailable 1 (default)"
        return Violation(
            ("spec", budget.field) if budget.field else ("spec",),
            f"{object_label(budget.pdb)} blocks node drains: {setting} with {budget.pods} pods "
            f"({name_list(budget.workloads)})",
        )
