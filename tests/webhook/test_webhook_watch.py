"""The inventory watch through the real `kubernetes` client, against a fake API server
on loopback: list, watch events, 410 relists, metadata-only Secrets; and the server's
/readyz and cross-resource findings following the live inventory."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.webhook.inventory_watch import ClusterWatch, kube_configuration
from autobot_guard.webhook.store import InventoryStore
from tests.webhook.fake_apiserver import FakeApiServer
from tests.webhook.helpers import Certificates, admitted, chat_agent, review, running_server

NAMESPACE = "team-a"


def eventually(check: Callable[[], bool], timeout: float = 10, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message or "condition not met in time"
        time.sleep(0.05)


def network_policy(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"},
        "spec": {
            "podSelector": {"matchLabels": labels} if labels else {},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
            ],
        },
    }


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "autobot-config", "namespace": NAMESPACE},
        "data": {
            "log-level": "INFO",
            "REDIS_HOST": "redis",
            "REDIS_PORT": "6379",
            "OLLAMA_HOST": "ollama",
        },
    }


def secret(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        server.put(config_map())
        server.put(secret("autobot-secrets"))
        server.put(secret("hidden", namespace="kube-system"))
        for index in range(7):  # more than a page of the lists below
            server.put(secret(f"extra-{index}"))
        yield server


@pytest.fixture
def watch(fake: FakeApiServer, tmp_path: Path) -> Iterator[tuple[InventoryStore, ClusterWatch]]:
    store = InventoryStore()
    configuration = kube_configuration(str(fake.kubeconfig(tmp_path)))
    cluster = ClusterWatch(store, configuration, frozenset({"kube-system"}), timeout_seconds=5)
    for resource_watch in cluster.watches:
        resource_watch.page_size = 3
    cluster.start()
    try:
        yield store, cluster
    finally:
        cluster.stop(timeout=5)


def test_lists_then_follows_events(
    fake: FakeApiServer, watch: tuple[InventoryStore, ClusterWatch]
) -> None:
    store, _ = watch
    eventually(lambda: store.synced, message=f"pending {store.pending()}")
    inventory = store.namespace_inventory(NAMESPACE)
    config = inventory.find("ConfigMap", NAMESPACE, "autobot-config")
    assert config is not None
    # Key names only: no value of a ConfigMap or Secret is kept.
    assert config.data["data"] == dict.fromkeys(
        ("log-level", "REDIS_HOST", "REDIS_PORT", "OLLAMA_HOST"), ""
    )
    stored = inventory.find("Secret", NAMESPACE, "autobot-secrets")
    assert stored is not None and "data" not in stored.data
    assert stored.annotations["autobot-guard.io/keys-unknown"] == "metadata-only"
    assert len(inventory.of_kind("Secret", NAMESPACE)) == 8  # paged lists were followed
    assert store.namespace_inventory("kube-system").find("Secret", "kube-system", "hidden") is None

    # Secrets were asked for as metadata only; skipped namespaces left out server-side.
    secret_requests = [r for r in fake.requests if r[0] == "/api/v1/secrets"]
    assert secret_requests
    for _path, query, headers in secret_requests:
        assert "as=PartialObjectMetadata" in headers["accept"]
        assert query["fieldSelector"] == ["metadata.namespace!=kube-system"]
    assert any(q.get("continue") for _p, q, _h in secret_requests)

    eventually(lambda: fake.watching("NetworkPolicy") == 1)
    fake.put(network_policy("default-deny"))
    eventually(
        lambda: (
            store.namespace_inventory(NAMESPACE).find("NetworkPolicy", NAMESPACE, "default-deny")
            is not None
        )
    )
    changed = network_policy("default-deny", {"app": "x"})
    fake.put(changed)
    eventually(
        lambda: (
            store.namespace_inventory(NAMESPACE)
            .find("NetworkPolicy", NAMESPACE, "default-deny")
            .data["spec"]["podSelector"]  # type: ignore[union-attr]
            == {"matchLabels": {"app": "x"}}
        )
    )
    fake.delete("NetworkPolicy", NAMESPACE, "default-deny")
    eventually(
        lambda: (
            store.namespace_inventory(NAMESPACE).find("NetworkPolicy", NAMESPACE, "default-deny")
            is None
        )
    )


def test_relists_after_410_gone(
    fake: FakeApiServer, watch: tuple[InventoryStore, ClusterWatch]
) -> None:
    store, _ = watch
    eventually(lambda: store.synced)
    eventually(lambda: fake.watching("ConfigMap") == 1)
    lists_before = fake.collection("ConfigMap").lists
    # While the watch is expired, an object changes: the relist must bring it in.
    fake.expire("ConfigMap")
    with fake.lock:
        updated = config_map()
        updated["data"]["added-key"] = "1"
        updated["metadata"]["resourceVersion"] = "999"
        fake.collection("ConfigMap").objects[(NAMESPACE, "autobot-config")] = updated
    eventually(lambda: fake.collection("ConfigMap").lists > lists_before, message="no relist")
    eventually(
        lambda: (
            "added-key"
            in store.namespace_inventory(NAMESPACE)
            .find("ConfigMap", NAMESPACE, "autobot-config")
            .data["data"]
        )  # type: ignore[union-attr]
    )


def test_a_failing_api_server_is_retried(tmp_path: Path) -> None:
    with FakeApiServer() as fake:
        fake.lists_open.clear()  # lists hang: not synced
        store = InventoryStore()
        cluster = ClusterWatch(
            store, kube_configuration(str(fake.kubeconfig(tmp_path))), timeout_seconds=5
        )
        cluster.start()
        try:
            time.sleep(0.3)
            assert not store.synced and "networkpolicies" in store.pending()
            fake.lists_open.set()
            eventually(lambda: store.synced)
        finally:
            cluster.stop(timeout=5)


# -- the server with a live inventory ------------------------------------------------


def lonely_deployment() -> dict[str, Any]:
    obj = copy.deepcopy(chat_agent())
    obj["metadata"]["namespace"] = NAMESPACE
    obj["spec"]["replicas"] = 2
    return admitted(obj)


def warned_rules(answer: dict[str, Any]) -> set[str]:
    return {w.split(":", 1)[0] for w in answer.get("warnings", [])}


def test_server_readiness_and_findings_follow_the_cluster(
    fake: FakeApiServer, certificates: Certificates, tmp_path: Path
) -> None:
    fake.lists_open.clear()
    kubeconfig = fake.kubeconfig(tmp_path)
    with running_server(
        certificates, "--watch-cluster", "--kubeconfig", str(kubeconfig), "--watch-timeout", "5"
    ) as server:
        status, body, _ = server.request("GET", "/readyz")
        ready = json.loads(body)
        assert status == 503 and ready["ready"] is False
        assert (
            "not synced" in ready["inventory"]
            and "cross-resource rules are skipped" in ready["inventory"]
        )
        # Until synced, cross-resource rules are skipped: no network-policy warning.
        before = server.review(review("CREATE", lonely_deployment()))
        assert before["allowed"] is True
        assert not warned_rules(before) & {"network-policy", "pdb", "config-ref"}

        fake.lists_open.set()
        eventually(lambda: server.request("GET", "/readyz")[0] == 200)
        synced = server.review(review("CREATE", lonely_deployment()))
        assert {"network-policy", "pdb"} <= warned_rules(synced)
        assert "config-ref" not in warned_rules(synced)  # autobot-config and its keys are listed

        eventually(lambda: fake.watching("NetworkPolicy") == 1)
        fake.put(network_policy("allow-chat", {"app": "autobot-chat-agent"}))
        eventually(
            lambda: (
                "network-policy"
                not in warned_rules(server.review(review("CREATE", lonely_deployment())))
            )
        )
        fake.delete("NetworkPolicy", NAMESPACE, "allow-chat")
        eventually(
            lambda: (
                "network-policy"
                in warned_rules(server.review(review("CREATE", lonely_deployment())))
            )
        )
        metrics = server.request("GET", "/metrics")[1].decode()
        assert (
            'autobot_guard_inventory_events_total{resource="networkpolicies",type="ADDED"}'
            in metrics
        )
        assert "autobot_guard_inventory_synced 1.0" in metrics
