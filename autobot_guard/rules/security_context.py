from __future__ import annotations

from collections.abc import Iterator

from ..findings import Severity
from ..resources import WORKLOADS, Container, FieldPath, Resource
from .base import Context, Rule, Violation
from .common import container_label, mapping_at

SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")


class SecurityContext(Rule):
    """Every container runs non-root, unprivileged, without capabilities, under seccomp.

    For every container and init container of a workload:
    - `runAsNonRoot: true`, set on the container or the pod (the container's value wins);
    - `allowPrivilegeEscalation: false` on the container;
    - not `privileged: true`;
    - `capabilities.drop` includes `ALL`;
    - `seccompProfile.type` is `RuntimeDefault` or `Localhost`, on the container or the pod
      (the container's value wins).
    Each missing item is its own finding. Workloads that truly need more (the fluentd
    DaemonSet reading root-owned host logs, the NPU worker without a device plugin) are
    exempted with `autobot-guard.io/exempt` and a reason.

    Why: AutoBot's agents execute LLM-chosen tools and drive a browser on untrusted web
    pages; a compromised container that runs as root with its capabilities and no
    seccomp filter is one kernel bug away from the node, and from every other agent's
    secrets on it. These settings are the Kubernetes "restricted" Pod Security Standard.
    """

    id = "security-context"
    default_severity = Severity.WARNING
    summary = "Containers run non-root, without privilege escalation or capabilities, under seccomp"
    fix = (
        "Set `securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, "
        "capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}` on the "
        "container (runAsNonRoot and seccompProfile may go on the pod instead)."
    )
    kinds = WORKLOADS
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-research-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-research-agent}}
  template:
    metadata: {labels: {app: autobot-research-agent}}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: research-agent
        image: ghcr.io/mrveiss/autobot-research-agent:1.4.0
        securityContext:
          allowPrivilegeEscalation: true
"""
    passing_example = failing_example.replace(
        "          allowPrivilegeEscalation: true\n",
        "          allowPrivilegeEscalation: false\n          capabilities: {drop: [ALL]}\n",
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        pod = mapping_at(resource.pod_spec, "securityContext")
        for container in resource.containers(ephemeral=True):
            yield from _container(container, pod)


def _container(container: Container, pod: dict[str, object]) -> Iterator[Violation]:
    own = mapping_at(container.data, "securityContext")
    base: FieldPath = (*container.path, "securityContext") if own else container.path
    label = container_label(container)

    def at(*field: str) -> FieldPath:
        """The field's path if the container sets it, else its securityContext's."""
        node: object = own
        for part in field:
            node = node.get(part) if isinstance(node, dict) else None
        return (*container.path, "securityContext", *field) if node is not None else base

    non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if non_root is not True:
        yield Violation(
            at("runAsNonRoot"),
            f"{label} does not set runAsNonRoot: true (container or pod securityContext)",
        )
    if own.get("allowPrivilegeEscalation") is not False:
        yield Violation(
            at("allowPrivilegeEscalation"),
            f"{label} does not set securityContext.allowPrivilegeEscalation: false",
        )
    if own.get("privileged") is True:
        yield Violation(at("privileged"), f"{label} runs privileged (securityContext.privileged)")
    drop = mapping_at(own, "capabilities").get("drop")
    if not isinstance(drop, list) or "ALL" not in drop:
        yield Violation(
            at("capabilities", "drop"),
            f"{label} does not drop ALL capabilities (securityContext.capabilities.drop)",
        )
    seccomp = mapping_at(own, "seccompProfile") or mapping_at(pod, "seccompProfile")
    if seccomp.get("type") not in SECCOMP_CONFINED:
        found = seccomp.get("type")
        shown = f"seccompProfile type {found}" if found is not None else "no seccompProfile"
        yield Violation(
            at("seccompProfile", "type"),
            f"{label} has {shown}; RuntimeDefault or Localhost is required "
            "(container or pod securityContext)",
        )
