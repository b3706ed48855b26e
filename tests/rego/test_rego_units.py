"""The `_test.rego` unit tests of the shipped policies, run with the embedded engine (the
same files `conftest verify -p policies/rego` runs in CI)."""

from __future__ import annotations

import re

from autobot_guard.rego.embedded import EmbeddedEngine
from autobot_guard.rego.policies import load_policy_set
from tests.rego.helpers import SHIPPED


def test_every_policy_file_has_a_test_file() -> None:
    policies = load_policy_set(SHIPPED)
    names = {m.path.relative_to(SHIPPED).as_posix() for m in policies.files}
    for module in policies.modules:
        test = module.path.relative_to(SHIPPED).as_posix().removesuffix(".rego") + "_test.rego"
        assert test in names, f"{module.name} has no {test}"


def test_unit_tests_pass_in_the_embedded_engine() -> None:
    policies = load_policy_set(SHIPPED)
    results = EmbeddedEngine(policies).run_unit_tests()
    declared = sum(
        len(set(re.findall(r"^(test_\w+)", m.source, re.M))) for m in policies.files if m.is_test
    )
    assert len(results) == declared >= 30
    failed = [(name, detail) for name, passed, detail in results if not passed]
    assert failed == []


def test_a_failing_unit_test_is_reported(tmp_path) -> None:
    broken = tmp_path / "rego"
    broken.mkdir()
    (broken / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\ndeny contains "x" if input.a\n'
    )
    (broken / "p_test.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "test_denied if {\n\tcount(deny) == 1 with input.a as true\n}\n\n"
        "test_wrong if {\n\tcount(deny) == 2 with input.a as true\n}\n"
    )
    results = {
        name: passed for name, passed, _ in EmbeddedEngine(load_policy_set(broken)).run_unit_tests()
    }
    assert results == {"data.main.test_denied": True, "data.main.test_wrong": False}
