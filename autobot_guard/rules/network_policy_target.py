from __future__ import annotations

from collections.abc import Iterator

from ..findings import Severity
from ..resources import WORKLOADS, Resource
from .base import Context, Rule, Violation
from .common import object_label
from .network_policy import is_network_policy, pod_selector, policy_selections


class NetworkPolicyTarget(Rule):
    """A NetworkPolicy with a non-empty podSelector selects some workload's pods.

    The podSelector is matched against the pod template labels of the workloads
    (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicaSets, bare Pods) of the
    policy's own namespace. A policy with an empty or absent podSelector applies to the
    whole namespace and is not judged.

    Why: a policy whose selector matches no pod protects nothing. It usually means a label
    was renamed (`app: chat-agent` vs `app: autobot-chat-agent`) and the pods it was written
    for are open, or cut off, in a way nobody intended.
    """

    id = "network-policy-target"
    default_severity = Severity.WARNING
    summary = "A NetworkPolicy with a podSelector selects some workload's pods"
    fix = (
        "Correct the podSelector so it matches the pod template labels of the workloads it is "
        "meant for (same namespace), or delete the policy if those workloads are gone."
    )
    kinds = frozenset({"NetworkPolicy"})
    reads = WORKLOADS
    cross_resource = True
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent, component: ai-agent}}
    spec:
      containers:
      - {name: chat-agent, image: "ghcr.io/mrveiss/autobot-chat-agent:1.4.0"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: agents-ingress, namespace: autobot-system}
spec:
  podSelector: {matchLabels: {component: agent}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: autobot-backend}}}]
    ports: [{port: 8000}]
"""
    passing_example = failing_example.replace("{component: agent}", "{component: ai-agent}")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not is_network_policy(resource):
            return
        selector = pod_selector(resource)
        if selector is None or selector.is_empty:
            return
        if not policy_selections(context.inventory)[id(resource)]:
            yield Violation(
                ("spec", "podSelector"),
                f"{object_label(resource)} selects no workload's pods in {resource.namespace} "
                f"(podSelector {selector.describe()})",
            )
