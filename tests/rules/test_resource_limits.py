"""resource-limits: a memory limit (optionally cpu) at least the request, within bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.util import of_rule, pack_with, run

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: autobot-chat-agent, namespace: autobot-system}}
spec:
  selector: {{matchLabels: {{app: autobot-chat-agent}}}}
  template:
    metadata: {{labels: {{app: autobot-chat-agent}}}}
    spec:
      initContainers:
      - name: migrate
        image: ghcr.io/mrveiss/autobot-backend:1.4.0
        resources: {init}
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        resources:
          requests: {requests}
          limits: {limits}
"""
INIT = "{requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 256Mi}}"


def findings(
    requests: str, limits: str, init: str = INIT, **params: object
) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"resource-limits": params}) if params else None
    report = run(POD.format(requests=requests, limits=limits, init=init), pack)
    return [(f.line, f.path_text, f.message) for f in of_rule(report, "resource-limits")]


MAIN = "spec.template.spec.containers[0]"


def test_memory_limit_above_request_passes() -> None:
    assert findings("{cpu: 250m, memory: 1Gi}", "{memory: 2Gi}") == []


def test_limit_below_request() -> None:
    assert findings("{cpu: 250m, memory: 1Gi}", "{memory: 512Mi}") == [
        (
            18,
            f"{MAIN}.resources.limits.memory",
            "container 'chat-agent' memory limit 512Mi is below its request 1Gi",
        )
    ]


@pytest.mark.parametrize(
    ("requested", "limit", "reported"),
    [
        ("1Gi", "1024Mi", False),
        ("1024Mi", "1Gi", False),
        ("1G", "1Gi", False),  # 10^9 < 2^30
        ("1Gi", "1G", True),
        ("1.5G", "1500M", False),
        ("1.5Gi", "1536Mi", False),
        ("1.5Gi", "1.5G", True),
        ("1e9", "1G", False),
    ],
)
def test_quantities_are_compared_by_value(requested: str, limit: str, reported: bool) -> None:
    result = findings(f"{{cpu: 250m, memory: {requested}}}", f"{{memory: {limit}}}")
    assert bool(result) is reported


def test_cpu_limit_below_request_is_reported_even_if_not_required() -> None:
    assert findings("{cpu: 500m, memory: 1Gi}", "{cpu: '0.25', memory: 1Gi}") == [
        (
            18,
            f"{MAIN}.resources.limits.cpu",
            "container 'chat-agent' cpu limit 0.25 is below its request 500m",
        )
    ]
    assert findings("{cpu: 1, memory: 1Gi}", "{cpu: 1000m, memory: 1Gi}") == []


def test_missing_memory_limit() -> None:
    assert findings("{cpu: 250m, memory: 1Gi}", "{cpu: 500m}") == [
        (18, f"{MAIN}.resources.limits", "container 'chat-agent' has no memory limit")
    ]


def test_missing_limits_block_points_at_resources() -> None:
    text = POD.format(requests="{cpu: 250m, memory: 1Gi}", limits="{}", init=INIT).replace(
        "          limits: {}\n", ""
    )
    [finding] = of_rule(run(text), "resource-limits")
    assert (finding.line, finding.path_text) == (16, f"{MAIN}.resources")


def test_init_container_needs_a_memory_limit() -> None:
    assert findings("{cpu: 250m, memory: 1Gi}", "{memory: 1Gi}", init="{}") == [
        (
            12,
            "spec.template.spec.initContainers[0].resources",
            "init container 'migrate' has no memory limit",
        )
    ]


def test_cpu_limit_is_required_only_when_configured() -> None:
    assert findings("{cpu: 250m, memory: 1Gi}", "{memory: 1Gi}") == []
    assert findings("{cpu: 250m, memory: 1Gi}", "{memory: 1Gi}", requireCpuLimit=True) == [
        (
            12,
            "spec.template.spec.initContainers[0].resources.limits",
            "init container 'migrate' has no cpu limit",
        ),
        (18, f"{MAIN}.resources.limits", "container 'chat-agent' has no cpu limit"),
    ]


def test_memory_and_cpu_bounds() -> None:
    requests = "{cpu: 250m, memory: 1Gi}"
    assert findings(requests, "{memory: 64Gi}", maxMemory="32Gi") == [
        (
            18,
            f"{MAIN}.resources.limits.memory",
            "container 'chat-agent' memory limit 64Gi is above the maximum 32Gi (maxMemory)",
        )
    ]
    assert findings(requests, "{memory: 1Gi}", minMemory="512Mi") == [
        (
            12,
            "spec.template.spec.initContainers[0].resources.limits.memory",
            "init container 'migrate' memory limit 256Mi is below the minimum 512Mi (minMemory)",
        )
    ]
    assert findings(requests, "{cpu: 8, memory: 1Gi}", maxCpu="4") == [
        (
            18,
            f"{MAIN}.resources.limits.cpu",
            "container 'chat-agent' cpu limit 8 is above the maximum 4 (maxCpu)",
        )
    ]
    assert findings(requests, "{cpu: 4000m, memory: 32Gi}", maxCpu="4", maxMemory="32Gi") == []


def test_unparsable_quantities_are_left_to_schema() -> None:
    assert findings("{cpu: 250m, memory: lots}", "{memory: 1Gi}") == []


def test_bounds_must_be_quantities() -> None:
    with pytest.raises(ValidationError, match="not a Kubernetes quantity"):
        pack_with(rules={"resource-limits": {"maxMemory": "32 gigs"}})
