"""Every output format, rendered from Reports the real engine produced."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from autobot_guard import __version__
from autobot_guard.findings import Finding, InputError, Report, ResourceRef, Severity
from autobot_guard.reporters import FORMATS, render
from autobot_guard.reporters.github_report import escape_data, escape_property
from autobot_guard.reporters.text_report import summary_line
from autobot_guard.rules import ALL_RULES
from tests.util import pack_with, run

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

BROKEN = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: autobot-system}
spec:
  bogus: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        readinessProbe: {httpGet: {path: /health, port: 80}}
"""
REASON = "the sidecar restarts it: see RUNBOOK-12, 100% covered"
EXEMPT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: autobot-system
  annotations:
    autobot-guard.io/exempt: liveness-probe
    autobot-guard.io/exempt-reason: "{REASON}"
spec:
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers:
      - name: worker
        image: nginx:1.27
"""
MANIFEST = BROKEN + "---\n" + EXEMPT


@pytest.fixture(scope="module")
def report() -> Report:
    return run(MANIFEST)


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def only(findings: list[Finding], rule: str, name: str) -> Finding:
    matches = [f for f in findings if f.rule == rule and f.resource.name == name]
    assert len(matches) == 1, matches
    return matches[0]


def sarif(report: Report) -> dict[str, Any]:
    return json.loads(render(report, "sarif"))


def validate_sarif(document: dict[str, Any], schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    # jsonschema checks "uri" formats only with an optional package: check the characters here.
    for uri in _uris(document):
        assert URI_CHARS.fullmatch(uri), uri


URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def _uris(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("uri", "informationUri")]
        return found + [u for v in value.values() for u in _uris(v)]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return []


def manual_finding(**changes: Any) -> Finding:
    values: dict[str, Any] = {
        "rule": "liveness-probe",
        "severity": Severity.ERROR,
        "message": "container 'web' has no livenessProbe",
        "fix": "Add a livenessProbe.",
        "file": "manifest.yaml",
        "line": 11,
        "resource": ResourceRef("apps/v1", "Deployment", "autobot-system", "web"),
        "path": ("spec", "template", "spec", "containers", 0),
    }
    values.update(changes)
    return Finding(**values)


# --- the engine produced what these tests rely on -------------------------------------


def test_fixture_report_has_the_findings_the_tests_need(report: Report) -> None:
    only(report.findings, "schema", "web")
    only(report.findings, "liveness-probe", "web")
    exempted = only(report.exempted, "liveness-probe", "worker")
    assert exempted.exempt_reason == REASON
    assert not [
        f for f in report.findings if f.rule == "liveness-probe" and f.resource.name == "worker"
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_text_ending_in_a_newline(report: Report, fmt: str) -> None:
    output = render(report, fmt)
    assert isinstance(output, str) and output.endswith("\n")


def test_unknown_format_is_refused(report: Report) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(report, "yaml")


# --- json: the stable contract --------------------------------------------------------


def test_json_shape(report: Report) -> None:
    document = json.loads(render(report, "json"))
    assert {"version", "summary", "findings", "exempted"} <= set(document)
    assert document["version"] == __version__
    summary = document["summary"]
    assert {"resources", "errors", "warnings", "infos", "exempted"} <= set(summary)
    assert summary["resources"] == 2
    assert summary["exempted"] == len(document["exempted"]) == 1
    assert summary["errors"] == sum(1 for f in document["findings"] if f["severity"] == "error")
    keys = {"rule", "severity", "message", "fix", "file", "line", "resource", "path"}
    for finding in document["findings"]:
        assert set(finding) == keys
        assert finding["severity"] in ("error", "warning", "info")
        assert isinstance(finding["line"], int) and finding["line"] >= 1
        assert set(finding["resource"]) == {"apiVersion", "kind", "namespace", "name"}
    schema = next(f for f in document["findings"] if f["rule"] == "schema")
    assert schema["path"] == "spec.bogus" and schema["line"] == 5
    assert schema["resource"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "autobot-system",
        "name": "web",
    }
    liveness = next(f for f in document["findings"] if f["rule"] == "liveness-probe")
    assert liveness["file"] == "manifest.yaml" and liveness["line"] == 11
    assert liveness["path"] == "spec.template.spec.containers[0]"
    (exempted,) = document["exempted"]
    assert set(exempted) == keys | {"exemptReason"}
    assert exempted["rule"] == "liveness-probe" and exempted["exemptReason"] == REASON
    assert exempted["resource"]["name"] == "worker"


# --- sarif ----------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(
    report: Report, sarif_schema: dict[str, Any]
) -> None:
    validate_sarif(sarif(report), sarif_schema)


def test_sarif_driver_lists_every_rule(report: Report) -> None:
    document = sarif(report)
    assert document["version"] == "2.1.0" and "sarif" in document["$schema"]
    (run_,) = document["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "autobot-guard" and driver["version"] == __version__
    assert [rule["id"] for rule in driver["rules"]] == [rule.id for rule in ALL_RULES]
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for descriptor, rule in zip(driver["rules"], ALL_RULES, strict=True):
        assert descriptor["name"] and " " not in descriptor["name"]
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert rule.documentation().startswith(descriptor["fullDescription"]["text"][:40])
        assert rule.fix in descriptor["help"]["text"]
        assert rule.fix in descriptor["help"]["markdown"]
        assert descriptor["defaultConfiguration"]["level"] == levels[rule.default_severity.value]
        assert descriptor["properties"]["tags"]


def test_sarif_results(report: Report) -> None:
    run_ = sarif(report)["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    assert len(results) == len(report.findings) + len(report.exempted)
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert " Fix: " in result["message"]["text"]
        assert result["level"] in ("error", "warning", "note")
    liveness = next(
        r for r in results if r["ruleId"] == "liveness-probe" and "suppressions" not in r
    )
    finding = only(report.findings, "liveness-probe", "web")
    assert liveness["message"]["text"] == f"{finding.message} Fix: {finding.fix}"
    (location,) = liveness["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "manifest.yaml", "uriBaseId": "%SRCROOT%"}
    assert physical["region"]["startLine"] == 11
    assert location["logicalLocations"] == [
        {"name": "web", "fullyQualifiedName": "Deployment/autobot-system/web", "kind": "resource"}
    ]
    assert liveness["properties"]["path"] == "spec.template.spec.containers[0]"
    assert run_["invocations"][0]["executionSuccessful"] is True


def test_sarif_exempted_findings_are_suppressed_results(report: Report) -> None:
    results = sarif(report)["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == len(report.exempted) == 1
    (result,) = suppressed
    assert result["ruleId"] == "liveness-probe"
    assert result["locations"][0]["logicalLocations"][0]["name"] == "worker"
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == "inSource"
    assert suppression["justification"] == REASON


def test_sarif_fingerprints_survive_line_shifts() -> None:
    def by_identity(report: Report) -> dict[tuple[str, str, str], tuple[str, int]]:
        out = {}
        for result in sarif(report)["runs"][0]["results"]:
            location = result["locations"][0]
            key = (
                result["ruleId"],
                location["logicalLocations"][0]["fullyQualifiedName"],
                result["message"]["text"],
            )
            fingerprint = result["partialFingerprints"]["autobotGuard/v2"]
            out[key] = (fingerprint, location["physicalLocation"]["region"]["startLine"])
        return out

    before = by_identity(run(MANIFEST))
    after = by_identity(run("\n\n\n" + MANIFEST))
    assert before.keys() == after.keys() and before
    for key, (fingerprint, line) in before.items():
        assert after[key] == (fingerprint, line + 3), key


def test_sarif_fingerprints_are_sha256_and_unique(report: Report) -> None:
    results = sarif(report)["runs"][0]["results"]
    fingerprints = [r["partialFingerprints"]["autobotGuard/v2"] for r in results]
    assert all(len(f) == 64 and int(f, 16) >= 0 for f in fingerprints)
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_input_errors_are_notifications(sarif_schema: dict[str, Any]) -> None:
    report = run("a: [unclosed\n", name="broken.yaml", expect_errors=True)
    assert report.errors
    document = sarif(report)
    validate_sarif(document, sarif_schema)
    (invocation,) = document["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["message"]["text"] == report.errors[0].message
    physical = notification["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"].endswith("broken.yaml")
    assert physical["region"]["startLine"] == report.errors[0].line == 1


def test_sarif_uri_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sarif_schema: dict[str, Any]
) -> None:
    monkeypatch.chdir(tmp_path)
    inside = manual_finding(file=str(tmp_path / "deploy dir" / "app.yaml"))
    outside = manual_finding(file=str(tmp_path.parent / "elsewhere.yaml"), path=("spec",))
    document = sarif(Report(findings=[inside, outside], resources=1, files=2))
    validate_sarif(document, sarif_schema)
    first, second = (
        r["locations"][0]["physicalLocation"]["artifactLocation"]
        for r in document["runs"][0]["results"]
    )
    assert first == {"uri": "deploy%20dir/app.yaml", "uriBaseId": "%SRCROOT%"}
    assert second == {"uri": (tmp_path.parent / "elsewhere.yaml").as_uri()}


def test_sarif_empty_report_is_valid(sarif_schema: dict[str, Any]) -> None:
    document = sarif(Report())
    validate_sarif(document, sarif_schema)
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is True


# --- junit ----------------------------------------------------------------------------


def junit(report: Report) -> ET.Element:
    return ET.fromstring(render(report, "junit").encode("utf-8"))


def assert_counts_consistent(root: ET.Element) -> None:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for name, value in counts.items():
            assert int(suite.get(name, "-1")) == value, (suite.get("name"), name)
            totals[name] += value
    for name, value in totals.items():
        assert int(root.get(name, "-1")) == value, name


def test_junit_counts_and_cases(report: Report) -> None:
    root = junit(report)
    assert root.tag == "testsuites"
    assert_counts_consistent(root)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "manifest.yaml"
    pairs = {(f.resource.display(), f.rule) for f in report.findings}
    assert int(suite.get("failures", "0")) == len(pairs)
    assert int(suite.get("skipped", "0")) == 1 and int(suite.get("errors", "0")) == 0
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    liveness = cases[("Deployment/autobot-system/web", "liveness-probe")]
    failure = liveness.find("failure")
    assert failure is not None and failure.get("type") == "error"
    finding = only(report.findings, "liveness-probe", "web")
    assert failure.get("message") == finding.message
    assert failure.text is not None
    assert "line 11" in failure.text and finding.path_text in failure.text
    assert finding.message in failure.text and finding.fix in failure.text
    skipped = cases[("Deployment/autobot-system/worker", "liveness-probe")].find("skipped")
    assert skipped is not None and REASON in (skipped.get("message") or "")


def test_junit_warning_findings_fail_with_type_warning() -> None:
    report = run(MANIFEST, pack=pack_with({"liveness-probe": {"severity": "warning"}}))
    cases = junit(report).iter("testcase")
    case = next(
        c
        for c in cases
        if c.get("name") == "liveness-probe" and c.get("classname", "").endswith("/web")
    )
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "warning"


def test_junit_input_errors_are_error_cases() -> None:
    report = run("a: [unclosed\n", name="broken.yaml", expect_errors=True)
    root = junit(report)
    assert_counts_consistent(root)
    assert root.get("errors") == "1"
    (suite,) = [s for s in root.findall("testsuite") if s.get("errors") == "1"]
    assert suite.get("name", "").endswith("broken.yaml")
    error = suite.find("testcase/error")
    assert error is not None and error.get("message") == report.errors[0].message


def test_junit_resources_without_findings_pass() -> None:
    clean = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: autobot-config, namespace: autobot-system}
data: {log-level: info}
"""
    report = run(MANIFEST + "---\n" + clean)
    root = junit(report)
    assert_counts_consistent(root)
    passing = [c for c in root.iter("testcase") if c.get("name") == "all rules"]
    assert [c.get("classname") for c in passing] == ["ConfigMap/autobot-system/autobot-config"]
    assert all(len(c) == 0 for c in passing)


def test_junit_is_valid_xml_with_odd_characters() -> None:
    odd = "bell\x07 nul\x00 esc\x1b <tag> & \"quoted\" 'single' ]]> surrogate \ud800 é ✓"
    report = Report(
        findings=[manual_finding(message=odd, fix="fix <it> & \x0b go")],
        errors=[InputError("odd\x01.yaml", 2, "bad \x02 input <x>")],
        resources=1,
        files=2,
    )
    root = junit(report)
    assert_counts_consistent(root)
    failure = next(root.iter("failure"))
    message = failure.get("message") or ""
    assert "<tag> & \"quoted\" 'single' ]]>" in message and "é ✓" in message
    assert "\x07" not in message and "\\x07" in message
    assert "fix <it> &" in (failure.text or "")


# --- github ---------------------------------------------------------------------------


def test_github_escaping_matches_the_toolkit() -> None:
    assert escape_data("100% a,b: c\r\nd") == "100%25 a,b: c%0D%0Ad"
    assert escape_property("100% a,b: c\r\nd") == "100%25 a%2Cb%3A c%0D%0Ad"


def test_github_annotation_lines() -> None:
    finding = manual_finding(
        message="port 80, proto: TCP at 100%\nsecond line",
        fix="use 8080: really, now",
        file="dir/a,b:c.yaml",
        line=7,
    )
    warning = manual_finding(rule="image-tag", severity=Severity.WARNING, line=8, path=("x",))
    info = manual_finding(rule="schema", severity=Severity.INFO, line=9, path=("y",))
    error = InputError("broken: yes.yaml", 3, "invalid YAML: 50% off,\nreally")
    report = Report(findings=[finding, warning, info], errors=[error], resources=1, files=2)
    lines = render(report, "github").splitlines()
    assert lines == [
        "::error file=broken%3A yes.yaml,line=3::invalid YAML: 50%25 off,%0Areally",
        "::error file=dir/a%2Cb%3Ac.yaml,line=7,title=liveness-probe Deployment/autobot-system/web"
        "::port 80, proto: TCP at 100%25%0Asecond line Fix: use 8080: really, now",
        "::warning file=manifest.yaml,line=8,title=image-tag Deployment/autobot-system/web"
        "::container 'web' has no livenessProbe Fix: Add a livenessProbe.",
        "::notice file=manifest.yaml,line=9,title=schema Deployment/autobot-system/web"
        "::container 'web' has no livenessProbe Fix: Add a livenessProbe.",
        summary_line(report, color=False),
    ]


def test_github_from_the_engine(report: Report) -> None:
    lines = render(report, "github", color=True).splitlines()
    assert len(lines) == len(report.findings) + 1
    assert lines[-1] == summary_line(report, color=False)
    assert "\033[" not in "".join(lines)
    finding = only(report.findings, "liveness-probe", "web")
    expected = (
        "::error file=manifest.yaml,line=11,title=liveness-probe Deployment/autobot-system/web::"
        + escape_data(f"{finding.message} Fix: {finding.fix}")
    )
    assert expected in lines


# --- text -----------------------------------------------------------------------------


def test_text_groups_by_file_and_ends_with_the_summary() -> None:
    first, second = run(BROKEN, name="a.yaml"), run(BROKEN, name="b.yaml")
    report = Report(findings=first.findings + second.findings, resources=2, files=2)
    output = render(report, "text")
    lines = output.splitlines()
    assert lines.count("a.yaml") == 1 and lines.count("b.yaml") == 1
    assert lines.index("a.yaml") < lines.index("b.yaml")
    between = lines[lines.index("a.yaml") + 1 : lines.index("b.yaml")]
    assert sum(1 for line in between if "liveness-probe" in line) == 1
    assert output.endswith(summary_line(report, color=False) + "\n")


def test_text_colour_only_when_asked(report: Report) -> None:
    assert "\033[" not in render(report, "text")
    coloured = render(report, "text", color=True)
    assert "\033[31m" in coloured and coloured.rstrip("\n").endswith("\033[0m")


def test_sarif_tells_apart_two_findings_on_one_field_across_runs() -> None:
    # The cpu request fixed and the memory request broken: a new alert, not the old one.
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ghcr.io/mrveiss/web:1.0
        resources:
          requests: {REQUEST}
"""

    def request_fingerprints(request: str) -> dict[str, str]:
        text = deployment.replace("{REQUEST}", request)
        return {
            result["message"]["text"]: result["partialFingerprints"]["autobotGuard/v2"]
            for result in sarif(run(text))["runs"][0]["results"]
            if result["ruleId"] == "resource-requests"
        }

    before, after = request_fingerprints("{memory: 128Mi}"), request_fingerprints("{cpu: 100m}")
    assert len(before) == len(after) == 1
    assert "cpu" in next(iter(before)) and "memory" in next(iter(after))
    assert set(before.values()).isdisjoint(after.values())


def test_sarif_describes_the_rego_rules_from_their_policy_source(tmp_path: Path) -> None:
    from autobot_guard.check import CheckOptions, run_check

    path = tmp_path / "x.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: default}\n"
        "spec:\n  selector: {matchLabels: {app: x}}\n  template:\n"
        "    metadata: {labels: {app: x}}\n"
        '    spec:\n      containers: [{name: c, image: "quay.io/x:1.0"}]\n'
    )
    report = run_check(CheckOptions([str(path)], rego="embedded"))
    rules = {r["id"]: r for r in sarif(report)["runs"][0]["tool"]["driver"]["rules"]}
    described = rules["approved-registry"]
    assert described["shortDescription"]["text"].startswith("Images come only from")
    assert "Rego policy: images.rego (package main.images)" in described["help"]["text"]
    assert described["defaultConfiguration"] == {"level": "error"}  # a deny rule
    assert described["defaultConfiguration"] == {"level": "error"}  # a deny rule
