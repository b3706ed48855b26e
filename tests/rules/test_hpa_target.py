"""hpa-target: an HPA scales a checked workload whose pods request what it measures."""

from __future__ import annotations

from tests.util import of_rule, run

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        resources:
          requests: {cpu: 500m, memory: 1Gi}
"""
NO_MEMORY = DEPLOYMENT.replace("{cpu: 500m, memory: 1Gi}", "{cpu: 500m}")

V2 = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
  - type: Resource
    resource:
      name: memory
      target: {type: Utilization, averageUtilization: 80}
---
"""


def findings(text: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "hpa-target")]


def test_plan_hpa_with_requests_passes() -> None:
    assert findings(V2 + DEPLOYMENT) == []


def test_target_order_in_the_file_does_not_matter() -> None:
    assert findings(DEPLOYMENT + "---\n" + V2) == []


def test_missing_memory_request_for_memory_utilization() -> None:
    assert findings(V2 + NO_MEMORY) == [
        (
            15,
            "spec.metrics[1].resource.name",
            "HPA scales Deployment 'autobot-chat-agent' on memory utilization (metrics[1]), but "
            "container 'chat-agent' has no memory request",
        )
    ]


def test_average_value_target_needs_no_request() -> None:
    text = V2.replace(
        "target: {type: Utilization, averageUtilization: 80}",
        "target: {type: AverageValue, averageValue: 1500Mi}",
    )
    assert findings(text + NO_MEMORY) == []


def test_zero_request_counts_as_missing() -> None:
    text = V2 + DEPLOYMENT.replace("memory: 1Gi", "memory: 0")
    [(_, path, _)] = findings(text)
    assert path == "spec.metrics[1].resource.name"


def test_every_container_needs_the_request() -> None:
    sidecar = (
        "      - name: log-shipper\n"
        "        image: ghcr.io/mrveiss/autobot-log-shipper:1.0.0\n"
        "        resources: {requests: {cpu: 10m}}\n"
    )
    messages = [m for _, _, m in findings(V2 + DEPLOYMENT + sidecar)]
    assert messages == [
        "HPA scales Deployment 'autobot-chat-agent' on memory utilization (metrics[1]), but "
        "container 'log-shipper' has no memory request"
    ]


def test_plain_init_containers_do_not_count_but_sidecars_do() -> None:
    init = (
        "      initContainers:\n"
        "      - {name: wait-for-redis, image: 'busybox:1.36'}\n"
        "      - {name: proxy, image: 'ghcr.io/mrveiss/proxy:1.0.0', restartPolicy: Always}\n"
    )
    messages = [m for _, _, m in findings(V2 + DEPLOYMENT + init)]
    assert messages == [
        "HPA scales Deployment 'autobot-chat-agent' on cpu utilization (metrics[0]), but "
        "init container 'proxy' has no cpu request",
        "HPA scales Deployment 'autobot-chat-agent' on memory utilization (metrics[1]), but "
        "init container 'proxy' has no memory request",
    ]


def test_container_resource_checks_only_the_named_container() -> None:
    hpa = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: autobot-chat-agent, namespace: autobot-system}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: ContainerResource
    containerResource:
      name: memory
      container: {container}
      target: {{type: Utilization, averageUtilization: 80}}
---
"""
    sidecar = "      - {name: log-shipper, image: 'ghcr.io/mrveiss/log-shipper:1.0.0'}\n"
    assert findings(hpa.format(container="chat-agent") + DEPLOYMENT + sidecar) == []
    assert findings(hpa.format(container="chat-agent") + NO_MEMORY) == [
        (
            11,
            "spec.metrics[0].containerResource.name",
            "HPA scales Deployment 'autobot-chat-agent' on memory utilization (metrics[0]), but "
            "container 'chat-agent' has no memory request",
        )
    ]
    assert findings(hpa.format(container="chat") + DEPLOYMENT) == [
        (
            12,
            "spec.metrics[0].containerResource.container",
            "memory utilization (metrics[0]) names container 'chat', which Deployment "
            "'autobot-chat-agent' does not have",
        )
    ]


def test_autoscaling_v1_cpu_target() -> None:
    hpa = """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autobot-chat-agent}
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 70
---
"""
    assert findings(hpa + DEPLOYMENT) == []
    assert findings(hpa + DEPLOYMENT.replace("cpu: 500m, ", "")) == [
        (
            8,
            "spec.targetCPUUtilizationPercentage",
            "HPA scales Deployment 'autobot-chat-agent' on cpu utilization "
            "(targetCPUUtilizationPercentage), but container 'chat-agent' has no cpu request",
        )
    ]


def test_hpa_without_metrics_defaults_to_cpu_utilization() -> None:
    hpa = V2.split("  metrics:")[0] + "---\n"
    [(line, path, message)] = findings(hpa + DEPLOYMENT.replace("cpu: 500m, ", ""))
    assert (line, path) == (4, "spec")
    assert "cpu utilization (the 80% default of an HPA without metrics)" in message


def test_target_not_in_checked_set() -> None:
    assert findings(V2) == [
        (
            5,
            "spec.scaleTargetRef.name",
            "scaleTargetRef Deployment 'autobot-chat-agent' is not among the checked resources of "
            "namespace 'autobot-system'",
        )
    ]


def test_target_must_match_kind_and_namespace() -> None:
    statefulset = V2.replace("kind: Deployment", "kind: StatefulSet")
    assert len(findings(statefulset + DEPLOYMENT)) == 1
    elsewhere = DEPLOYMENT.replace("namespace: autobot-system", "namespace: autobot-data")
    assert len(findings(V2 + elsewhere)) == 1


def test_target_that_cannot_be_scaled() -> None:
    daemonset = DEPLOYMENT.replace("kind: Deployment", "kind: DaemonSet")
    hpa = V2.replace("kind: Deployment", "kind: DaemonSet")
    assert findings(hpa + daemonset) == [
        (
            5,
            "spec.scaleTargetRef.kind",
            "scaleTargetRef DaemonSet 'autobot-chat-agent' cannot be scaled by a "
            "HorizontalPodAutoscaler",
        )
    ]
