"""The rule registry: one module per rule in this package, found at import time.

The order below is the catalogue order that `autobot-guard rules` lists; rule ids are
a stable public contract.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from .base import Rule

CATALOGUE_ORDER = (
    "schema", "liveness-probe", "readiness-probe", "probe-port", "min-replicas",
    "hpa-replicas", "hpa-target", "resource-requests", "resource-limits", "network-policy",
    "network-policy-target", "dns-egress", "logging-labels", "selector-match", "pvc-size",
    "volume-mount",
    "image-tag", "statefulset-service", "service-target", "config-ref", "pdb",
    "security-context", "exemption",
)  # fmt: skip
_NOT_RULES = frozenset({"base", "common"})


def _discover() -> list[type[Rule]]:
    found: dict[str, type[Rule]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name in _NOT_RULES or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value.__module__ == module.__name__
                and "id" in vars(value)
            ):
                found[value.id] = value
    order = {rule_id: position for position, rule_id in enumerate(CATALOGUE_ORDER)}
    return sorted(found.values(), key=lambda rule: (order.get(rule.id, len(order)), rule.id))


ALL_RULES: list[type[Rule]] = _discover()
RULES_BY_ID: dict[str, type[Rule]] = {rule.id: rule for rule in ALL_RULES}


def cross_resource_ids(rules: Iterable[type[Rule]] = ALL_RULES) -> tuple[str, ...]:
    """The rules whose findings depend on other objects (`Rule.cross_resource`)."""
    return tuple(rule.id for rule in rules if rule.cross_resource)


def kinds_read(rules: Iterable[type[Rule]] = ALL_RULES) -> frozenset[str]:
    """Every kind some rule looks up in the inventory (`Rule.reads`)."""
    return frozenset().union(*(rule.reads for rule in rules))
