from __future__ import annotations

from collections.abc import Iterator

from ..edits import AutoFix
from ..findings import Severity
from ..resources import WORKLOADS, Resource, iter_pod_volumes
from .base import Context, Rule, Violation
from .common import container_label, mapping_at


def claim_template_names(resource: Resource) -> list[str]:
    """metadata.name of each volumeClaimTemplate of a StatefulSet (else empty)."""
    templates = (
        resource.get("spec", "volumeClaimTemplates") if resource.kind == "StatefulSet" else None
    )
    names = []
    for template in templates if isinstance(templates, list) else []:
        name = mapping_at(template, "metadata").get("name")
        if isinstance(name, str):
            names.append(name)
    return names


class VolumeMount(Rule):
    """Every volumeMount names a volume of the pod.

    Checks `volumeMounts` (and raw-block `volumeDevices`) of containers and init
    containers: the name must be one of the pod's `spec.volumes[].name` or, for a
    StatefulSet, one of its `volumeClaimTemplates[].metadata.name`.

    Why: the API server rejects a pod template that mounts an undeclared volume
    ("volumeMounts[0].name: Not found"), so the workload never starts. The plan's Redis
    StatefulSet mounted `redis-data` without declaring a volume or claim template.
    """

    id = "volume-mount"
    default_severity = Severity.ERROR
    summary = "Every volumeMount names a volume or claim template of the pod"
    fix = (
        "Declare the volume under the pod's `spec.volumes` (or, for a StatefulSet's persistent "
        "data, under `spec.volumeClaimTemplates`), or correct the mount's name."
    )
    kinds = WORKLOADS
    autofix = AutoFix(
        None,
        "Whether a volume, a claim template or a different mount name is meant needs a human.",
    )
    failing_example = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: autobot-redis, namespace: autobot-data}
spec:
  serviceName: autobot-redis
  selector: {matchLabels: {app: autobot-redis}}
  template:
    metadata: {labels: {app: autobot-redis}}
    spec:
      containers:
      - name: redis
        image: redis/redis-stack-server:7.4.0-v3
        volumeMounts: [{name: redis-data, mountPath: /data}]
"""
    passing_example = (
        failing_example
        + """\
  volumeClaimTemplates:
  - metadata: {name: redis-data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 20Gi}}
"""
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        volumes = {
            str(volume["name"]) for _, volume in iter_pod_volumes(resource) if "name" in volume
        }
        claims = claim_template_names(resource)
        known = volumes | set(claims)
        for container in resource.containers():
            for field in ("volumeMounts", "volumeDevices"):
                mounts = container.data.get(field)
                for index, mount in enumerate(mounts if isinstance(mounts, list) else []):
                    if not isinstance(mount, dict) or not isinstance(mount.get("name"), str):
                        continue
                    if mount["name"] in known:
                        continue
                    declared = ", ".join(sorted(known)) or "none"
                    yield Violation(
                        (*container.path, field, index, "name"),
                        f"{container_label(container)} mounts volume {mount['name']!r}, which the "
                        f"pod does not declare (declared: {declared})",
                    )
