"""network-policy: every workload's pods are selected by an Ingress (optionally Egress) policy."""

from __future__ import annotations

import pytest

from tests.util import of_rule, pack_with, run

AGENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat-agent
  namespace: autobot-system
spec:
  selector:
    matchLabels: {app: autobot-chat-agent}
  template:
    metadata:
      labels: {app: autobot-chat-agent, component: ai-agent, agent-type: chat}
    spec:
      containers:
      - {name: chat-agent, image: "ghcr.io/mrveiss/autobot-chat-agent:1.4.0"}
"""
NO_INGRESS = (
    "no NetworkPolicy with Ingress selects the pods of Deployment autobot-system/chat-agent "
    "(labels app=autobot-chat-agent, component=ai-agent, agent-type=chat)"
)
NO_EGRESS = NO_INGRESS.replace("with Ingress", "with Egress")


def policy(spec: str, namespace: str = "autobot-system") -> str:
    return f"""\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: agents, namespace: {namespace}}}
spec:
{spec}"""


def expr(key: str, operator: str, values: str = "") -> str:
    """A podSelector with one matchExpression, in block style."""
    listed = f", values: [{values}]" if values else ""
    item = f"{{key: {key}, operator: {operator}{listed}}}"
    return f"  podSelector:\n    matchExpressions:\n    - {item}\n"


def findings(text: str, **settings: object) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"network-policy": settings}) if settings else None
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text, pack), "network-policy")]


def test_a_workload_no_policy_selects_is_reported_at_its_pod_labels() -> None:
    assert findings(AGENT) == [(11, "spec.template.metadata.labels", NO_INGRESS)]
    report = run(AGENT)
    assert of_rule(report, "network-policy")[0].severity.value == "error"


@pytest.mark.parametrize(
    "spec",
    [
        "  podSelector: {}\n  policyTypes: [Ingress]\n",
        "  podSelector: {matchLabels: {component: ai-agent}}\n  policyTypes: [Ingress, Egress]\n",
        expr("agent-type", "In", "chat, rag"),
        expr("agent-type", "NotIn", "rag"),
        expr("component", "Exists"),
        expr("canary", "DoesNotExist"),
        "  ingress: []\n",  # no podSelector: every pod of the namespace
        "  podSelector: {}\n  policyTypes: []\n",  # empty policyTypes defaults like absent ones
    ],
)
def test_policies_that_select_the_pods_with_ingress(spec: str) -> None:
    assert findings(AGENT + policy(spec)) == []


@pytest.mark.parametrize(
    "spec",
    [
        "  podSelector: {matchLabels: {component: api}}\n",
        "  podSelector: {matchLabels: {component: ai-agent, agent-type: rag}}\n",
        expr("agent-type", "In", "rag"),
        expr("agent-type", "NotIn", "chat"),
        expr("tier", "Exists"),
        expr("component", "DoesNotExist"),
        "  podSelector: {}\n  policyTypes: [Egress]\n",  # Egress only: not Ingress coverage
    ],
)
def test_policies_that_do_not_cover_ingress(spec: str) -> None:
    assert findings(AGENT + policy(spec)) == [(11, "spec.template.metadata.labels", NO_INGRESS)]


def test_policies_of_another_namespace_do_not_count() -> None:
    text = AGENT + policy("  podSelector: {}\n", namespace="autobot-data")
    assert findings(text) == [(11, "spec.template.metadata.labels", NO_INGRESS)]


def test_resources_without_namespace_are_in_default() -> None:
    text = AGENT.replace("  namespace: autobot-system\n", "") + policy(
        "  podSelector: {}\n", namespace="default"
    )
    assert findings(text) == []
    text = AGENT.replace("  namespace: autobot-system\n", "") + policy("  podSelector: {}\n")
    assert findings(text) == [
        (10, "spec.template.metadata.labels", NO_INGRESS.replace("autobot-system/", "default/"))
    ]


@pytest.mark.parametrize(
    ("spec", "egress_covered"),
    [
        ("  podSelector: {}\n  policyTypes: [Ingress, Egress]\n", True),
        # policyTypes absent: Egress only when there is a non-empty egress section
        ("  podSelector: {}\n  egress:\n  - to: [{podSelector: {}}]\n", True),
        ("  podSelector: {}\n  egress: []\n", False),
        ("  podSelector: {}\n", False),
        (
            "  podSelector: {}\n  policyTypes: [Ingress]\n  egress:\n  - to: [{podSelector: {}}]\n",
            False,
        ),
    ],
)
def test_require_egress_follows_policy_types_defaulting(spec: str, egress_covered: bool) -> None:
    expected = [] if egress_covered else [(11, "spec.template.metadata.labels", NO_EGRESS)]
    assert findings(AGENT + policy(spec), requireEgress=True) == expected
    assert findings(AGENT + policy(spec)) == []  # Egress is not required by default


def test_require_egress_reports_both_when_nothing_selects_the_pods() -> None:
    assert findings(AGENT, requireEgress=True) == [
        (11, "spec.template.metadata.labels", NO_INGRESS),
        (11, "spec.template.metadata.labels", NO_EGRESS),
    ]


def test_every_workload_kind_is_checked_and_host_network_pods_are_skipped() -> None:
    cron = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: reindex, namespace: autobot-system}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: autobot-reindex}}
        spec:
          restartPolicy: OnFailure
          containers: [{name: reindex, image: "ghcr.io/mrveiss/autobot-backend:1.4.0"}]
"""
    message = (
        "no NetworkPolicy with Ingress selects the pods of CronJob autobot-system/reindex "
        "(labels app=autobot-reindex)"
    )
    assert findings(cron) == [(9, "spec.jobTemplate.spec.template.metadata.labels", message)]
    host = cron.replace("restartPolicy: OnFailure", "hostNetwork: true")
    assert findings(host) == []


def test_a_pod_without_labels_is_reported_at_its_metadata() -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: autobot-system}
spec:
  containers: [{name: debug, image: "busybox:1.36"}]
"""
    message = (
        "no NetworkPolicy with Ingress selects the pods of Pod autobot-system/debug (no labels)"
    )
    assert findings(pod) == [(3, "metadata.labels", message)]
