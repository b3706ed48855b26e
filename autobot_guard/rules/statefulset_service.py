from __future__ import annotations

from collections.abc import Iterator

from ..findings import Severity
from ..resources import Resource
from ..selectors import parse_map_selector
from .base import Context, Rule, Violation
from .common import describe_labels, object_label


class StatefulSetService(Rule):
    """A StatefulSet's serviceName names a headless Service that selects its pods.

    `spec.serviceName` must be set and name a Service of the checked set in the
    StatefulSet's namespace that is headless (`clusterIP: None`) and whose selector matches
    the StatefulSet's pod template labels.

    Why: the governing headless Service gives each replica its stable DNS name
    (`redis-0.redis.autobot-data.svc`). Without it, or with a Service that has a cluster IP
    or selects other pods, replicas cannot address each other and clients that pin a
    replica (Redis, Elasticsearch discovery) fail to resolve it.
    """

    id = "statefulset-service"
    default_severity = Severity.ERROR
    summary = "A StatefulSet's serviceName names a headless Service selecting its pods"
    fix = (
        "Set spec.serviceName to a Service in the same namespace with `clusterIP: None` whose "
        "selector matches the StatefulSet's pod template labels."
    )
    kinds = frozenset({"StatefulSet"})
    reads = frozenset({"Service"})
    cross_resource = True
    failing_example = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: autobot-data}
spec:
  serviceName: redis
  selector: {matchLabels: {app: autobot-redis}}
  template:
    metadata: {labels: {app: autobot-redis}}
    spec:
      containers:
      - name: redis
        image: redis/redis-stack-server:7.4.0-v1
        ports: [{name: redis, containerPort: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: autobot-data}
spec:
  selector: {app: autobot-redis}
  ports: [{name: redis, port: 6379, targetPort: redis}]
"""
    passing_example = failing_example.replace(
        "  selector: {app: autobot-redis}\n",
        "  clusterIP: None\n  selector: {app: autobot-redis}\n",
    )

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        path = ("spec", "serviceName")
        name = resource.get(*path)
        if not isinstance(name, str) or not name:
            yield Violation(
                path,
                f"{object_label(resource)} has no spec.serviceName: its pods get no stable "
                "DNS names",
            )
            return
        service = context.inventory.find("Service", resource.namespace, name)
        if service is None or service.group != "":
            yield Violation(
                path,
                f"serviceName {name!r} names no Service in {resource.namespace} "
                f"(a headless Service {resource.namespace}/{name} is needed)",
            )
            return
        cluster_ip = service.get("spec", "clusterIP")
        if cluster_ip != "None":
            shown = f"clusterIP {cluster_ip}" if cluster_ip else "no clusterIP: None"
            yield Violation(
                path, f"{object_label(service)} named by serviceName is not headless ({shown})"
            )
        selector = parse_map_selector(service.get("spec", "selector"))
        if selector is None:
            yield Violation(
                path,
                f"{object_label(service)} named by serviceName has no selector, so it selects "
                f"no pods of {object_label(resource)}",
            )
        elif not selector.matches(resource.pod_labels):
            yield Violation(
                path,
                f"{object_label(service)}'s selector {selector.describe()} does not select the "
                f"pods of {object_label(resource)} ({describe_labels(resource.pod_labels)})",
            )
