"""Helpers the tests share: run the real engine on YAML text, like the CLI does."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from autobot_guard.config import PolicyPack, load_policy_pack
from autobot_guard.engine import evaluate
from autobot_guard.findings import Finding, Report
from autobot_guard.loader import load_paths
from autobot_guard.paths import bundled_policy_pack


def pack_with(rules: dict[str, Any] | None = None, **top: Any) -> PolicyPack:
    """The bundled policy pack with some rule settings / top-level keys replaced."""
    base = load_policy_pack(str(bundled_policy_pack())).model.model_dump(
        by_alias=True, exclude_none=True
    )
    for rule_id, settings in (rules or {}).items():
        base["rules"].setdefault(rule_id, {}).update(settings)
    base.update(top)
    return PolicyPack.from_dict(base, "test-pack")


def run(text: str, pack: PolicyPack | None = None, name: str = "manifest.yaml") -> Report:
    """Check YAML `text` written to a file called `name`; the report's file is that name."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        loaded = load_paths([path])
        report = evaluate(loaded.resources, pack or load_policy_pack(str(bundled_policy_pack())))
        report.errors = loaded.errors
        report.files = loaded.files
        for finding in [*report.findings, *report.exempted]:
            finding.file = os.path.basename(finding.file)
        report.checked = [(os.path.basename(file), ref) for file, ref in report.checked]
        return report


def of_rule(report: Report, rule: str) -> list[Finding]:
    return [finding for finding in report.findings if finding.rule == rule]
