"""`--format html` as markup, without a browser: what the page holds and what it may load.

tests/test_html_browser.py opens the same pages in Chromium; these tests run everywhere
and read the markup with the standard library's HTML parser, as a browser tokenises it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autobot_guard.findings import InputError, Report, ResourceRef, Severity
from autobot_guard.gate.baseline import Entry, Outcome
from autobot_guard.reporters import render
from autobot_guard.reporters.html_report import MAX_BARS
from tests.test_reporters import manual_finding as finding
from tests.util import check_paths

HOSTILE = Path(__file__).parent / "fixtures" / "html" / "hostile.yaml"
# The elements the reporter writes; a manifest value that became markup would add others.
OWN_TAGS = {
    "html", "head", "meta", "title", "style", "body", "a", "header", "h1", "h2", "h3", "p",
    "nav", "ul", "li", "main", "section", "dl", "div", "dt", "dd", "span", "figure",
    "figcaption", "svg", "desc", "text", "rect", "table", "caption", "thead", "tbody", "tr",
    "th", "td", "code", "wbr", "form", "fieldset", "legend", "label", "input", "select",
    "option", "button", "script",
}  # fmt: skip


class Page(HTMLParser):
    """Tags, attributes and text of a page, and the raw content of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._inside = tag if tag in self.raw else None

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.raw[self._inside].append(data)
        else:
            self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def hostile() -> str:
    report = check_paths([HOSTILE])
    report.errors.append(InputError("x.yaml", 6, 'invalid YAML: duplicate key "<script>x"'))
    return render(report, "html")


def test_manifest_values_never_become_markup(hostile: str) -> None:
    page = parse(hostile)
    assert {tag for tag, _ in page.tags} <= OWN_TAGS
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert [tag for tag, _ in page.tags].count("style") == 1
    for tag, attributes in page.tags:
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
    text = "".join(page.text)
    for value in (
        "<script>alert('name')</script>",
        '"><img src=x onerror="document.title=\'pwned-namespace\'">',
        "</td></tr></table><script>document.title='pwned-reason'</script>",
        "container '<style>body{display:none}</style>'",
        'duplicate key "<script>x"',
    ):
        assert value in text, value


def test_the_page_loads_nothing_and_runs_only_its_own_script(hostile: str) -> None:
    page = parse(hostile)
    for tag, attributes in page.tags:
        assert "src" not in attributes and "srcset" not in attributes, tag
        href = attributes.get("href")
        if href is not None:  # a section of the page, or the rule's documentation
            assert re.fullmatch(r"#[a-z-]+|docs/rules\.md#[a-z0-9-]+", href), href
    policy = next(
        attributes["content"]
        for tag, attributes in page.tags
        if tag == "meta" and attributes.get("http-equiv") == "Content-Security-Policy"
    )
    assert policy is not None and policy.startswith("default-src 'none';")
    for kind in ("style", "script"):
        (content,) = page.raw[kind]
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        assert f"{kind}-src 'sha256-{digest}';" in policy, kind


def test_every_rule_links_its_documentation_by_id() -> None:
    report = Report(
        findings=[finding(), finding(rule="image-tag", line=12), finding(rule="rego-only")],
        resources=1,
    )
    hrefs = [a.get("href") for tag, a in parse(render(report, "html")).tags if tag == "a"]
    for rule in ("liveness-probe", "image-tag", "rego-only"):
        assert f"docs/rules.md#{rule}" in hrefs, rule


def test_summary_sections_and_filters_follow_the_report() -> None:
    exempt = finding(line=20, exempt_reason="covered by RUNBOOK-12", rule="pdb")
    report = Report(resources=3, files=2)
    report.add([finding(), finding(severity=Severity.INFO, rule="schema", line=3), exempt])
    report.errors.append(InputError("bad.yaml", 3, "invalid YAML: x"))
    text = render(report, "html")
    page = parse(text)
    counts = dict(re.findall(r'<dd id="count-(\w+)">(\d+)</dd>', text))
    assert counts == {
        "resources": "3", "errors": "1", "warnings": "0", "infos": "1", "exempted": "1",
        "inputErrors": "1",
    }  # fmt: skip
    words = "".join(page.text)
    assert "bad.yaml:3" in words and "invalid YAML: x" in words
    assert "covered by RUNBOOK-12" in words
    # A severity checkbox for each severity present, a rule option for each rule present.
    boxes = [a["value"] for tag, a in page.tags if tag == "input" and a.get("name") == "severity"]
    assert boxes == ["error", "info"]
    options = [a["value"] for tag, a in page.tags if tag == "option"]
    assert options == ["", "liveness-probe", "schema"]
    # Tables name their columns and rows for assistive technology.
    assert text.count("<caption>") == text.count("<table")
    assert all(a.get("scope") in ("col", "row") for tag, a in page.tags if tag == "th")


def test_a_clean_report_says_so_without_charts_or_filters() -> None:
    text = render(Report(resources=2, files=1), "html")
    assert "<p>No findings.</p>" in text and "<p>No findings to chart.</p>" in text
    assert "<form" not in text and "<svg" not in text


def test_baseline_section() -> None:
    report = Report(files=1)
    entry = Entry("r|K/n|p", "liveness-probe", "Deployment/ns/<web>", "w.yaml", "spec", "gone")
    report.baseline = Outcome("base.json", suppressed=4, fixed=[entry])
    words = "".join(parse(render(report, "html")).text)
    assert "4 known findings not reported; 1 fixed since the baseline." in words
    assert "liveness-probe Deployment/ns/<web> spec (w.yaml)" in words


def test_charts_keep_to_a_readable_number_of_bars() -> None:
    findings = [
        finding(resource=ResourceRef("v1", "Service", f"team-{n:03}", "web"), line=n)
        for n in range(1, MAX_BARS + 11)
    ]
    text = render(Report(findings=findings, resources=len(findings)), "html")
    chart = re.search(r'<figure id="chart-namespaces">.*?</svg>', text, re.S)
    assert chart is not None
    labels = re.findall(r'<text x="0" y="\d+">([^<]*)</text>', chart.group(0))
    assert len(labels) == MAX_BARS + 1 and labels[-1] == "(10 more)"
    table = re.search(r'<table id="table-namespaces">.*?</table>', text, re.S)
    assert table is not None and table.group(0).count("<tr>") == 1 + MAX_BARS + 10


def test_invisible_characters_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A bidi override (U+202E) makes `ns\\u202egnp.exe` read "nsexe.png"; a NUL or an
    escape makes the page binary to grep. Both are written as visible \\u escapes."""
    from click.testing import CliRunner

    from autobot_guard.cli import main

    manifest = tmp_path / "spoof.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        '  name: "web\\u202egnp.exe"\n  namespace: "team\\u2066a\\u2069\\u200f"\n'
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
        '    metadata: {labels: {app: web, logging: "\\x00\\x1b[31m"}}\n'
        "    spec: {containers: [{name: web, image: nginx}]}\n",
        encoding="utf-8",
    )
    output = tmp_path / "report.html"
    result = CliRunner().invoke(
        main, ["check", str(manifest), "--rego", "off", "--format", "html", "-o", str(output)]
    )
    assert result.exit_code == 1, result.output
    text = output.read_text(encoding="utf-8")
    for character in "\u202e\u2066\u2069\u200f\x00\x1b":
        assert character not in text, repr(character)
    words = "".join(parse(text).text)
    assert "Deployment web\\u202egnp.exe" in words
    assert "namespace team\\u2066a\\u2069\\u200f" in words


def test_a_rule_id_with_quotes_stays_inside_its_attributes() -> None:
    """A Rego result's `rule` may come from the input (`"rule": input.metadata.name`): it
    lands in data-rule and the filter's option value, and must not open an attribute."""
    rule = 'x" onmouseover="document.title=\'pwned\'" data-x="<'
    page = parse(render(Report(findings=[finding(rule=rule)], resources=1), "html"))
    for tag, attributes in page.tags:
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
    rows = [a for tag, a in page.tags if tag == "tr" and "data-rule" in a]
    options = [a["value"] for tag, a in page.tags if tag == "option" and a.get("value")]
    assert [row["data-rule"] for row in rows] == [rule] and options == [rule]
