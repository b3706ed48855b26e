"""The checked set, indexed by kind, namespace and pod label, for cross-resource rules.

Every lookup is a dict access or a scan of one small candidate list, so a rule that
asks "which workloads does this selector pick?" for each object stays linear overall.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .resources import Resource
from .selectors import Selector

T = TypeVar("T")


class Inventory:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources: list[Resource] = list(resources)
        self._by_name: dict[tuple[str, str | None, str], Resource] = {}
        self._by_kind: dict[tuple[str, str | None], list[Resource]] = defaultdict(list)
        self._workloads: dict[str | None, list[Resource]] = defaultdict(list)
        self._by_label: dict[tuple[str | None, str, str], list[Resource]] = defaultdict(list)
        self._memo: dict[str, Any] = {}
        self._parent: Inventory | None = None  # see `replaced`
        self._changed: frozenset[str] = frozenset()
        for resource in self.resources:
            self._by_name.setdefault((resource.kind, resource.namespace, resource.name), resource)
            self._by_kind[(resource.kind, resource.namespace)].append(resource)
            if resource.is_workload:
                self._workloads[resource.namespace].append(resource)
                for key, value in resource.pod_labels.items():
                    self._by_label[(resource.namespace, str(key), str(value))].append(resource)

    def find(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        return self._by_name.get((kind, namespace, name))

    def of_kind(self, kind: str, namespace: str | None) -> list[Resource]:
        return self._by_kind.get((kind, namespace), [])

    def workloads(self, namespace: str | None) -> list[Resource]:
        return self._workloads.get(namespace, [])

    def select_workloads(self, namespace: str | None, selector: Selector) -> list[Resource]:
        """Workloads of `namespace` whose pod template labels `selector` matches."""
        if selector.match_labels:
            candidates = min(
                (self._by_label.get((namespace, k, v), []) for k, v in selector.match_labels),
                key=len,
            )
        else:
            candidates = self._workloads.get(namespace, [])
        return [w for w in candidates if selector.matches(w.pod_labels)]

    def memo(self, key: str, compute: Callable[[], T], kinds: frozenset[str] | None = None) -> T:
        """A per-run cache for whole-set derivations (e.g. which pods some policy covers).

        `kinds`: the only kinds the derivation reads, so that `replaced` can keep it when
        an object of another kind changes (None: it may read anything).
        """
        if key not in self._memo:
            parent = self._parent
            if parent is not None and kinds is not None and not kinds & self._changed:
                # Same objects of those kinds as the parent: share one result.
                self._memo[key] = parent.memo(key, compute, kinds)
            else:
                self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def replaced(self, resource: Resource) -> Inventory:
        """This set with `resource` in place of the object of the same kind, namespace and
        name (or added): what the set becomes when the API server admits it."""
        return self.extended([resource])

    def extended(self, resources: Iterable[Resource]) -> Inventory:
        """This set with each of `resources` in place of the object of the same kind,
        namespace and name (or added).

        A layer over this set, not a copy: lookups consult the few added objects, then
        this set; derivations that cannot see the change are shared (see `memo`). So
        judging one object against a large set does not rebuild the set.
        """
        return _Layer(self, resources)


class _Layer(Inventory):
    """`parent` with some objects added or replaced (see Inventory.extended)."""

    def __init__(self, parent: Inventory, resources: Iterable[Resource]) -> None:
        added: dict[tuple[str, str | None, str], Resource] = {}
        for resource in resources:
            added[(resource.kind, resource.namespace, resource.name)] = resource
        removed = [old for key in added if (old := parent.find(*key)) is not None]
        self._added = list(added.values())
        self._by_added = added
        self._removed = {id(old) for old in removed}
        kept = [r for r in parent.resources if id(r) not in self._removed]
        self.resources = [*(kept if removed else parent.resources), *self._added]
        self._memo = {}
        self._parent = self._base = parent
        self._changed = frozenset({r.kind for r in self._added} | {r.kind for r in removed})

    def _merge(self, found: list[Resource], extra: list[Resource]) -> list[Resource]:
        if self._removed:
            found = [r for r in found if id(r) not in self._removed]
        return [*found, *extra] if extra else found

    def find(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        resource = self._by_added.get((kind, namespace, name))
        return resource if resource is not None else self._base.find(kind, namespace, name)

    def of_kind(self, kind: str, namespace: str | None) -> list[Resource]:
        extra = [r for r in self._added if r.kind == kind and r.namespace == namespace]
        return self._merge(self._base.of_kind(kind, namespace), extra)

    def workloads(self, namespace: str | None) -> list[Resource]:
        extra = [r for r in self._added if r.is_workload and r.namespace == namespace]
        return self._merge(self._base.workloads(namespace), extra)

    def select_workloads(self, namespace: str | None, selector: Selector) -> list[Resource]:
        extra = [
            r
            for r in self._added
            if r.is_workload and r.namespace == namespace and selector.matches(r.pod_labels)
        ]
        found = self._base.select_workloads(namespace, selector)
        return self._merge(found, extra)
