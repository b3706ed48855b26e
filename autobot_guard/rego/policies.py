"""The Rego files of a policy directory, read (not evaluated): packages, rule names, ids.

Both engines take the namespaces to evaluate from here, so they agree on what runs:
every package with `deny`/`violation`/`warn` rules (conftest's rule-name patterns), the
ones under `main.combine` once on all documents together (conftest `--combine`), the
others once per document. `*_test.rego` files hold `test_` rules for `conftest verify`
and are not evaluated by `check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..check import UsageError

COMBINE_NAMESPACE = "main.combine"
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$", re.M)
# A rule head at the start of a line (bodies are indented): the names conftest queries.
_RULE = re.compile(
    r"^(?:default\s+)?((?:deny|violation|warn)(?:_[A-Za-z0-9]+)*|exception)"
    r"(?=\s*(?:contains\b|if\b|:=|=|\[|\{))",
    re.M,
)
_RULE_ID = re.compile(r'"rule"\s*:\s*"([^"\\\s]+)"')


@dataclass(frozen=True, slots=True)
class PolicyFile:
    name: str  # path relative to the policy directory, as messages show it
    path: Path
    source: str
    package: str
    rules: tuple[str, ...]

    @property
    def is_test(self) -> bool:
        return self.path.name.endswith("_test.rego")


@dataclass(frozen=True)
class PolicySet:
    directory: Path
    files: tuple[PolicyFile, ...]

    @property
    def modules(self) -> tuple[PolicyFile, ...]:
        """The files `check` evaluates (every .rego file but the `_test.rego` ones)."""
        return tuple(f for f in self.files if not f.is_test)

    @cached_property
    def namespaces(self) -> dict[str, tuple[str, ...]]:
        """namespace -> its deny/violation/warn/exception rule names, sorted."""
        found: dict[str, set[str]] = {}
        for module in self.modules:
            found.setdefault(module.package, set()).update(module.rules)
        return {
            ns: tuple(sorted(rules))
            for ns, rules in sorted(found.items())
            if any(rule != "exception" for rule in rules)
        }

    def per_document(self) -> dict[str, tuple[str, ...]]:
        return {ns: r for ns, r in self.namespaces.items() if not is_combine(ns)}

    def combined(self) -> dict[str, tuple[str, ...]]:
        return {ns: r for ns, r in self.namespaces.items() if is_combine(ns)}

    @cached_property
    def rule_ids(self) -> frozenset[str]:
        """Ids findings of these policies can carry: `conftest:<namespace>` and every
        literal `"rule": "<id>"`; exemption annotations may name them."""
        ids = {f"conftest:{ns}" for ns in self.namespaces}
        for module in self.modules:
            ids.update(_RULE_ID.findall(module.source))
        return frozenset(ids)


def is_combine(namespace: str) -> bool:
    return namespace == COMBINE_NAMESPACE or namespace.startswith(COMBINE_NAMESPACE + ".")


def load_policy_set(directory: str | Path) -> PolicySet:
    """Every .rego file under `directory` (recursive, sorted); UsageError when unusable."""
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"Rego policy directory {root} does not exist or is not a directory")
    files = []
    for path in sorted(root.rglob("*.rego")):
        name = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read Rego policy: {exc}") from None
        package = _PACKAGE.search(source)
        if package is None:
            raise UsageError(f"{path}:1: Rego syntax error: no `package` declaration")
        rules = tuple(sorted({match.group(1) for match in _RULE.finditer(source)}))
        files.append(PolicyFile(name, path, source, package.group(1), rules))
    if not files:
        raise UsageError(f"no .rego files in Rego policy directory {root}")
    return PolicySet(root, tuple(files))
