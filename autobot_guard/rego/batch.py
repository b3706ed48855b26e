"""One Rego query for a whole batch of documents, with conftest's conventions.

`conftest test` on N files runs two queries per rule and file through a fresh
`rego.New(...)` each: about 3 ms a document for the bundled pack, 6 s for 2,000. The
batch module asks OPA the same questions in one evaluation: for every document of
`input.documents` and every deny/violation/warn rule of every policy namespace, the
rule's values `with input as` that document, and whether the namespace's `exception`
rules name the rule (as conftest does: `exception[_][_] == "<rule without prefix>"`).
The combined namespaces (`main.combine...`) see the input conftest `--combine` builds,
`[{"path", "contents"}]`, with the paths of `document_path`.

The module is generated from the policy set, so the same Rego runs in every OPA: the
conftest binary (`conftest.py`) and an OPA server (`opa_server.py`). Its answer is the
set `results` (and, for conftest, which only reports deny/warn rules, the same as
`deny`): one entry per document, namespace and rule that has values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import UsageError
from .policies import PolicySet
from .results import ERROR, Hit, check_value, rule_kind

PACKAGE = "autobot_guard.batch"
RESULTS = "results"
MARKER = "autobot-guard batch result"  # conftest needs a msg on every deny value
DOCS = "docs"


def batch_input(documents: Sequence[Any]) -> bytes:
    """`{"documents": [...]}`, the input of the batch module, as JSON for any OPA
    (pydantic-core's serializer: a third of json.dumps's time on 2,000 documents)."""
    from pydantic_core import to_json

    return b'{"documents":' + to_json(list(documents)) + b"}"


def document_path(index: int) -> str:
    """The path of resource `index` in the combined input, as conftest names a file."""
    return f"{DOCS}/{index:06d}.json"


def _ref(namespace: str, rule: str) -> str:
    """data["main"]["images"]["deny"]: any package name, quoted."""
    return "data" + "".join(f"[{json.dumps(part)}]" for part in [*namespace.split("."), rule])


def _exception_name(rule: str) -> str:
    """The name an `exception` lists to switch `rule` off (conftest's removeRulePrefix)."""
    if rule in ("deny", "violation", "warn"):
        return ""
    for prefix in ("violation_", "deny_", "warn_"):
        if rule.startswith(prefix):
            return rule[len(prefix) :]
    return rule


def _entries(namespaces: dict[str, tuple[str, ...]]) -> Iterable[str]:
    """[namespace, rule, values, excepted] of every rule, evaluated on `input`."""
    for namespace, rules in namespaces.items():
        for rule in rules:
            if rule == "exception":
                continue
            excepted = "false"
            if "exception" in rules:
                name = json.dumps(_exception_name(rule))
                excepted = f"count([1 | {_ref(namespace, 'exception')}[_][_] == {name}]) > 0"
            yield (
                f"\t[{json.dumps(namespace)}, {json.dumps(rule)}, "
                f"[value | some value in {_ref(namespace, rule)}], {excepted}],\n"
            )


def _answer(name: str, namespaces: dict[str, tuple[str, ...]]) -> str:
    """A complete rule: the entries with values. Evaluated once per `with input as`,
    so the helpers every namespace uses (pod specs, containers) are computed once."""
    body = "".join(_entries(namespaces))
    return f"{name} := [entry | some entry in [\n{body}]; entry[2] != []]\n"


def batch_module(policies: PolicySet, per_document: bool = True, combined: bool = True) -> str:
    """The Rego module (package autobot_guard.batch) that judges a batch of documents:
    with its per-document namespaces, its combined ones, or both."""
    per_document_namespaces = policies.per_document() if per_document else {}
    combined_namespaces = policies.combined() if combined else {}
    parts = [
        f"package {PACKAGE}\n\nimport rego.v1\n",
        f'deny contains {{"msg": {json.dumps(MARKER)}, "result": result}} if '
        f"some result in {RESULTS}\n",
    ]
    if per_document_namespaces:
        parts += [
            _answer("document_results", per_document_namespaces),
            f"{RESULTS} contains array.concat([index], entry) if {{\n"
            "\tsome index, document in input.documents\n"
            "\tfound := document_results with input as document\n"
            "\tsome entry in found\n}\n",
        ]
    if combined_namespaces:
        parts += [
            _answer("combined_results", combined_namespaces),
            'combined_input := [{"path": sprintf("'
            + DOCS
            + '/%06d.json", [i]), "contents": d} | some i, d in input.documents]\n',
            f'{RESULTS} contains array.concat(["combined"], entry) if {{\n'
            "\tinput.documents != []\n"
            "\tfound := combined_results with input as combined_input\n"
            "\tsome entry in found\n}\n",
        ]
    return "\n".join(parts)


def hits_of(results: Iterable[Any], documents: int) -> list[Hit]:
    """The entries of `results` -> hits; UsageError for an answer not of that shape or a
    rule value conftest would refuse (an object without a string msg)."""
    hits: list[Hit] = []
    for entry in results:
        if not (isinstance(entry, list) and len(entry) == 5):
            raise UsageError(f"unexpected answer from the Rego engine: {entry!r:.200}")
        where, namespace, rule, values, excepted = entry
        kind = rule_kind(str(rule))
        if excepted is True or kind is None or not isinstance(values, list):
            continue
        for value in values:
            if not check_value(value, str(namespace), str(rule)):
                continue
            if where == "combined":
                hits.append(Hit(_named_index(value, documents), namespace, kind, value, None))
            elif isinstance(where, int) and 0 <= where < documents:
                hits.append(Hit(where, namespace, kind, value, None))
            else:
                raise UsageError(f"the Rego engine answered for an unknown document {where!r}")
    return hits


def error_hit(index: int, reason: str, combined: bool = False) -> Hit:
    """The hit of a document (or the combined input) on which evaluation failed."""
    subject = "the combined input" if combined else "this document"
    return Hit(index, "", ERROR, {"error": reason, "subject": subject}, None)


def _named_index(value: Any, documents: int) -> int:
    """A combined result's document (its `document` path), else the first one."""
    named = value.get("document") if isinstance(value, dict) else None
    stem = named.rsplit("/", 1)[-1].split(".", 1)[0] if isinstance(named, str) else ""
    return int(stem) if stem.isdigit() and int(stem) < documents else 0
