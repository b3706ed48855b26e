"""statefulset-service: serviceName names a headless Service that selects the pods."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

REDIS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis
  namespace: autobot-data
spec:
  serviceName: redis
  replicas: 1
  selector:
    matchLabels: {app: autobot-redis}
  template:
    metadata:
      labels: {app: autobot-redis, component: database}
    spec:
      containers:
      - name: redis
        image: redis/redis-stack-server:7.4.0-v1
        ports: [{name: redis, containerPort: 6379}]
"""
SERVICE = """\
---
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: autobot-data}
spec:
  clusterIP: None
  selector: {app: autobot-redis}
  ports: [{name: redis, port: 6379, targetPort: redis}]
"""


def findings(text: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "statefulset-service")]


def test_a_headless_service_selecting_the_pods_passes() -> None:
    assert findings(REDIS + SERVICE) == []


def test_a_missing_service_name_is_reported_at_spec() -> None:
    text = REDIS.replace("  serviceName: redis\n", "")
    message = (
        "StatefulSet autobot-data/redis has no spec.serviceName: its pods get no stable DNS names"
    )
    assert findings(text + SERVICE) == [(6, "spec.serviceName", message)]
    report = run(text + SERVICE)
    assert of_rule(report, "statefulset-service")[0].severity.value == "error"


def test_a_service_name_without_service_is_reported() -> None:
    message = (
        "serviceName 'redis' names no Service in autobot-data "
        "(a headless Service autobot-data/redis is needed)"
    )
    assert findings(REDIS) == [(7, "spec.serviceName", message)]


def test_a_service_of_another_namespace_does_not_count() -> None:
    other = SERVICE.replace("namespace: autobot-data", "namespace: autobot-system")
    assert [line for line, _, _ in findings(REDIS + other)] == [7]


@pytest.mark.parametrize(
    ("cluster_ip", "shown"),
    [("  clusterIP: 10.96.0.12\n", "clusterIP 10.96.0.12"), ("", "no clusterIP: None")],
)
def test_a_service_with_a_cluster_ip_is_not_headless(cluster_ip: str, shown: str) -> None:
    text = REDIS + SERVICE.replace("  clusterIP: None\n", cluster_ip)
    message = f"Service autobot-data/redis named by serviceName is not headless ({shown})"
    assert findings(text) == [(7, "spec.serviceName", message)]


def test_a_service_selecting_other_pods_is_reported() -> None:
    text = REDIS + SERVICE.replace("{app: autobot-redis}", "{app: redis}")
    message = (
        "Service autobot-data/redis's selector app=redis does not select the pods of "
        "StatefulSet autobot-data/redis (labels app=autobot-redis, component=database)"
    )
    assert findings(text) == [(7, "spec.serviceName", message)]


def test_a_service_without_selector_is_reported_with_every_other_problem() -> None:
    text = REDIS + SERVICE.replace("  clusterIP: None\n  selector: {app: autobot-redis}\n", "")
    assert findings(text) == [
        (7, "spec.serviceName", "Service autobot-data/redis named by serviceName is not headless "
         "(no clusterIP: None)"),
        (7, "spec.serviceName", "Service autobot-data/redis named by serviceName has no selector, "
         "so it selects no pods of StatefulSet autobot-data/redis"),
    ]  # fmt: skip


def test_resources_without_namespace_are_in_default() -> None:
    text = (REDIS + SERVICE).replace("  namespace: autobot-data\n", "")
    text = text.replace("{name: redis, namespace: autobot-data}", "{name: redis}")
    assert findings(text) == []
    assert len(findings(REDIS.replace("  namespace: autobot-data\n", "") + SERVICE)) == 1
