"""The CI gate's view of the fixes: `check --suggest-fixes` in SARIF (fixes with
replacements), the Markdown summary (a diff per file) and pull request review comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.fix.suggest import FileChange, fence, replacements, review_comments
from autobot_guard.reporters import render
from tests.fix.test_fix_seed import FIXED, seed_copy
from tests.test_reporters import validate_sarif

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = seed_copy(tmp_path)
    monkeypatch.chdir(work)  # SARIF and review paths are relative to the working directory
    return work


def suggested(paths: list[str]) -> Any:
    return run_check(CheckOptions(paths, rego="off", suggest_fixes=True))


def apply(text: str, replacements_: list[dict[str, Any]]) -> str:
    """SARIF replacements applied by their character regions, last first."""
    for replacement in sorted(replacements_, key=lambda r: -r["deletedRegion"]["charOffset"]):
        region = replacement["deletedRegion"]
        start, length = region["charOffset"], region["charLength"]
        inserted = replacement.get("insertedContent", {}).get("text", "")
        text = text[:start] + inserted + text[start + length :]
    return text


def line_column_offset(text: str, line: int, column: int) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(item) for item in lines[: line - 1]) + column - 1


def test_sarif_results_carry_fixes_that_validate_and_apply(seed: Path) -> None:
    report = suggested(["."])
    document = json.loads(render(report, "sarif"))
    validate_sarif(document, json.loads(SCHEMA.read_text(encoding="utf-8")))
    results = document["runs"][0]["results"]
    with_fixes = [r for r in results if "fixes" in r]
    assert len(with_fixes) == sum(FIXED.values())
    assert {r["ruleId"] for r in with_fixes} == {rule for rule, _ in FIXED}
    for result in with_fixes:
        (fix,) = result["fixes"]
        (change,) = fix["artifactChanges"]
        assert (
            change["artifactLocation"]["uri"]
            == result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        )
        text = (seed / change["artifactLocation"]["uri"]).read_text(encoding="utf-8")
        for replacement in change["replacements"]:
            region = replacement["deletedRegion"]  # line/column and offsets say the same
            assert region["charOffset"] == line_column_offset(
                text, region["startLine"], region["startColumn"]
            )
        fixed = apply(text, change["replacements"])
        assert fixed != text
    pdb = next(r for r in with_fixes if r["ruleId"] == "pdb")
    inserted = pdb["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
    assert inserted.startswith("---\n# Written by `autobot-guard fix` (rule pdb)")
    assert "kind: PodDisruptionBudget\n" in inserted
    # A result that needs a human has no fix.
    assert all("fixes" not in r for r in results if r["ruleId"] in ("image-tag", "hpa-target"))


def test_without_the_flag_nothing_is_suggested(seed: Path) -> None:
    report = run_check(CheckOptions(["."], rego="off"))
    assert "fixes" not in render(report, "sarif")
    assert "Suggested fixes" not in render(report, "markdown")


def test_markdown_summary_shows_each_change_as_a_diff(seed: Path) -> None:
    text = render(suggested(["."]), "markdown")
    section = text.split("### Suggested fixes", 1)[1]
    assert "`autobot-guard fix` removes 24 findings with these changes" in section
    assert "#### 03-chat-agent-deployment.yaml (pdb, security-context)" in section
    assert (
        "```diff\n--- a/03-chat-agent-deployment.yaml\n+++ b/03-chat-agent-deployment.yaml\n"
        in section
    )
    assert "+kind: PodDisruptionBudget\n" in section
    # The added comment holds backticks: the fence is longer than any run inside.
    assert section.count("```diff") == 4


def test_review_comments_for_the_seed(seed: Path) -> None:
    from click.testing import CliRunner

    from autobot_guard.cli import main

    args = ["check", ".", "--rego", "off", "--review-comments", "review.json", "-f", "github"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # the gate's verdict is unchanged
    comments = json.loads((seed / "review.json").read_text(encoding="utf-8"))["comments"]
    (seed / "review.json").unlink()
    paths = {c["path"] for c in comments}
    assert paths == {
        "02-redis-statefulset.yaml",
        "03-chat-agent-deployment.yaml",
        "04-log-collector-daemonset.yaml",
        "05-elasticsearch-statefulset.yaml",
    }
    first = next(c for c in comments if c["path"] == "02-redis-statefulset.yaml")
    # The labels are inserted after `template:` (line 9): anchored there, repeating it.
    assert first["line"] == 9 and "start_line" not in first and first["side"] == "RIGHT"
    assert "```suggestion\n  template:\n    metadata:\n      labels:\n" in first["body"]


def test_review_comment_shapes() -> None:
    old = "a: 1\nb: 2\nc: 3\n"
    replaced = FileChange("f.yaml", old, "a: 1\nb: 20\nc: 30\n", ("r",))
    (comment,) = review_comments([replaced], str)
    assert (comment["start_line"], comment["line"]) == (2, 3)
    assert "```suggestion\nb: 20\nc: 30\n```" in comment["body"]
    top = FileChange("f.yaml", old, "# new\n" + old, ("r",))
    (comment,) = review_comments([top], str)
    assert comment["line"] == 1 and "```suggestion\n# new\na: 1\n```" in comment["body"]
    # The marker is stable: the action skips a suggestion it posted before.
    again = review_comments([top], str)[0]["body"]
    assert again == comment["body"] and "<!-- autobot-guard-suggestion:" in again
    assert fence("x ``` y\n", "suggestion").startswith("````suggestion\n")


def test_replacements_cover_inserts_and_changes() -> None:
    old = "a: 1\nb: 2\n"
    (insert,) = replacements(old, old + "c: 3\n")
    assert (insert.start_line, insert.line_count, insert.char_offset, insert.char_length) == (
        3, 0, len(old), 0,
    )  # fmt: skip
    (change,) = replacements(old, "a: 1\nb: 5\n")
    assert (change.start_line, change.line_count, change.char_offset, change.char_length) == (
        2, 1, 5, 5,
    )  # fmt: skip
    assert change.text == "b: 5\n"
