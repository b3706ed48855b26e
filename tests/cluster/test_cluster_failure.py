"""failurePolicy: Fail and timeoutSeconds: 5 of manifests/webhook/webhook.yaml, with a
real API server calling a webhook that is gone or hangs."""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import threading
import time
from typing import Any

from tests.cluster.helpers import (
    WEBHOOK,
    Cluster,
    deployment,
    judged,
    registered,
    shipped_webhook_configuration,
    wait_for,
    webhook,
)
from tests.webhook.helpers import Certificates

NS = "failure"


def replicas_ready(cluster: Cluster, app: str, count: int) -> Any:
    def counted() -> bool:
        out = cluster.ok("get", "pods", "-n", NS, "-l", f"app={app}", "-o", "json")
        return len(json.loads(out)["items"]) >= count

    return wait_for(counted, what=f"{count} pods of {app}")


def test_webhook_down_fails_closed(cluster: Cluster, webhook_certificates: Certificates) -> None:
    """With no webhook answering, creating a judged object fails, as `Fail` promises;
    the excluded kube-system and the controllers' own Pods go on (the manifest's blast
    radius)."""
    cluster.namespace(NS)
    with webhook(webhook_certificates) as server, registered(cluster, server, NS):
        assert cluster.apply(deployment("running", NS)).returncode == 0
        replicas_ready(cluster, "running", 2)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
        result = cluster.apply(deployment("refused", NS))
        assert result.returncode == 1
        assert f'failed calling webhook "{WEBHOOK}"' in result.stderr
        assert "connection refused" in result.stderr
        assert cluster.kubectl("get", "deployment", "refused", "-n", NS).returncode == 1
        # Never sent, so never blocked: kube-system and scaling an existing workload.
        repair = cluster.apply(deployment("repair", "kube-system"))
        assert repair.returncode == 0, repair.stderr
        scaled = cluster.kubectl("scale", "deployment/running", "-n", NS, "--replicas=3")
        assert scaled.returncode == 0, scaled.stderr
        replicas_ready(cluster, "running", 3)


def test_webhook_slower_than_timeout_fails_closed(
    cluster: Cluster, webhook_certificates: Certificates
) -> None:
    """The manifest: 5 s leaves room for a slow node, not for a hang. A webhook that
    hangs (the real server, stopped with SIGSTOP) makes the API server give up after
    timeoutSeconds and, failurePolicy being Fail, reject the request."""
    timeout = shipped_webhook_configuration()["webhooks"][0]["timeoutSeconds"]
    assert timeout == 5
    cluster.namespace(NS)
    with webhook(webhook_certificates) as server, registered(cluster, server, NS):
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            result = cluster.apply(deployment("hung", NS))
            elapsed = time.monotonic() - started
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert result.returncode == 1
        assert f'failed calling webhook "{WEBHOOK}"' in result.stderr
        assert "deadline exceeded" in result.stderr or "Timeout" in result.stderr, result.stderr
        assert timeout <= elapsed < timeout + 10, elapsed
        assert cluster.kubectl("get", "deployment", "hung", "-n", NS).returncode == 1
        # Once it answers again, the same request goes through.
        again = cluster.apply(deployment("hung", NS))
        assert again.returncode == 0, again.stderr


def test_a_cabundle_that_did_not_sign_the_certificate_fails_closed(
    cluster: Cluster, webhook_certificates: Certificates
) -> None:
    """caBundle is what the API server trusts: a bundle of another CA (a cainjector that
    copied the wrong one) makes every call fail TLS verification, and Fail rejects."""
    import trustme

    cluster.namespace(NS)
    with webhook(webhook_certificates) as server, registered(cluster, server, NS) as configuration:
        other = trustme.CA().cert_pem.bytes()
        wrong = copy.deepcopy(configuration)
        wrong["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(other).decode()
        assert cluster.apply(wrong).returncode == 0

        def untrusted() -> Any:
            result = cluster.apply(deployment("untrusted", NS))
            return result if "failed calling webhook" in result.stderr else None

        result = wait_for(untrusted, what="the API server to use the new caBundle")
        assert result.returncode == 1
        assert "x509: certificate signed by unknown authority" in result.stderr, result.stderr
        assert cluster.kubectl("get", "deployment", "untrusted", "-n", NS).returncode == 1


def test_a_slow_answer_within_timeout_is_waited_for(
    cluster: Cluster, webhook_certificates: Certificates
) -> None:
    """The other half of the manifest's comment: a webhook that answers late but within
    timeoutSeconds (stopped for 2 s) delays the request, it does not fail it."""
    cluster.namespace(NS)
    with webhook(webhook_certificates) as server, registered(cluster, server, NS):
        os.kill(server.process.pid, signal.SIGSTOP)
        resume = threading.Timer(2.0, os.kill, (server.process.pid, signal.SIGCONT))
        started = time.monotonic()
        resume.start()
        try:
            result = cluster.apply(deployment("late", NS))
        finally:
            resume.join()
            os.kill(server.process.pid, signal.SIGCONT)
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "deployment.apps/late created"
        assert elapsed >= 2.0
        # Judged by the webhook once it ran again, not let through by the API server.
        assert [e["decision"] for e in judged(server, "late", NS)] == ["allow"]
