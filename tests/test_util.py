"""The shared test helper fails a test whose run records an input error it did not expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.rules.image_tag import ImageTag
from tests.util import is_rule_failure, pack_with, run

WORKLOAD = ImageTag.passing_example
BROKEN = "a: [unclosed\n"


@pytest.fixture
def image_tag_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ImageTag, resource: Any, context: Any) -> Any:
        raise KeyError("image")

    monkeypatch.setattr(ImageTag, "check", broken)


def test_a_rule_failure_is_recognised_as_one(tmp_path: Path, image_tag_raises: None) -> None:
    # Straight through run_check, so this holds however the helper is written.
    path = tmp_path / "deploy.yaml"
    path.write_text(WORKLOAD)
    report = run_check(CheckOptions([str(path)], rego="off"))
    assert len(report.errors) == 1 and is_rule_failure(report.errors[0]), report.errors


def test_a_loader_error_is_not_a_rule_failure(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    report = run_check(CheckOptions([str(path)], rego="off"))
    assert len(report.errors) == 1 and not is_rule_failure(report.errors[0]), report.errors


@pytest.mark.usefixtures("image_tag_raises")
@pytest.mark.parametrize("expect_errors", [False, True])
def test_a_rule_that_raises_fails_the_test(expect_errors: bool) -> None:
    with pytest.raises(AssertionError, match="rule image-tag could not judge Deployment"):
        run(WORKLOAD, expect_errors=expect_errors)


@pytest.mark.usefixtures("image_tag_raises")
def test_a_rule_that_raises_fails_the_test_with_a_custom_pack_too() -> None:
    with pytest.raises(AssertionError, match="rule image-tag could not judge"):
        run(WORKLOAD, pack_with(rules={"min-replicas": {"minReplicas": 1}}))


def test_unreadable_input_fails_the_test_unless_expected() -> None:
    with pytest.raises(AssertionError, match="invalid YAML"):
        run(BROKEN)
    assert len(run(BROKEN, expect_errors=True).errors) == 1


def test_a_custom_pack_reaches_the_rules() -> None:
    # The pack is written to a file and read back by run_check, as `check --config` does.
    failing = ImageTag.failing_example
    assert any(f.rule == "image-tag" for f in run(failing).findings)
    quiet = run(failing, pack_with(rules={"image-tag": {"enabled": False}}))
    assert not any(f.rule == "image-tag" for f in quiet.findings)
    warned = run(failing, pack_with(rules={"image-tag": {"severity": "warning"}}))
    assert {f.severity.value for f in warned.findings if f.rule == "image-tag"} == {"warning"}
