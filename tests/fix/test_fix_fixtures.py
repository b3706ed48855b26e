"""Each rule's fix, byte for byte: tests/fix/<rule>/before-X.yaml fixed with `--rule <rule>`
must become after-X.yaml exactly, and fixing after-X.yaml again must change nothing.

The after files were written by the tool and read line by line by hand: only the fixed
fields and the appended documents differ; comments, quoting, flow style and indentation of
the rest are the before file's. A before file whose fix is refused has an identical after.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from autobot_guard.cli import main
from tests.util import pack_with, write_pack

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*/before-*.yaml"))
# Rule settings a case needs beyond the bundled pack.
PACKS = {"resource-limits": {"resource-limits": {"defaultMemory": "512Mi"}}}


def fix(path: Path, rule: str, tmp: Path, *extra: str) -> tuple[int, str]:
    args = ["fix", str(path), "--rule", rule, "--rego", "off", *extra]
    if rule in PACKS:
        args += ["--config", write_pack(pack_with(PACKS[rule]), tmp / "pack.yaml")]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_every_fixable_rule_has_a_case() -> None:
    from autobot_guard.rules import ALL_RULES

    fixable = {rule.id for rule in ALL_RULES if rule.autofix.does is not None}
    assert {case.parent.name for case in CASES} == fixable


@pytest.mark.parametrize("before", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fix_turns_before_into_after_byte_for_byte(before: Path, tmp_path: Path) -> None:
    rule = before.parent.name
    after = before.with_name(before.name.replace("before-", "after-"))
    work = tmp_path / before.name
    shutil.copyfile(before, work)
    code, output = fix(work, rule, tmp_path)
    assert code in (0, 1), output
    assert work.read_bytes() == after.read_bytes(), output
    # Idempotent: the fixed file has nothing left that this rule can fix.
    code, output = fix(work, rule, tmp_path)
    assert work.read_bytes() == after.read_bytes()
    assert "autobot-guard fix: nothing to fix" in output, output
