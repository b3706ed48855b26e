"""resource-requests: cpu and memory requests on every container and init container."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: autobot-knowledge-agent, namespace: autobot-system}}
spec:
  selector: {{matchLabels: {{app: autobot-knowledge-agent}}}}
  template:
    metadata: {{labels: {{app: autobot-knowledge-agent}}}}
    spec:
      initContainers:
      - name: wait-for-redis
        image: busybox:1.36
        resources: {init}
      containers:
      - name: knowledge-agent
        image: ghcr.io/mrveiss/autobot-knowledge-agent:1.4.0
        resources:
{main}"""
FULL = "{requests: {cpu: 10m, memory: 16Mi}}"


def findings(main: str, init: str = FULL) -> list[tuple[int, str, str]]:
    report = run(POD.format(main=main, init=init))
    return [(f.line, f.path_text, f.message) for f in of_rule(report, "resource-requests")]


def test_both_requests_pass() -> None:
    assert findings("          requests: {cpu: 250m, memory: 1536Mi}\n") == []


def test_missing_memory_request_points_at_requests() -> None:
    assert findings("          requests:\n            cpu: 250m\n") == [
        (
            17,
            "spec.template.spec.containers[0].resources.requests",
            "container 'knowledge-agent' has no memory request",
        )
    ]


def test_no_resources_at_all_points_at_the_parent() -> None:
    assert findings("          {}\n") == [
        (
            16,
            "spec.template.spec.containers[0].resources",
            f"container 'knowledge-agent' has no {r} request",
        )
        for r in ("cpu", "memory")
    ]


def test_limits_alone_do_not_count() -> None:
    assert len(findings("          limits: {cpu: 500m, memory: 2Gi}\n")) == 2


def test_init_containers_need_requests_too() -> None:
    assert findings(
        "          requests: {cpu: 250m, memory: 1Gi}\n", init="{requests: {cpu: 10m}}"
    ) == [
        (
            12,
            "spec.template.spec.initContainers[0].resources.requests",
            "init container 'wait-for-redis' has no memory request",
        )
    ]


@pytest.mark.parametrize("kind_and_template", ["CronJob", "Pod"])
def test_other_workload_kinds_are_checked(kind_and_template: str) -> None:
    texts = {
        "CronJob": """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: autobot-backup, namespace: autobot-data}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: backup, image: "postgres:16.4"}
""",
        "Pod": """\
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: autobot-system}
spec:
  containers:
  - {name: shell, image: "busybox:1.36"}
""",
    }
    report = run(texts[kind_and_template])
    name = "backup" if kind_and_template == "CronJob" else "shell"
    assert [f.message for f in of_rule(report, "resource-requests")] == [
        f"container '{name}' has no cpu request",
        f"container '{name}' has no memory request",
    ]


def test_non_workloads_are_not_checked() -> None:
    text = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: autobot-config, namespace: autobot-system}
data: {log-level: INFO}
"""
    assert of_rule(run(text), "resource-requests") == []
