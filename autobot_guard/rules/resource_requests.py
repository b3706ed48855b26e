from __future__ import annotations

from collections.abc import Iterator

from ..edits import AutoFix
from ..findings import Severity
from ..resources import WORKLOADS, Resource
from .base import Context, Rule, Violation
from .common import container_label, existing_path, mapping_at

REQUIRED = ("cpu", "memory")


class ResourceRequests(Rule):
    """Every container and init container of a workload requests cpu and memory.

    Checks `resources.requests.cpu` and `resources.requests.memory` on containers and
    init containers of Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets,
    ReplicationControllers, Jobs and CronJobs. The request must be written down: a
    container with only a limit gets a request copied from it by the API server, which
    is rarely what was meant, so it is reported too.

    Why: the scheduler places pods by their requests. Without them the research agent's
    Playwright browser and Ollama can land on the same node and starve each other, the
    pod is first in line for eviction (BestEffort QoS), and an HPA cannot compute
    utilization.
    """

    id = "resource-requests"
    default_severity = Severity.ERROR
    summary = "Every container requests cpu and memory"
    fix = (
        "Add `resources.requests` with `cpu` and `memory` sized to the container's normal "
        "usage (e.g. from `kubectl top pod` or the VM's metrics)."
    )
    kinds = WORKLOADS
    autofix = AutoFix(
        None,
        "How much cpu and memory a container needs is a sizing decision: never guessed.",
    )
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-knowledge-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-knowledge-agent}}
  template:
    metadata: {labels: {app: autobot-knowledge-agent}}
    spec:
      containers:
      - name: knowledge-agent
        image: ghcr.io/mrveiss/autobot-knowledge-agent:1.4.0
        resources:
          limits: {memory: 2Gi}
"""
    passing_example = failing_example.replace(
        "          limits: {memory: 2Gi}\n",
        "          requests: {cpu: 250m, memory: 1536Mi}\n          limits: {memory: 2Gi}\n",
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        for container in resource.containers():
            requests = mapping_at(container.data, "resources", "requests")
            for name in REQUIRED:
                if requests.get(name) is None:
                    path = (*container.path, "resources", "requests", name)
                    yield Violation(
                        existing_path(resource, path),
                        f"{container_label(container)} has no {name} request",
                    )
