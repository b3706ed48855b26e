"""The composite action with the fixes: step summary diffs, SARIF fixes, and the review
comments file the post step sends to GitHub (the sending itself is not tested here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate_util import commit_all, make_repo
from tests.test_ci_gate import gate_inputs, run_action

LABEL = '        logging: "centralized"\n'


def test_pull_request_gets_its_fix_as_a_review_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    backend = repo / "manifests" / "app" / "backend.yaml"
    text = backend.read_text(encoding="utf-8")
    assert text.count(LABEL) == 1
    backend.write_text(text.replace(LABEL, ""), encoding="utf-8")
    commit_all(repo, "drop the logging label")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    monkeypatch.setenv("RUNNER_TEMP", str(runner_temp))
    inputs = gate_inputs(repo)
    inputs["review-suggestions"] = "true"
    run = run_action(repo, inputs, tmp_path)
    assert run["status"] == 1  # the finding still fails the gate until the fix is applied
    review = Path(run["outputs"]["review-file"])
    assert review.parent == runner_temp
    comments = json.loads(review.read_text(encoding="utf-8"))["comments"]
    # Only the changed file's finding (changed-since): the legacy file's are not suggested.
    assert [c["path"] for c in comments] == ["manifests/app/backend.yaml"]
    assert "        logging: centralized\n```" in comments[0]["body"]
    assert "### Suggested fixes" in run["summary"]
    assert "+        logging: centralized" in run["summary"]
    sarif = json.loads((repo / "autobot-guard.sarif").read_text(encoding="utf-8"))
    assert any("fixes" in result for result in sarif["runs"][0]["results"])


def test_suggest_fixes_off(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    inputs = gate_inputs(repo, event="push")
    inputs["suggest-fixes"] = "false"
    run = run_action(repo, inputs, tmp_path)
    assert "Suggested fixes" not in run["summary"]
    assert "review-file" not in run["outputs"]
    sarif = (repo / "autobot-guard.sarif").read_text(encoding="utf-8")
    assert '"fixes"' not in sarif
