"""The webhook with Rego at admission in a real OPA beside it, as shipped (the sidecar
of manifests/webhook/deployment.yaml): a real `autobot-guard serve` over TLS and a real
`opa run --server` on loopback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.webhook.app import WebhookApp
from autobot_guard.webhook.metrics import Metrics
from autobot_guard.webhook.models import AdmissionReview
from autobot_guard.webhook.review import CannotJudge, Reviewer
from autobot_guard.webhook.store import InventoryStore
from tests.opa_server import Opa, free_port, running_opa
from tests.util import pack_with
from tests.webhook.helpers import (
    Certificates,
    Server,
    admitted,
    chat_agent,
    kubectl_deployment,
    review,
    running_server,
)

pytestmark = pytest.mark.opa


@pytest.fixture
def opa() -> Iterator[Opa]:
    with running_opa() as running:
        yield running


def unapproved() -> dict[str, Any]:
    obj = chat_agent()
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/chat:1.4.0"
    return admitted(obj)


def readiness(server: Server) -> tuple[int, dict[str, Any]]:
    status, body, _ = server.request("GET", "/readyz")
    return status, json.loads(body)


def wait_for(predicate: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def served(certificates: Certificates, opa: Opa, ready_path: str = "/readyz") -> Any:
    return running_server(
        certificates, "--no-watch-cluster", "--namespace", "autobot-guard",
        ready_path=ready_path, opa_url=opa.url,
    )  # fmt: skip


def test_rego_denies_through_the_opa_sidecar_and_survives_its_restart(
    certificates: Certificates, opa: Opa
) -> None:
    with served(certificates, opa) as server:
        status, ready = readiness(server)
        assert status == 200 and "OPA server at" in ready["rego"] and "pushed" in ready["rego"]
        answer = server.review(review("CREATE", unapproved()))
        assert answer["allowed"] is False and answer["status"]["code"] == 403
        assert "[approved-registry]" in answer["status"]["message"]
        assert server.review(review("CREATE", admitted(chat_agent())))["allowed"] is True
        # UPDATE: the old object is judged too (through OPA), so old findings only warn.
        old = admitted(kubectl_deployment())
        new = json.loads(json.dumps(old))
        new["spec"]["replicas"] = 4
        answer = server.review(review("UPDATE", new, old))
        assert answer["allowed"] is True
        assert any(w.startswith("(already present) ") for w in answer["warnings"])

        opa.restart()  # lost the modules: pushed again, the same verdict
        answer = server.review(review("CREATE", unapproved()))
        assert answer["allowed"] is False and "[approved-registry]" in answer["status"]["message"]
        assert "OPA" in server.request("GET", "/metrics")[1].decode()


def test_opa_down_denies_with_the_reason_and_turns_unready(
    certificates: Certificates, opa: Opa
) -> None:
    with served(certificates, opa) as server:
        opa.stop()
        answer = server.review(review("CREATE", admitted(chat_agent())))
        assert answer["allowed"] is False and answer["status"]["code"] == 500
        message = answer["status"]["message"]
        assert message.startswith("autobot-guard: cannot judge this object (uid ")
        assert f"OPA at {opa.url} is not reachable: connection refused" in message
        # the log line comes through a pipe the test reads in a thread: wait for it
        wait_for(lambda: any('"cannot judge"' in line for line in list(server.stderr)))
        errors = [json.loads(line) for line in server.stderr if '"cannot judge"' in line]
        assert errors[0]["level"] == "error" and "traceback" not in errors[0]
        wait_for(lambda: readiness(server)[0] == 503)
        assert "not pushed" in readiness(server)[1]["rego"]
        opa.start()  # back: the keeper pushes, ready again, judged again
        wait_for(lambda: readiness(server)[0] == 200)
        assert server.review(review("CREATE", unapproved()))["status"]["code"] == 403


def test_the_webhook_waits_for_a_late_sidecar(certificates: Certificates, opa: Opa) -> None:
    opa.stop()
    with served(certificates, opa, ready_path="/healthz") as server:
        status, ready = readiness(server)
        assert status == 503 and "not reachable" in ready["rego"]
        opa.start()
        wait_for(lambda: readiness(server)[0] == 200)
        assert server.review(review("CREATE", unapproved()))["status"]["code"] == 403


def test_a_policy_opa_does_not_compile_fails_start_up_in_one_line(
    certificates: Certificates, opa: Opa, tmp_path: Path
) -> None:
    policies = tmp_path / "rego"
    policies.mkdir()
    (policies / "broken.rego").write_text(
        "package main.broken\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := concat()\n}\n"
    )
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\n"
        f"admission:\n  regoPolicies: {policies}\n  opaUrl: {opa.url}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "serve", "--tls-cert", str(certificates.cert),
         "--tls-key", str(certificates.key), "--no-watch-cluster", "--config", str(pack),
         "--port", str(free_port()), "--host", "127.0.0.1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"autobot-guard: error: {policies / 'broken.rego'}:6: OPA does not")


def test_review_and_review_async_decide_alike_through_opa(opa: Opa) -> None:
    store = InventoryStore()
    reviewer = Reviewer(pack_with(admission={"opaUrl": opa.url}), store, "autobot-guard")
    assert reviewer.rego_engine == "opa"
    for obj in (unapproved(), admitted(chat_agent()), admitted(kubectl_deployment())):
        request = AdmissionReview.model_validate(review("CREATE", obj)).request
        sync = reviewer.review(request)
        both = asyncio.run(reviewer.review_async(request))
        assert (sync.allowed, sync.rule_ids, sync.message) == (
            both.allowed,
            both.rule_ids,
            both.message,
        )
        assert sync.rego_seconds > 0 and both.rego_seconds > 0
    assert (
        "approved-registry"
        in reviewer.review(
            AdmissionReview.model_validate(review("CREATE", unapproved())).request
        ).rule_ids
    )
    opa.stop()
    with pytest.raises(CannotJudge, match="not reachable"):
        reviewer.review(AdmissionReview.model_validate(review("CREATE", unapproved())).request)


def test_a_policy_failing_on_one_object_is_that_objects_error(opa: Opa, tmp_path: Path) -> None:
    """Conflicting values of a complete rule on this object: it cannot be judged (denied
    with OPA's reason when enforcing); other objects are judged as usual."""
    from tests.rego.test_rego_opa_server import CONFLICT

    (tmp_path / "conflict.rego").write_text(CONFLICT)
    pack = pack_with(admission={"opaUrl": opa.url, "regoPolicies": str(tmp_path)})
    reviewer = Reviewer(pack, InventoryStore(), "autobot-guard")
    app = WebhookApp(reviewer, Metrics(), lambda: (True, {}), 1 << 20, log=_Discard())

    def decide(name: str) -> Any:
        obj = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": "default"}}  # fmt: skip
        request = AdmissionReview.model_validate(review("CREATE", obj)).request
        try:
            return asyncio.run(reviewer.review_async(request))
        except CannotJudge as exc:
            return app._cannot_judge(request, str(exc))

    fine = decide("once")
    assert fine.reason == "judged" and fine.rule_ids == ["configmap"]
    failed = decide("twice")
    assert (failed.allowed, failed.code, failed.reason) == (False, 500, "internal-error")
    assert "Rego evaluation failed on this document: eval_conflict_error" in failed.message
    assert "conflict.rego" in failed.message


class _Discard:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
