from __future__ import annotations

from collections.abc import Iterator

from ..edits import AppendItem, AutoFix, Edit, SetField
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
    autofix = AutoFix(
        "Writes the restricted defaults a container leaves unset into its securityContext: "
        "`runAsNonRoot: true`, `allowPrivilegeEscalation: false`, `ALL` added to "
        "`capabilities.drop`, `seccompProfile: {type: RuntimeDefault}`. Check that the image "
        "runs as a non-root user (set `runAsUser` if its USER is root) before applying.",
        "A value written on purpose (`privileged: true`, `allowPrivilegeEscalation: true`, "
        "`runAsNonRoot: false`, an Unconfined seccomp profile, on the container or the pod) is "
        "left to a human: the workload may need it, and then it needs an exemption.",
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

    def default(*field: str, value: object, unset: bool) -> tuple[Edit, ...]:
        """Setting the restricted value is the fix only where nobody chose another one."""
        return (SetField((*container.path, "securityContext", *field), value),) if unset else ()

    non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if non_root is not True:
        yield Violation(
            at("runAsNonRoot"),
            f"{label} does not set runAsNonRoot: true (container or pod securityContext)",
            edits=default("runAsNonRoot", value=True, unset="runAsNonRoot" not in own | pod),
        )
    if own.get("allowPrivilegeEscalation") is not False:
        added = mapping_at(own, "capabilities").get("add")
        # The API server refuses allowPrivilegeEscalation: false beside these two.
        needs_escalation = own.get("privileged") is True or (
            isinstance(added, list) and ("SYS_ADMIN" in added or "CAP_SYS_ADMIN" in added)
        )
        yield Violation(
            at("allowPrivilegeEscalation"),
            f"{label} does not set securityContext.allowPrivilegeEscalation: false",
            edits=default(
                "allowPrivilegeEscalation",
                value=False,
                unset="allowPrivilegeEscalation" not in own and not needs_escalation,
            ),
        )
    if own.get("privileged") is True:
        yield Violation(at("privileged"), f"{label} runs privileged (securityContext.privileged)")
    drop = mapping_at(own, "capabilities").get("drop")
    if not isinstance(drop, list) or "ALL" not in drop:
        drop_path = (*container.path, "securityContext", "capabilities", "drop")
        edits: tuple[Edit, ...] = ()
        if isinstance(drop, list):
            edits = (AppendItem(drop_path, "ALL"),)
        elif drop is None and isinstance(own.get("capabilities") or {}, dict):
            edits = (SetField(drop_path, ["ALL"]),)
        yield Violation(
            at("capabilities", "drop"),
            f"{label} does not drop ALL capabilities (securityContext.capabilities.drop)",
            edits=edits,
        )
    seccomp = mapping_at(own, "seccompProfile") or mapping_at(pod, "seccompProfile")
    if seccomp.get("type") not in SECCOMP_CONFINED:
        found = seccomp.get("type")
        shown = f"seccompProfile type {found}" if found is not None else "no seccompProfile"
        chosen = own.get("seccompProfile") is not None or pod.get("seccompProfile") is not None
        yield Violation(
            at("seccompProfile", "type"),
            f"{label} has {shown}; RuntimeDefault or Localhost is required "
            "(container or pod securityContext)",
            edits=default("seccompProfile", value={"type": "RuntimeDefault"}, unset=not chosen),
        )
