"""Every registered rule's documented examples do what `autobot-guard explain` says they do."""

from __future__ import annotations

import pytest

from autobot_guard.rules import ALL_RULES
from autobot_guard.rules.base import Rule
from tests.util import of_rule, run

RULES = pytest.mark.parametrize("rule", ALL_RULES, ids=[rule.id for rule in ALL_RULES])


def _example(rule: type[Rule], which: str) -> str:
    text = getattr(rule, which, None)
    assert isinstance(text, str) and text.strip(), f"rule {rule.id} has no {which}"
    return text


@RULES
def test_failing_example_produces_a_finding_of_its_rule(rule: type[Rule]) -> None:
    report = run(_example(rule, "failing_example"))
    assert not report.errors, report.errors
    assert of_rule(report, rule.id), f"{rule.id}: failing_example produced no {rule.id} finding"


@RULES
def test_passing_example_produces_no_finding_of_its_rule(rule: type[Rule]) -> None:
    report = run(_example(rule, "passing_example"))
    assert not report.errors, report.errors
    found = [f"{f.line}: {f.message}" for f in of_rule(report, rule.id)]
    assert not found, f"{rule.id}: passing_example produced {found}"


@RULES
def test_rule_is_documented(rule: type[Rule]) -> None:
    doc = rule.documentation()
    assert "Why:" in doc, f"{rule.id}: the docstring has no 'Why:' paragraph"
    assert rule.summary and "\n" not in rule.summary
    assert rule.fix
