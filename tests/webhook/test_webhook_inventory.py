"""Inventory.extended / replaced: a layer over a set, as the webhook judges one object."""

from __future__ import annotations

import copy
from typing import Any

from autobot_guard.inventory import Inventory
from autobot_guard.selectors import parse_label_selector
from autobot_guard.webhook.store import InventoryStore, resource_from, slim


def obj(kind: str, name: str, labels: dict[str, str] | None = None, **spec: Any) -> Any:
    data: dict[str, Any] = {
        "apiVersion": "apps/v1" if kind == "Deployment" else "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns"},
    }
    if kind == "Deployment":
        data["spec"] = {"template": {"metadata": {"labels": labels or {}}}, **spec}
    resource, problem = resource_from(data)
    assert resource is not None, problem
    return resource


def test_a_layer_replaces_and_adds_without_touching_its_base() -> None:
    old = obj("Deployment", "web", {"app": "web"})
    other = obj("Deployment", "api", {"app": "api"})
    config = obj("ConfigMap", "settings")
    base = Inventory([old, other, config])
    new = obj("Deployment", "web", {"app": "web", "tier": "front"})
    added = obj("Service", "web")
    layer = base.extended([new, added])
    assert layer.find("Deployment", "ns", "web") is new
    assert layer.find("ConfigMap", "ns", "settings") is config
    assert layer.find("Service", "ns", "web") is added
    assert layer.of_kind("Deployment", "ns") == [other, new]
    assert layer.workloads("ns") == [other, new]
    selector = parse_label_selector({"matchLabels": {"app": "web"}})
    assert selector is not None
    assert layer.select_workloads("ns", selector) == [new]
    assert layer.resources == [other, config, new, added]
    # The base is as it was.
    assert base.find("Deployment", "ns", "web") is old
    assert base.select_workloads("ns", selector) == [old]
    # Layers stack.
    newest = obj("Deployment", "web", {"app": "other"})
    assert layer.replaced(newest).select_workloads("ns", selector) == []


def test_derivations_are_shared_only_when_they_cannot_see_the_change() -> None:
    config = obj("ConfigMap", "settings")
    base = Inventory([obj("Deployment", "web", {"app": "web"}), config])
    calls: list[str] = []

    def configs_of(inventory: Inventory) -> Any:
        def build() -> list[str]:
            calls.append("configs")
            return [r.name for r in inventory.resources if r.kind == "ConfigMap"]

        return inventory.memo("configs", build, frozenset({"ConfigMap"}))

    def everything(inventory: Inventory) -> Any:
        def build() -> int:
            calls.append("all")
            return len(inventory.resources)

        return inventory.memo("all", build)

    first = base.replaced(obj("Deployment", "web", {"app": "v2"}))
    second = base.replaced(obj("Deployment", "web", {"app": "v3"}))
    assert configs_of(first) == configs_of(second) == ["settings"]
    assert calls.count("configs") == 1  # computed once, kept by the base
    assert everything(first) == everything(second) == 2
    assert calls.count("all") == 2  # may read the changed object: per layer
    changed = base.replaced(obj("ConfigMap", "settings"))
    assert configs_of(changed) == ["settings"] and calls.count("configs") == 2


def test_the_store_keeps_key_names_never_values() -> None:
    kept = slim("v1", "ConfigMap", {"metadata": {"name": "c", "namespace": "ns",
                "managedFields": [{}], "resourceVersion": "7"}, "data": {"password": "x"}})  # fmt: skip
    assert kept == {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "ns"}, "data": {"password": ""}}  # fmt: skip
    secret = slim("v1", "Secret", {"metadata": {"name": "s", "namespace": "ns"}}, True)
    assert secret["metadata"]["annotations"] == {"autobot-guard.io/keys-unknown": "metadata-only"}


def test_status_only_changes_do_not_invalidate_the_inventory() -> None:
    store = InventoryStore()
    store.expect("deployments")
    data = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "1"},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}  # fmt: skip
    first, _ = resource_from(slim("apps/v1", "Deployment", copy.deepcopy(data)))
    assert first is not None
    store.replace_source("deployments", [first])
    inventory = store.namespace_inventory("ns")
    data["status"] = {"readyReplicas": 2}
    data["metadata"]["resourceVersion"] = "2"
    again, _ = resource_from(slim("apps/v1", "Deployment", copy.deepcopy(data)))
    assert again is not None
    assert store.upsert("deployments", again) is False
    assert store.namespace_inventory("ns") is inventory
    data["spec"]["replicas"] = 3
    changed, _ = resource_from(slim("apps/v1", "Deployment", copy.deepcopy(data)))
    assert changed is not None
    assert store.upsert("deployments", changed) is True
    assert store.namespace_inventory("ns") is not inventory
    store.delete("deployments", ("Deployment", "ns", "web"))
    assert store.namespace_inventory("ns").find("Deployment", "ns", "web") is None
