"""The webhook's cluster inventory against a real API server: the ServiceAccount and
ClusterRole of manifests/webhook/rbac.yaml, a token for it, list and watch of every
resource the cross-resource rules read (autobot_guard/webhook/inventory_watch.py)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobot_guard.webhook.inventory_watch import WATCHED
from tests.cluster.helpers import (
    MANIFESTS,
    ROOT,
    WEBHOOK,
    Cluster,
    deployment,
    judged,
    registered,
    wait_for,
    webhook,
)
from tests.webhook.helpers import Certificates, Server

NS = "inventory"
ACCOUNT = "system:serviceaccount:autobot-guard:autobot-guard"
RBAC = MANIFESTS / "webhook" / "rbac.yaml"


@pytest.fixture(scope="module")
def identity(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig for the webhook's ServiceAccount, as shipped, with a real token."""
    cluster.ok("apply", "-f", str(MANIFESTS / "webhook" / "namespace.yaml"))
    cluster.ok("apply", "-f", str(RBAC))
    token = cluster.ok("create", "token", "autobot-guard", "-n", "autobot-guard",
                       "--duration=2h").strip()  # fmt: skip
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": cluster.server, "certificate-authority": str(cluster.ca)}}],
        "users": [{"name": "autobot-guard", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "autobot-guard"}}],
        "current-context": "test",
    }  # fmt: skip
    path = tmp_path_factory.mktemp("identity") / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policy pack, cross-resource findings enforced (they only warn by
    default), so that what the inventory holds decides admission."""
    document = yaml.safe_load((ROOT / "policies" / "autobot-guard.yaml").read_text())
    document.setdefault("admission", {})["crossResourceRules"] = "enforce"
    path = tmp_path_factory.mktemp("pack") / "pack.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def readiness(server: Server) -> tuple[int, dict[str, Any]]:
    status, body, _ = server.request("GET", "/readyz")
    return status, json.loads(body)


def lists(server: Server, resource: str) -> float:
    """How often the webhook listed `resource` (its inventory_events metric)."""
    _, body, _ = server.request("GET", "/metrics")
    pattern = rf'inventory_events_total\{{resource="{resource}",type="LIST"\}} (\S+)'
    found = re.search(pattern, body.decode())
    return float(found.group(1)) if found else 0.0


def test_unready_until_the_shipped_role_is_bound(
    cluster: Cluster, identity: Path, webhook_certificates: Certificates
) -> None:
    """Without the ClusterRoleBinding every list is forbidden and /readyz stays 503;
    once rbac.yaml is applied the same process lists everything and becomes ready."""
    cluster.ok("delete", "clusterrolebinding", "autobot-guard-inventory")
    try:
        with webhook(webhook_certificates, "--watch-cluster", "--kubeconfig", str(identity),
                     ready_path="/healthz") as server:  # fmt: skip
            time.sleep(2)
            status, details = readiness(server)
            assert status == 503, details
            assert details["inventory"].startswith("not synced"), details
            # The log says what is missing, in the API server's words.
            forbidden = (
                "watch of services failed: ForbiddenException: (403) services is forbidden: "
                f'User \\"{ACCOUNT}\\" cannot list resource \\"services\\" in API group '
                '\\"\\" at the cluster scope'
            )
            assert any(forbidden in line for line in server.stderr), server.stderr[-5:]
            cluster.ok("apply", "-f", str(RBAC))
            wait_for(lambda: readiness(server)[0] == 200, timeout=90, what="/readyz 200")
            assert readiness(server)[1]["inventory"].startswith("synced: ")
    finally:
        cluster.ok("apply", "-f", str(RBAC))


@pytest.fixture(scope="module")
def watching(
    cluster: Cluster, identity: Path, pack: Path, webhook_certificates: Certificates
) -> Iterator[Server]:
    cluster.namespace(NS)
    args = ("--watch-cluster", "--kubeconfig", str(identity), "--config", str(pack),
            "--watch-timeout", "2")  # fmt: skip
    with webhook(webhook_certificates, *args) as server, registered(cluster, server, NS):
        yield server


def network_policy(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"],
                 "ingress": [{"ports": [{"port": 8080}]}]},
    }  # fmt: skip


def budget(app: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app, "namespace": NS},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": app}}},
    }


def dry_run(cluster: Cluster, app: str) -> Any:
    return cluster.apply(deployment(app, NS), extra=("--dry-run=server",))


def test_follows_creates_and_deletes(cluster: Cluster, watching: Server) -> None:
    """A Deployment denied for lack of a NetworkPolicy passes once one exists, and is
    denied again once it is deleted: the webhook follows the real watch."""
    status, details = readiness(watching)
    assert status == 200 and details["inventory"].startswith("synced: "), details
    assert cluster.apply(budget("api")).returncode == 0
    denied = dry_run(cluster, "api")
    assert denied.returncode == 1
    assert f'admission webhook "{WEBHOOK}" denied the request' in denied.stderr
    assert "[network-policy]" in denied.stderr
    assert cluster.apply(network_policy("api-ingress", "api")).returncode == 0
    wait_for(lambda: dry_run(cluster, "api").returncode == 0, what="the NetworkPolicy to count")
    cluster.ok("delete", "networkpolicy", "api-ingress", "-n", NS)
    wait_for(lambda: dry_run(cluster, "api").returncode == 1, what="the deletion to count")
    assert [e["decision"] for e in judged(watching, "api", NS)][-1] == "deny"


def etcd(cluster: Cluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        cluster.etcd + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # 127.0.0.1 only
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_relists_after_the_watch_expires(cluster: Cluster, watching: Server) -> None:
    """The watch ends every --watch-timeout seconds and is taken up again; when its
    resourceVersion is gone from etcd (compacted) the API server answers 410 and the
    webhook lists again, missing nothing. NetworkPolicies are watched from etcd
    (conftest: no watch cache), so compacting etcd expires their watch on demand."""
    assert cluster.apply(budget("web")).returncode == 0
    assert cluster.apply(network_policy("web-ingress", "web")).returncode == 0
    wait_for(lambda: dry_run(cluster, "web").returncode == 0, what="the NetworkPolicy to count")
    before = lists(watching, "networkpolicies")
    assert before >= 1
    # Other writes move etcd's revision past the NetworkPolicy watch's resourceVersion;
    # compacting there makes that version too old.
    for index in range(3):
        cluster.ok("create", "configmap", f"bump-{index}", "-n", NS)
    revision = etcd(cluster, "/v3/kv/range", {"key": base64.b64encode(b"\0").decode()})
    etcd(cluster, "/v3/kv/compaction", {"revision": revision["header"]["revision"]})
    wait_for(lambda: lists(watching, "networkpolicies") > before, timeout=30,
             what="a second list of networkpolicies")  # fmt: skip
    # The 410 came as the watch's ERROR event (not a failed request): a relist, no backoff.
    assert any('"msg":"watch of networkpolicies expired; listing again"' in line
               for line in watching.stderr), watching.stderr[-20:]  # fmt: skip
    # Still following after the relist.
    cluster.ok("delete", "networkpolicy", "web-ingress", "-n", NS)
    wait_for(lambda: dry_run(cluster, "web").returncode == 1, what="the deletion to count")


def test_service_account_can_only_list_and_watch(cluster: Cluster, identity: Path) -> None:
    """`kubectl auth can-i --list` as the webhook: list and watch of exactly the watched
    resources, plus what every authenticated user may (self reviews, discovery)."""
    result = cluster.kubectl("auth", "can-i", "--list", kubeconfig=identity)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    urls_at, verbs_at = header.index("Non-Resource URLs"), header.index("Verbs")
    granted: dict[str, set[str]] = {}  # resource: verbs
    urls: dict[str, set[str]] = {}  # non-resource URL: verbs
    for row in rows:
        resource, url = row[:urls_at].strip(), row[urls_at:verbs_at].split()
        verbs = set(row[verbs_at:].strip("[] ").split())
        if resource:
            granted[resource] = verbs
        for one in url:
            if one.strip("[]"):
                urls[one.strip("[]")] = verbs
    watched = {w.resource + (f".{w.group}" if w.group else "") for w in WATCHED}
    assert {r for r, v in granted.items() if v == {"list", "watch"}} == watched
    everyone = {"selfsubjectreviews.authentication.k8s.io",
                "selfsubjectaccessreviews.authorization.k8s.io",
                "selfsubjectrulesreviews.authorization.k8s.io"}  # fmt: skip
    others = {r: v for r, v in granted.items() if r not in watched}
    assert set(others) <= everyone and all(v == {"create"} for v in others.values()), others
    # Non-resource URLs: discovery, health and version, read-only.
    assert urls and all(v == {"get"} for v in urls.values()), urls
    assert "/api" in urls and "/readyz" in urls
    # And one by one, as an operator would check it.
    for verb, resource in [("list", "networkpolicies"), ("watch", "secrets"),
                           ("list", "deployments.apps"), ("watch", "cronjobs.batch")]:  # fmt: skip
        assert cluster.kubectl("auth", "can-i", verb, resource, "-A",
                               kubeconfig=identity).stdout.strip() == "yes"  # fmt: skip
    for verb, resource in [("get", "secrets"), ("list", "pods"), ("create", "deployments.apps"),
                           ("delete", "networkpolicies"), ("update", "configmaps"),
                           ("create", "validatingwebhookconfigurations")]:  # fmt: skip
        answer = cluster.kubectl("auth", "can-i", verb, resource, "-A", kubeconfig=identity)
        assert answer.stdout.strip() == "no", (verb, resource)
    # The admin's view of the same identity agrees.
    assert cluster.kubectl("auth", "can-i", "get", "secrets", "-A", "--as", ACCOUNT
                           ).stdout.strip() == "no"  # fmt: skip
