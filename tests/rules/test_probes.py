"""liveness-probe and readiness-probe: every container of a long-running workload has one.

The two rules share their code (readiness-probe subclasses liveness-probe), so each test
runs for both, and one checks that each rule reads its own field only.
"""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

PROBES = pytest.mark.parametrize(
    ("rule", "field"),
    [("liveness-probe", "livenessProbe"), ("readiness-probe", "readinessProbe")],
)

# kind -> (apiVersion, where the pod spec is, the lines before it)
WORKLOADS = {
    "Deployment": ("apps/v1", "spec.template.spec"),
    "StatefulSet": ("apps/v1", "spec.template.spec"),
    "DaemonSet": ("apps/v1", "spec.template.spec"),
    "ReplicaSet": ("apps/v1", "spec.template.spec"),
    "ReplicationController": ("v1", "spec.template.spec"),
    "Job": ("batch/v1", "spec.template.spec"),
    "CronJob": ("batch/v1", "spec.jobTemplate.spec.template.spec"),
}


def workload(kind: str, container: str) -> str:
    """A `kind` whose pod spec has one init container and the given container (YAML,
    indented for a list item at column 0 of the pod spec's `containers`)."""
    if kind == "Pod":
        head, indent = "apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: d}\nspec:\n", 2
    else:
        api_version, pod_spec = WORKLOADS[kind]
        head = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: w, namespace: d}}\n"
        parts = pod_spec.split(".")
        for depth, part in enumerate(parts):
            head += " " * 2 * depth + f"{part}:\n"
        indent = 2 * len(parts)
    pad = " " * indent
    body = f"initContainers:\n- {{name: init, image: 'busybox:1.36'}}\ncontainers:\n{container}"
    return head + "".join(pad + line + "\n" for line in body.splitlines())


WITHOUT = "- name: app\n  image: 'x:1.0'"


def with_probe(field: str) -> str:
    return f"{WITHOUT}\n  {field}: {{tcpSocket: {{port: 80}}}}"


@PROBES
@pytest.mark.parametrize(
    "kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"]
)
def test_long_running_workloads_need_the_probe(rule: str, field: str, kind: str) -> None:
    text = workload(kind, WITHOUT)
    (finding,) = of_rule(run(text), rule)
    assert finding.message == f"container 'app' has no {field}"
    pod_spec = "spec" if kind == "Pod" else WORKLOADS[kind][1]
    assert finding.path_text == f"{pod_spec}.containers[0]"
    assert text.splitlines()[finding.line - 1].strip() == "- name: app"
    assert of_rule(run(workload(kind, with_probe(field))), rule) == []


@PROBES
@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_run_to_completion_workloads_need_none(rule: str, field: str, kind: str) -> None:
    assert of_rule(run(workload(kind, WITHOUT)), rule) == []


@PROBES
def test_init_containers_need_none(rule: str, field: str) -> None:
    # workload() always adds an init container without probes: only `app` is reported.
    found = of_rule(run(workload("Deployment", WITHOUT)), rule)
    assert [f.path_text for f in found] == ["spec.template.spec.containers[0]"]


@PROBES
@pytest.mark.parametrize("value", ["null", "'true'", "[]", "{}"])
def test_a_probe_that_is_not_a_mapping_is_none(rule: str, field: str, value: str) -> None:
    found = of_rule(run(workload("Deployment", f"{WITHOUT}\n  {field}: {value}")), rule)
    if value == "{}":  # an empty mapping is a probe (the schema knows what it lacks)
        assert found == []
    else:
        assert [f.message for f in found] == [f"container 'app' has no {field}"]


@PROBES
def test_each_container_is_judged(rule: str, field: str) -> None:
    containers = (
        f"{with_probe(field)}\n- name: sidecar\n  image: 'y:1.0'\n- name: third\n  image: 'z:1'"
    )
    found = of_rule(run(workload("StatefulSet", containers)), rule)
    assert [(f.path_text, f.message) for f in found] == [
        ("spec.template.spec.containers[1]", f"container 'sidecar' has no {field}"),
        ("spec.template.spec.containers[2]", f"container 'third' has no {field}"),
    ]


def test_each_rule_reads_its_own_probe_only() -> None:
    only_liveness = run(workload("Deployment", with_probe("livenessProbe")))
    assert of_rule(only_liveness, "liveness-probe") == []
    assert len(of_rule(only_liveness, "readiness-probe")) == 1
    only_readiness = run(workload("Deployment", with_probe("readinessProbe")))
    assert of_rule(only_readiness, "readiness-probe") == []
    assert len(of_rule(only_readiness, "liveness-probe")) == 1
    # A startupProbe is neither.
    startup = run(workload("Deployment", with_probe("startupProbe")))
    assert len(of_rule(startup, "liveness-probe")) == len(of_rule(startup, "readiness-probe")) == 1
