"""Helpers the tests share: check YAML through `run_check`, the pipeline the CLI calls.

Every test that judges manifests goes through `check_paths` (or `run`, its one-file form),
and both fail the test on any input error the run records: a rule that raises is turned
by the engine into an input error for that object, and a test that only looked at the
findings would pass with the rule broken. A test that feeds broken input on purpose says
so with `expect_errors=True`; even then, an error that a rule failure caused fails it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.config import PolicyPack, load_policy_pack
from autobot_guard.findings import Finding, InputError, Report
from autobot_guard.paths import bundled_policy_pack

# How the engine words the input error of a rule that raised (engine._judge).
# tests/test_engine_failures.py checks that a real rule failure matches it.
RULE_FAILURE = re.compile(r"^rule \S+ could not judge .*This is a bug in autobot-guard", re.S)


def is_rule_failure(error: InputError) -> bool:
    return RULE_FAILURE.match(error.message) is not None


def assert_no_input_errors(report: Report, expect_errors: bool = False) -> None:
    """No input error at all; with `expect_errors`, none that a rule failure caused."""
    unexpected = [e for e in report.errors if not expect_errors or is_rule_failure(e)]
    assert not unexpected, "the run recorded input errors:\n" + "\n".join(
        error.display() for error in unexpected
    )


def pack_with(rules: dict[str, Any] | None = None, **top: Any) -> PolicyPack:
    """The bundled policy pack with some rule settings / top-level keys replaced."""
    base = load_policy_pack(str(bundled_policy_pack())).model.model_dump(
        by_alias=True, exclude_none=True
    )
    for rule_id, settings in (rules or {}).items():
        base["rules"].setdefault(rule_id, {}).update(settings)
    base.update(top)
    return PolicyPack.from_dict(base, "test-pack")


def write_pack(pack: PolicyPack, path: str | Path) -> str:
    """Write `pack` as a policy pack file, for `check --config`; returns the path."""
    data = pack.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def check_paths(
    paths: Sequence[str | Path],
    pack: PolicyPack | None = None,
    *,
    expect_errors: bool = False,
    kubernetes_version: str | None = None,
) -> Report:
    """`autobot-guard check PATHS --rego off` as a Report (Rego has its own tests)."""
    with tempfile.TemporaryDirectory() as directory:
        config = write_pack(pack, os.path.join(directory, "pack.yaml")) if pack else None
        report = run_check(
            CheckOptions(
                [str(path) for path in paths],
                config=config,
                kubernetes_version=kubernetes_version,
                rego="off",
            )
        )
    assert_no_input_errors(report, expect_errors)
    return report


def run(
    text: str,
    pack: PolicyPack | None = None,
    name: str = "manifest.yaml",
    *,
    expect_errors: bool = False,
    kubernetes_version: str | None = None,
) -> Report:
    """Check YAML `text` written to a file called `name`; the report's file is that name."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        report = check_paths(
            [path], pack, expect_errors=expect_errors, kubernetes_version=kubernetes_version
        )
    for finding in [*report.findings, *report.exempted]:
        finding.file = os.path.basename(finding.file)
    report.checked = [(os.path.basename(file), ref) for file, ref in report.checked]
    return report


def of_rule(report: Report, rule: str) -> list[Finding]:
    return [finding for finding in report.findings if finding.rule == rule]
