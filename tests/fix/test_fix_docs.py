"""docs/fix.md's table is what the rules declare (`python -m autobot_guard.fix.catalogue
docs/fix.md` regenerates it)."""

from __future__ import annotations

from pathlib import Path

from autobot_guard.fix.catalogue import rewrite, table
from autobot_guard.rules import ALL_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "fix.md"


def test_the_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert rewrite(text) == text, "run: python -m autobot_guard.fix.catalogue docs/fix.md"


def test_every_rule_has_a_row_that_says_what_fix_does_or_why_not() -> None:
    rows = table().splitlines()[2:]
    assert [row.split("|")[1].strip(" `") for row in rows] == [rule.id for rule in ALL_RULES]
    for rule in ALL_RULES:
        assert rule.autofix.does or rule.autofix.leaves, rule.id
