"""Hypothesis against /validate: whatever arrives, the answer is a clear 4xx or a
well-formed AdmissionReview, never a 500 or a traceback, and the server keeps serving."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autobot_guard.webhook.app import WebhookApp
from autobot_guard.webhook.metrics import Metrics
from autobot_guard.webhook.review import Reviewer
from autobot_guard.webhook.store import InventoryStore
from tests.util import pack_with
from tests.webhook.helpers import (
    MANIFESTS,
    Server,
    admitted,
    chat_agent,
    kubectl_deployment,
    review,
)

JSON = {"Content-Type": "application/json"}

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = ["apiVersion", "kind", "metadata", "spec", "name", "namespace", "labels", "template",
        "containers", "image", "replicas", "selector", "matchLabels", "ownerReferences",
        "controller", "annotations", "resources", "limits", "ports", "podSelector"]  # fmt: skip


def mutate(base: Any, data: st.DataObject, depth: int = 0) -> Any:
    """`base` with random fields replaced, dropped or added (Kubernetes-looking keys)."""
    if isinstance(base, dict) and depth < 6:
        out = {}
        for key, value in base.items():
            choice = data.draw(st.integers(0, 9))
            if choice == 0:
                continue
            out[key] = data.draw(json_values) if choice == 1 else mutate(value, data, depth + 1)
        if data.draw(st.integers(0, 5)) == 0:
            out[data.draw(st.sampled_from(KEYS))] = data.draw(json_values)
        return out
    if isinstance(base, list) and depth < 6:
        return [mutate(item, data, depth + 1) for item in base]
    return data.draw(json_values) if data.draw(st.integers(0, 12)) == 0 else base


def templates() -> list[dict[str, Any]]:
    deployment = admitted(kubectl_deployment())
    scaled = copy.deepcopy(deployment)
    scaled["spec"]["replicas"] = 5
    return [
        review("CREATE", admitted(chat_agent())),
        review("CREATE", deployment),
        review("UPDATE", scaled, deployment),
        review("DELETE", None, deployment),
    ]


TEMPLATES = templates()


@pytest.fixture(scope="module")
def app() -> WebhookApp:
    store = InventoryStore()
    store.load_directory(str(MANIFESTS))
    reviewer = Reviewer(pack_with(admission={"regoEngine": "embedded"}), store, "autobot-guard")
    return WebhookApp(reviewer, Metrics(), lambda: (True, {}), 1 << 20, log=_NullLog())


class _NullLog:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def call(app: WebhookApp, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/validate",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or JSON).items()],
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def check_answer(status: int, body: bytes, uid: Any = None) -> None:
    assert status in (200, 400, 413, 415), (status, body[:300])
    assert b"Traceback" not in body
    answer = json.loads(body)
    if status == 200:
        assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
        response = answer["response"]
        assert isinstance(response["allowed"], bool)
        if uid is not None:
            assert response["uid"] == uid
        if not response["allowed"]:
            assert response["status"]["code"] in (400, 403)
            assert response["status"]["message"]
        for warning in response.get("warnings", []):
            assert isinstance(warning, str) and len(warning) <= 120
    else:
        assert isinstance(answer["error"], str) and answer["error"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_reviews_in_process(app: WebhookApp, data: st.DataObject) -> None:
    payload = mutate(data.draw(st.sampled_from(TEMPLATES)), data)
    status, body = call(app, json.dumps(payload).encode())
    request = payload.get("request") if isinstance(payload, dict) else None
    uid = request.get("uid") if isinstance(request, dict) and status == 200 else None
    check_answer(status, body, uid)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_in_process(app: WebhookApp, body: bytes) -> None:
    status, answer = call(app, body)
    check_answer(status, answer)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_reviews_against_the_real_server(server: Server, data: st.DataObject) -> None:
    payload = mutate(data.draw(st.sampled_from(TEMPLATES)), data)
    status, body, _ = server.request("POST", "/validate", json.dumps(payload).encode(), JSON)
    check_answer(status, body)
    assert server.review(TEMPLATES[0])["allowed"] is True
