"""`--format junit`: JUnit XML for CI dashboards (GitLab, Jenkins, Azure, test reporters).

One <testsuite> per file; one <testcase> per (resource, rule) with findings, classname the
resource and name the rule id. Error findings fail with type="error", warning and info
findings with type="warning"; exempted findings are skipped test cases; input errors are
test cases with an <error>. A resource with no finding is one passing test case named
"all rules" in its file's suite.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..findings import Finding, InputError, Report, Severity

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class _Suite:
    name: str
    cases: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)
    clean: list[str] = field(default_factory=list)
    skipped: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)


def render(report: Report, *, color: bool = False) -> str:
    suites: dict[str, _Suite] = {}

    def suite(file: str) -> _Suite:
        return suites.setdefault(file, _Suite(file))

    for finding in report.findings:
        key = (finding.resource.display(), finding.rule)
        suite(finding.file).cases.setdefault(key, []).append(finding)
    for finding in report.exempted:
        key = (finding.resource.display(), finding.rule)
        suite(finding.file).skipped.setdefault(key, []).append(finding)
    for error in report.errors:
        suite(error.file or "<input>").errors.append(error)

    named = {(f.file, f.resource) for f in [*report.findings, *report.exempted]}
    for file, resource in report.checked:
        if (file, resource) not in named:
            suite(file).clean.append(resource.display())
    root = ET.Element("testsuites", name="autobot-guard")
    for item in suites.values():
        root.append(_suite_element(item))
    _set_counts(root, list(root))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _suite_element(suite: _Suite) -> ET.Element:
    element = ET.Element("testsuite", name=_xml(suite.name))
    for (resource, rule), findings in suite.cases.items():
        case = _case(element, resource, rule, findings[0])
        worst = max(findings, key=lambda f: f.severity.rank).severity
        failure = ET.SubElement(
            case,
            "failure",
            type="error" if worst is Severity.ERROR else "warning",
            message=_xml(_summary(findings)),
        )
        failure.text = _xml("\n".join(_finding_text(f) for f in findings))
    for (resource, rule), findings in suite.skipped.items():
        case = _case(element, resource, rule, findings[0])
        reason = findings[0].exempt_reason or "no reason given"
        ET.SubElement(case, "skipped", message=_xml(f"exempted: {reason}"))
    for resource in suite.clean:
        ET.SubElement(element, "testcase", classname=_xml(resource), name="all rules")
    for error in suite.errors:
        case = ET.SubElement(element, "testcase", classname=_xml(error.file), name="input")
        if error.line:
            case.set("line", str(error.line))
        problem = ET.SubElement(case, "error", type="input-error", message=_xml(error.message))
        problem.text = _xml(error.display())
    return element


def _case(parent: ET.Element, resource: str, rule: str, first: Finding) -> ET.Element:
    case = ET.SubElement(parent, "testcase", classname=_xml(resource), name=_xml(rule))
    case.set("file", _xml(first.file))
    if first.line:  # an audited object has none
        case.set("line", str(first.line))
    return case


def _set_counts(root: ET.Element, suites: Iterable[ET.Element]) -> None:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))


def _summary(findings: list[Finding]) -> str:
    first = findings[0].message
    return first if len(findings) == 1 else f"{first} (and {len(findings) - 1} more)"


def _finding_text(finding: Finding) -> str:
    if finding.line:
        where = f"line {finding.line}" + (f", {finding.path_text}" if finding.path else "")
    else:  # an audited object: the field path is the place
        where = finding.path_text or "the object"
    return f"{where}: {finding.severity.value}: {finding.message}\n  fix: {finding.fix}"


def _xml(text: str) -> str:
    """Replace what XML 1.0 cannot represent (control characters, lone surrogates)."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
