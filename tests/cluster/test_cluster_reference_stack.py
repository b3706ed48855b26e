"""The whole reference stack (kubectl kustomize manifests/) as a real API server takes it,
with the webhook registered and judging: `kubectl apply --dry-run=server`."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.cluster.helpers import MANIFESTS, Cluster, registered, wait_for, webhook
from tests.webhook.helpers import Certificates

# Custom resources whose CRDs this API server does not have (cert-manager and External
# Secrets are not installed): left out, every other object of the stack is applied.
NOT_INSTALLED = {"cert-manager.io", "external-secrets.io"}


def rendered(cluster: Cluster) -> list[dict[str, Any]]:
    text = cluster.ok("kustomize", str(MANIFESTS))
    return [d for d in yaml.safe_load_all(text) if d]


def test_reference_stack_passes_server_dry_run(
    cluster: Cluster, webhook_certificates: Certificates
) -> None:
    documents = rendered(cluster)
    left_out = sorted(
        f"{d['kind']} {d['metadata'].get('namespace', '')}/{d['metadata']['name']}"
        for d in documents
        if d["apiVersion"].partition("/")[0] in NOT_INSTALLED
    )
    assert [entry.split()[0] for entry in left_out] == (
        ["Certificate"] * 2 + ["ExternalSecret"] * 3 + ["Issuer"] * 2
    ), left_out
    kept = [d for d in documents if d["apiVersion"].partition("/")[0] not in NOT_INSTALLED]
    namespaces = [d for d in kept if d["kind"] == "Namespace"]
    # A dry run creates no namespace, so the namespaced objects need real ones first.
    created = cluster.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": namespaces}))  # fmt: skip
    assert created.returncode == 0, created.stderr
    with webhook(webhook_certificates, "--inventory", str(MANIFESTS), "--no-watch-cluster") \
            as server, registered(cluster, server, "default"):  # fmt: skip
        result = cluster.kubectl(
            "apply", "--dry-run=server", "-f", "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": kept}),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == len(kept), result.stdout
        assert all(line.endswith("(server dry run)") for line in lines), result.stdout
        workloads = {
            (d["kind"], d["metadata"]["name"])
            for d in kept
            if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
            and d["metadata"]["namespace"] != "autobot-guard"
        }

        def all_judged() -> bool:
            seen = {(e["kind"], e["name"]) for e in server.decisions() if e["dryRun"]}
            return workloads <= seen

        wait_for(all_judged, what="every workload in the decision log")
        denied = [
            e for e in server.decisions() if not e["allowed"] and e["name"] != "registration-probe"
        ]
        assert denied == []
        # The webhook's verdict on each: allowed without a warning.
        verdicts = {e["decision"] for e in server.decisions() if e["name"] != "registration-probe"}
        assert verdicts == {"allow"}
        # The one warning is Pod Security's, by design: autobot-logging enforces
        # "privileged" for fluentd's hostPath mounts but warns at "restricted"
        # (manifests/namespaces.yaml).
        warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith('Warning: would violate PodSecurity "restricted:latest"')
        assert '"varlogcontainers", "varlogpods", "state" use restricted volume type' in warnings[0]
