"""hpa-replicas: an HPA keeps enough pods and can scale up."""

from __future__ import annotations

from tests.util import of_rule, pack_with, run

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: autobot-chat-agent, namespace: autobot-system}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}}
{replicas}"""


def hpa(min_replicas: int | None, max_replicas: int) -> str:
    lines = "" if min_replicas is None else f"  minReplicas: {min_replicas}\n"
    return HPA.format(replicas=lines + f"  maxReplicas: {max_replicas}\n")


def findings(text: str, **params: object) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"hpa-replicas": params}) if params else None
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text, pack), "hpa-replicas")]


def test_plan_hpa_two_to_ten_passes() -> None:
    assert findings(hpa(2, 10)) == []


def test_min_replicas_below_minimum() -> None:
    assert findings(hpa(1, 10)) == [
        (
            6,
            "spec.minReplicas",
            "HorizontalPodAutoscaler 'autobot-chat-agent' minReplicas 1 is below the minimum 2",
        )
    ]


def test_missing_min_replicas_means_one() -> None:
    assert findings(hpa(None, 10)) == [
        (
            4,
            "spec",
            "HorizontalPodAutoscaler 'autobot-chat-agent' sets no minReplicas, so it scales down "
            "to 1 replica; at least 2 are required",
        )
    ]


def test_max_below_min() -> None:
    assert findings(hpa(3, 2)) == [
        (
            7,
            "spec.maxReplicas",
            "HorizontalPodAutoscaler 'autobot-chat-agent' maxReplicas 2 is below its minReplicas 3",
        )
    ]


def test_max_equal_to_min_passes() -> None:
    assert findings(hpa(2, 2)) == []


def test_both_problems_are_reported() -> None:
    assert [path for _, path, _ in findings(hpa(None, 1), minReplicas=3)] == ["spec"]
    assert [path for _, path, _ in findings(hpa(1, 0))] == ["spec.minReplicas", "spec.maxReplicas"]


def test_minimum_is_a_parameter() -> None:
    assert findings(hpa(2, 10), minReplicas=3) != []
    assert findings(hpa(1, 10), minReplicas=1) == []
    assert findings(hpa(None, 10), minReplicas=1) == []
