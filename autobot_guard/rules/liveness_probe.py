from __future__ import annotations

from collections.abc import Iterator

from ..edits import AutoFix
from ..findings import Severity
from ..resources import LONG_RUNNING, Resource
from .base import Context, Rule, Violation
from .common import container_label


class LivenessProbe(Rule):
    """Every container of a long-running workload has a livenessProbe.

    Checks Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers
    and bare Pods. Jobs and CronJobs run to completion and init containers exit before
    the pod starts, so both are exempt.

    Why: without a liveness probe the kubelet only restarts a container whose process
    exits. A backend stuck in a deadlock, or an agent whose event loop hangs, keeps its
    pod "Running" forever and keeps receiving traffic it will never answer.
    """

    id = "liveness-probe"
    default_severity = Severity.ERROR
    summary = "Every container of a long-running workload has a livenessProbe"
    fix = (
        "Add a livenessProbe (httpGet on a cheap health endpoint, tcpSocket, or exec) to the "
        "container; give slow starters a startupProbe so the liveness probe does not kill them "
        "while they boot."
    )
    kinds = LONG_RUNNING
    probe_field = "livenessProbe"
    autofix = AutoFix(
        None,
        "A probe's endpoint, port and timings must be ones the application serves and "
        "survives: never guessed.",
    )
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        readinessProbe: {httpGet: {path: /health, port: 8000}}
"""
    passing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        livenessProbe: {httpGet: {path: /health, port: 8000}}
        readinessProbe: {httpGet: {path: /health, port: 8000}}
"""

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        for container in resource.containers(init=False):
            if not isinstance(container.data.get(self.probe_field), dict):
                yield Violation(
                    container.path,
                    f"{container_label(container)} has no {self.probe_field}",
                )
