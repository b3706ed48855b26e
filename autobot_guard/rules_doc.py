"""The rule catalogue as Markdown: `autobot-guard rules --format markdown`, i.e. docs/rules.md.

Everything comes from the registry (each rule class: id, default severity, the kinds it
judges and reads, docstring, fix, settings, examples) and from the Rego catalogue, so the page
cannot say anything the code does not; `tests/test_docs.py` fails when the committed
docs/rules.md differs from what this module renders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rego.catalogue import RegoRule
    from .rules.base import Rule

REGENERATE = "autobot-guard rules --format markdown > docs/rules.md"
_COMMON_SETTINGS = ("enabled", "severity")  # every rule has them: documented once


@dataclass(frozen=True, slots=True)
class Parameter:
    """One setting of a rule in the policy pack (`rules.<id>.<name>`)."""

    name: str
    default: object
    description: str


def parameters(rule: type[Rule]) -> list[Parameter]:
    """The rule's own settings, as the policy pack spells them, with their defaults."""
    return [
        Parameter(
            info.alias or name,
            info.get_default(call_default_factory=True),
            info.description or "",
        )
        for name, info in rule.Settings.model_fields.items()
        if name not in _COMMON_SETTINGS
    ]


def render_markdown(rules: Sequence[type[Rule]], rego: Sequence[RegoRule], rego_source: str) -> str:
    """The whole page: an index, then one section per built-in rule, then the Rego ones."""
    out = [
        "# Rules",
        "",
        f"<!-- Generated from the rule registry by `{REGENERATE}`; do not edit. -->",
        "",
        "Rule ids are a stable public contract. Severities are defaults: the policy pack",
        "sets them (`rules.<id>.severity`), and every rule, built-in or Rego, can be",
        "switched off there (`rules.<id>.enabled: false`); see",
        "[configuration](configuration.md).",
        "`autobot-guard explain <id>` prints the same text on a terminal.",
        "",
        "| id | default | checks |",
        "|---|---|---|",
    ]
    out += [f"| [`{r.id}`](#{r.id}) | {r.default_severity.value} | {r.summary} |" for r in rules]
    if rego:
        out += ["", f"Rego policies ({rego_source}, see [Rego policies](rego.md)):", ""]
        out += ["| id | default | checks |", "|---|---|---|"]
        out += [f"| [`{r.id}`](#{r.id}) | {r.severity} | {r.summary} |" for r in rego]
    out += ["", "## Built-in rules"]
    for rule in rules:
        out += ["", *_builtin(rule)]
    if rego:
        out += ["", "## Rego policies"]
        for entry in rego:
            out += ["", *_rego(entry)]
    return "\n".join(out) + "\n"


def _builtin(rule: type[Rule]) -> list[str]:
    kinds = ", ".join(sorted(rule.kinds)) if rule.kinds is not None else "every object"
    facts = f"Default severity: **{rule.default_severity.value}**. Judges: {kinds}."
    if rule.reads:
        facts += f" Reads from the checked set: {', '.join(sorted(rule.reads))}"
        facts += " (cross-resource)." if rule.cross_resource else "."
    out = [
        f"### {rule.id}",
        "",
        facts,
        "",
        rule.documentation(),
        "",
        f"How to fix: {rule.fix}",
    ]
    params = parameters(rule)
    if params:
        out += ["", f"Parameters (policy pack: `rules.{rule.id}`):", ""]
        out += ["| parameter | default | meaning |", "|---|---|---|"]
        out += [
            f"| `{p.name}` | `{json.dumps(p.default)}` | {_cell(p.description)} |" for p in params
        ]
    out += ["", "Failing example:", "", *_yaml(rule.failing_example)]
    out += ["", "Passing example:", "", *_yaml(rule.passing_example)]
    return out


def _rego(entry: RegoRule) -> list[str]:
    return [
        f"### {entry.id}",
        "",
        f"Default severity: **{entry.severity}**. Policy: `{entry.file}` "
        f"(package `{entry.package}`).",
        "",
        entry.documentation,
    ]


def _yaml(text: str) -> list[str]:
    return ["```yaml", *text.rstrip("\n").split("\n"), "```"]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
