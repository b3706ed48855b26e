"""network-policy-target: a NetworkPolicy with a podSelector selects some workload's pods."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

AGENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: rag-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-rag-agent}}
  template:
    metadata: {labels: {app: autobot-rag-agent, component: ai-agent, agent-type: rag}}
    spec:
      containers: [{name: rag-agent, image: "ghcr.io/mrveiss/autobot-rag-agent:1.4.0"}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: agents-ingress, namespace: NAMESPACE}
spec:
  podSelector:
SELECTOR
  policyTypes: [Ingress]
"""


def findings(selector: str, namespace: str = "autobot-system") -> list[tuple[int, str, str]]:
    text = AGENT.replace("NAMESPACE", namespace).replace("SELECTOR", selector)
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "network-policy-target")]


@pytest.mark.parametrize(
    "selector",
    [
        "    matchLabels: {component: ai-agent}",
        "    matchLabels: {app: autobot-rag-agent, agent-type: rag}",
        "    matchExpressions: [{key: agent-type, operator: In, values: [chat, rag]}]",
        "    matchExpressions: [{key: agent-type, operator: NotIn, values: [chat]}]",
        "    matchExpressions: [{key: component, operator: Exists}]",
        "    matchExpressions: [{key: canary, operator: DoesNotExist}]",
    ],
)
def test_a_selector_that_matches_a_workload_passes(selector: str) -> None:
    assert findings(selector) == []


@pytest.mark.parametrize(
    ("selector", "described"),
    [
        ("    matchLabels: {component: agent}", "component=agent"),
        (
            "    matchLabels: {component: ai-agent, agent-type: chat}",
            "component=ai-agent, agent-type=chat",
        ),
        (
            "    matchExpressions: [{key: agent-type, operator: In, values: [chat]}]",
            "agent-type In (chat)",
        ),
        (
            "    matchExpressions: [{key: agent-type, operator: NotIn, values: [rag]}]",
            "agent-type NotIn (rag)",
        ),
        ("    matchExpressions: [{key: tier, operator: Exists}]", "Exists tier"),
        (
            "    matchExpressions: [{key: component, operator: DoesNotExist}]",
            "DoesNotExist component",
        ),
    ],
)
def test_a_selector_that_matches_nothing_is_reported(selector: str, described: str) -> None:
    message = (
        "NetworkPolicy autobot-system/agents-ingress selects no workload's pods in "
        f"autobot-system (podSelector {described})"
    )
    assert findings(selector) == [(15, "spec.podSelector", message)]


def test_workloads_of_another_namespace_do_not_count() -> None:
    message = (
        "NetworkPolicy autobot-data/agents-ingress selects no workload's pods in autobot-data "
        "(podSelector component=ai-agent)"
    )
    assert findings("    matchLabels: {component: ai-agent}", "autobot-data") == [
        (15, "spec.podSelector", message)
    ]


@pytest.mark.parametrize("selector", ["    {}", "    matchLabels: {}", "    null"])
def test_namespace_wide_policies_are_not_judged(selector: str) -> None:
    assert findings(selector, "autobot-data") == []


def test_policies_without_namespace_are_matched_in_default() -> None:
    text = AGENT.replace("namespace: autobot-system", "namespace: default").replace(
        "metadata: {name: agents-ingress, namespace: NAMESPACE}", "metadata: {name: agents-ingress}"
    )
    text = text.replace("SELECTOR", "    matchLabels: {component: ai-agent}")
    assert of_rule(run(text), "network-policy-target") == []
    report = run(text.replace("namespace: default", "namespace: autobot-system"))
    assert [f.message for f in of_rule(report, "network-policy-target")] == [
        "NetworkPolicy default/agents-ingress selects no workload's pods in default "
        "(podSelector component=ai-agent)"
    ]
    assert of_rule(report, "network-policy-target")[0].severity.value == "warning"
