"""The webhook behind a real kube-apiserver, registered with the shipped
ValidatingWebhookConfiguration: what a user sees from kubectl (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Iterator

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

NS = "admission"
DENIED = f'admission webhook "{WEBHOOK}" denied the request: autobot-guard: Deployment'


@pytest.fixture(scope="module")
def server(cluster: Cluster, webhook_certificates: Certificates) -> Iterator[Server]:
    cluster.namespace(NS)
    with webhook(webhook_certificates) as running, registered(cluster, running, NS):
        yield running


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning: ")]


def test_compliant_deployment_is_admitted(cluster: Cluster, server: Server) -> None:
    result = cluster.apply(deployment("good", NS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/good created"
    assert warnings(result.stderr) == []
    (entry,) = wait_for(lambda: judged(server, "good", NS), what="the decision log")
    assert (entry["operation"], entry["decision"], entry["dryRun"]) == ("CREATE", "allow", False)
    assert (
        cluster.ok("get", "deployment", "good", "-n", NS, "-o", "name") == "deployment.apps/good\n"
    )


def test_bad_deployment_is_denied_with_our_message(cluster: Cluster, server: Server) -> None:
    bad = deployment("bad", NS, image="nginx:latest", replicas=1, compliant=False)
    result = cluster.apply(bad)
    assert result.returncode == 1
    assert "Error from server (Forbidden)" in result.stderr
    assert f"{DENIED} {NS}/bad violates" in result.stderr
    assert "[image-tag] spec.template.spec.containers[0].image: container 'web' image " \
           "nginx:latest uses the tag latest" in result.stderr  # fmt: skip
    assert "[min-replicas] spec.replicas: Deployment 'bad' runs 1 replica" in result.stderr
    missing = cluster.kubectl("get", "deployment", "bad", "-n", NS)
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    (entry,) = judged(server, "bad", NS)
    assert entry["decision"] == "deny"
    assert {"image-tag", "min-replicas", "approved-registry"} <= set(entry["denied"])


def test_warnings_are_warning_lines(cluster: Cluster, server: Server) -> None:
    result = cluster.apply(deployment("warned", NS, secure=False))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/warned created"
    lines = warnings(result.stderr)
    assert len(lines) == 4, result.stderr
    assert all(line.startswith("Warning: security-context: container 'web' ") for line in lines)
    assert any("runAsNonRoot" in line for line in lines)


def test_server_dry_run_is_judged(cluster: Cluster, server: Server) -> None:
    bad = deployment("dry-bad", NS, image="nginx:latest", compliant=False)
    result = cluster.apply(bad, extra=("--dry-run=server",))
    assert result.returncode == 1
    assert f"{DENIED} {NS}/dry-bad violates" in result.stderr
    good = cluster.apply(deployment("dry-good", NS, secure=False), extra=("--dry-run=server",))
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "deployment.apps/dry-good created (server dry run)"
    assert len(warnings(good.stderr)) == 4  # warnings come back for a dry run too
    entries = judged(server, "dry-bad", NS) + judged(server, "dry-good", NS)
    assert [(e["decision"], e["dryRun"]) for e in entries] == [("deny", True), ("warn", True)]
    assert cluster.kubectl("get", "deployment", "dry-good", "-n", NS).returncode == 1


def test_kubectl_create_from_the_command_line_is_judged(cluster: Cluster, server: Server) -> None:
    """What most people type first."""
    result = cluster.kubectl("create", "deployment", "typed", "--image=nginx", "-n", NS)
    assert result.returncode == 1
    assert f"{DENIED} {NS}/typed violates" in result.stderr
    assert "[image-tag]" in result.stderr


def test_update_of_an_already_non_compliant_workload_is_allowed(
    cluster: Cluster, server: Server
) -> None:
    """UPDATE grandfathering: a workload created before the webhook (here: while its
    namespace was opted out) can still be scaled and patched."""
    legacy = cluster.namespace("legacy", {"autobot-guard.io/ignore": "true"})
    old = deployment("old", legacy, image="nginx:latest", replicas=2, compliant=False)
    assert cluster.apply(old).returncode == 0
    cluster.ok("label", "namespace", legacy, "autobot-guard.io/ignore-")

    # The API server sees the label change at once: the next request is sent.
    def sent() -> bool:
        patched = cluster.kubectl("annotate", "deployment", "old", "-n", legacy, "touched=yes",
                                  "--overwrite")  # fmt: skip
        assert patched.returncode == 0, patched.stderr
        return bool(judged(server, "old", legacy))

    wait_for(sent, what="the UPDATE to reach the webhook")
    scaled = cluster.kubectl("scale", "deployment/old", "-n", legacy, "--replicas=3")
    assert scaled.returncode == 0, scaled.stderr
    old["spec"]["replicas"] = 4
    applied = cluster.apply(old)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == "deployment.apps/old configured"
    # What it already violated comes back as warnings, not as a denial.
    assert any("image-tag" in line for line in warnings(applied.stderr)), applied.stderr
    replicas = cluster.ok(
        "get", "deployment", "old", "-n", legacy, "-o", "jsonpath={.spec.replicas}"
    )
    assert replicas == "4"
    # An operator's everyday UPDATE of the pod template is grandfathered too.
    restarted = cluster.kubectl("rollout", "restart", "deployment/old", "-n", legacy)
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.strip() == "deployment.apps/old restarted"
    updates = [e for e in judged(server, "old", legacy) if e["operation"] == "UPDATE"]
    assert updates and all(e["allowed"] for e in updates)


def test_update_that_introduces_a_violation_is_denied(cluster: Cluster, server: Server) -> None:
    fine = deployment("fine", NS)
    assert cluster.apply(fine).returncode == 0
    fine["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest"
    result = cluster.apply(fine)
    assert result.returncode == 1
    assert f"{DENIED} {NS}/fine violates" in result.stderr
    assert "[image-tag]" in result.stderr
    image = cluster.ok("get", "deployment", "fine", "-n", NS, "-o",
                       "jsonpath={.spec.template.spec.containers[0].image}")  # fmt: skip
    assert image == "ghcr.io/mrveiss/autobot-web:1.0.0"
    # The deployment controller may update the object too (its revision annotation), at
    # any moment: the user's UPDATE is the one that is not the controller's.
    updates = [e for e in judged(server, "fine", NS) if e["operation"] == "UPDATE"]
    (update,) = [e for e in updates if e.get("user") != DEPLOYMENT_CONTROLLER]
    assert update["decision"] == "deny" and "image-tag" in update["denied"]
    assert all(e["decision"] == "allow" for e in updates if e is not update)


def test_patch_is_judged_like_apply(cluster: Cluster, server: Server) -> None:
    assert cluster.apply(deployment("patched", NS)).returncode == 0
    patch = json.dumps({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:latest"}]}}}})  # fmt: skip
    result = cluster.kubectl("patch", "deployment", "patched", "-n", NS, "-p", patch)
    assert result.returncode == 1
    assert f"{DENIED} {NS}/patched violates" in result.stderr


def test_server_side_apply_is_judged(cluster: Cluster, server: Server) -> None:
    bad = deployment("ssa-bad", NS, image="nginx:latest", compliant=False)
    result = cluster.apply(bad, extra=("--server-side",))
    assert result.returncode == 1
    assert f"{DENIED} {NS}/ssa-bad violates" in result.stderr
    good = cluster.apply(deployment("ssa-good", NS), extra=("--server-side",))
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "deployment.apps/ssa-good serverside-applied"
    (entry,) = judged(server, "ssa-good", NS)
    assert entry["decision"] == "allow"
