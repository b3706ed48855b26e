"""How the inventory watch reports a failed request: the API server's message."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("kubernetes")

from kubernetes.client.exceptions import ApiException

from autobot_guard.webhook.inventory_watch import _short


class Response:
    """The parts of a urllib3 response that ApiException reads."""

    def __init__(self, status: int, data: bytes) -> None:
        self.status, self.reason, self.data = status, "Forbidden", data
        self.headers = {"Audit-Id": "0" * 36, "Content-Type": "application/json"}

    def getheaders(self) -> dict[str, str]:
        return self.headers


def test_a_forbidden_list_names_the_user_and_the_resource() -> None:
    message = (
        'services is forbidden: User "system:serviceaccount:autobot-guard:autobot-guard" '
        'cannot list resource "services" in API group "" at the cluster scope'
    )
    body = json.dumps({"kind": "Status", "status": "Failure", "message": message,
                       "reason": "Forbidden", "code": 403}).encode()  # fmt: skip
    exc = ApiException(http_resp=Response(403, body))
    assert _short(exc) == f"{type(exc).__name__}: (403) {message}"


def test_other_errors_stay_one_short_line() -> None:
    assert _short(ConnectionError("refused\n  by peer")) == "ConnectionError: refused by peer"
    no_json = ApiException(http_resp=Response(500, b"<html>proxy error</html>"))
    assert _short(no_json).startswith("ApiException: (500)")
    assert "\n" not in _short(no_json) and len(_short(no_json)) <= 230
