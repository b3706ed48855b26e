from __future__ import annotations

import pytest

from tests.util import of_rule, run

WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-rag-agent, namespace: autobot-system}
spec:
  replicas: 2
  selector: {matchLabels: {app: autobot-rag-agent}}
  template:
    metadata:
      labels: {app: autobot-rag-agent, component: ai-agent}
    spec:
      containers:
      - {name: rag-agent, image: "ghcr.io/mrveiss/autobot-rag-agent:1.4.0"}
"""


def policy(
    egress: str, types: str = "[Ingress, Egress]", selector: str = "{component: ai-agent}"
) -> str:
    return f"""\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: agents, namespace: autobot-system}}
spec:
  podSelector: {{matchLabels: {selector}}}
  policyTypes: {types}
{egress}"""


def messages(text: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "dns-egress")]


def test_egress_type_without_rules_denies_everything_dns_included() -> None:
    [(line, path, message)] = messages(WORKLOAD + policy(""))
    assert (line, path) == (9, "spec.template.metadata.labels")
    assert message == (
        "Egress NetworkPolicy agents selects the pods of Deployment autobot-system/autobot-rag-agent "
        "and allows no egress: all egress, DNS included, is denied"
    )


def test_egress_rules_without_dns_are_reported() -> None:
    egress = "  egress:\n  - to: [{podSelector: {matchLabels: {app: autobot-redis}}}]\n    ports: [{port: 6379}]\n"
    [(_, _, message)] = messages(WORKLOAD + policy(egress))
    assert message.startswith("no egress rule of agents allows DNS (UDP 53)")


@pytest.mark.parametrize(
    "ports",
    [
        "[{port: 53, protocol: UDP}]",
        "[{port: dns, protocol: UDP}]",
        "[{port: 50, endPort: 60, protocol: UDP}]",
        "[{protocol: UDP}]",
    ],
)
def test_dns_allowed_in_any_form_passes(ports: str) -> None:
    assert messages(WORKLOAD + policy(f"  egress:\n  - ports: {ports}\n")) == []


def test_tcp_53_alone_is_not_enough() -> None:
    assert len(messages(WORKLOAD + policy("  egress:\n  - ports: [{port: 53}]\n"))) == 1


def test_a_rule_without_ports_allows_dns() -> None:
    egress = "  egress:\n  - to: [{namespaceSelector: {}}]\n"
    assert messages(WORKLOAD + policy(egress)) == []


def test_dns_allowed_by_another_policy_selecting_the_same_pods() -> None:
    dns = policy(
        "  egress:\n  - ports: [{port: 53, protocol: UDP}]\n",
        types="[Egress]",
        selector="{app: autobot-rag-agent}",
    )
    text = WORKLOAD + policy("") + dns.replace("name: agents", "name: allow-dns")
    assert messages(text) == []


def test_ingress_only_policies_leave_egress_open() -> None:
    assert messages(WORKLOAD + policy("", types="[Ingress]")) == []


def test_policies_that_do_not_select_the_pods_do_not_count() -> None:
    assert messages(WORKLOAD + policy("", selector="{component: database}")) == []


KUBE_DNS = (
    "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
    "podSelector: {matchLabels: {k8s-app: kube-dns}}}"
)
UDP_53 = "[{port: 53, protocol: UDP}]"


def rule(to: str | None = None, ports: str | None = None) -> str:
    """One egress rule; None leaves the field out."""
    lines = ["  egress:", "  - {}" if to is None and ports is None else "  -"]
    if to is not None:
        lines.append(f"    to: {to}")
    if ports is not None:
        lines.append(f"    ports: {ports}")
    return "\n".join(lines) + "\n"


# Egress rules that let DNS queries reach kube-dns, and their near misses that do not.
REACHES_DNS = {
    "no to, no ports": rule(),
    "no ports to every namespace": rule(to="[{namespaceSelector: {}}]"),
    "empty to list": rule(to="[]", ports=UDP_53),
    "kube-system by name, kube-dns pods": rule(to=f"[{KUBE_DNS}]", ports=UDP_53),
    "every namespace, kube-dns pods": rule(
        to="[{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]",
        ports=UDP_53,
    ),
    "kube-system by name, every pod": rule(
        to="[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]",
        ports=UDP_53,
    ),
    "kube-system by matchExpressions": rule(
        to="[{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, "
        "operator: In, values: [kube-system, monitoring]}]}}]",
        ports=UDP_53,
    ),
    "namespace label the cluster may set": rule(
        to="[{namespaceSelector: {matchLabels: {name: kube-system}}}]", ports=UDP_53
    ),
    "endPort range holding 53": rule(
        to=f"[{KUBE_DNS}]", ports="[{port: 50, endPort: 60, protocol: UDP}]"
    ),
    "named port dns": rule(to=f"[{KUBE_DNS}]", ports="[{port: dns, protocol: UDP}]"),
    "UDP, every port": rule(to=f"[{KUBE_DNS}]", ports="[{protocol: UDP}]"),
    "ipBlock, UDP 53": rule(to="[{ipBlock: {cidr: 10.96.0.10/32}}]", ports=UDP_53),
    "ipBlock, every port": rule(to="[{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]"),
    "second peer reaches kube-dns": rule(
        to=f"[{{podSelector: {{matchLabels: {{app: autobot-redis}}}}}}, {KUBE_DNS}]",
        ports=UDP_53,
    ),
}
BLOCKS_DNS = {
    "same-namespace pods only": rule(to="[{podSelector: {}}]"),
    "same-namespace pods only, UDP 53": rule(to="[{podSelector: {}}]", ports=UDP_53),
    "same-namespace kube-dns labels": rule(
        to="[{podSelector: {matchLabels: {k8s-app: kube-dns}}}]", ports=UDP_53
    ),
    "another namespace by name": rule(
        to="[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: autobot-data}}}]"
    ),
    "every namespace but kube-system": rule(
        to="[{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, "
        "operator: NotIn, values: [kube-system]}]}}]",
        ports=UDP_53,
    ),
    "every namespace, other pods": rule(
        to="[{namespaceSelector: {}, podSelector: {matchLabels: {app: autobot-redis}}}]"
    ),
    "kube-system, other pods": rule(
        to="[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
        "podSelector: {matchLabels: {k8s-app: metrics-server}}}]",
        ports=UDP_53,
    ),
    "kube-dns, only 443": rule(to=f"[{KUBE_DNS}]", ports="[{port: 443, protocol: TCP}]"),
    "kube-dns, only 443 UDP": rule(to=f"[{KUBE_DNS}]", ports="[{port: 443, protocol: UDP}]"),
    "kube-dns, TCP 53 only": rule(
        to=f"[{KUBE_DNS}]", ports="[{port: 53, protocol: TCP}, {port: dns-tcp}]"
    ),
    "kube-dns, other named port": rule(to=f"[{KUBE_DNS}]", ports="[{port: http, protocol: UDP}]"),
    "endPort range without 53": rule(
        to=f"[{KUBE_DNS}]", ports="[{port: 54, endPort: 60, protocol: UDP}]"
    ),
    "empty peer (the API server rejects it)": rule(to="[{}]", ports=UDP_53),
    "ipBlock, only 443": rule(to="[{ipBlock: {cidr: 0.0.0.0/0}}]", ports="[{port: 443}]"),
}


@pytest.mark.parametrize("egress", REACHES_DNS.values(), ids=REACHES_DNS.keys())
def test_egress_rules_that_reach_kube_dns_pass(egress: str) -> None:
    assert messages(WORKLOAD + policy(egress)) == []


@pytest.mark.parametrize("egress", BLOCKS_DNS.values(), ids=BLOCKS_DNS.keys())
def test_egress_rules_that_cannot_reach_kube_dns_are_reported(egress: str) -> None:
    [(_, _, message)] = messages(WORKLOAD + policy(egress))
    assert message == (
        "no egress rule of agents allows DNS (UDP 53) to kube-dns for the pods of "
        "Deployment autobot-system/autobot-rag-agent: Service names will not resolve"
    )


def test_default_deny_plus_same_namespace_egress_blocks_dns() -> None:
    allow = policy(rule(to="[{podSelector: {}}]"), types="[Egress]", selector="{}")
    text = WORKLOAD + policy("") + allow.replace("name: agents", "name: allow-same-namespace")
    [(_, _, message)] = messages(text)
    assert message.startswith("no egress rule of agents, allow-same-namespace allows DNS")


def test_pod_selector_alone_reaches_kube_dns_from_a_policy_in_kube_system() -> None:
    egress = rule(to="[{podSelector: {matchLabels: {k8s-app: kube-dns}}}]", ports=UDP_53)
    text = (WORKLOAD + policy(egress)).replace(
        "namespace: autobot-system", "namespace: kube-system"
    )
    assert messages(text) == []


# Malformed shapes (`schema` reports each): never a crash, and they allow nothing.
MALFORMED = {
    "egress is a number": "  egress: 5\n",
    "egress is a string": "  egress: dns\n",
    "egress is a mapping": "  egress: {to: [], ports: []}\n",
    "rule is a number": "  egress: [5]\n",
    "to is a number": rule(to="5"),
    "to is a mapping": rule(to="{namespaceSelector: {}}", ports=UDP_53),
    "ports is a number": rule(ports="5"),
    "ports is a mapping": rule(ports="{port: 53, protocol: UDP}"),
    "ports is false": rule(ports="false"),
    "peer is a string": rule(to="[kube-dns]", ports=UDP_53),
    "port entry is a number": rule(ports="[53]"),
    "port is a list": rule(ports="[{port: [53], protocol: UDP}]"),
    "port is a bool": rule(ports="[{port: true, protocol: UDP}]"),
    "namespaceSelector is a number": rule(to="[{namespaceSelector: 5}]", ports=UDP_53),
    "matchLabels is a list": rule(
        to="[{namespaceSelector: {matchLabels: [kube-system]}}]", ports=UDP_53
    ),
    "matchExpressions is a number": rule(
        to="[{namespaceSelector: {}, podSelector: {matchExpressions: 5}}]", ports=UDP_53
    ),
    "podSelector is a string": rule(to="[{namespaceSelector: {}, podSelector: dns}]"),
    "ipBlock is a number": rule(to="[{ipBlock: 5}]", ports=UDP_53),
}


@pytest.mark.parametrize("egress", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_egress_allows_nothing_and_does_not_crash(egress: str) -> None:
    report = run(WORKLOAD + policy(egress))
    [finding] = of_rule(report, "dns-egress")
    assert finding.path_text == "spec.template.metadata.labels"
    assert "DNS" in finding.message
    assert of_rule(report, "schema"), "schema reports the malformed field"


def test_malformed_egress_with_a_valid_dns_policy_beside_it_passes() -> None:
    dns = policy(rule(to=f"[{KUBE_DNS}]", ports=UDP_53), types="[Egress]", selector="{}")
    text = WORKLOAD + policy("  egress: 5\n") + dns.replace("name: agents", "name: allow-dns")
    assert messages(text) == []
