"""Shared by the cluster tests: kubectl as a user types it, and the webhook registered
with the ValidatingWebhookConfiguration that manifests/webhook/ ships."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.webhook.helpers import Certificates, Server, running_server

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SCRIPT = ROOT / "scripts" / "control-plane"
WEBHOOK = "validate.autobot-guard.io"
DEPLOYMENT_CONTROLLER = "system:serviceaccount:kube-system:deployment-controller"


@dataclass
class Cluster:
    run: Path
    kubeconfig: Path
    server: str
    ca: Path
    etcd: str  # its client URL (plain HTTP on 127.0.0.1)

    def kubectl(
        self,
        *args: str,
        stdin: str | None = None,
        kubeconfig: Path | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """`kubectl ARGS` with KUBECONFIG set, as a user types it; never raises."""
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env["KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
        return subprocess.run(
            ["kubectl", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """`kubectl ARGS` that must succeed; its stdout."""
        result = self.kubectl(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def apply(self, *documents: dict[str, Any], extra: tuple[str, ...] = ()) -> Any:
        text = "\n---\n".join(yaml.safe_dump(d) for d in documents)
        return self.kubectl("apply", "-f", "-", *extra, stdin=text)

    def namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        """A namespace for a test (applied: names are unique per test)."""
        document: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name, "labels": labels or {}}}  # fmt: skip
        result = self.apply(document)
        assert result.returncode == 0, result.stderr
        return name


def shipped_webhook_configuration() -> dict[str, Any]:
    """manifests/webhook/webhook.yaml as shipped."""
    documents = [
        d for d in yaml.safe_load_all((MANIFESTS / "webhook" / "webhook.yaml").read_text()) if d
    ]
    (configuration,) = [d for d in documents if d["kind"] == "ValidatingWebhookConfiguration"]
    return configuration  # type: ignore[no-any-return]


def webhook_configuration(server: Server) -> dict[str, Any]:
    """The shipped configuration, its clientConfig pointing at `server` on 127.0.0.1 with
    the test CA as caBundle, every other field as shipped."""
    configuration = copy.deepcopy(shipped_webhook_configuration())
    ca = server.certificates.ca_file.read_bytes()
    for hook in configuration["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {
            "url": f"https://127.0.0.1:{server.port}{path}",
            "caBundle": base64.b64encode(ca).decode(),
        }
    return configuration


def deployment(
    name: str,
    namespace: str,
    image: str = "ghcr.io/mrveiss/autobot-web:1.0.0",
    replicas: int = 2,
    compliant: bool = True,
    secure: bool = True,
) -> dict[str, Any]:
    """A Deployment as a user writes it. `compliant` adds what the policy pack denies
    without (owner labels, requests and limits, probes, logging labels); `secure` the
    securityContext whose absence is only a warning."""
    pod_labels = {"app": name}
    labels = {"app": name}
    container: dict[str, Any] = {"name": "web", "image": image}
    pod: dict[str, Any] = {"containers": [container]}
    if compliant:
        labels |= {"team": "autobot-platform", "owner": "autobot-platform-team"}
        pod_labels |= {"component": "web", "logging": "centralized"}
        container["ports"] = [{"name": "http", "containerPort": 8080}]
        probe = {"httpGet": {"path": "/healthz", "port": "http"}}
        container["livenessProbe"] = probe
        container["readinessProbe"] = probe
        container["resources"] = {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "128Mi"},
        }
    if secure:
        container["securityContext"] = {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    }


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def judged(server: Server, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """The webhook's decision-log entries about objects named `name`."""
    return [
        entry
        for entry in server.decisions()
        if entry.get("name") == name and (namespace is None or entry.get("namespace") == namespace)
    ]


@contextmanager
def registered(cluster: Cluster, server: Server, probe_namespace: str) -> Iterator[dict[str, Any]]:
    """`server` registered with the shipped ValidatingWebhookConfiguration, until the
    API server really calls it (a dry-run of a bad Deployment is denied); removed after."""
    configuration = webhook_configuration(server)
    result = cluster.apply(configuration)
    assert result.returncode == 0, result.stderr
    probe = json.dumps(deployment("registration-probe", probe_namespace, compliant=False))

    def denied() -> bool:
        answer = cluster.kubectl("create", "-f", "-", "--dry-run=server", stdin=probe)
        return answer.returncode != 0 and WEBHOOK in answer.stderr and "denied" in answer.stderr

    try:
        wait_for(denied, what="the API server to call the webhook")
        yield configuration
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", configuration["metadata"]["name"],
                        "--ignore-not-found")  # fmt: skip


@contextmanager
def webhook(
    certificates: Certificates, *args: str, ready_path: str = "/readyz"
) -> Iterator[Server]:
    """A real `autobot-guard serve` on 127.0.0.1, without the cluster watch unless told."""
    extra = args or ("--no-watch-cluster",)
    with running_server(certificates, *extra, "--namespace", "autobot-guard",
                        ready_path=ready_path) as server:  # fmt: skip
        yield server
