from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from ..findings import Severity
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from ..selectors import Selector, parse_label_selector
from .base import Context, Rule, RuleSettings, Violation
from .common import describe_labels, object_label, pod_labels_path

NETWORKING_GROUP = "networking.k8s.io"


def is_network_policy(resource: Resource) -> bool:
    return resource.kind == "NetworkPolicy" and resource.group == NETWORKING_GROUP


def policy_types(policy: Resource) -> frozenset[str]:
    """policyTypes after Kubernetes' defaulting: when absent or empty, Ingress always, plus
    Egress when the policy has a non-empty `egress` list."""
    declared = policy.get("spec", "policyTypes")
    if isinstance(declared, list) and declared:
        return frozenset(str(item) for item in declared)
    egress = policy.get("spec", "egress")
    return frozenset({"Ingress", "Egress"} if isinstance(egress, list) and egress else {"Ingress"})


def pod_selector(policy: Resource) -> Selector | None:
    """The policy's podSelector; absent or null is `{}` (every pod of the namespace), as the
    API server stores it; None when malformed (selects nothing)."""
    value = policy.get("spec", "podSelector")
    return Selector((), ()) if value is None else parse_label_selector(value)


def parsed_policies(inventory: Inventory) -> list[tuple[Resource, Selector | None, frozenset[str]]]:
    """Every NetworkPolicy with its parsed podSelector and policy types. Reads only
    NetworkPolicies, so a set that differs in other objects shares it (see Inventory)."""

    def build() -> list[tuple[Resource, Selector | None, frozenset[str]]]:
        return [
            (policy, pod_selector(policy), policy_types(policy))
            for policy in inventory.resources
            if is_network_policy(policy)
        ]

    return inventory.memo("network-policy:parsed", build, frozenset({"NetworkPolicy"}))


def policy_selections(inventory: Inventory) -> dict[int, list[Resource]]:
    """id(NetworkPolicy) -> workloads of its namespace whose pods its podSelector selects."""

    def build() -> dict[int, list[Resource]]:
        return {
            id(policy): []
            if selector is None
            else inventory.select_workloads(policy.namespace, selector)
            for policy, selector, _types in parsed_policies(inventory)
        }

    return inventory.memo("network-policy:selections", build)


def covered(inventory: Inventory) -> dict[str, set[int]]:
    """Policy type -> ids of the workloads some NetworkPolicy of that type selects."""

    def build() -> dict[str, set[int]]:
        coverage: dict[str, set[int]] = {"Ingress": set(), "Egress": set()}
        selections = policy_selections(inventory)
        for policy, _selector, types in parsed_policies(inventory):
            ids = {id(workload) for workload in selections[id(policy)]}
            for policy_type in types & coverage.keys():
                coverage[policy_type] |= ids
        return coverage

    return inventory.memo("network-policy:covered", build)


class NetworkPolicySettings(RuleSettings):
    require_egress: bool = Field(
        default=False,
        alias="requireEgress",
        description="Also require an Egress NetworkPolicy selecting every workload's pods.",
    )


class NetworkPolicy(Rule):
    """Every workload's pods are selected by a NetworkPolicy with policy type Ingress.

    A NetworkPolicy (networking.k8s.io) selects the pods of its own namespace that its
    `podSelector` matches (matchLabels and matchExpressions ANDed; an empty or absent
    `podSelector` selects every pod of the namespace). Policies of other namespaces never
    count. `policyTypes` is read as Kubernetes defaults it: when absent, a policy is an
    Ingress policy, and also an Egress policy when it has a non-empty `egress` list. With
    `requireEgress: true`, an Egress policy must select the pods too. Pods with
    `hostNetwork: true` are skipped: NetworkPolicies do not apply to them.

    Why: a pod no Ingress policy selects accepts connections from every pod of the cluster;
    one compromised agent could then reach Redis, PostgreSQL or the backend's admin API.
    """

    id = "network-policy"
    default_severity = Severity.ERROR
    summary = "Every workload's pods are selected by an Ingress NetworkPolicy"
    fix = (
        "Add a NetworkPolicy in the workload's namespace whose podSelector matches its pod "
        "labels (a namespace-wide default-deny with `podSelector: {}` covers every pod), then "
        "allow the traffic the component really needs."
    )
    kinds = WORKLOADS
    reads = frozenset({"NetworkPolicy"})
    cross_resource = True
    Settings = NetworkPolicySettings
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-backend}}
  template:
    metadata: {labels: {app: autobot-backend, component: api}}
    spec:
      containers:
      - {name: backend, image: "ghcr.io/mrveiss/autobot-backend:1.4.0"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: agents-ingress, namespace: autobot-system}
spec:
  podSelector: {matchLabels: {component: ai-agent}}
  policyTypes: [Ingress]
"""
    passing_example = failing_example.replace(
        "  podSelector: {matchLabels: {component: ai-agent}}\n", "  podSelector: {}\n"
    ).replace("agents-ingress", "default-deny-ingress")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload or resource.pod_spec.get("hostNetwork") is True:
            return
        coverage = covered(context.inventory)
        wanted = ("Ingress", "Egress") if self.settings.require_egress else ("Ingress",)
        for policy_type in wanted:
            if id(resource) not in coverage[policy_type]:
                yield Violation(
                    pod_labels_path(resource),
                    f"no NetworkPolicy with {policy_type} selects the pods of "
                    f"{object_label(resource)} ({describe_labels(resource.pod_labels)})",
                )
