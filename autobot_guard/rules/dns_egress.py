from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Severity
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from .base import Context, Rule, Violation
from .common import object_label, pod_labels_path
from .network_policy import is_network_policy, policy_selections, policy_types

DNS_PORT = 53
DNS_PORT_NAMES = frozenset({"dns", "dns-udp"})  # kube-dns / CoreDNS name their UDP port "dns"


def _allows_dns(port: Any) -> bool:
    """Does one `egress[].ports[]` entry let UDP port 53 through?"""
    if not isinstance(port, dict):
        return False
    if str(port.get("protocol") or "TCP") != "UDP":  # the API defaults protocol to TCP
        return False
    number = port.get("port")
    if number is None:
        return True  # every port of the protocol
    if isinstance(number, str):
        return number in DNS_PORT_NAMES or number == str(DNS_PORT)
    end = port.get("endPort")
    if isinstance(number, int) and isinstance(end, int):
        return number <= DNS_PORT <= end
    return number == DNS_PORT


def _rule_allows_dns(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False
    ports = rule.get("ports")
    if not ports:  # no ports: every port to the listed peers (or everywhere)
        return True
    return isinstance(ports, list) and any(_allows_dns(port) for port in ports)


def egress_policies(inventory: Inventory) -> dict[int, list[Resource]]:
    """id(workload) -> the Egress NetworkPolicies that select its pods."""

    def build() -> dict[int, list[Resource]]:
        found: dict[int, list[Resource]] = {}
        selections = policy_selections(inventory)
        for policy in inventory.resources:
            if is_network_policy(policy) and "Egress" in policy_types(policy):
                for workload in selections[id(policy)]:
                    found.setdefault(id(workload), []).append(policy)
        return found

    return inventory.memo("dns-egress:policies", build)


class DnsEgress(Rule):
    """Pods that Egress NetworkPolicies select can still reach DNS.

    Once any NetworkPolicy with policy type Egress selects a pod, the pod may only send
    what one of those policies allows. This rule looks at every workload whose pods some
    Egress policy selects and asks whether the union of their `egress` rules lets UDP
    port 53 out (a rule without `ports`, a port 53 or `dns` entry with protocol UDP, or a
    port range that holds 53). A policy that lists `Egress` in `policyTypes` but has no
    egress rules denies all egress, DNS included, and is reported as such.

    Why: without DNS every Service name (autobot-redis, elasticsearch) fails to resolve;
    the pods start, fail their readiness probes or crash-loop, and the NetworkPolicy that
    caused it is rarely the first suspect.
    """

    id = "dns-egress"
    default_severity = Severity.ERROR
    summary = "Pods selected by Egress NetworkPolicies are still allowed DNS (UDP 53)"
    fix = (
        "Add an egress rule that allows UDP (and TCP) port 53 to kube-dns, e.g. `to: "
        "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
        "podSelector: {matchLabels: {k8s-app: kube-dns}}}]`, next to the traffic the "
        "component needs."
    )
    kinds = WORKLOADS
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chat-agent, namespace: autobot-system}
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
metadata: {name: autobot-agent-policy, namespace: autobot-system}
spec:
  podSelector: {matchLabels: {component: ai-agent}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: autobot-backend}}}]
"""
    passing_example = (
        failing_example
        + """\
  egress:
  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"""
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload or resource.pod_spec.get("hostNetwork") is True:
            return
        policies = egress_policies(context.inventory).get(id(resource))
        if not policies:
            return  # no Egress policy: egress is open (network-policy judges coverage)
        rules = [
            rule
            for policy in policies
            for rule in (policy.get("spec", "egress") or [])
            if isinstance(policy.get("spec", "egress"), list)
        ]
        if any(_rule_allows_dns(rule) for rule in rules):
            return
        names = ", ".join(sorted(policy.name for policy in policies))
        if not rules:
            message = (
                f"Egress NetworkPolicy {names} selects the pods of {object_label(resource)} "
                "and allows no egress: all egress, DNS included, is denied"
            )
        else:
            message = (
                f"no egress rule of {names} allows DNS (UDP 53) for the pods of "
                f"{object_label(resource)}: Service names will not resolve"
            )
        yield Violation(pod_labels_path(resource), message)
