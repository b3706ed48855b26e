from __future__ import annotations

from collections.abc import Iterator

from ..findings import Severity
from ..resources import WORKLOADS, Resource
from ..selectors import parse_map_selector
from .base import Context, Rule, Violation
from .common import name_list, object_label


def named_ports(workload: Resource) -> dict[str, set[str]]:
    """Port name -> protocols, over the containers (and restartable init containers, i.e.
    native sidecars) of a workload: the ports the endpoints controller resolves names in."""
    found: dict[str, set[str]] = {}
    for container in workload.containers():
        if container.init and container.data.get("restartPolicy") != "Always":
            continue
        ports = container.data.get("ports")
        for port in ports if isinstance(ports, list) else []:
            if isinstance(port, dict) and isinstance(port.get("name"), str):
                found.setdefault(port["name"], set()).add(str(port.get("protocol") or "TCP"))
    return found


class ServiceTarget(Rule):
    """A Service's selector selects some workload's pods, and named targetPorts exist.

    The Service selector is matched against the pod template labels of the workloads of
    the Service's namespace. Each targetPort given as a string is a port name: it must be
    declared (with the same protocol, TCP by default) by a container of at least one
    selected workload; native sidecars (init containers with `restartPolicy: Always`)
    count, other init containers do not. Numeric targetPorts are not checked. Services
    without a selector (endpoints managed by hand) and ExternalName Services are skipped.

    Why: a Service whose selector matches no pod has no endpoints: clients get connection
    refused or time out although everything "is deployed". A targetPort name no container
    declares leaves the endpoint without that port, so traffic to it goes nowhere.
    """

    id = "service-target"
    default_severity = Severity.WARNING
    summary = "A Service selects some workload's pods and its named targetPorts exist"
    fix = (
        "Make the Service selector match the pod template labels of its workload (same "
        "namespace) and use a targetPort name declared in the container's ports, or a number."
    )
    kinds = frozenset({"Service"})
    reads = WORKLOADS
    cross_resource = True
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-backend}}
  template:
    metadata: {labels: {app: autobot-backend}}
    spec:
      containers:
      - name: backend
        image: ghcr.io/mrveiss/autobot-backend:1.4.0
        ports: [{name: http, containerPort: 8001}]
---
apiVersion: v1
kind: Service
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {app: autobot-backend}
  ports: [{name: http, port: 8001, targetPort: api}]
"""
    passing_example = failing_example.replace("targetPort: api", "targetPort: http")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if resource.group != "" or resource.get("spec", "type") == "ExternalName":
            return
        selector = parse_map_selector(resource.get("spec", "selector"))
        if selector is None:
            return
        selected = context.inventory.select_workloads(resource.namespace, selector)
        if not selected:
            yield Violation(
                ("spec", "selector"),
                f"{object_label(resource)} selects no workload's pods in {resource.namespace} "
                f"(selector {selector.describe()})",
            )
            return
        ports = resource.get("spec", "ports")
        if not isinstance(ports, list):
            return
        declared = [named_ports(workload) for workload in selected]
        for index, port in enumerate(ports):
            target = port.get("targetPort") if isinstance(port, dict) else None
            if not isinstance(target, str):
                continue
            protocol = str(port.get("protocol") or "TCP")
            if any(protocol in names.get(target, ()) for names in declared):
                continue
            other = sorted({p for names in declared for p in names.get(target, ())})
            problem = (
                f"is declared with protocol {', '.join(other)}, not {protocol}, by"
                if other
                else "is not a port name of any container of"
            )
            yield Violation(
                ("spec", "ports", index, "targetPort"),
                f"{object_label(resource)} targetPort {target!r} {problem} {name_list(selected)}",
            )
