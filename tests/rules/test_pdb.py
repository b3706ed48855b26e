"""pdb: replicated workloads have a PodDisruptionBudget that allows a disruption."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

BACKEND = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: autobot-backend}}
  template:
    metadata:
      labels: {app: autobot-backend, component: api}
    spec:
      containers: [{name: backend, image: "ghcr.io/mrveiss/autobot-backend:1.4.0"}]
"""
LABELS = "spec.template.metadata.labels"


def pdb(budget: str, selector: str = "{matchLabels: {app: autobot-backend}}", **meta: str) -> str:
    name = meta.get("name", "autobot-backend")
    namespace = meta.get("namespace", "autobot-system")
    api = meta.get("api", "policy/v1")
    return (
        f"---\napiVersion: {api}\nkind: PodDisruptionBudget\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  selector: {selector}\n{budget}"
    )


def hpa(min_replicas: int) -> str:
    return f"""\
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: autobot-backend, namespace: autobot-system}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: autobot-backend}}
  minReplicas: {min_replicas}
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
"""


def findings(text: str) -> list[tuple[str, int, str, str]]:
    return [(f.resource.kind, f.line, f.path_text, f.message) for f in of_rule(run(text), "pdb")]


def backend(replicas: int) -> str:
    return BACKEND.replace("REPLICAS", str(replicas))


def no_pdb(scale: str) -> tuple[str, int, str, str]:
    return (
        "Deployment",
        9,
        LABELS,
        "no PodDisruptionBudget selects the pods of Deployment autobot-system/autobot-backend "
        f"({scale}; labels app=autobot-backend, component=api)",
    )


def test_a_replicated_workload_without_pdb_is_reported() -> None:
    assert findings(backend(2)) == [no_pdb("2 replicas")]
    assert of_rule(run(backend(2)), "pdb")[0].severity.value == "warning"


@pytest.mark.parametrize("text", [backend(1), BACKEND.replace("  replicas: REPLICAS\n", "")])
def test_single_replica_workloads_need_no_pdb(text: str) -> None:
    assert findings(text) == []


def test_the_hpa_minimum_decides_for_scaled_workloads() -> None:
    assert findings(backend(1) + hpa(3)) == [no_pdb("HPA minReplicas 3")]
    assert findings(backend(3) + hpa(1)) == []


@pytest.mark.parametrize(
    "selector",
    [
        "{matchLabels: {app: autobot-backend}}",
        "{}",  # policy/v1: every pod of the namespace
        "{matchExpressions: [{key: component, operator: In, values: [api, web]}]}",
        "{matchExpressions: [{key: component, operator: NotIn, values: [worker]}]}",
        "{matchExpressions: [{key: component, operator: Exists}]}",
        "{matchExpressions: [{key: canary, operator: DoesNotExist}]}",
    ],
)
def test_pdbs_selecting_the_pods(selector: str) -> None:
    assert findings(backend(2) + pdb("  maxUnavailable: 1\n", selector)) == []


@pytest.mark.parametrize(
    "selector",
    [
        "null",  # a null selector selects no pod
        "{matchLabels: {app: autobot-frontend}}",
        "{matchExpressions: [{key: component, operator: In, values: [web]}]}",
        "{matchExpressions: [{key: component, operator: NotIn, values: [api]}]}",
        "{matchExpressions: [{key: tier, operator: Exists}]}",
        "{matchExpressions: [{key: component, operator: DoesNotExist}]}",
    ],
)
def test_pdbs_not_selecting_the_pods(selector: str) -> None:
    assert findings(backend(2) + pdb("  maxUnavailable: 1\n", selector)) == [no_pdb("2 replicas")]


def test_pdbs_of_another_namespace_do_not_count() -> None:
    other = pdb("  maxUnavailable: 1\n", namespace="autobot-data")
    assert findings(backend(2) + other) == [no_pdb("2 replicas")]


@pytest.mark.parametrize(
    ("replicas", "budget"),
    [
        (2, "  maxUnavailable: 1\n"),
        (2, "  minAvailable: 1\n"),
        (2, "  minAvailable: 50%\n"),  # ceil(50% of 2) = 1
        (3, "  minAvailable: 60%\n"),  # ceil(1.8) = 2 < 3
        (2, "  maxUnavailable: 10%\n"),  # ceil(0.2) = 1
        (2, ""),  # policy/v1 without either field: no limit
    ],
)
def test_pdbs_allowing_a_disruption_pass(replicas: int, budget: str) -> None:
    assert findings(backend(replicas) + pdb(budget)) == []


@pytest.mark.parametrize(
    ("replicas", "budget", "setting"),
    [
        (2, "  maxUnavailable: 0\n", "maxUnavailable 0"),
        (2, "  maxUnavailable: 0%\n", "maxUnavailable 0%"),
        (2, "  minAvailable: 2\n", "minAvailable 2"),
        (2, "  minAvailable: 3\n", "minAvailable 3"),
        (2, "  minAvailable: 51%\n", "minAvailable 51%"),  # ceil(1.02) = 2
        (3, "  minAvailable: 100%\n", "minAvailable 100%"),
        (1, "  minAvailable: 1\n", "minAvailable 1"),  # reported for a single replica too
    ],
)
def test_pdbs_blocking_drains_are_reported_on_the_pdb(
    replicas: int, budget: str, setting: str
) -> None:
    field = setting.split()[0]
    message = (
        f"PodDisruptionBudget autobot-system/autobot-backend blocks node drains: {setting} with "
        f"{replicas} pods (Deployment autobot-system/autobot-backend)"
    )
    assert findings(backend(replicas) + pdb(budget)) == [
        ("PodDisruptionBudget", 18, f"spec.{field}", message)
    ]


def test_blocking_is_judged_at_the_hpa_minimum() -> None:
    text = backend(5) + hpa(2) + pdb("  minAvailable: 2\n")
    assert [(kind, path) for kind, _, path, _ in findings(text)] == [
        ("PodDisruptionBudget", "spec.minAvailable")
    ]


def test_a_v1beta1_pdb_defaults_min_available_to_one() -> None:
    text = backend(1) + pdb("", api="policy/v1beta1")
    message = (
        "PodDisruptionBudget autobot-system/autobot-backend blocks node drains: minAvailable 1 "
        "(default) with 1 pods (Deployment autobot-system/autobot-backend)"
    )
    assert findings(text) == [("PodDisruptionBudget", 16, "spec", message)]


def test_pods_selected_by_two_pdbs_are_reported() -> None:
    text = (
        backend(2) + pdb("  maxUnavailable: 1\n") + pdb("  maxUnavailable: 1\n", "{}", name="all")
    )
    message = (
        "the pods of Deployment autobot-system/autobot-backend are selected by 2 "
        "PodDisruptionBudgets (autobot-backend, all): eviction refuses such pods, so drains block"
    )
    assert findings(text) == [("Deployment", 9, LABELS, message)]


def test_statefulsets_are_checked_and_daemonsets_are_not() -> None:
    statefulset = backend(3).replace("kind: Deployment", "kind: StatefulSet")
    statefulset = statefulset.replace("  replicas: 3\n", "  serviceName: backend\n  replicas: 3\n")
    assert [kind for kind, _, _, _ in findings(statefulset)] == ["StatefulSet"]
    daemonset = BACKEND.replace("kind: Deployment", "kind: DaemonSet").replace(
        "  replicas: REPLICAS\n", ""
    )
    assert findings(daemonset) == []


def test_resources_without_namespace_are_in_default() -> None:
    text = backend(2).replace(", namespace: autobot-system}", "}")
    assert findings(text + pdb("  maxUnavailable: 1\n", namespace="default")) == []
    assert [m for _, _, _, m in findings(text + pdb("  maxUnavailable: 1\n"))] == [
        no_pdb("2 replicas")[3].replace("autobot-system/", "default/")
    ]


def test_an_empty_v1beta1_selector_selects_nothing() -> None:
    text = backend(2) + pdb("  maxUnavailable: 1\n", "{}", api="policy/v1beta1")
    assert findings(text) == [no_pdb("2 replicas")]
