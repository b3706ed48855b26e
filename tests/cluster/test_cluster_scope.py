"""What the API server never sends to the webhook, as manifests/webhook/webhook.yaml
promises: the excluded namespaces (namespaceSelector) and what the controller manager
creates for a controller (matchCondition), asserted from the webhook's decision log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.helpers import (
    DEPLOYMENT_CONTROLLER,
    WEBHOOK,
    Cluster,
    deployment,
    judged,
    registered,
    wait_for,
    webhook,
)
from tests.webhook.helpers import Certificates, Server

NS = "scope"
REPLICASET_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


@pytest.fixture(scope="module")
def server(cluster: Cluster, webhook_certificates: Certificates) -> Iterator[Server]:
    cluster.namespace(NS)
    with webhook(webhook_certificates) as running, registered(cluster, running, NS):
        yield running


def barrier(cluster: Cluster, server: Server, name: str) -> None:
    """A request that IS sent, so that the log has caught up with everything before it."""
    bad = deployment(name, NS, compliant=False)
    assert cluster.apply(bad, extra=("--dry-run=server",)).returncode == 1
    wait_for(lambda: judged(server, name, NS), what="the barrier's decision")


@pytest.mark.parametrize(
    ("namespace", "labels"),
    [
        ("kube-system", None),
        ("autobot-guard", None),
        ("cert-manager", None),
        ("opted-out", {"autobot-guard.io/ignore": "true"}),
    ],
)
def test_excluded_namespaces_are_never_sent(
    cluster: Cluster, server: Server, namespace: str, labels: dict[str, str] | None
) -> None:
    if namespace != "kube-system":
        cluster.namespace(namespace, labels)
    name = f"unjudged-{namespace}"
    result = cluster.apply(deployment(name, namespace, image="nginx:latest", compliant=False))
    assert result.returncode == 0, result.stderr
    assert "Warning:" not in result.stderr
    barrier(cluster, server, f"barrier-{namespace}")
    assert [e for e in server.decisions() if e["namespace"] == namespace] == []


def test_ignore_label_other_than_true_keeps_the_namespace_judged(
    cluster: Cluster, server: Server
) -> None:
    namespace = cluster.namespace("label-false", {"autobot-guard.io/ignore": "false"})
    result = cluster.apply(deployment("judged", namespace, image="nginx:latest", compliant=False))
    assert result.returncode == 1
    assert f'admission webhook "{WEBHOOK}" denied the request' in result.stderr
    assert [e["decision"] for e in judged(server, "judged", namespace)] == ["deny"]


def audit(cluster: Cluster) -> list[dict[str, Any]]:
    """The API server's audit events (scripts/control-plane logs every write)."""
    text = (cluster.run / "logs" / "audit.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def pods_of(cluster: Cluster, app: str, count: int) -> list[dict[str, Any]]:
    def listed() -> list[dict[str, Any]] | None:
        out = cluster.ok("get", "pods", "-n", NS, "-l", f"app={app}", "-o", "json")
        items: list[dict[str, Any]] = json.loads(out)["items"]
        return items if len(items) >= count else None

    return wait_for(listed, what=f"{count} pods of {app}")  # type: ignore[no-any-return]


def copy_of(pod: dict[str, Any], name: str, owned: bool = True) -> str:
    """The controller's Pod as someone else would create it again."""
    meta = pod["metadata"]
    copied: dict[str, Any] = {"name": name, "namespace": NS, "labels": meta["labels"]}
    if owned:
        copied["ownerReferences"] = meta["ownerReferences"]
    spec = {k: v for k, v in pod["spec"].items() if k != "nodeName"}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": copied, "spec": spec})


def test_controller_created_replicasets_and_pods_are_not_judged(
    cluster: Cluster, server: Server
) -> None:
    """The real controllers (kube-controller-manager with
    --use-service-account-credentials) create the ReplicaSet and the Pods of an admitted
    Deployment. The Pods lack the owner labels that every workload must carry, so the
    webhook would deny them: that they exist at all shows they were never sent."""
    result = cluster.apply(deployment("owned", NS))
    assert result.returncode == 0, result.stderr
    pods = pods_of(cluster, "owned", 2)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    # The API server's audit log tells who created them: the controllers themselves.
    owner = pods[0]["metadata"]["ownerReferences"][0]["name"]
    creators = {(e["objectRef"]["resource"], e["objectRef"].get("name"), e["user"]["username"])
                for e in audit(cluster) if e["verb"] == "create"
                and e["objectRef"].get("namespace") == NS
                and e.get("responseStatus", {}).get("code") == 201}  # fmt: skip
    assert ("replicasets", owner, DEPLOYMENT_CONTROLLER) in creators
    assert ("pods", None, REPLICASET_CONTROLLER) in creators  # generateName: no name yet
    barrier(cluster, server, "barrier-controllers")
    kinds = {(e["kind"], e["name"]) for e in server.decisions() if e["namespace"] == NS}
    assert ("Deployment", "owned") in kinds
    assert [k for k in kinds if k[0] in ("ReplicaSet", "Pod")] == []

    # The same Pod from a user is judged, even with the controller's ownerReference:
    # an ownerReference alone proves nothing.
    denied = cluster.kubectl("create", "-f", "-", stdin=copy_of(pods[0], "copy-by-user"))
    assert denied.returncode == 1
    assert f'admission webhook "{WEBHOOK}" denied the request' in denied.stderr
    assert "[ownership-labels]" in denied.stderr

    # As the ReplicaSet controller's own identity, with the ownerReference: skipped.
    as_controller = ("--as", REPLICASET_CONTROLLER, "--as-group", "system:serviceaccounts")
    skipped = cluster.kubectl(
        "create", "-f", "-", *as_controller, stdin=copy_of(pods[0], "copy-by-controller")
    )
    assert skipped.returncode == 0, skipped.stderr
    # As the controller but without an ownerReference: judged.
    unowned = cluster.kubectl(
        "create", "-f", "-", *as_controller, stdin=copy_of(pods[0], "unowned", owned=False)
    )
    assert unowned.returncode == 1
    assert "[ownership-labels]" in unowned.stderr
    barrier(cluster, server, "barrier-impersonated")
    assert [e["user"] for e in judged(server, "copy-by-user", NS)] == ["kubernetes-admin"]
    assert judged(server, "copy-by-controller", NS) == []
    assert [e["user"] for e in judged(server, "unowned", NS)] == [REPLICASET_CONTROLLER]


def test_scaling_is_not_sent(cluster: Cluster, server: Server) -> None:
    """deployments/scale is no subresource of the rules: `kubectl scale` never waits for
    the webhook, and the new Pods come from the controllers."""
    assert cluster.apply(deployment("scaled", NS)).returncode == 0
    pods_of(cluster, "scaled", 2)
    result = cluster.kubectl("scale", "deployment/scaled", "-n", NS, "--replicas=3")
    assert result.returncode == 0, result.stderr
    pods_of(cluster, "scaled", 3)
    barrier(cluster, server, "barrier-scaled")
    assert [e["operation"] for e in judged(server, "scaled", NS)] == ["CREATE"]


def test_kubectl_debug_is_judged(cluster: Cluster, server: Server) -> None:
    """pods/ephemeralcontainers is always sent, even for a controller's Pod: the image
    `kubectl debug` adds is judged like any container's."""
    assert cluster.apply(deployment("debugged", NS)).returncode == 0
    (pod, *_) = pods_of(cluster, "debugged", 2)
    name = pod["metadata"]["name"]
    denied = cluster.kubectl(
        "debug", name, "-n", NS, "--image=busybox:latest", "--profile=restricted"
    )
    assert denied.returncode == 1
    assert f'admission webhook "{WEBHOOK}" denied the request' in denied.stderr
    assert "[image-tag]" in denied.stderr
    allowed = cluster.kubectl(
        "debug", name, "-n", NS, "--image=ghcr.io/mrveiss/autobot-debug:1.0.0",
        "--profile=restricted",
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    containers = cluster.ok("get", "pod", name, "-n", NS, "-o",
                            "jsonpath={.spec.ephemeralContainers[*].image}")  # fmt: skip
    assert containers == "ghcr.io/mrveiss/autobot-debug:1.0.0"
    (entry, *_) = [e for e in judged(server, name, NS) if e["decision"] == "deny"]
    assert entry["kind"] == "Pod" and "image-tag" in entry["denied"]
