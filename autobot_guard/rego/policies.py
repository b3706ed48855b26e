"""The Rego files of a policy directory, read (not evaluated): packages, rule names, ids.

Both engines take the namespaces to evaluate from here, so they agree on what runs:
every package with `deny`/`violation`/`warn` rules (conftest's rule-name patterns), the
ones under `main.combine` once on all documents together (conftest `--combine`), the
others once per document. `*_test.rego` files hold `test_` rules for `conftest verify`
and are not evaluated by `check`.

Reading a directory rejects Rego v0 rule heads (`check_rego_v1`), in every file: conftest
0.60+ rejects them, and rego-cpp would give them another meaning that passes everything.
Every engine path (`--rego embedded|auto|conftest`, the webhook) reads policies here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import UsageError

COMBINE_NAMESPACE = "main.combine"
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$", re.M)
# A rule head at the start of a line (bodies are indented): the names conftest queries.
_RULE = re.compile(
    r"^(?:default\s+)?((?:deny|violation|warn)(?:_[A-Za-z0-9]+)*|exception)"
    r"(?=\s*(?:contains\b|if\b|:=|=|\[|\{))",
    re.M,
)
_RULE_ID = re.compile(r'"rule"\s*:\s*"([^"\\\s]+)"')
RULE_HEAD, RULE_ID = _RULE, _RULE_ID  # for the catalogue (`rules`, `explain`, SARIF)
_CONFTEST_RULE = re.compile(r"^(?:(?:deny|violation|warn)(?:_[A-Za-z0-9]+)*|exception)$")


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
        check_rego_v1(path, source)
        rules = tuple(sorted({match.group(1) for match in _RULE.finditer(source)}))
        files.append(PolicyFile(name, path, source, package.group(1), rules))
    if not files:
        raise UsageError(f"no .rego files in Rego policy directory {root}")
    return PolicySet(root, tuple(files))


# -- a shallow reading of Rego source: tokens, top-level statements, rule heads --------
#
# Enough of Rego's lexical structure to find where each top-level statement (package,
# import, rule) starts and ends and what its head looks like: comments and strings are
# skipped, brackets are counted, and a newline outside brackets ends a statement unless
# the statement cannot end there (after `:=`, `if`, `,` ...). Not a parser: rego-cpp
# compiles the policies; this only finds what rego-cpp accepts but OPA v1 does not.

_TOKEN = re.compile(
    r"""[ \t\r\f]+|\#[^\n]*
    |(?P<nl>\n)
    |(?P<str>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<op>:=|==|!=|<=|>=|.)""",
    re.X | re.S,
)
KEYWORDS = frozenset(
    {"as", "contains", "default", "else", "every", "if", "import", "in", "not", "package",
     "some", "with"}
)  # fmt: skip
_NOT_AN_END = KEYWORDS - {"package", "import"}  # a statement goes on after these
_OPEN, _CLOSE = frozenset("{[("), frozenset("}])")
_INNER = re.compile(r"""[^{}\[\]()"`\#]+|\#[^\n]*|"(?:[^"\\\n]|\\.)*"|`[^`]*`|.""", re.S)
_V1_HINT = "(Rego v1; conftest 0.60+ requires it too)"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "name", "str", "num" or "op"
    text: str
    start: int  # offset in the source
    depth: int  # brackets open around it (an opening bracket: before it; a closing: after)


@dataclass(frozen=True, slots=True)
class Statement:
    tokens: tuple[Token, ...]
    line: int  # of its first token

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        last = self.tokens[-1]
        return last.start + len(last.text)

    @property
    def rule_name(self) -> str | None:
        """The rule's name (`a.b` for a ref head `a.b[x]`), None for package, import,
        default and anything else that does not start a rule."""
        first = self.tokens[0]
        if first.kind != "name" or first.text in KEYWORDS:
            return None
        parts = [first.text]
        rest = self.tokens[1:]
        while len(rest) >= 2 and rest[0].text == "." and rest[1].kind == "name":
            parts.append(rest[1].text)
            rest = rest[2:]
        return ".".join(parts)

    @property
    def is_function(self) -> bool:
        name = self.rule_name
        index = 1 + 2 * name.count(".") if name else 0
        return bool(name) and len(self.tokens) > index and self.tokens[index].text == "("


def tokens(source: str, inner: bool = True) -> Iterator[Token | None]:
    """The tokens of `source`; None for a newline outside brackets. Without `inner`, only
    those outside brackets and the brackets around them (several times faster)."""
    depth, position, end = 0, 0, len(source)
    while position < end:
        if depth and not inner:  # skip to the next bracket, string or comment
            match = _INNER.match(source, position)
            assert match is not None  # `.` matches anything
            position, text = match.end(), match.group()
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
                if not depth:
                    yield Token("op", text, match.start(), 0)
            continue
        match = _TOKEN.match(source, position)
        assert match is not None  # `.` matches anything
        position, kind = match.end(), match.lastgroup
        if kind is None:
            continue  # blanks, comments
        if kind == "nl":
            if depth == 0:
                yield None
            continue
        text = match.group()
        if kind == "op" and text in _CLOSE:
            depth = max(depth - 1, 0)
        yield Token(kind, text, match.start(), depth)
        if kind == "op" and text in _OPEN:
            depth += 1


def statements(source: str, inner: bool = True) -> list[Statement]:
    """The top-level statements of `source`; without `inner`, their tokens outside
    brackets only (and the brackets), enough for heads and extents."""
    found: list[Statement] = []
    current: list[Token] = []

    def close() -> None:
        if current:
            found.append(Statement(tuple(current), source.count("\n", 0, current[0].start) + 1))
            current.clear()

    for token in tokens(source, inner):
        if token is not None:
            current.append(token)
        elif current and not _goes_on(current):
            close()
    close()
    return found


def _goes_on(current: list[Token]) -> bool:
    """Whether a statement goes on past a newline after its tokens so far."""
    last = current[-1]
    if current[0].text in ("package", "import"):
        return last.kind == "op" and last.text == "."
    if last.kind == "name":  # a keyword, unless a part of a reference (`future.keywords.if`)
        return last.text in _NOT_AN_END and not (len(current) > 1 and current[-2].text == ".")
    return last.kind == "op" and last.text not in _CLOSE


def _ends_a_term(token: Token) -> bool:
    """Whether a `{` right after `token` opens a rule body rather than a value."""
    if token.kind == "name":
        return token.text not in KEYWORDS
    return token.kind in ("str", "num") or token.text in (")", "]")


def check_rego_v1(path: Path, source: str) -> None:
    """UsageError at the first rule head OPA v1 (and so conftest 0.60+) rejects.

    rego-cpp accepts Rego v0 heads and gives them another meaning: `deny[msg] { ... }`
    becomes an object `{msg: true}`, which conftest's conventions ignore, so the policy
    would pass everything in silence. Flagged: a body without `if` (`deny[msg] {`,
    `allow {`, `f(x) = y {`, `deny contains msg {`), a partial set without `contains`
    (`deny["x"]`), and `deny[msg] if` for conftest's rule names (valid v1, but an
    object, not a set of messages: both engines ignore it). `import rego.v1` changes
    nothing: OPA rejects these heads in a module that has it too.
    """
    found = (_v1_problem(s, source) for s in statements(source, inner=False))
    problems = [problem for problem in found if problem]
    if problems:
        line, message = problems[0]
        more = f"; {len(problems) - 1} more in this file" if len(problems) > 1 else ""
        raise UsageError(f"{path}:{line}: {message}{more}")


def _v1_problem(statement: Statement, source: str) -> tuple[int, str] | None:
    name = statement.rule_name
    if name is None:
        return None
    toks = statement.tokens
    body = None  # index of the `{` of a body without `if`
    for index, token in enumerate(toks):
        if token.depth:
            continue
        if token.kind == "name" and token.text in ("if", "else"):
            break  # v1 from here on (OPA takes `else {` and `else = x {` in v1 too)
        if token.text == "{" and token.kind == "op" and index and _ends_a_term(toks[index - 1]):
            body = index
            break
    key = after = None  # `name[key]` heads, what follows the `]`
    if "." not in name and len(toks) > 1 and toks[1].text == "[":
        close = next((i for i in range(2, len(toks)) if toks[i].depth == 0), None)
        if close is not None and toks[close].text == "]":
            key = _short(source[toks[1].start + 1 : toks[close].start])
            after = toks[close + 1] if close + 1 < len(toks) else None
    if body is not None:
        head = _short(source[statement.start : toks[body].start])
        if key is not None and after is toks[body]:
            fix = f"{name} contains {key} if {{ ... }}"
        else:
            fix = f"{head} if {{ ... }}"
        return statement.line, f"Rego v0 syntax ({head} {{ ... }}): write '{fix}' {_V1_HINT}"
    if key is not None and after is None:
        return (
            statement.line,
            f"Rego v0 syntax ({name}[{key}]): write '{name} contains {key}' {_V1_HINT}",
        )
    if key is not None and after is not None and after.text == "if" and _CONFTEST_RULE.match(name):
        return statement.line, (
            f"'{name}[{key}] if' defines an object ({name}[{key}] = true), not a set of "
            f"results: conftest and the embedded engine ignore it; write "
            f"'{name} contains {key} if ...'"
        )
    return None


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
