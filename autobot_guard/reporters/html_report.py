"""`--format html`: one self-contained page to read a report in a browser or print it.

The summary counts, bar charts (inline SVG) of the findings per rule and per namespace
with their figures as tables, the findings grouped by resource (file:line, severity, rule
linked to its documentation, field, message, fix), the exempted findings with their
reasons, the input errors and what a baseline suppressed. Filters by severity and rule
are a few lines of plain script (html_report.js); the styles (html_report.css) follow the
reader's light or dark scheme and print.

A manifest is untrusted input: every value from it goes through `html.escape`, and the
page's Content-Security-Policy allows only its own style and script (by hash) and no
network fetch at all, so a value that escaped anyway could still not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib.resources import files
from urllib.parse import quote

from .. import __version__
from ..findings import Finding, InputError, Report, Severity
from ..printable import visible
from ..rules import RULES_BY_ID
from . import plural
from .sarif_report import workspace_path
from .text_report import summary_line

RULE_DOCS = "docs/rules.md"  # relative link: one heading per rule id, the id as anchor
MAX_BARS = 25  # per chart; the rest are summed in one bar, so hostile input stays readable
MAX_LABEL = 60  # characters of a bar's label (the tables hold the whole name)
SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)
CLUSTER_SCOPED = "(cluster-scoped)"


def e(value: object) -> str:
    """Text or attribute value, escaped: every value that reaches the page goes through here."""
    return html.escape(visible(str(value), keep="\t\n"), quote=True)


@cache
def _asset(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render(report: Report, *, color: bool = False) -> str:
    _file.cache_clear()  # paths are shown relative to the working directory of this call
    style, script = _asset("html_report.css"), _asset("html_report.js")
    policy = (
        f"default-src 'none'; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    summary = report.summary()
    title = f"autobot-guard: {', '.join(_count_words(report))}"
    body = [
        '<a class="skip" href="#findings">Skip to the findings</a>',
        "<header>",
        "<h1>autobot-guard report</h1>",
        f'<p id="summary-line">{e(summary_line(report))}</p>',
        f'<p class="muted">autobot-guard {e(__version__)}</p>',
        '<nav aria-label="Sections"><ul>',
        *(f'<li><a href="#{anchor}">{label}</a></li>' for anchor, label in _sections(report)),
        "</ul></nav>",
        "</header>",
        "<main>",
        *_summary(summary),
        *_charts(report),
        *_input_errors(report.errors),
        *_findings(report),
        *_exempted(report.exempted),
        *_baseline(report),
        "</main>",
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{e(title)}</title>",
            f"<style>{style}</style>",
            "</head>",
            "<body>",
            *body,
            f"<script>{script}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _count_words(report: Report) -> list[str]:
    summary = report.summary()
    words = [
        plural(summary["errors"], "error"),
        plural(summary["warnings"], "warning"),
        f"{summary['infos']} info",
        f"{summary['exempted']} exempted",
    ]
    if report.errors:
        words.append(plural(len(report.errors), "input error"))
    return words


def _sections(report: Report) -> list[tuple[str, str]]:
    sections = [("summary", "Summary"), ("charts", "Charts")]
    if report.errors:
        sections.append(("input-errors", "Input errors"))
    sections.append(("findings", "Findings"))
    if report.exempted:
        sections.append(("exempted", "Exempted"))
    if report.baseline is not None:
        sections.append(("baseline", "Baseline"))
    return sections


def _summary(summary: dict[str, int]) -> list[str]:
    labels = {
        "resources": "resources",
        "errors": "errors",
        "warnings": "warnings",
        "infos": "infos",
        "exempted": "exempted",
        "inputErrors": "input errors",
    }
    items = [
        f'<div><dt>{label}</dt><dd id="count-{key}">{summary[key]}</dd></div>'
        for key, label in labels.items()
    ]
    return [
        '<section aria-labelledby="summary">',
        '<h2 id="summary">Summary</h2>',
        '<dl class="counts">',
        *items,
        "</dl>",
        "</section>",
    ]


# --- charts ---------------------------------------------------------------------------


def _charts(report: Report) -> list[str]:
    lines = ['<section aria-labelledby="charts">', '<h2 id="charts">Charts</h2>']
    if not report.findings:
        return [*lines, "<p>No findings to chart.</p>", "</section>"]
    per_rule = _tally(report.findings, lambda f: f.rule)
    per_namespace = _tally(report.findings, lambda f: f.resource.namespace or CLUSTER_SCOPED)
    lines += [
        '<ul class="legend" aria-label="Legend">',
        *(
            f'<li><span class="swatch swatch-{s.value}" aria-hidden="true"></span>{s.value}</li>'
            for s in SEVERITIES
        ),
        "</ul>",
        *_chart("rules", "Findings per rule", "Rule", per_rule, lambda r: _rule_cell(report, r)),
        *_chart("namespaces", "Findings per namespace", "Namespace", per_namespace, e),
        "</section>",
    ]
    return lines


Tally = list[tuple[str, Counter[Severity]]]


def _tally(findings: Iterable[Finding], key: object) -> Tally:
    """(name, counts per severity), the most findings first."""
    groups: dict[str, Counter[Severity]] = {}
    for finding in findings:
        groups.setdefault(key(finding), Counter())[finding.severity] += 1  # type: ignore[operator]
    return sorted(groups.items(), key=lambda item: (-item[1].total(), item[0]))


def _chart(slug: str, caption: str, noun: str, tally: Tally, cell: object) -> list[str]:
    bars = tally[:MAX_BARS]
    if len(tally) > MAX_BARS:
        rest: Counter[Severity] = Counter()
        for _, counts in tally[MAX_BARS:]:
            rest.update(counts)
        bars = [*bars, (f"({len(tally) - MAX_BARS} more)", rest)]
    return [
        f'<figure id="chart-{slug}">',
        f"<figcaption>{caption}</figcaption>",
        _svg(slug, caption, bars),
        _figures_table(slug, caption, noun, tally, cell),
        "</figure>",
    ]


def _svg(slug: str, caption: str, bars: Tally) -> str:
    width, label_h, bar_h, gap, count_w = 480, 16, 14, 10, 48
    row = label_h + bar_h + gap
    most = max(counts.total() for _, counts in bars)
    scale = (width - count_w) / most
    height = row * len(bars)
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" '
        f'aria-labelledby="svg-{slug}-title svg-{slug}-desc">',
        f'<title id="svg-{slug}-title">{e(caption)}</title>',
        f'<desc id="svg-{slug}-desc">Bars stacked by severity, longest first; '
        "the table below gives the figures.</desc>",
    ]
    for index, (name, counts) in enumerate(bars):
        top = index * row
        label = name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"
        parts.append(f'<text x="0" y="{top + 12}">{e(label)}</text>')
        parts.append(
            f'<rect class="track" x="0" y="{top + label_h}" width="{width - count_w}" '
            f'height="{bar_h}"/>'
        )
        x = 0.0
        for severity in SEVERITIES:
            if not counts[severity]:
                continue
            span = counts[severity] * scale
            parts.append(
                f'<rect class="bar-{severity.value}" x="{x:.1f}" y="{top + label_h}" '
                f'width="{span:.1f}" height="{bar_h}">'
                f"<title>{e(name)}: {plural(counts[severity], severity.value)}</title></rect>"
            )
            x += span
        parts.append(f'<text x="{x + 6:.1f}" y="{top + label_h + 11}">{counts.total()}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _figures_table(slug: str, caption: str, noun: str, tally: Tally, cell: object) -> str:
    head = "".join(f'<th scope="col" class="num">{s.value}</th>' for s in SEVERITIES)
    rows = []
    for name, counts in tally:
        figures = "".join(f'<td class="num">{counts[s]}</td>' for s in SEVERITIES)
        rows.append(
            f'<tr><th scope="row">{cell(name)}</th>{figures}'  # type: ignore[operator]
            f'<td class="num">{counts.total()}</td></tr>'
        )
    return (
        f'<table id="table-{slug}"><caption>{e(caption)}: the figures</caption>'
        f'<thead><tr><th scope="col">{noun}</th>{head}<th scope="col" class="num">total</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _rule_cell(report: Report, rule: str) -> str:
    """The rule's id, linked to its documentation, and its one-line summary."""
    described = RULES_BY_ID.get(rule)
    summary = described.summary if described else report.rule_docs.get(rule, ("",))[0]
    return _rule_link(rule) + (f' <span class="muted">{e(summary)}</span>' if summary else "")


def _rule_link(rule: str) -> str:
    return f'<a href="{e(RULE_DOCS)}#{e(quote(rule, safe=""))}">{e(rule)}</a>'


# --- tables ---------------------------------------------------------------------------


def _where(file: str, line: int | None) -> str:
    """`path/to/file.yaml:12`, allowed to wrap after each slash only."""
    return _file(file) + (f":{line}" if line else "")


@lru_cache(maxsize=4096)
def _file(file: str) -> str:
    return e(workspace_path(file) if file else "<input>").replace("/", "/<wbr>")


def _severity(severity: Severity) -> str:
    return f'<span class="sev sev-{severity.value}">{severity.value}</span>'


def _input_errors(errors: list[InputError]) -> list[str]:
    if not errors:
        return []
    rows = [
        f'<tr><th scope="row" class="loc"><code>{_where(error.file, error.line)}</code></th>'
        f'<td class="message">{e(error.message)}</td></tr>'
        for error in errors
    ]
    return [
        '<section aria-labelledby="input-errors">',
        '<h2 id="input-errors">Input errors</h2>',
        "<p>These files or documents could not be checked.</p>",
        f'<div class="scroll"><table><caption>{plural(len(errors), "input error")}</caption>',
        '<thead><tr><th scope="col">Location</th><th scope="col">Error</th></tr></thead>',
        f"<tbody>{''.join(rows)}</tbody></table></div>",
        "</section>",
    ]


def _findings(report: Report) -> list[str]:
    lines = ['<section id="findings" aria-labelledby="findings-heading">']
    lines.append('<h2 id="findings-heading">Findings</h2>')
    if not report.findings:
        return [*lines, "<p>No findings.</p>", "</section>"]
    lines += _filters(report.findings)
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in report.findings:  # report order: by file, then line
        groups.setdefault((finding.file, finding.resource.display()), []).append(finding)
    for (file, _), group in groups.items():
        ref = group[0].resource
        scope = f"namespace {ref.namespace}" if ref.namespace else "cluster-scoped"
        heading = f"{ref.kind} {ref.name}"
        rows = [_finding_row(finding) for finding in group]
        lines += [
            '<section class="resource">',
            f"<h3>{e(heading)}</h3>",
            f'<p class="muted">{e(ref.api_version)} · {e(scope)} · '
            f"<code>{_where(file, None)}</code></p>",
            f'<div class="scroll"><table><caption>{e(plural(len(group), "finding"))} on '
            f"{e(ref.display())}</caption>",
            '<thead><tr><th scope="col">Location</th><th scope="col">Severity</th>'
            '<th scope="col">Rule</th><th scope="col">Field</th><th scope="col">Message</th>'
            '<th scope="col">Fix</th></tr></thead>',
            f"<tbody>{''.join(rows)}</tbody></table></div>",
            "</section>",
        ]
    lines.append("</section>")
    return lines


def _filters(findings: list[Finding]) -> list[str]:
    present = {finding.severity for finding in findings}
    boxes = "".join(
        f'<label><input type="checkbox" name="severity" value="{s.value}" checked> '
        f"{s.value}</label>"
        for s in SEVERITIES
        if s in present
    )
    rules = sorted({finding.rule for finding in findings})
    options = "".join(f'<option value="{e(rule)}">{e(rule)}</option>' for rule in rules)
    return [
        '<form id="filters" hidden autocomplete="off" aria-label="Filter the findings">',
        f"<fieldset><legend>Severity</legend>{boxes}</fieldset>",
        '<label>Rule <select id="rule-filter" name="rule">'
        f'<option value="">all rules</option>{options}</select></label>',
        '<button type="reset">Show all</button>',
        "</form>",
        f'<p id="shown" aria-live="polite">Showing {len(findings)} of '
        f"{plural(len(findings), 'finding')}.</p>",
    ]


def _finding_row(finding: Finding) -> str:
    return (
        f'<tr data-severity="{finding.severity.value}" data-rule="{e(finding.rule)}">'
        f'<th scope="row" class="loc"><code>{_where(finding.file, finding.line)}</code></th>'
        f"<td>{_severity(finding.severity)}</td>"
        f'<td class="rule">{_rule_link(finding.rule)}</td>'
        f'<td class="field"><code>{e(finding.path_text)}</code></td>'
        f'<td class="message">{e(finding.message)}</td>'
        f"<td>{e(finding.fix)}</td></tr>"
    )


def _exempted(exempted: list[Finding]) -> list[str]:
    if not exempted:
        return []
    rows = [
        f'<tr><th scope="row" class="loc"><code>{_where(f.file, f.line)}</code></th>'
        f"<td>{e(f.resource.display())}</td><td>{_severity(f.severity)}</td>"
        f'<td class="rule">{_rule_link(f.rule)}</td><td class="message">{e(f.message)}</td>'
        f'<td class="reason">{e(f.exempt_reason)}</td></tr>'
        for f in exempted
    ]
    return [
        '<section aria-labelledby="exempted">',
        '<h2 id="exempted">Exempted findings</h2>',
        "<p>Found, but exempted by an annotation on the resource, with its reason.</p>",
        '<div class="scroll"><table>',
        f"<caption>{plural(len(exempted), 'exempted finding')}</caption>",
        '<thead><tr><th scope="col">Location</th><th scope="col">Resource</th>'
        '<th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Message</th>'
        '<th scope="col">Reason</th></tr></thead>',
        f"<tbody>{''.join(rows)}</tbody></table></div>",
        "</section>",
    ]


def _baseline(report: Report) -> list[str]:
    outcome = report.baseline
    if outcome is None:
        return []
    lines = [
        '<section aria-labelledby="baseline">',
        f'<h2 id="baseline">Baseline <code>{e(outcome.file)}</code></h2>',
        f"<p>{plural(outcome.suppressed, 'known finding')} not reported; "
        f"{plural(len(outcome.fixed), 'fixed since the baseline', '')}.</p>",
    ]
    if outcome.fixed:
        lines += ["<ul>", *(f"<li>{e(entry.display())}</li>" for entry in outcome.fixed), "</ul>"]
    return [*lines, "</section>"]
