"""service-target: a Service selects some workload's pods; named targetPorts are declared."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

BACKEND = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-backend}}
  template:
    metadata: {labels: {app: autobot-backend, component: api}}
    spec:
      initContainers:
      - name: metrics-sidecar
        image: ghcr.io/mrveiss/autobot-metrics:1.0.0
        restartPolicy: Always
        ports: [{name: metrics, containerPort: 9100}]
      - name: migrate
        image: ghcr.io/mrveiss/autobot-backend:1.4.0
        ports: [{name: migrate, containerPort: 9999}]
      containers:
      - name: backend
        image: ghcr.io/mrveiss/autobot-backend:1.4.0
        ports:
        - {name: http, containerPort: 8001}
        - {name: stats, containerPort: 8125, protocol: UDP}
---
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {app: autobot-backend}
  ports:
  - {name: http, port: 8001, targetPort: TARGET}
"""


def findings(text: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "service-target")]


def service(target: str = "http", **replace: str) -> str:
    text = SERVICE.replace("TARGET", target)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("target", ["http", "metrics", "8001", "9090"])  # numbers: unchecked
def test_declared_names_and_numbers_pass(target: str) -> None:
    assert findings(BACKEND + service(target)) == []


def test_a_port_name_no_container_declares_is_reported() -> None:
    message = (
        "Service autobot-system/autobot-backend targetPort 'api' is not a port name of any "
        "container of Deployment autobot-system/autobot-backend"
    )
    assert findings(BACKEND + service("api")) == [(30, "spec.ports[0].targetPort", message)]
    report = run(BACKEND + service("api"))
    assert of_rule(report, "service-target")[0].severity.value == "warning"


def test_ports_of_init_containers_that_exit_do_not_count() -> None:
    assert [path for _, path, _ in findings(BACKEND + service("migrate"))] == [
        "spec.ports[0].targetPort"
    ]


def test_the_protocol_of_a_named_port_must_match() -> None:
    message = (
        "Service autobot-system/autobot-backend targetPort 'stats' is declared with protocol UDP, "
        "not TCP, by Deployment autobot-system/autobot-backend"
    )
    assert findings(BACKEND + service("stats")) == [(30, "spec.ports[0].targetPort", message)]
    udp = service("stats", **{"port: 8001,": "port: 8125, protocol: UDP,"})
    assert findings(BACKEND + udp) == []


def test_a_selector_that_matches_no_workload_is_reported() -> None:
    text = BACKEND + service("api", **{"{app: autobot-backend}": "{app: backend, component: api}"})
    message = (
        "Service autobot-system/autobot-backend selects no workload's pods in autobot-system "
        "(selector app=backend, component=api)"
    )
    assert findings(text) == [(28, "spec.selector", message)]  # no targetPort finding then


def test_workloads_of_another_namespace_do_not_count() -> None:
    text = BACKEND.replace("autobot-system", "autobot-data") + service()
    assert [path for _, path, _ in findings(text)] == ["spec.selector"]


def test_services_without_selector_and_external_names_are_skipped() -> None:
    manual = service("api", **{"  selector: {app: autobot-backend}\n": ""})
    assert findings(BACKEND + manual) == []
    empty = service("api", **{"{app: autobot-backend}": "{}"})
    assert findings(BACKEND + empty) == []
    external = service(
        "api", **{"  selector:": "  type: ExternalName\n  externalName: x.io\n  selector:"}
    )
    assert findings(BACKEND + external) == []


def test_one_selected_workload_declaring_the_name_is_enough() -> None:
    canary = BACKEND.replace("name: autobot-backend,", "name: autobot-backend-canary,")
    canary = canary.replace("{name: http, containerPort: 8001}", "{name: web, containerPort: 8001}")
    assert findings(canary + BACKEND + service("http")) == []
    message = (
        "Service autobot-system/autobot-backend targetPort 'grpc' is not a port name of any "
        "container of Deployment autobot-system/autobot-backend-canary, "
        "Deployment autobot-system/autobot-backend"
    )
    assert [m for _, _, m in findings(canary + BACKEND + service("grpc"))] == [message]


def test_resources_without_namespace_are_in_default() -> None:
    text = BACKEND.replace(", namespace: autobot-system}", "}") + service("api").replace(
        ", namespace: autobot-system}", "}"
    )
    message = (
        "Service default/autobot-backend targetPort 'api' is not a port name of any container "
        "of Deployment default/autobot-backend"
    )
    assert findings(text) == [(30, "spec.ports[0].targetPort", message)]
