"""Mutation tests: break the reference stack the way a person would, one thing at a time.

Each test reads manifests/ into memory, changes ONE thing with a text edit (so every
other line keeps its real line number), writes the whole stack into tmp_path and checks
it with the real engine. The findings must differ from those of the unmutated stack by
exactly the expected (rule, resource, field path), reported at the line of the mutated
field or its nearest existing parent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from autobot_guard.findings import Finding, Report, Severity
from autobot_guard.paths import bundled_manifests
from tests.util import check_paths

MANIFESTS = bundled_manifests()

BACKEND = "Deployment/autobot-system/autobot-backend"
FRONTEND = "Deployment/autobot-system/autobot-frontend"
FRONTEND_HPA = "HorizontalPodAutoscaler/autobot-system/autobot-frontend"
CHAT = "Deployment/autobot-system/autobot-chat-agent"
RAG = "Deployment/autobot-system/autobot-rag-agent"
KNOWLEDGE = "Deployment/autobot-system/autobot-knowledge-agent"
ELASTICSEARCH = "StatefulSet/autobot-logging/autobot-elasticsearch"
KIBANA = "Deployment/autobot-logging/autobot-kibana"

C0 = "spec.template.spec.containers[0]"

Key = tuple[str, str, str]


# Reading, editing, writing and checking the stack ---------------------------------------


def read_stack() -> dict[str, str]:
    """Every file of manifests/, by path relative to it."""
    return {
        path.relative_to(MANIFESTS).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(MANIFESTS.rglob("*"))
        if path.is_file()
    }


def write_stack(stack: dict[str, str], root: Path) -> Path:
    for relative, text in stack.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def check(root: Path) -> Report:
    """The stack under `root` through the CLI's pipeline; any input error fails the test."""
    return check_paths([root])


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r}, found {text.count(old)}"
    return text.replace(old, new)


def drop_document(text: str, kind: str, name: str, namespace: str) -> str:
    """Delete the one document of a multi-document file that is kind/namespace/name."""
    documents = text.split("\n---\n")
    wanted = [
        index
        for index, document in enumerate(documents)
        if f"\nkind: {kind}\n" in f"\n{document}\n"
        and f"\n  name: {name}\n" in f"\n{document}\n"
        and f"\n  namespace: {namespace}\n" in f"\n{document}\n"
    ]
    assert len(wanted) == 1, f"expected one {kind} {namespace}/{name}, found {len(wanted)}"
    del documents[wanted[0]]
    return "\n---\n".join(documents)


def line_of(text: str, line: str, after: int = 0) -> int:
    """1-based number of the first line equal to `line` after line `after`, which must be
    the only such line when `after` is 0."""
    lines = text.splitlines()
    hits = [number for number, got in enumerate(lines, 1) if got == line and number > after]
    assert hits, f"no line {line!r} after line {after}"
    if after == 0:
        assert len(hits) == 1, f"{line!r} is not unique: lines {hits}"
    return hits[0]


def key(finding: Finding) -> Key:
    return (finding.rule, finding.resource.display(), finding.path_text)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The unmutated stack, written and checked exactly like the mutated ones."""
    return check(write_stack(read_stack(), tmp_path_factory.mktemp("unmutated")))


def new_findings(baseline: Report, stack: dict[str, str], root: Path) -> list[Finding]:
    """The findings of the mutated stack that the unmutated one does not have; none may
    have disappeared, and the exempted findings must stay as they were."""
    report = check(write_stack(stack, root))
    before = Counter(key(f) for f in baseline.findings)
    after = Counter(key(f) for f in report.findings)
    assert before - after == Counter(), "a mutation made findings disappear"
    assert Counter(key(f) for f in report.exempted) == Counter(key(f) for f in baseline.exempted)
    added = after - before
    return [f for f in report.findings if key(f) in added]


def only(findings: list[Finding], expected: Key, root: Path, file: str) -> Finding:
    """Exactly one new finding, the expected one, an error in the mutated file."""
    assert [key(f) for f in findings] == [expected]
    (finding,) = findings
    assert finding.severity is Severity.ERROR
    assert Path(finding.file).resolve() == (root / file).resolve()
    return finding


# One test per mission rule ------------------------------------------------------------


def test_backend_without_liveness_probe(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    stack["app/backend.yaml"] = replace_once(
        stack["app/backend.yaml"],
        "          livenessProbe:\n"
        "            httpGet:\n"
        "              path: /api/health\n"
        "              port: http\n"
        "            periodSeconds: 20\n"
        "            timeoutSeconds: 10\n"
        "            failureThreshold: 3\n",
        "",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("liveness-probe", BACKEND, C0),
        tmp_path,
        "app/backend.yaml",
    )
    # The probe is gone: the finding points at its parent, the container.
    assert finding.line == line_of(stack["app/backend.yaml"], "        - name: backend")
    # The startupProbe does not stand in for liveness.
    assert "startupProbe:" in stack["app/backend.yaml"]


def test_chat_agent_without_readiness_probe(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    stack["agents/chat-agent.yaml"] = replace_once(
        stack["agents/chat-agent.yaml"],
        "          readinessProbe:\n"
        "            httpGet:\n"
        "              path: /health\n"
        "              port: http\n"
        "            initialDelaySeconds: 5\n"
        "            periodSeconds: 10\n"
        "            timeoutSeconds: 5\n"
        "            failureThreshold: 3\n",
        "",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("readiness-probe", CHAT, C0),
        tmp_path,
        "agents/chat-agent.yaml",
    )
    assert finding.line == line_of(stack["agents/chat-agent.yaml"], "        - name: chat-agent")


# min-replicas: the frontend's replica count is owned by its HPA (the Deployment has no
# spec.replicas), so "the frontend's replicas" live in three places a person may edit.


def test_frontend_hpa_min_replicas_one(baseline: Report, tmp_path: Path) -> None:
    """The frontend scaled down to 1 where its replica count really lives: the HPA."""
    stack = read_stack()
    stack["app/frontend.yaml"] = replace_once(
        stack["app/frontend.yaml"],
        "  minReplicas: 2\n  maxReplicas: 6\n",
        "  minReplicas: 1\n  maxReplicas: 6\n",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("hpa-replicas", FRONTEND_HPA, "spec.minReplicas"),
        tmp_path,
        "app/frontend.yaml",
    )
    assert finding.line == line_of(stack["app/frontend.yaml"], "  minReplicas: 1")


def test_frontend_deployment_replicas_one(baseline: Report, tmp_path: Path) -> None:
    """`replicas: 1` written on the HPA-scaled frontend Deployment."""
    stack = read_stack()
    stack["app/frontend.yaml"] = replace_once(
        stack["app/frontend.yaml"],
        "  # No spec.replicas: the HPA below owns the replica count (2-6).\n",
        "  replicas: 1\n",
    )
    findings = new_findings(baseline, stack, tmp_path)
    assert [(f.resource.display(), f.path_text) for f in findings] == [(FRONTEND, "spec.replicas")]
    assert findings[0].line == line_of(stack["app/frontend.yaml"], "  replicas: 1")


def test_kibana_replicas_one(baseline: Report, tmp_path: Path) -> None:
    """min-replicas itself, on a workload without an HPA."""
    stack = read_stack()
    stack["logging/kibana.yaml"] = replace_once(
        stack["logging/kibana.yaml"], "  replicas: 2\n", "  replicas: 1\n"
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("min-replicas", KIBANA, "spec.replicas"),
        tmp_path,
        "logging/kibana.yaml",
    )
    assert finding.line == line_of(stack["logging/kibana.yaml"], "  replicas: 1")


def test_rag_agent_without_memory_limit(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    # The limit was the only one: a person deletes the whole `limits:` block.
    stack["agents/rag-agent.yaml"] = replace_once(
        stack["agents/rag-agent.yaml"],
        "            limits:\n              memory: 3Gi\n",
        "",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("resource-limits", RAG, C0 + ".resources"),
        tmp_path,
        "agents/rag-agent.yaml",
    )
    assert finding.line == line_of(stack["agents/rag-agent.yaml"], "          resources:")
    assert "memory limit" in finding.message


# network-policy: every namespace has `default-deny-all` (podSelector: {}, Ingress and
# Egress), which selects every pod of its namespace. Deleting one component's policy
# therefore uncovers nothing (its pods are still selected, merely unreachable), and
# deleting only the default deny uncovers nothing either (every component has its own
# Ingress policy). Kibana's pods are uncovered only when both go.


def drop_kibana_policy(stack: dict[str, str]) -> None:
    stack["logging/kibana.yaml"] = drop_document(
        stack["logging/kibana.yaml"], "NetworkPolicy", "autobot-kibana", "autobot-logging"
    )


def drop_logging_default_deny(stack: dict[str, str]) -> None:
    stack["network-policies-default.yaml"] = drop_document(
        stack["network-policies-default.yaml"],
        "NetworkPolicy",
        "default-deny-all",
        "autobot-logging",
    )


def test_without_kibana_policy_the_default_deny_still_covers_kibana(
    baseline: Report, tmp_path: Path
) -> None:
    stack = read_stack()
    drop_kibana_policy(stack)
    assert new_findings(baseline, stack, tmp_path) == []


def test_without_default_deny_every_logging_workload_has_its_own_policy(
    baseline: Report, tmp_path: Path
) -> None:
    stack = read_stack()
    drop_logging_default_deny(stack)
    assert new_findings(baseline, stack, tmp_path) == []


def test_kibana_without_any_network_policy(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    original = stack["logging/kibana.yaml"]
    drop_kibana_policy(stack)
    drop_logging_default_deny(stack)
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("network-policy", KIBANA, "spec.template.metadata.labels"),
        tmp_path,
        "logging/kibana.yaml",
    )
    # What was deleted is in other documents; the finding names the pods left uncovered:
    # the pod template labels of the Kibana Deployment, whose lines did not move.
    template = line_of(original, "  template:")
    assert finding.line == line_of(original, "      labels:", after=template)
    kept = stack["logging/kibana.yaml"].splitlines()[: finding.line]
    assert kept == original.splitlines()[: finding.line]


def test_knowledge_agent_without_logging_label(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    original = stack["agents/knowledge-agent.yaml"]
    # Only the pod template carries `logging`; the Deployment's selector is
    # {app: autobot-knowledge-agent}, so it still matches (no selector-match finding).
    assert "    matchLabels:\n      app: autobot-knowledge-agent\n  template:" in original
    stack["agents/knowledge-agent.yaml"] = replace_once(
        original, '        logging: "centralized"\n', ""
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("logging-labels", KNOWLEDGE, "spec.template.metadata.labels"),
        tmp_path,
        "agents/knowledge-agent.yaml",
    )
    mutated = stack["agents/knowledge-agent.yaml"]
    template = line_of(mutated, "  template:")
    assert finding.line == line_of(mutated, "      labels:", after=template)
    assert "'logging'" in finding.message


def test_elasticsearch_claim_of_one_gibibyte(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    stack["logging/elasticsearch.yaml"] = replace_once(
        stack["logging/elasticsearch.yaml"],
        "            storage: 30Gi\n",
        "            storage: 1Gi\n",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        (
            "pvc-size",
            ELASTICSEARCH,
            "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
        ),
        tmp_path,
        "logging/elasticsearch.yaml",
    )
    assert finding.line == line_of(stack["logging/elasticsearch.yaml"], "            storage: 1Gi")
    # 1Gi meets the global minimum; it is the Elasticsearch override (>= 10Gi) that fails.
    assert "10Gi" in finding.message


def test_kibana_image_tagged_latest(baseline: Report, tmp_path: Path) -> None:
    stack = read_stack()
    stack["logging/kibana.yaml"] = replace_once(
        stack["logging/kibana.yaml"],
        "image: docker.elastic.co/kibana/kibana:8.15.3\n",
        "image: docker.elastic.co/kibana/kibana:latest\n",
    )
    finding = only(
        new_findings(baseline, stack, tmp_path),
        ("image-tag", KIBANA, C0 + ".image"),
        tmp_path,
        "logging/kibana.yaml",
    )
    assert finding.line == line_of(
        stack["logging/kibana.yaml"], "          image: docker.elastic.co/kibana/kibana:latest"
    )
