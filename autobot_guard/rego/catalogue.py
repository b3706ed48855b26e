"""The Rego policies as `autobot-guard rules` and `explain` show them, read from source.

A policy's documentation is the comment block above its `package` line; its rule ids are
the `"rule": "<id>"` literals of its results, with the severity of the rule they are in
(`deny`/`violation`: error, `warn`: warning).
"""

from __future__ import annotations

from dataclasses import dataclass

from .policies import RULE_HEAD, RULE_ID, PolicyFile, PolicySet
from .results import rule_kind


@dataclass(frozen=True, slots=True)
class RegoRule:
    id: str
    severity: str  # error | warning
    file: str  # relative to the policy directory
    package: str
    documentation: str  # the comment block above `package`

    @property
    def summary(self) -> str:
        text = " ".join(self.documentation.split())  # one line, as `rules` lists it
        first = text.split(". ")[0].split(": ")[0].strip().rstrip(".")
        if len(first) > 90:
            first = first[:89].rsplit(" ", 1)[0] + "…"
        return first or f"Rego policy {self.package}"


def rego_rules(policies: PolicySet) -> list[RegoRule]:
    """Every rule id the policies report, once, in file order."""
    found: dict[str, RegoRule] = {}
    for module in policies.modules:
        heads = [(m.start(), rule_kind(m.group(1))) for m in RULE_HEAD.finditer(module.source)]
        for match in RULE_ID.finditer(module.source):
            kinds = [kind for start, kind in heads if start < match.start() and kind]
            severity = "warning" if kinds and kinds[-1] == "warning" else "error"
            rule_id = match.group(1)
            if rule_id not in found:
                found[rule_id] = RegoRule(
                    rule_id, severity, module.name, module.package, _documentation(module)
                )
    return list(found.values())


def _documentation(module: PolicyFile) -> str:
    lines = []
    for line in module.source.splitlines():
        if line.startswith("package "):
            break
        lines.append(line.removeprefix("#").removeprefix(" ") if line.startswith("#") else "")
    return "\n".join(lines).strip()
