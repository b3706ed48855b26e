"""logging-labels: pod templates carry the labels the log pipeline filters on."""

from __future__ import annotations

from tests.util import of_rule, pack_with, run

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: autobot-rag-agent
  namespace: autobot-system
  labels: {{app: autobot-rag-agent, component: ai-agent, logging: centralized}}
spec:
  selector: {{matchLabels: {{app: autobot-rag-agent}}}}
  template:
    metadata:
      labels:
{labels}    spec:
      containers:
      - {{name: rag-agent, image: "ghcr.io/mrveiss/autobot-rag-agent:1.4.0"}}
"""
GOOD = {"app": "autobot-rag-agent", "component": "ai-agent", "logging": '"centralized"'}


def text(**labels: str | None) -> str:
    merged = {**GOOD, **labels}
    lines = "".join(f"        {k}: {v}\n" for k, v in merged.items() if v is not None)
    return DEPLOYMENT.format(labels=lines)


def findings(manifest: str, **params: object) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"logging-labels": params}) if params else None
    return [
        (f.line, f.path_text, f.message) for f in of_rule(run(manifest, pack), "logging-labels")
    ]


def test_plan_labels_pass() -> None:
    assert findings(text()) == []


def test_missing_label_points_at_the_labels() -> None:
    assert findings(text(logging=None)) == [
        (
            11,
            "spec.template.metadata.labels",
            "pod template has no label 'logging' (required: 'centralized')",
        )
    ]
    assert findings(text(component=None)) == [
        (11, "spec.template.metadata.labels", "pod template has no label 'component'")
    ]


def test_wrong_value_points_at_the_label() -> None:
    assert findings(text(logging="local")) == [
        (
            14,
            "spec.template.metadata.labels.logging",
            "pod template label 'logging' is 'local'; 'centralized' is required",
        )
    ]


def test_empty_value_for_any_value_label() -> None:
    assert findings(text(component='""')) == [
        (13, "spec.template.metadata.labels.component", "pod template label 'component' is empty")
    ]


def test_labels_on_the_workload_itself_do_not_count() -> None:
    manifest = DEPLOYMENT.format(labels="        app: autobot-rag-agent\n")
    assert len(findings(manifest)) == 2


def test_template_without_labels_points_at_its_metadata() -> None:
    manifest = DEPLOYMENT.format(labels="").replace("      labels:\n", "      annotations: {}\n")
    assert [(line, path) for line, path, _ in findings(manifest)] == [
        (10, "spec.template.metadata")
    ] * 3


def test_required_labels_are_a_parameter() -> None:
    required = {"app": None, "agent-type": "rag"}
    assert findings(text(), requiredLabels=required) == [
        (
            11,
            "spec.template.metadata.labels",
            "pod template has no label 'agent-type' (required: 'rag')",
        )
    ]
    assert findings(text(logging=None), requiredLabels={"app": None}) == []


def test_bare_pod_and_cronjob() -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: autobot-system
  labels: {app: autobot-debug}
spec:
  containers:
  - {name: shell, image: "busybox:1.36"}
"""
    assert [m for _, _, m in findings(pod)] == [
        "pod has no label 'component'",
        "pod has no label 'logging' (required: 'centralized')",
    ]
    cronjob = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: autobot-backup, namespace: autobot-data}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {app: autobot-backup, component: backup, logging: centralized}
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: backup, image: "postgres:16.4"}
"""
    assert findings(cronjob) == []


def test_non_workloads_are_not_checked() -> None:
    service = """\
apiVersion: v1
kind: Service
metadata: {name: autobot-rag-agent, namespace: autobot-system}
spec:
  selector: {app: autobot-rag-agent}
  ports: [{port: 8000}]
"""
    assert findings(service) == []
