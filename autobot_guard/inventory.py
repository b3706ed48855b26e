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

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A per-run cache for whole-set derivations (e.g. which pods some policy covers)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]
