"""A rule that fails on some object costs that object's check, never the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.rules.min_replicas import MinReplicas

DEPLOYMENTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: first, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: first}}
  template:
    metadata: {labels: {app: first}}
    spec:
      containers: [{name: c, image: "x:1.0"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: second, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: second}}
  template:
    metadata: {labels: {app: second}}
    spec:
      containers: [{name: c, image: "x:1.0"}]
"""


def test_a_rule_that_raises_is_an_input_error_and_the_rest_is_still_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = MinReplicas.check

    def fails_on_first(self: MinReplicas, resource: Any, context: Any) -> Any:
        if resource.name == "first":
            raise TypeError("'int' object is not iterable")
        return real(self, resource, context)

    monkeypatch.setattr(MinReplicas, "check", fails_on_first)
    path = tmp_path / "two.yaml"
    path.write_text(DEPLOYMENTS)
    report = run_check(CheckOptions([str(path)], rego="off"))
    assert [(e.file, e.line) for e in report.errors] == [(str(path), 1)]
    assert report.errors[0].message.startswith(
        "rule min-replicas could not judge Deployment/default/first "
        "(TypeError: 'int' object is not iterable); the other rules did."
    )
    assert report.exit_code(None) == 2  # not checked completely: like unreadable input
    judged = {(f.rule, f.resource.name) for f in report.findings}
    assert ("min-replicas", "second") in judged  # the same rule, on the other object
    assert ("liveness-probe", "first") in judged  # the other rules, on the same object
