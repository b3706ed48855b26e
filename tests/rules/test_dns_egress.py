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
    return [(f.line, f.path, f.message) for f in of_rule(run(text), "dns-egress")]


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
