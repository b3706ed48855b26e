"""Label selectors with Kubernetes' exact semantics.

matchLabels and matchExpressions are ANDed; In / NotIn / Exists / DoesNotExist;
an empty selector selects every pod of the namespace, a missing one selects none
(the caller decides which applies: a Service without a selector selects nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]

    def matches(self, labels: Mapping[str, Any]) -> bool:
        if self.operator == "In":
            return self.key in labels and str(labels[self.key]) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or str(labels[self.key]) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        return False  # an unknown operator selects nothing (the API server rejects it)


@dataclass(frozen=True, slots=True)
class Selector:
    match_labels: tuple[tuple[str, str], ...]
    expressions: tuple[Requirement, ...]

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, Any]) -> bool:
        for key, value in self.match_labels:
            if key not in labels or str(labels[key]) != value:
                return False
        return all(requirement.matches(labels) for requirement in self.expressions)

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for r in self.expressions:
            values = ",".join(sorted(r.values))
            parts.append(f"{r.key} {r.operator} ({values})" if values else f"{r.operator} {r.key}")
        return ", ".join(parts) or "(everything)"


NOTHING = None  # what `parse_label_selector` returns for a missing selector


def parse_label_selector(value: Any) -> Selector | None:
    """A metav1.LabelSelector ({matchLabels, matchExpressions}); None if absent or malformed."""
    if not isinstance(value, dict):
        return None
    labels = value.get("matchLabels") or {}
    expressions = value.get("matchExpressions") or []
    if not isinstance(labels, dict) or not isinstance(expressions, list):
        return None
    requirements = []
    for item in expressions:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            return None
        values = item.get("values") or []
        requirements.append(
            Requirement(
                item["key"],
                str(item.get("operator")),
                frozenset(str(v) for v in values) if isinstance(values, list) else frozenset(),
            )
        )
    return Selector(tuple((str(k), str(v)) for k, v in labels.items()), tuple(requirements))


def parse_map_selector(value: Any) -> Selector | None:
    """A plain label map (Service.spec.selector); None when absent or empty."""
    if not isinstance(value, dict) or not value:
        return None
    return Selector(tuple((str(k), str(v)) for k, v in value.items()), ())
