from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..edits import AutoFix
from ..findings import Severity
from ..resources import WORKLOADS, Container, Resource
from .base import Context, Rule, Violation
from .common import PROBES, as_int, container_label, declared_ports

HANDLERS = ("httpGet", "tcpSocket", "grpc")


class ProbePort(Rule):
    """A probe's port is one its container declares.

    Looks at the httpGet, tcpSocket and grpc handlers of livenessProbe, readinessProbe and
    startupProbe on every container (and sidecar init container) of a workload. A port
    number must be a `containerPort` of the same container; a port name must be the
    `name` of one of its ports. A numeric string ("8000") that names no port is read as a
    number, as the kubelet does. exec probes have no port and are not checked.

    Why: the kubelet probes the port literally. A probe left on 8080 after the agent
    moved to 8000, or naming a port that was renamed, fails forever: the liveness probe
    restarts a healthy container in a loop and the readiness probe keeps it out of its
    Service.
    """

    id = "probe-port"
    default_severity = Severity.ERROR
    summary = "Probe ports are ports the container declares"
    fix = (
        "Point the probe at a declared port (preferably by its name, e.g. `port: http`) or "
        "declare the port the process listens on under the container's `ports`."
    )
    kinds = WORKLOADS
    autofix = AutoFix(
        None,
        "Whether the probe or the declared ports are wrong only the application's owner knows.",
    )
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-rag-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-rag-agent}}
  template:
    metadata: {labels: {app: autobot-rag-agent}}
    spec:
      containers:
      - name: rag-agent
        image: ghcr.io/mrveiss/autobot-rag-agent:1.4.0
        ports: [{name: http, containerPort: 8000}]
        livenessProbe: {httpGet: {path: /health, port: 8080}}
"""
    passing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-rag-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-rag-agent}}
  template:
    metadata: {labels: {app: autobot-rag-agent}}
    spec:
      containers:
      - name: rag-agent
        image: ghcr.io/mrveiss/autobot-rag-agent:1.4.0
        ports: [{name: http, containerPort: 8000}]
        livenessProbe: {httpGet: {path: /health, port: http}}
        readinessProbe: {tcpSocket: {port: 8000}}
"""

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        for container in resource.containers():
            numbers, names = declared_ports(container.data)
            for probe in PROBES:
                spec = container.data.get(probe)
                if not isinstance(spec, dict):
                    continue
                for handler in HANDLERS:
                    action = spec.get(handler)
                    if not isinstance(action, dict) or "port" not in action:
                        continue
                    port = action["port"]
                    if not _declared(port, numbers, names):
                        yield Violation(
                            (*container.path, probe, handler, "port"),
                            _message(container, probe, handler, port),
                        )


def _declared(port: Any, numbers: set[int], names: set[str]) -> bool:
    number = as_int(port)
    if number is not None:
        return number in numbers
    if isinstance(port, str):
        return port in names or (port.isdigit() and int(port) in numbers)
    return True  # a malformed port is the schema rule's to report


def _message(container: Container, probe: str, handler: str, port: Any) -> str:
    what = "port name" if isinstance(port, str) and not port.isdigit() else "port"
    shown = port if isinstance(port, int) else repr(port)
    ports = container.data.get("ports")
    declared = ", ".join(
        f"{p.get('containerPort')} ({p['name']})" if p.get("name") else str(p.get("containerPort"))
        for p in (ports if isinstance(ports, list) else [])
        if isinstance(p, dict)
    )
    return (
        f"{container_label(container)} {probe} {handler} {what} {shown} is not a port the "
        f"container declares (declared: {declared or 'none'})"
    )
