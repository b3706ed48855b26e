"""Random and mutated manifests never crash the checker: a report or a clear input error."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.util import is_rule_failure, run

SEED = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "redis", "namespace": "autobot-data", "labels": {"app": "autobot-redis"}},
    "spec": {
        "serviceName": "redis",
        "replicas": 2,
        "selector": {
            "matchLabels": {"app": "autobot-redis"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["data"]}],
        },
        "template": {
            "metadata": {"labels": {"app": "autobot-redis", "tier": "data"}},
            "spec": {
                "volumes": [
                    {
                        "name": "cfg",
                        "configMap": {
                            "name": "redis-config",
                            "items": [{"key": "redis.conf", "path": "redis.conf"}],
                        },
                    }
                ],
                "containers": [
                    {
                        "name": "redis",
                        "image": "redis/redis-stack-server:7.4.0-v3",
                        "ports": [{"containerPort": 6379, "name": "redis"}],
                        "env": [
                            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                        ],
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "2Gi"},
                            "limits": {"memory": "4Gi"},
                        },
                        "livenessProbe": {"tcpSocket": {"port": "redis"}},
                        "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
            },
        },
        "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "8Gi"}}}}
        ],
    },
}
OTHERS = [
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "redis", "namespace": "autobot-data"},
        "spec": {
            "clusterIP": "None",
            "selector": {"app": "autobot-redis"},
            "ports": [{"port": 6379, "targetPort": "redis"}],
        },
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "autobot-data"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    },
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "autobot-data"},
        "spec": {
            "scaleTargetRef": {"kind": "StatefulSet", "name": "redis"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    },
    {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p", "namespace": "autobot-data"},
        "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "autobot-redis"}}},
    },
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["", "latest", "1Gi", "-1", "500m", "None", "In", "Exists", "x:y@sha256:0"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(paths(value, (*prefix, index)))
    return out


def mutate(document: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    import copy

    document = copy.deepcopy(document)
    node = document
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return document


def check_text(text: str) -> None:
    """Check `text` through the CLI's pipeline: random input may be unreadable (an input
    error that says so), but no rule may fail on what was read (`run` fails the test)."""
    report = run(text, name="fuzz.yaml", expect_errors=True)
    for finding in report.findings:
        assert finding.line >= 1 and finding.rule and finding.message
    for error in report.errors:
        assert error.message and not is_rule_failure(error)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=values, delete=st.booleans())
def test_mutated_manifests_never_crash(data: st.DataObject, value: Any, delete: bool) -> None:
    target = data.draw(st.sampled_from([SEED, *OTHERS]))
    path = data.draw(st.sampled_from(paths(target)))
    mutated = mutate(target, path, value, delete)
    documents = [mutated if d is target else d for d in [SEED, *OTHERS]]
    check_text(yaml.safe_dump_all(documents, sort_keys=False))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_random_text_never_crashes(text: str) -> None:
    check_text(text)


@settings(max_examples=100, deadline=None)
@given(value=values)
def test_random_structures_never_crash(value: Any) -> None:
    check_text(yaml.safe_dump(value))
