"""Live objects as the rules see them, and what the audit leaves alone, as the webhook does.

An object listed from the API server carries what the server added: status,
managedFields, resourceVersion, uid, timestamps, kubectl's last-applied annotation and a
`spec.replicas` defaulted to 1. The webhook's own preparation takes them out (`prepare`,
`slim`), so a rule sees the object as its author wrote it and judges it as on files.

Left alone, and counted:
- the pack's `skipNamespaces` and `admission.skipNamespaces` (kube-system by default) and
  namespaces labelled `autobot-guard.io/ignore: "true"` (the webhook's opt-out);
- Pods, ReplicaSets and Jobs a built-in controller created for an owner that was listed
  (the webhook skips what the controller manager creates: their owner was judged);
  `admission.judgeControlledPods: true` judges them too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..config import PolicyPack
from ..findings import LIVE_PREFIX
from ..loader import Document
from ..resources import CLUSTER_SCOPED, POD_TEMPLATE_PATH, Resource, make_resource
from ..webhook.inventory_watch import Watched
from ..webhook.review import CONTROLLED_KINDS, prepare
from ..webhook.store import slim

IGNORE_LABEL = "autobot-guard.io/ignore"  # as the webhook's namespaceSelector reads it
# Owners whose children the kube-controller-manager creates (Deployment -> ReplicaSet ->
# Pod, CronJob -> Job -> Pod, ...).
CONTROLLER_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
     "ReplicationController"}
)  # fmt: skip


class LiveDocument(Document):
    """A listed object: no file, no lines; findings name the object and field path."""

    __slots__ = ()

    def line_of(self, path: tuple[str | int, ...]) -> int:
        return 0


@dataclass(slots=True)
class LiveObject:
    resource: Resource
    uid: str
    owner: tuple[str, str] | None  # (kind, uid) of its controller ownerReference


def live_object(watched: Watched, item: dict[str, Any]) -> LiveObject | None:
    """The listed `item` as the rules judge it (see the module docstring); None when it
    has no name (the API server never lists such a thing)."""
    meta = item.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    item["apiVersion"], item["kind"] = watched.api_version, watched.kind  # lists omit them
    data, _defaulted = prepare(item, None)
    data = slim(watched.api_version, watched.kind, data, watched.metadata_only)
    if data["metadata"].get("annotations") == {}:  # held only what the server added
        del data["metadata"]["annotations"]
    if watched.kind in POD_TEMPLATE_PATH:
        _undefault_containers(data, POD_TEMPLATE_PATH[watched.kind])
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    namespace = None if watched.kind in CLUSTER_SCOPED else meta.get("namespace") or "default"
    where = f"{watched.kind}/{namespace}/{name}" if namespace else f"{watched.kind}/{name}"
    document = LiveDocument(LIVE_PREFIX + where, 0, "", data, True, _node=False)
    resource, _problem = make_resource(document, data, ())
    if resource is None:
        return None
    return LiveObject(resource, str(meta.get("uid") or ""), _controller(meta))


def _undefault_containers(data: dict[str, Any], template: tuple[str | int, ...]) -> None:
    """Take out the `resources: {}` the API server gives a container written without
    resources (the same thing: no requests, no limits), so that the findings about it
    point at the container, as on the manifest."""
    node: Any = data
    for part in (*template, "spec"):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return
    for key in ("containers", "initContainers"):
        for container in node.get(key) or []:
            if isinstance(container, dict) and container.get("resources") == {}:
                del container["resources"]


def _controller(meta: dict[str, Any]) -> tuple[str, str] | None:
    owners = meta.get("ownerReferences")
    for owner in owners if isinstance(owners, list) else []:
        if isinstance(owner, dict) and owner.get("controller") is True:
            return str(owner.get("kind") or ""), str(owner.get("uid") or "")
    return None


@dataclass
class Scope:
    """The objects to judge, and what was left alone."""

    judged: list[LiveObject] = field(default_factory=list)
    skipped_namespaces: dict[str, int] = field(default_factory=dict)
    ignored_namespaces: list[str] = field(default_factory=list)
    controlled: dict[str, int] = field(default_factory=dict)


def skipped_namespaces(pack: PolicyPack) -> frozenset[str]:
    """The namespaces neither `check` nor the webhook judges, from the pack."""
    return pack.skip_namespaces | frozenset(pack.admission.skipNamespaces)


def scope(pack: PolicyPack, objects: Iterable[LiveObject]) -> Scope:
    everything = list(objects)
    ignored = sorted(
        o.resource.name
        for o in everything
        if o.resource.kind == "Namespace" and _labels(o.resource).get(IGNORE_LABEL) == "true"
    )
    skip = skipped_namespaces(pack) | frozenset(ignored)
    listed_owners = {o.uid for o in everything if o.uid and o.resource.kind in CONTROLLER_KINDS}
    judge_controlled = pack.admission.judgeControlledPods
    out = Scope(ignored_namespaces=ignored)
    by_namespace: Counter[str] = Counter()
    controlled: Counter[str] = Counter()
    for item in everything:
        resource = item.resource
        if resource.namespace is not None and resource.namespace in skip:
            by_namespace[resource.namespace] += 1
        elif (
            not judge_controlled
            and resource.kind in CONTROLLED_KINDS
            and item.owner is not None
            and item.owner[0] in CONTROLLER_KINDS
            and item.owner[1] in listed_owners
        ):
            controlled[resource.kind] += 1
        else:
            out.judged.append(item)
    out.skipped_namespaces = dict(by_namespace)
    out.controlled = dict(controlled)
    return out


def _labels(resource: Resource) -> dict[str, Any]:
    labels = resource.metadata.get("labels")
    return labels if isinstance(labels, dict) else {}
