"""selector-match: a workload's selector selects its own pod template."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

WORKLOAD = """\
apiVersion: apps/v1
kind: {kind}
metadata: {{name: autobot-redis, namespace: autobot-data}}
spec:
  serviceName: autobot-redis
{selector}  template:
    metadata:
      labels: {{app: autobot-redis, tier: data, redis-database: main}}
    spec:
      containers:
      - {{name: redis, image: "redis/redis-stack-server:7.4.0-v3"}}
"""


def findings(selector: str, kind: str = "StatefulSet") -> list[tuple[int, str, str]]:
    text = WORKLOAD.format(kind=kind, selector=selector)
    if kind != "StatefulSet":
        text = text.replace("  serviceName: autobot-redis\n", "")
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "selector-match")]


@pytest.mark.parametrize(
    "selector",
    [
        "  selector: {matchLabels: {app: autobot-redis}}\n",
        "  selector: {matchLabels: {app: autobot-redis, tier: data}}\n",
        "  selector:\n    matchExpressions:\n"
        "    - {key: app, operator: In, values: [autobot-redis, redis]}\n",
        "  selector:\n    matchExpressions:\n    - {key: tier, operator: NotIn, values: [cache]}\n",
        "  selector:\n    matchExpressions:\n    - {key: redis-database, operator: Exists}\n",
        "  selector:\n    matchExpressions:\n    - {key: canary, operator: DoesNotExist}\n",
        "  selector:\n    matchLabels: {app: autobot-redis}\n"
        "    matchExpressions:\n    - {key: tier, operator: In, values: [data]}\n",
    ],
)
def test_matching_selectors_pass(selector: str) -> None:
    assert findings(selector) == []


def test_match_labels_mismatch_points_at_the_key() -> None:
    assert findings("  selector:\n    matchLabels:\n      app: redis\n") == [
        (
            8,
            "spec.selector.matchLabels.app",
            "spec.selector requires app=redis, but the pod template has app=autobot-redis",
        )
    ]


def test_label_absent_from_template() -> None:
    [(_, path, message)] = findings(
        "  selector: {matchLabels: {app: autobot-redis, role: master}}\n"
    )
    assert path == "spec.selector.matchLabels.role"
    assert message == "spec.selector requires role=master, but the pod template has no label 'role'"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "{key: tier, operator: NotIn, values: [data, cache]}",
            "spec.selector requires tier NotIn (cache, data), but the pod template has tier=data",
        ),
        (
            "{key: tier, operator: In, values: [cache]}",
            "spec.selector requires tier In (cache), but the pod template has tier=data",
        ),
        (
            "{key: role, operator: Exists}",
            "spec.selector requires role Exists, but the pod template has no label 'role'",
        ),
        (
            "{key: tier, operator: DoesNotExist}",
            "spec.selector requires tier DoesNotExist, but the pod template has tier=data",
        ),
    ],
)
def test_failing_expressions(expression: str, message: str) -> None:
    selector = (
        "  selector:\n    matchLabels: {app: autobot-redis}\n    matchExpressions:\n"
        f"    - {{key: app, operator: Exists}}\n    - {expression}\n"
    )
    assert findings(selector) == [(10, "spec.selector.matchExpressions[1]", message)]


def test_unknown_operator() -> None:
    selector = (
        "  selector:\n    matchExpressions:\n    - {key: tier, operator: Equals, values: [data]}\n"
    )
    [(_, path, message)] = findings(selector)
    assert path == "spec.selector.matchExpressions[0].operator"
    assert "unknown operator 'Equals'" in message


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment", "DaemonSet", "ReplicaSet"])
def test_missing_selector_is_required_by_apps_v1(kind: str) -> None:
    assert findings("", kind) == [
        (4, "spec", f"{kind} 'autobot-redis' has no spec.selector (apps/v1 requires one)")
    ]


@pytest.mark.parametrize("selector", ["  selector: {}\n", "  selector: {matchLabels: {}}\n"])
def test_empty_selector(selector: str) -> None:
    assert findings(selector) == [
        (6, "spec.selector", "spec.selector is empty: it would select every pod of the namespace")
    ]


def test_replication_controller_map_selector() -> None:
    rc = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: legacy, namespace: autobot-system}}
spec:
{selector}  template:
    metadata: {{labels: {{app: legacy}}}}
    spec:
      containers:
      - {{name: legacy, image: "busybox:1.36"}}
"""
    for selector in ("", "  selector: {app: legacy}\n"):
        assert of_rule(run(rc.format(selector=selector)), "selector-match") == []
    [finding] = of_rule(run(rc.format(selector="  selector: {app: old}\n")), "selector-match")
    assert (finding.path_text, finding.message) == (
        "spec.selector.app",
        "spec.selector requires app=old, but the pod template has app=legacy",
    )


def test_job_selector_is_optional_but_must_match() -> None:
    job = """\
apiVersion: batch/v1
kind: Job
metadata: {{name: autobot-migrate, namespace: autobot-system}}
spec:
{selector}  template:
    metadata: {{labels: {{app: autobot-migrate}}}}
    spec:
      restartPolicy: Never
      containers:
      - {{name: migrate, image: "ghcr.io/mrveiss/autobot-backend:1.4.0"}}
"""
    assert of_rule(run(job.format(selector="")), "selector-match") == []
    text = job.format(selector="  manualSelector: true\n  selector: {matchLabels: {app: x}}\n")
    assert len(of_rule(run(text), "selector-match")) == 1
