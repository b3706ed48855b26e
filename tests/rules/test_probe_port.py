"""probe-port: probe ports are ports the same container declares."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: autobot-chat-agent, namespace: autobot-system}}
spec:
  selector: {{matchLabels: {{app: autobot-chat-agent}}}}
  template:
    metadata: {{labels: {{app: autobot-chat-agent}}}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        ports:
        - {{name: http, containerPort: 8000}}
        - {{containerPort: 9090}}
        livenessProbe:
          {probe}
"""


def findings(probe: str) -> list[tuple[int, str, str]]:
    report = run(DEPLOYMENT.format(probe=probe))
    return [(f.line, f.path_text, f.message) for f in of_rule(report, "probe-port")]


@pytest.mark.parametrize(
    "probe",
    [
        "httpGet: {path: /health, port: 8000}",
        "httpGet: {path: /health, port: http}",
        "tcpSocket: {port: 9090}",
        "grpc: {port: 9090}",
        'httpGet: {path: /health, port: "8000"}',  # the kubelet reads a numeric string as a number
        "exec: {command: [cat, /tmp/healthy]}",
    ],
)
def test_declared_port_number_or_name_passes(probe: str) -> None:
    assert findings(probe) == []


def test_undeclared_port_number_is_reported_with_line_and_path() -> None:
    assert findings("httpGet: {path: /health, port: 8080}") == [
        (
            16,
            "spec.template.spec.containers[0].livenessProbe.httpGet.port",
            "container 'chat-agent' livenessProbe httpGet port 8080 is not a port the container "
            "declares (declared: 8000 (http), 9090)",
        )
    ]


def test_unknown_port_name_is_reported() -> None:
    [(_, path, message)] = findings("tcpSocket: {port: metrics}")
    assert path == "spec.template.spec.containers[0].livenessProbe.tcpSocket.port"
    assert message.startswith("container 'chat-agent' livenessProbe tcpSocket port name 'metrics'")


def test_grpc_port_must_be_declared() -> None:
    [(_, path, _)] = findings("grpc: {port: 50051}")
    assert path.endswith("livenessProbe.grpc.port")


def test_every_probe_kind_and_init_sidecar_is_checked() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: autobot-browser-worker, namespace: autobot-system}
spec:
  initContainers:
  - name: proxy
    image: ghcr.io/mrveiss/autobot-proxy:1.0.0
    restartPolicy: Always
    startupProbe: {tcpSocket: {port: 15000}}
  containers:
  - name: browser-worker
    image: ghcr.io/mrveiss/autobot-browser-worker:1.4.0
    readinessProbe: {httpGet: {path: /health, port: 3000}}
    startupProbe: {httpGet: {path: /health, port: web}}
"""
    messages = [f.message for f in of_rule(run(text), "probe-port")]
    assert messages == [
        "init container 'proxy' startupProbe tcpSocket port 15000 is not a port the container "
        "declares (declared: none)",
        "container 'browser-worker' readinessProbe httpGet port 3000 is not a port the "
        "container declares (declared: none)",
        "container 'browser-worker' startupProbe httpGet port name 'web' is not a port the "
        "container declares (declared: none)",
    ]


def test_port_of_another_container_does_not_count() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  containers:
  - name: backend
    image: ghcr.io/mrveiss/autobot-backend:1.4.0
    livenessProbe: {httpGet: {path: /api/health, port: 8001}}
  - name: sidecar
    image: ghcr.io/mrveiss/autobot-sidecar:1.0.0
    ports: [{containerPort: 8001}]
"""
    [finding] = of_rule(run(text), "probe-port")
    assert finding.line == 8
    assert "container 'backend'" in finding.message
