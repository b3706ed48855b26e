"""Every rule's passing and failing fixture files, side by side (Polaris style).

tests/rules/<rule-id>/pass-*.yaml must produce no finding of that rule;
tests/rules/<rule-id>/fail-*.yaml must produce exactly the findings of that rule that
its leading comments announce, one line each:

    # expect: <rule-id> line=<n> path=<field.path> message~=<substring> [severity=<level>]

`line` is the line of the fixture file itself (comments count), `path` the finding's
field path, `message~=` a substring of its message (the rest of the line, unless a
`severity=` follows it). A fixture may also give the rule's settings in the policy pack:

    # settings: {minReplicas: 3}

Each file is checked on its own through the CLI's pipeline (tests/util.py), which fails
on any input error, so a rule that raises on a fixture fails its test too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobot_guard.findings import Finding
from autobot_guard.rules import RULES_BY_ID
from tests.util import check_paths, of_rule, pack_with

HERE = Path(__file__).parent
FIXTURES = sorted(
    path for path in HERE.glob("*/*.yaml") if path.name.startswith(("pass-", "fail-"))
)
_EXPECT = re.compile(
    r"^# expect: (?P<rule>\S+) line=(?P<line>\d+) path=(?P<path>\S*) "
    r"message~=(?P<message>.+?)(?: severity=(?P<severity>error|warning|info))?$"
)


@dataclass(frozen=True)
class Expected:
    rule: str
    line: int
    path: str
    message: str
    severity: str | None

    def matches(self, finding: Finding) -> bool:
        return (
            finding.rule == self.rule
            and finding.line == self.line
            and finding.path_text == self.path
            and self.message in finding.message
            and (self.severity is None or finding.severity.value == self.severity)
        )


def header(path: Path) -> tuple[list[Expected], dict[str, Any] | None]:
    """The `# expect:` lines and the `# settings:` of a fixture's leading comments."""
    expected: list[Expected] = []
    settings: dict[str, Any] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# expect:"):
            match = _EXPECT.match(line)
            assert match, f"{path.name}: malformed expectation {line!r}"
            expected.append(
                Expected(
                    match["rule"],
                    int(match["line"]),
                    match["path"],
                    match["message"],
                    match["severity"],
                )
            )
        elif line.startswith("# settings:"):
            settings = yaml.safe_load(line.removeprefix("# settings:"))
            assert isinstance(settings, dict), f"{path.name}: settings must be a mapping"
    return expected, settings


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def shown(findings: list[Finding]) -> str:
    return "\n".join(
        f"  line={f.line} path={f.path_text} {f.severity}: {f.message}" for f in findings
    )


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture(path: Path) -> None:
    rule = path.parent.name
    expected, settings = header(path)
    report = check_paths([path], pack_with(rules={rule: settings}) if settings else None)
    found = of_rule(report, rule)
    if path.name.startswith("pass-"):
        assert not expected, f"{path.name}: a passing fixture expects no finding"
        assert not found, f"{fixture_id(path)} should pass {rule}, but:\n{shown(found)}"
        return
    assert expected, f"{path.name}: a failing fixture says which findings it expects"
    assert {e.rule for e in expected} == {rule}, f"{path.name}: expect only {rule} findings"
    unmatched = list(found)
    for expectation in expected:
        hits = [f for f in unmatched if expectation.matches(f)]
        assert hits, f"{fixture_id(path)}: no finding {expectation}; found:\n{shown(found)}"
        unmatched.remove(hits[0])
    assert not unmatched, f"{fixture_id(path)}: unexpected findings:\n{shown(unmatched)}"


def test_every_rule_has_passing_and_failing_fixtures() -> None:
    kinds: dict[str, set[str]] = {}
    for path in FIXTURES:
        kinds.setdefault(path.parent.name, set()).add(path.name.split("-")[0])
    missing = [r for r in RULES_BY_ID if kinds.get(r) != {"pass", "fail"}]
    assert not missing, f"rules without both pass-*.yaml and fail-*.yaml fixtures: {missing}"
    unknown = sorted(set(kinds) - set(RULES_BY_ID))
    assert not unknown, f"fixture folders that name no rule: {unknown}"


def test_every_yaml_file_of_a_rule_folder_is_a_fixture() -> None:
    # A file named otherwise (a typo: `fial-x.yaml`) would silently never be checked.
    stray = [p for p in HERE.glob("*/*") if p not in FIXTURES and p.suffix in (".yaml", ".yml")]
    assert not stray, f"not named pass-*.yaml or fail-*.yaml: {stray}"
