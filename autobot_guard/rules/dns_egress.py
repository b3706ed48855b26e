from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Severity
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from ..selectors import Selector, parse_label_selector
from .base import Context, Rule, Violation
from .common import object_label, pod_labels_path
from .network_policy import is_network_policy, policy_selections, policy_types

DNS_PORT = 53
# A named port resolves against the destination pod's container ports, which a manifest
# checker cannot see. CoreDNS / kube-dns name their UDP 53 port "dns": it counts as 53.
# Their TCP 53 port is "dns-tcp", which does not carry the UDP queries, like TCP 53.
DNS_PORT_NAMES = frozenset({"dns", "dns-udp"})
DNS_NAMESPACE = "kube-system"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace since 1.21
DNS_POD_LABELS = {"k8s-app": "kube-dns"}  # kube-dns and CoreDNS alike, on most clusters
KNOWN_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


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
    if isinstance(number, bool) or not isinstance(number, int):
        return False
    end = port.get("endPort")
    if isinstance(end, int) and not isinstance(end, bool):
        return number <= DNS_PORT <= end
    return number == DNS_PORT


def _ports_allow_dns(ports: Any) -> bool:
    if ports is None or ports == []:
        return True  # no ports: every port of every protocol
    return isinstance(ports, list) and any(_allows_dns(port) for port in ports)


def _may_select_kube_system(selector: Selector) -> bool:
    """Can a namespaceSelector select kube-system? Its only label we know for sure is
    kubernetes.io/metadata.name; any other label the cluster may have put on it, so a
    requirement on another key is taken as possibly met (an In with no values never is)."""
    known = {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}
    for key, value in selector.match_labels:
        if key in known and known[key] != value:
            return False
    for requirement in selector.expressions:
        if requirement.key in known:
            if not requirement.matches(known):
                return False
        elif requirement.operator not in KNOWN_OPERATORS or (
            requirement.operator == "In" and not requirement.values
        ):
            return False
    return True


def _may_select_kube_dns(selector: Any) -> bool:
    """Can a podSelector (absent = every pod) select the kube-dns pods? They are known by
    `k8s-app: kube-dns`; a selector that requires any other label selects other pods."""
    if selector is None:
        return True
    parsed = parse_label_selector(selector)
    return parsed is not None and parsed.matches(DNS_POD_LABELS)


def _peer_reaches_dns(peer: Any, namespace: str | None) -> bool:
    """Can one `egress[].to[]` peer of a policy in `namespace` be a kube-dns pod?"""
    if not isinstance(peer, dict):
        return False
    if peer.get("ipBlock") is not None:
        # Any CIDR may hold the DNS Service or pod addresses, which differ per cluster.
        return isinstance(peer["ipBlock"], dict)
    namespaces, pods = peer.get("namespaceSelector"), peer.get("podSelector")
    if namespaces is None:
        if pods is None:
            return False  # an empty peer (the API server rejects it)
        # podSelector alone: pods of the policy's own namespace.
        return namespace == DNS_NAMESPACE and _may_select_kube_dns(pods)
    selector = parse_label_selector(namespaces)
    return selector is not None and _may_select_kube_system(selector) and _may_select_kube_dns(pods)


def _rule_allows_dns(rule: Any, namespace: str | None) -> bool:
    """Does one `egress[]` rule of a policy in `namespace` let DNS queries reach kube-dns?"""
    if not isinstance(rule, dict) or not _ports_allow_dns(rule.get("ports")):
        return False
    peers = rule.get("to")
    if peers is None or peers == []:
        return True  # no `to`: every destination
    return isinstance(peers, list) and any(_peer_reaches_dns(peer, namespace) for peer in peers)


def egress_rules(policy: Resource) -> list[Any]:
    """The `spec.egress` rules of a policy; none when absent or malformed (not a list)."""
    rules = policy.get("spec", "egress")
    return rules if isinstance(rules, list) else []


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
    Egress policy selects and asks whether one of their `egress` rules lets a DNS query
    (UDP port 53) reach kube-dns, which runs in namespace kube-system with the pod label
    `k8s-app: kube-dns` on most clusters. An egress rule does when both hold:

    - its `ports` let UDP 53 out: no `ports` (every port), an entry with protocol UDP and
      port 53, no port, a range (`port` to `endPort`) that holds 53, or the port name
      `dns` (what kube-dns and CoreDNS call their UDP 53 port; a named port is resolved
      on the destination pods, which the rule cannot see, so no other name counts). TCP
      53 alone is not enough: resolvers ask over UDP and only retry over TCP when the
      answer is truncated. Allow TCP 53 too, for those large answers;
    - its `to` peers can include the kube-dns pods: no `to` (every destination); an
      `ipBlock` (any CIDR counts, as the DNS Service and pod addresses differ per
      cluster); or a `namespaceSelector` that can select kube-system together with a
      `podSelector` (absent: every pod) that can select the kube-dns pods. A peer with
      only a `podSelector` means the policy's own namespace, so it reaches DNS only from
      a policy in kube-system.

    A namespaceSelector can select kube-system when it is empty (`{}`: every namespace)
    or its label `kubernetes.io/metadata.name` (which Kubernetes sets to the namespace's
    name) agrees with kube-system: `kubernetes.io/metadata.name: autobot-data` reaches no
    DNS. Other labels of kube-system are unknown here (the cluster may set any), so a
    requirement on another label is taken as possibly met. A podSelector can select the
    kube-dns pods when `k8s-app: kube-dns` satisfies it; one that requires any other
    label (`app: autobot-redis`) selects other pods. On a cluster whose DNS pods run
    elsewhere or carry other labels, exempt the workloads or disable the rule.

    A policy that lists `Egress` in `policyTypes` but has no egress rules (or a
    malformed `egress`, which `schema` reports) denies all egress, DNS included, and is
    reported as such.

    Why: without DNS every Service name (autobot-redis, elasticsearch) fails to resolve;
    the pods start, fail their readiness probes or crash-loop, and the NetworkPolicy that
    caused it is rarely the first suspect. An egress rule that opens port 53 only towards
    the pods of the workload's own namespace blocks DNS as surely as no rule at all.
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
    reads = frozenset({"NetworkPolicy"})
    cross_resource = True
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
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"""
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload or resource.pod_spec.get("hostNetwork") is True:
            return
        policies = egress_policies(context.inventory).get(id(resource))
        if not policies:
            return  # no Egress policy: egress is open (network-policy judges coverage)
        rules = [(policy, rule) for policy in policies for rule in egress_rules(policy)]
        if any(_rule_allows_dns(rule, policy.namespace) for policy, rule in rules):
            return
        names = ", ".join(sorted(policy.name for policy in policies))
        if not rules:
            message = (
                f"Egress NetworkPolicy {names} selects the pods of {object_label(resource)} "
                "and allows no egress: all egress, DNS included, is denied"
            )
        else:
            message = (
                f"no egress rule of {names} allows DNS (UDP 53) to kube-dns for the pods of "
                f"{object_label(resource)}: Service names will not resolve"
            )
        yield Violation(pod_labels_path(resource), message)
