"""The objects cross-resource rules read at admission: from manifests and the live cluster.

Written by the watch threads, read by the event loop: every access holds one lock, and
each namespace's Inventory is built once per change of that namespace, then shared by
every review (a review overlays its own object with `Inventory.replaced`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ..findings import InputError
from ..inventory import Inventory
from ..loader import Document, load_paths
from ..resources import WORKLOADS, Resource, make_resource
from ..rules import kinds_read
from ..rules.config_ref import KEYS_UNKNOWN_ANNOTATION
from ..selectors import Selector, parse_label_selector

Key = tuple[str, str | None, str]  # kind, namespace, name

# Server-set metadata that changes on every write but never changes a finding.
_VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the manifest, as JSON
_VOLATILE_ANNOTATIONS = (
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
)


_SELECTING = frozenset({"NetworkPolicy", "PodDisruptionBudget"})
# What the rules look up besides workloads (`Rule.reads`; workloads are kept whatever
# their kind); objects of other kinds in --inventory are not kept.
INVENTORY_KINDS = kinds_read() - WORKLOADS
_MAX_SIGNATURES = 512  # cached workload inventories per namespace (by pod labels)


def _selector(resource: Resource) -> Selector | None:
    """The pod selector of a NetworkPolicy / PDB; None when absent or unparsable (then
    the object is always kept: the rules decide what it means)."""
    field = "podSelector" if resource.kind == "NetworkPolicy" else "selector"
    value = resource.get("spec", field)
    return None if value is None else parse_label_selector(value)


def key_of(resource: Resource) -> Key:
    return (resource.kind, resource.namespace, resource.name)


def admission_document(data: Any, file: str = "<admission>") -> Document:
    """A Document for an object that came as JSON over the network: no text, line 1."""
    return Document(file, 1, "", data, True, _node=False)


def slim(
    api_version: str, kind: str, obj: dict[str, Any], metadata_only: bool = False
) -> dict[str, Any]:
    """What the inventory keeps of a live object: no status, no volatile metadata, and
    of ConfigMaps and Secrets the key names only (never a value). A Secret listed as
    metadata only (PartialObjectMetadata) is marked: its keys are unknown."""
    meta = obj.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    for name in _VOLATILE_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and any(a in annotations for a in _VOLATILE_ANNOTATIONS):
        meta["annotations"] = {
            k: v for k, v in annotations.items() if k not in _VOLATILE_ANNOTATIONS
        }
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    if kind in ("ConfigMap", "Secret"):
        fields = ("data", "binaryData") if kind == "ConfigMap" else ("data", "stringData")
        known = False
        for field in fields:
            value = obj.get(field)
            if isinstance(value, dict):
                out[field] = dict.fromkeys(value, "")
                known = True
        if kind == "Secret":
            if isinstance(obj.get("type"), str):
                out["type"] = obj["type"]
            if metadata_only and not known and "type" not in obj:
                notes = dict(meta.get("annotations") or {})
                notes[KEYS_UNKNOWN_ANNOTATION] = "metadata-only"
                meta["annotations"] = notes
        return out
    for name, value in obj.items():
        if name not in ("apiVersion", "kind", "metadata", "status"):
            out[name] = value
    return out


class InventoryStore:
    """Static objects (from --inventory) overlaid by live ones (from the watch)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._static: dict[Key, Resource] = {}
        self._live: dict[Key, Resource] = {}
        self._by_source: dict[str, set[Key]] = {}
        self._namespaces: dict[str | None, dict[Key, Resource]] = {}
        self._inventories: dict[tuple[str | None, bool], Inventory] = {}
        self._selecting: dict[str | None, list[tuple[Resource, Selector | None]]] = {}
        self._by_labels: dict[str | None, dict[frozenset[tuple[str, str]] | None, Inventory]] = {}
        self._pending: set[str] = set()
        self.sources: list[str] = []

    # -- writers -------------------------------------------------------------------

    def load_directory(self, path: str) -> list[InputError]:
        """Every object of the manifests under `path`, as the CLI loads them."""
        loaded = load_paths([path])
        with self._lock:
            for resource in loaded.resources:
                if not (resource.is_workload or resource.kind in INVENTORY_KINDS):
                    continue
                key = key_of(resource)
                self._static[key] = resource
                if key not in self._live:
                    self._put(key, resource)
            self.sources.append(f"directory {path}")
        return loaded.errors

    def expect(self, source: str) -> None:
        """`source` (e.g. a watched resource) must list once before the set is synced."""
        with self._lock:
            self._pending.add(source)
            self._by_source.setdefault(source, set())
            self.sources.append(f"cluster {source}")

    def replace_source(self, source: str, objects: Iterable[Resource]) -> None:
        """A fresh list of `source`: the objects it had and no longer lists go."""
        with self._lock:
            fresh = {key_of(resource): resource for resource in objects}
            for key in self._by_source.get(source, set()) - fresh.keys():
                self._remove_live(key)
            for key, resource in fresh.items():
                self._put_live(key, resource)
            self._by_source[source] = set(fresh)
            self._pending.discard(source)

    def upsert(self, source: str, resource: Resource) -> bool:
        """Add or update a live object; False when nothing a rule sees changed."""
        key = key_of(resource)
        with self._lock:
            self._by_source.setdefault(source, set()).add(key)
            return self._put_live(key, resource)

    def delete(self, source: str, key: Key) -> None:
        with self._lock:
            self._by_source.get(source, set()).discard(key)
            self._remove_live(key)

    def _put_live(self, key: Key, resource: Resource) -> bool:
        current = self._live.get(key)
        if current is not None and current.data == resource.data:
            return False
        self._live[key] = resource
        self._put(key, resource)
        return True

    def _remove_live(self, key: Key) -> None:
        if self._live.pop(key, None) is None:
            return
        namespace = self._namespaces.get(key[1], {})
        static = self._static.get(key)
        if static is not None:
            namespace[key] = static
        else:
            namespace.pop(key, None)
        self._drop_inventories(key[1])

    def _put(self, key: Key, resource: Resource) -> None:
        self._namespaces.setdefault(key[1], {})[key] = resource
        self._drop_inventories(key[1])

    def _drop_inventories(self, namespace: str | None) -> None:
        self._inventories.pop((namespace, True), None)
        self._inventories.pop((namespace, False), None)
        self._selecting.pop(namespace, None)
        self._by_labels.pop(namespace, None)

    # -- readers -------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return bool(self.sources)

    @property
    def synced(self) -> bool:
        with self._lock:
            return bool(self.sources) and not self._pending

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._pending)

    def count(self) -> int:
        with self._lock:
            return sum(len(objects) for objects in self._namespaces.values())

    def namespace_inventory(self, namespace: str | None) -> Inventory:
        """The objects of one namespace: cross-resource rules never look further."""
        with self._lock:
            inventory = self._inventories.get((namespace, True))
            if inventory is None:
                objects = self._namespaces.get(namespace, {}).values()
                inventory = self._inventories[(namespace, True)] = Inventory(objects)
            return inventory

    def workload_inventory(self, workload: Resource) -> Inventory:
        """What judging `workload` can depend on: its namespace's objects less the other
        workloads and the NetworkPolicies and PodDisruptionBudgets whose selector does
        not match its pod labels (nothing else relates a workload to another object,
        and an unmatched selector changes none of its findings). With `workload` in.

        The set without `workload` is cached per namespace and pod labels, so a review
        builds only the small derivations (coverage, budgets) that involve its object.
        """
        namespace = workload.namespace
        try:
            signature = frozenset((str(k), str(v)) for k, v in workload.pod_labels.items())
        except TypeError:
            signature = None
        with self._lock:
            cache = self._by_labels.setdefault(namespace, {})
            base = cache.get(signature) if signature is not None else None
            if base is None:
                base = self._labels_inventory(namespace, workload.pod_labels)
                if signature is not None:
                    if len(cache) >= _MAX_SIGNATURES:
                        cache.clear()
                    cache[signature] = base
        return base.replaced(workload)

    def _labels_inventory(self, namespace: str | None, labels: dict[str, Any]) -> Inventory:
        selecting = self._selecting.get(namespace)
        plain = self._inventories.get((namespace, False))
        if plain is None or selecting is None:
            objects = self._namespaces.get(namespace, {}).values()
            plain = Inventory(r for r in objects if not r.is_workload and r.kind not in _SELECTING)
            self._inventories[(namespace, False)] = plain
            selecting = self._selecting[namespace] = [
                (r, _selector(r)) for r in objects if r.kind in _SELECTING
            ]
        matched = [r for r, sel in selecting if sel is None or sel.matches(labels)]
        return plain.extended(matched)


def resource_from(
    data: dict[str, Any], file: str = "<admission>"
) -> tuple[Resource | None, str | None]:
    """A Resource for a JSON object, or why it is not a Kubernetes object."""
    resource, problem = make_resource(admission_document(data, file), data, ())
    if resource is None:
        return None, problem[0] if problem else "not a Kubernetes object"
    return resource, None
