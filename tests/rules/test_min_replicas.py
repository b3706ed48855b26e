"""min-replicas: Deployments and StatefulSets not scaled by an HPA run enough replicas."""

from __future__ import annotations

import pytest

from tests.util import of_rule, pack_with, run

WORKLOAD = """\
apiVersion: apps/v1
kind: {kind}
metadata: {{name: autobot-frontend, namespace: autobot-system}}
spec:
{replicas}  selector: {{matchLabels: {{app: autobot-frontend}}}}
  template:
    metadata: {{labels: {{app: autobot-frontend}}}}
    spec:
      containers:
      - {{name: frontend, image: "ghcr.io/mrveiss/autobot-frontend:1.4.0"}}
"""

HPA = """\
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autobot-frontend, namespace: autobot-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autobot-frontend}
  minReplicas: 2
  maxReplicas: 6
"""


def workload(replicas: int | None, kind: str = "Deployment") -> str:
    line = "" if replicas is None else f"  replicas: {replicas}\n"
    return WORKLOAD.format(kind=kind, replicas=line)


def findings(text: str, **params: object) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"min-replicas": params}) if params else None
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text, pack), "min-replicas")]


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_one_replica_is_reported(kind: str) -> None:
    assert findings(workload(1, kind)) == [
        (5, "spec.replicas", f"{kind} 'autobot-frontend' runs 1 replica; at least 2 are required")
    ]


def test_missing_replicas_means_one() -> None:
    assert findings(workload(None)) == [
        (
            4,
            "spec",
            "Deployment 'autobot-frontend' sets no spec.replicas, so it runs 1 replica; "
            "at least 2 are required",
        )
    ]


@pytest.mark.parametrize("replicas", [2, 3])
def test_enough_replicas_pass(replicas: int) -> None:
    assert findings(workload(replicas)) == []


def test_zero_replicas_is_reported() -> None:
    [(_, _, message)] = findings(workload(0))
    assert message == "Deployment 'autobot-frontend' runs 0 replicas; at least 2 are required"


def test_minimum_is_a_parameter() -> None:
    assert findings(workload(2), minReplicas=3) != []
    assert findings(workload(1), minReplicas=1) == []
    assert findings(workload(None), minReplicas=1) == []


def test_hpa_scaled_workload_is_left_to_hpa_replicas() -> None:
    assert findings(workload(None) + HPA) == []
    assert findings(workload(2) + HPA) == []


def test_replicas_written_below_the_hpa_minimum_are_reported() -> None:
    [(line, path, message)] = findings(workload(1) + HPA)
    assert (line, path) == (5, "spec.replicas")
    assert message == (
        "Deployment 'autobot-frontend' sets spec.replicas 1, below the minReplicas 2 of "
        "HorizontalPodAutoscaler 'autobot-frontend': every apply scales it down until the HPA reacts"
    )


def test_hpa_in_another_namespace_does_not_count() -> None:
    other = HPA.replace("namespace: autobot-system", "namespace: autobot-data")
    assert len(findings(workload(1) + other)) == 1


def test_daemonset_and_job_are_not_checked() -> None:
    text = workload(None, "DaemonSet")
    assert findings(text) == []
