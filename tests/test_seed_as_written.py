"""The migration plan's own YAML, exactly as written, through the real engine.

tests/fixtures/seed-as-written/ holds the plan (000_a3978bb6e48a36ba.txt) and every
Kubernetes object of it, one file each, byte for byte. The plan sets no namespace, so every
object lands in `default`, where kubectl would put it. These tests pin what the checker
says about the plan, finding by finding, and that each known defect of the plan (the
list at the end of autobot-stack.md) is caught by some rule.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from autobot_guard.findings import Finding, Report, Severity
from tests.util import check_paths

SEED_DIR = Path(__file__).parent / "fixtures" / "seed-as-written"
# The plan itself, copied byte for byte next to the snippets taken from it.
SEED_DOCUMENT = SEED_DIR / "000_a3978bb6e48a36ba.txt"
SEED_DOCUMENT_SHA256 = "3f0fadfba9eac8d88b3b33df62c7b7b7c1fda12876cfa398dbb9ae1742063ee0"

# sha256 of each fixture: the files are evidence and must not be "improved".
FIXTURE_SHA256 = {
    "01-fluentd-config.yaml": "a9b4a994fa301c50578034c60966bcf264750fe27589f566a6ccd5e2aef9d9c7",
    "02-redis-statefulset.yaml": "ff6f03415c098bf3c4355dfb7d2b789e47e47ac1f73655f9aad7602766a2cd02",
    "03-chat-agent-deployment.yaml": "75985be3f9aa59ccba16ff8fea274a6db91292c238537dc6103e41332ae7416e",
    "04-log-collector-daemonset.yaml": "372c15f71a6578ca41f6e9e08ebb64b2c6ff8a02f35ab8526c7d499fb0c938d3",
    "05-elasticsearch-statefulset.yaml": "adb0408fcdd6845c88c79d492f90590e221ebc3e75d76f36ccb7c3a864e0e92b",
    "06-agent-hpa.yaml": "7a7a27c48cdd6221ce8e32332ce3c6f2b79e49f068736347ad5d8d4390ea413d",
    "07-agent-network-policy.yaml": "6701354cce14d32e899fbe4b3b0042df3ec6d08529224b2a5b290ac63d467f72",
}

REDIS = "StatefulSet/default/autobot-redis"
CHAT = "Deployment/default/autobot-chat-agent"
FLUENTD = "DaemonSet/default/autobot-log-collector"
ES = "StatefulSet/default/elasticsearch"
HPA = "HorizontalPodAutoscaler/default/autobot-agent-hpa"
AGENT_POLICY = "NetworkPolicy/default/autobot-agent-policy"

C0 = "spec.template.spec.containers[0]"

# Every finding on the plan as written, as (rule, resource, field path), with its
# multiplicity (one entry per finding). Checked by hand against the fixtures:
EXPECTED: list[tuple[str, str, str]] = [
    # ConfigMap fluentd-config: data only, nothing to report (no finding).
    #
    # StatefulSet autobot-redis (02): no spec.selector, a pod template without any
    # metadata, no probes, no resources, no securityContext, a mount of an undeclared
    # volume, and a governing Service the plan never defines.
    ("schema", REDIS, "spec"),  # apps/v1 StatefulSet requires spec.selector
    ("selector-match", REDIS, "spec"),  # ... and so does the selector rule
    ("statefulset-service", REDIS, "spec.serviceName"),  # no Service 'autobot-redis' anywhere
    ("logging-labels", REDIS, "spec.template"),  # no label 'app'
    ("logging-labels", REDIS, "spec.template"),  # no label 'component'
    ("logging-labels", REDIS, "spec.template"),  # no label 'logging: centralized'
    # The only NetworkPolicy selects component=ai-agent; the Redis pods have no labels.
    ("network-policy", REDIS, "spec.template.metadata.labels"),
    ("pdb", REDIS, "spec.template.metadata.labels"),  # 3 replicas, no PodDisruptionBudget
    ("liveness-probe", REDIS, C0),
    ("readiness-probe", REDIS, C0),
    ("resource-limits", REDIS, C0),  # no memory limit
    ("resource-requests", REDIS, C0),  # no cpu request
    ("resource-requests", REDIS, C0),  # no memory request
    ("security-context", REDIS, C0),  # runAsNonRoot
    ("security-context", REDIS, C0),  # allowPrivilegeEscalation
    ("security-context", REDIS, C0),  # capabilities.drop ALL
    ("security-context", REDIS, C0),  # seccompProfile
    # 'redis-data' is neither a volume nor a claim template.
    ("volume-mount", REDIS, C0 + ".volumeMounts[0].name"),
    #
    # Deployment autobot-chat-agent (03): labels, selector and probes are right (8000 is
    # declared, the agent policy selects component=ai-agent), `replicas: 3` is overruled by
    # the HPA (minReplicas 2, judged by hpa-replicas: fine), but:
    ("pdb", CHAT, "spec.template.metadata.labels"),  # HPA minimum 2, no PodDisruptionBudget
    ("resource-limits", CHAT, C0),  # no memory limit
    ("resource-requests", CHAT, C0),  # no cpu request
    ("resource-requests", CHAT, C0),  # no memory request
    ("security-context", CHAT, C0),
    ("security-context", CHAT, C0),
    ("security-context", CHAT, C0),
    ("security-context", CHAT, C0),
    ("image-tag", CHAT, C0 + ".image"),  # autobot/chat-agent:latest
    # LOG_LEVEL from ConfigMap autobot-config, which the plan never defines.
    ("config-ref", CHAT, C0 + ".env[1].valueFrom.configMapKeyRef.name"),
    # The agent policy lists Egress without egress rules: the agents lose DNS too.
    ("dns-egress", CHAT, "spec.template.metadata.labels"),
    #
    # DaemonSet autobot-log-collector (04): selector app=autobot-log-collector, but the
    # pod template has no labels at all. Its two hostPath volumes are declared; a
    # DaemonSet needs no PodDisruptionBudget.
    ("selector-match", FLUENTD, "spec.selector.matchLabels.app"),
    ("logging-labels", FLUENTD, "spec.template"),
    ("logging-labels", FLUENTD, "spec.template"),
    ("logging-labels", FLUENTD, "spec.template"),
    ("network-policy", FLUENTD, "spec.template.metadata.labels"),
    ("liveness-probe", FLUENTD, C0),
    ("readiness-probe", FLUENTD, C0),
    ("resource-limits", FLUENTD, C0),
    ("resource-requests", FLUENTD, C0),
    ("resource-requests", FLUENTD, C0),
    ("security-context", FLUENTD, C0),
    ("security-context", FLUENTD, C0),
    ("security-context", FLUENTD, C0),
    ("security-context", FLUENTD, C0),
    #
    # StatefulSet elasticsearch (05): the same StatefulSet sketch as Redis. Its mount is a
    # declared claim template, and 10Gi meets the Elasticsearch minimum of the pack
    # (pvc-size override: >= 10Gi), so no volume-mount and no pvc-size finding.
    ("schema", ES, "spec"),
    ("selector-match", ES, "spec"),
    ("statefulset-service", ES, "spec.serviceName"),  # 'elasticsearch-service' is never defined
    ("logging-labels", ES, "spec.template"),
    ("logging-labels", ES, "spec.template"),
    ("logging-labels", ES, "spec.template"),
    ("network-policy", ES, "spec.template.metadata.labels"),
    ("pdb", ES, "spec.template.metadata.labels"),  # 3 replicas
    ("liveness-probe", ES, C0),
    ("readiness-probe", ES, C0),
    ("resource-limits", ES, C0),
    ("resource-requests", ES, C0),
    ("resource-requests", ES, C0),
    ("security-context", ES, C0),
    ("security-context", ES, C0),
    ("security-context", ES, C0),
    ("security-context", ES, C0),
    #
    # HorizontalPodAutoscaler autobot-agent-hpa (06): 2-10 is fine, but utilization needs
    # requests and the chat agent requests nothing, so the HPA can never scale.
    ("hpa-target", HPA, "spec.metrics[0].resource.name"),  # cpu
    ("hpa-target", HPA, "spec.metrics[1].resource.name"),  # memory
    #
    # NetworkPolicy autobot-agent-policy (07): selects the chat agent, so
    # network-policy-target is satisfied. Its `Egress` without egress rules (deny all
    # egress) is reported by no rule: see test_agent_policy_denies_all_egress below.
]

# (severity, count) of the same run, so a severity change in the pack shows up too.
EXPECTED_SEVERITIES = {Severity.ERROR: 42, Severity.WARNING: 20, Severity.INFO: 0}


@pytest.fixture(scope="module")
def report() -> Report:
    return check_paths([SEED_DIR])


def keys(findings: list[Finding]) -> Counter[tuple[str, str, str]]:
    return Counter((f.rule, f.resource.display(), f.path_text) for f in findings)


def of(report: Report, rule: str, resource: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule and f.resource.display() == resource]


def test_fixtures_are_the_plan_byte_for_byte() -> None:
    files = sorted(p.name for p in SEED_DIR.iterdir() if p.suffix == ".yaml")
    assert files == sorted(FIXTURE_SHA256)
    for name, digest in FIXTURE_SHA256.items():
        assert hashlib.sha256((SEED_DIR / name).read_bytes()).hexdigest() == digest, name


def test_fixtures_match_the_seed_document() -> None:
    raw = SEED_DOCUMENT.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SEED_DOCUMENT_SHA256  # the plan, unedited
    text = raw.decode("utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```$", text, re.S | re.M)
    objects = [block for block in blocks if re.search(r"^kind: ", block, re.M)]
    fixtures = [(SEED_DIR / name).read_text(encoding="utf-8") for name in sorted(FIXTURE_SHA256)]
    assert fixtures == objects


def test_the_plan_as_written_has_exactly_these_findings(report: Report) -> None:
    assert report.errors == []
    assert report.resources == 7
    # Nothing in the plan carries an exemption annotation.
    assert report.exempted == []
    assert keys(report.findings) == Counter(EXPECTED)
    assert {s: report.count(s) for s in Severity} == EXPECTED_SEVERITIES
    # The plan sets no namespace: everything is judged in `default`.
    assert {f.resource.namespace for f in report.findings} == {"default"}
    # Each finding points at a line of its own fixture file.
    for finding in report.findings:
        lines = Path(finding.file).read_text(encoding="utf-8").splitlines()
        assert 1 <= finding.line <= len(lines), finding


def test_known_defects_of_the_plan_are_caught(report: Report) -> None:
    """One assertion per defect listed at the end of autobot-stack.md."""
    # 1. The StatefulSets have no spec.selector ...
    for statefulset in (REDIS, ES):
        assert [f.path_text for f in of(report, "schema", statefulset)] == ["spec"]
        assert '"selector" is a required property' in of(report, "schema", statefulset)[0].message
        assert [f.path_text for f in of(report, "selector-match", statefulset)] == ["spec"]
        assert "no spec.selector" in of(report, "selector-match", statefulset)[0].message
    # ... and their pod templates no labels.
    for statefulset in (REDIS, ES):
        missing = sorted(f.message for f in of(report, "logging-labels", statefulset))
        assert len(missing) == 3
        assert all(
            f.path_text == "spec.template" for f in of(report, "logging-labels", statefulset)
        )
        for label in ("'app'", "'component'", "'logging'"):
            assert any(label in message for message in missing), label
    # 2. The DaemonSet's selector matches no pod template label.
    (mismatch,) = of(report, "selector-match", FLUENTD)
    assert mismatch.path_text == "spec.selector.matchLabels.app"
    assert "app=autobot-log-collector" in mismatch.message
    # 3. Redis mounts redis-data without a volume or claim template.
    (mount,) = of(report, "volume-mount", REDIS)
    assert mount.path_text == "spec.template.spec.containers[0].volumeMounts[0].name"
    assert "'redis-data'" in mount.message
    # 4. The chat agent's image is tagged latest ...
    (tag,) = of(report, "image-tag", CHAT)
    assert tag.path_text == "spec.template.spec.containers[0].image"
    assert "autobot/chat-agent:latest" in tag.message
    # ... and it sets no resources.
    assert sorted(f.message for f in of(report, "resource-requests", CHAT)) == [
        "container 'chat-agent' has no cpu request",
        "container 'chat-agent' has no memory request",
    ]
    assert [f.message for f in of(report, "resource-limits", CHAT)] == [
        "container 'chat-agent' has no memory limit"
    ]
    # 5. Redis has no probes.
    assert [f.path_text for f in of(report, "liveness-probe", REDIS)] == [C0]
    assert [f.path_text for f in of(report, "readiness-probe", REDIS)] == [C0]
    # 6. ConfigMap autobot-config is referenced but never defined.
    (config,) = of(report, "config-ref", CHAT)
    assert (
        config.path_text == "spec.template.spec.containers[0].env[1].valueFrom.configMapKeyRef.name"
    )
    assert "autobot-config" in config.message
    # 7. The agent NetworkPolicy's Egress without rules: see the test below.


def test_agent_policy_denies_all_egress(report: Report) -> None:
    """The plan's agent policy lists Egress with no egress rule: the agents can reach
    neither Redis nor DNS. A user needs a finding that names the policy and says so."""
    hits = [
        f
        for f in [*report.findings, *report.exempted]
        if (f.resource.display() == AGENT_POLICY or "autobot-agent-policy" in f.message)
        and "egress" in f.message.lower()
        and "dns" in f.message.lower()
    ]
    assert hits, "no finding says that autobot-agent-policy denies all egress, DNS included"
