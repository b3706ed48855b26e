"""docs/report.schema.json is the JSON report's contract: real `check --format json` output
meets it (clean, failing, exempted, broken input, with a baseline, Rego findings), and it
is strict enough to reject a report that breaks the contract.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.gate_util import LEGACY_WORKER, ROOT, cli

SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=None)
RULE_FIXTURES = ROOT / "tests" / "rules"


def report(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    """`autobot-guard check ARGS --format json`, as a user runs it; the parsed report."""
    result = cli("check", "--format", "json", "--fail-on", "never", *args, cwd=cwd)
    assert result.returncode in (0, 2), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def errors_of(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in VALIDATOR.iter_errors(document)
    ]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_reference_manifests_report_meets_the_schema() -> None:
    document = report()  # no PATH: the bundled reference manifests, `target` set
    assert document["target"] and document["summary"]["resources"] > 100
    assert document["exempted"], "the reference stack exempts some findings, with reasons"
    assert errors_of(document) == []


def test_every_failing_rule_fixture_reports_within_the_schema() -> None:
    fails = sorted(RULE_FIXTURES.glob("*/fail-*.yaml"))
    document = report("--rego", "off", *map(str, fails))
    rules = {finding["rule"] for finding in document["findings"]}
    assert len(rules) >= 20, rules  # nearly every built-in rule has a finding to show
    assert errors_of(document) == []


def test_rego_findings_meet_the_schema() -> None:
    cases = ROOT / "tests" / "data" / "rego" / "cases"
    document = report("--rego", "embedded", str(cases))
    assert any(f["rule"] == "approved-registry" for f in document["findings"])
    assert errors_of(document) == []


def test_input_errors_meet_the_schema(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n", encoding="utf-8")
    (tmp_path / "legacy.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    document = report("--rego", "off", str(tmp_path), str(tmp_path / "missing.yaml"))
    assert len(document["inputErrors"]) == 2 and document["findings"]
    lines = {Path(e["file"]).name: e["line"] for e in document["inputErrors"]}
    assert lines["broken.yaml"] == 1 and lines["missing.yaml"] is None
    assert errors_of(document) == []


def test_a_report_with_a_baseline_meets_the_schema(tmp_path: Path) -> None:
    (tmp_path / "legacy.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    baseline = tmp_path / "baseline.json"
    written = cli("baseline", "--rego", "off", "-o", str(baseline), str(tmp_path))
    assert written.returncode == 0, written.stderr
    fixed = LEGACY_WORKER.replace("ghcr.io/mrveiss/legacy-worker:0.9.1", "legacy:latest")
    (tmp_path / "legacy.yaml").write_text(fixed, encoding="utf-8")
    document = report("--rego", "off", "--baseline", str(baseline), str(tmp_path))
    outcome = document["baseline"]
    assert outcome["suppressed"] > 0 and document["findings"], "image-tag is new"
    assert errors_of(document) == []


# --- the schema says no to what breaks the contract ---------------------------------------


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    document = report()
    assert document["findings"] and document["exempted"]
    return document


def broken(good: dict[str, Any], change: str) -> dict[str, Any]:
    document = copy.deepcopy(good)
    finding = document["findings"][0]
    if change == "line as a string":
        finding["line"] = str(finding["line"])
    elif change == "line 0":
        finding["line"] = 0
    elif change == "unknown severity":
        finding["severity"] = "critical"
    elif change == "no resource name":
        del finding["resource"]["name"]
    elif change == "no summary count":
        del document["summary"]["errors"]
    elif change == "an undocumented member":
        document["score"] = 97
    elif change == "an exempted finding without its reason":
        del document["exempted"][0]["exemptReason"]
    elif change == "a finding with an exemptReason":
        finding["exemptReason"] = "findings are never exempted"
    elif change == "path as a list":
        finding["path"] = ["spec", "replicas"]
    return document


@pytest.mark.parametrize(
    "change",
    [
        "line as a string",
        "line 0",
        "unknown severity",
        "no resource name",
        "no summary count",
        "an undocumented member",
        "an exempted finding without its reason",
        "a finding with an exemptReason",
        "path as a list",
    ],
)
def test_the_schema_rejects_a_broken_report(good: dict[str, Any], change: str) -> None:
    assert errors_of(good) == []
    assert errors_of(broken(good, change)), f"the schema accepted a report with {change}"
