"""A client that trickles its body is cut off: it must not hold a connection for ever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from autobot_guard.webhook import app as app_module
from autobot_guard.webhook.app import WebhookApp
from autobot_guard.webhook.metrics import Metrics
from autobot_guard.webhook.review import Reviewer
from tests.util import pack_with


def test_a_body_that_does_not_arrive_in_time_gets_408_and_a_closed_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "BODY_SECONDS", 0.2)
    pack = pack_with(admission={"regoEngine": "embedded"})
    webhook = WebhookApp(Reviewer(pack), Metrics(), lambda: (True, {}), 1024 * 1024)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)  # headers came, the body never does
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/validate",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
    }
    asyncio.run(asyncio.wait_for(webhook(scope, receive, send), 5))
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    body = json.loads(sent[1]["body"])
    assert body == {"error": "request body not received within 0.2 s"}
