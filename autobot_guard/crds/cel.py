"""`x-kubernetes-validations`: a CRD's CEL rules, compiled once and evaluated on `self`.

CEL is the `cel` Rust crate through its Python binding (PyPI: common-expression-language):
the CEL standard library and macros (has, all, exists, exists_one, map, filter). Of the
Kubernetes CEL libraries, this module adds the string, list and regex extensions
(KUBERNETES_EXTENSIONS); rules calling the other ones (url, ip, cidr, quantity, sets,
optional types, format, semver, two-variable comprehensions) are not evaluated, and each
custom resource they apply to gets an `info` note saying so. Rules that compare with the
stored object (`oldSelf`, "transition rules") need an update to judge: they are noted the
same way, never silently passed.

A rule whose text does not parse, or that calls a function no Kubernetes version knows,
makes the CRD unusable (`CrdError`), as the API server would refuse it.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..resources import FieldPath
from .structural import CrdError

# Functions of the Kubernetes CEL libraries that the engine lacks and this module does
# not add: a rule using one is valid but not evaluated here.
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        # url, ip and cidr libraries
        "url", "isURL", "getScheme", "getHost", "getHostname", "getPort", "getEscapedPath",
        "getQuery", "ip", "isIP", "cidr", "isCIDR", "family", "isUnspecified", "isLoopback",
        "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast", "containsIP",
        "containsCIDR", "prefixLength", "masked", "ip.isCanonical",
        # quantity and semver libraries
        "quantity", "isQuantity", "sign", "isInteger", "asInteger", "asApproximateFloat",
        "add", "sub", "isGreaterThan", "isLessThan", "compareTo", "semver", "isSemver",
        "major", "minor", "patch",
        # optional types, string formatting, lists and comprehensions of newer CEL
        "hasValue", "value", "orValue", "or", "optMap", "optFlatMap", "format", "quote",
        "slice", "flatten", "distinct", "sort", "sortBy", "range", "reverse",
        "transformList", "transformMap", "transformMapEntry", "validate",
    }
)  # fmt: skip
UNSUPPORTED_NAMESPACES = frozenset(
    {"sets", "optional", "format", "base64", "math", "strings", "lists", "ip", "cidr"}
)
# The CEL standard library (cel-spec's langdef) as the engine provides it.
STANDARD_FUNCTIONS = frozenset(
    {
        "size", "matches", "startsWith", "endsWith", "contains", "int", "uint", "double",
        "string", "bytes", "dyn", "type", "timestamp", "duration", "getDate",
        "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getHours",
        "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
    }
)  # fmt: skip
# Names a rule may read besides its own comprehension variables: the value, the stored
# value (transition rules) and CEL's type names.
VARIABLES = frozenset(
    {"self", "oldSelf", "bool", "bytes", "double", "int", "list", "map", "null_type",
     "string", "type", "uint", "dyn"}
)  # fmt: skip
_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip
MAX_RULE_LENGTH = 10_000  # characters of one rule: a guard against hostile CRDs
# The API server's runtime cost limit of one rule evaluation (cel-go's PerCallLimit in
# k8s.io/apiserver). Here a bound on a rule's comprehension steps: a rule that could
# take more on a value is not evaluated (hostile input would otherwise run for minutes).
PER_CALL_COST_LIMIT = 1_000_000
_MACROS = frozenset(("all", "exists", "exists_one", "map", "filter"))
# The engine's size() counts a string's UTF-8 bytes; CEL (and Kubernetes) count code
# points. Rules are compiled with size calls renamed to this function of ours.
_SIZE = "__autobot_guard_size__"


@dataclass(slots=True)
class CelRule:
    text: str
    program: Any  # the engine's Program, None when not evaluated here
    message: str | None
    message_program: Any
    field_path: FieldPath
    unsupported: str | None = None  # why it is not evaluated here
    transition: bool = False
    depth: int = 0  # comprehensions nested in the rule (self.a.all(x, x.b.all(...)): 2)


@dataclass(slots=True)
class PlanNode:
    """The part of a schema that has rules or list-map keys, to walk with the data."""

    schema: dict[str, Any]
    rules: list[CelRule] = field(default_factory=list)
    map_keys: list[str] | None = None
    properties: dict[str, PlanNode] = field(default_factory=dict)
    items: PlanNode | None = None
    values: PlanNode | None = None  # additionalProperties: each value of a map


@dataclass(slots=True)
class Problem:
    path: FieldPath
    message: str
    note: bool = False  # not a failure: something that could not be judged here


def build_plan(schema: Any, path: FieldPath) -> PlanNode | None:
    """The rules of `schema` (an openAPIV3Schema node) and below, or None if it has none."""
    if not isinstance(schema, dict):
        return None
    node = PlanNode(schema)
    if "x-kubernetes-validations" in schema:
        node.rules = _compile_all(
            schema["x-kubernetes-validations"], (*path, "x-kubernetes-validations")
        )
    if schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise CrdError(
                (*path, "x-kubernetes-list-map-keys"),
                "x-kubernetes-list-type map needs x-kubernetes-list-map-keys (field names)",
            )
        node.map_keys = keys
    for name, sub in (schema.get("properties") or {}).items():
        child = build_plan(sub, (*path, "properties", name))
        if child is not None:
            node.properties[name] = child
    node.items = build_plan(schema.get("items"), (*path, "items"))
    if isinstance(schema.get("additionalProperties"), dict):
        node.values = build_plan(schema["additionalProperties"], (*path, "additionalProperties"))
    if node.rules or node.map_keys or node.properties or node.items or node.values:
        return node
    return None


def _compile_all(rules: Any, path: FieldPath) -> list[CelRule]:
    if not isinstance(rules, list):
        raise CrdError(path, "x-kubernetes-validations must be a list of rules")
    return [_compile_rule(rule, (*path, index)) for index, rule in enumerate(rules)]


def _compile_rule(rule: Any, path: FieldPath) -> CelRule:
    if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str):
        raise CrdError(path, "a validation rule needs `rule`, a CEL expression")
    text = rule["rule"]
    message = rule.get("message")
    if message is not None and not isinstance(message, str):
        raise CrdError((*path, "message"), "message must be a string")
    field_path = _parse_field_path(rule.get("fieldPath"), (*path, "fieldPath"))
    program, unsupported, transition = _compile_expression(text, (*path, "rule"))
    message_program = None
    expression = rule.get("messageExpression")
    if expression is not None:
        if not isinstance(expression, str):
            raise CrdError((*path, "messageExpression"), "messageExpression must be a string")
        message_program, why, _ = _compile_expression(expression, (*path, "messageExpression"))
        unsupported = unsupported or why
    return CelRule(
        text,
        program,
        message,
        message_program,
        field_path,
        unsupported,
        transition,
        _comprehension_depth(text),
    )


def _compile_expression(text: str, path: FieldPath) -> tuple[Any, str | None, bool]:
    """(program, why it is not evaluated here or None, whether it uses oldSelf)."""
    if len(text) > MAX_RULE_LENGTH:
        raise CrdError(path, f"CEL rule longer than {MAX_RULE_LENGTH} characters")
    engine = _engine()
    try:
        program = engine.compile(text)
    except ValueError as exc:
        if ".?" in text or "[?" in text:  # optional field selection: Kubernetes has it
            return None, "optional field selection (.? / [?])", False
        raise CrdError(path, f"CEL rule does not compile: {_parse_error(exc)}: {text}") from None
    names = {n for n in program.functions() if re.fullmatch(r"[A-Za-z_]\w*", n)}
    variables = set(program.variables())
    transition = "oldSelf" in variables
    namespaces = sorted(variables & UNSUPPORTED_NAMESPACES)
    if namespaces:
        return None, f"{namespaces[0]}.*", transition
    unknown = sorted(
        n
        for n in names
        if n not in STANDARD_FUNCTIONS
        and n not in KUBERNETES_EXTENSIONS
        and n not in UNSUPPORTED_FUNCTIONS
    )
    free = sorted(variables - VARIABLES - _bound_variables(text))
    if unknown or free:
        name = unknown[0] if unknown else free[0]
        raise CrdError(path, f"CEL rule does not compile: undeclared reference to {name!r}: {text}")
    lacking = sorted(names & UNSUPPORTED_FUNCTIONS)
    if lacking:
        return None, f"{lacking[0]}()", transition
    if "size" in names:
        program = engine.compile(_rename_size(text))
    return program, None, transition


def _parse_error(error: ValueError) -> str:
    """The engine's first complaint: `1:13: Syntax error: mismatched input '<EOF>'`."""
    found = re.search(r"ERROR: <input>:(\d+:\d+: [^\n]*)", str(error))
    text = found.group(1) if found else (str(error).strip().splitlines() or ["syntax error"])[0]
    inner = re.search(r'msg: "([^"]*)"', text)  # the parser's own error, e.g. its depth limit
    if inner:
        text = f"{text.split(':')[0]}:{text.split(':')[1]}: {inner.group(1)}"
    return text.split(" expecting ")[0]


def _bound_variables(text: str) -> set[str]:
    """The variables a rule's macros bind (`x` in `self.all(x, ...)`)."""
    pattern = r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,"
    return set(re.findall(pattern, text))


_LITERAL_START = re.compile(r"(?:[rR][bB]?|[bB][rR]?)?('''|\"\"\"|'|\")")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _comprehension_depth(text: str) -> int:
    """How many comprehensions (all, exists, map, ...) nest in `text` that each range over
    the whole value, string literals left out: a rule of depth d takes up to N^d steps on
    a value of N items. An inner one over a part of the outer's variable
    (`self.a.all(x, x.b.all(y, ...))`) does not multiply: all its ranges together are
    within the value."""
    # per open parenthesis: (whether it is a comprehension that multiplies, its variable)
    stack: list[tuple[bool, str | None]] = []
    deepest, at = 0, 0
    while at < len(text):
        skipped = _past_literal(text, at)
        if skipped is not None:
            at = skipped
            continue
        name = _IDENTIFIER.match(text, at)
        if name is not None:
            at = name.end()
            call = _MACRO_CALL.match(text, at)
            before = text[: name.start()].rstrip()
            if name.group(0) in _MACROS and call is not None and before.endswith("."):
                root = _CHAIN_ROOT.search(before[:-1])
                bound = {variable for _, variable in stack if variable}
                multiplies = root is None or root.group(1) not in bound
                stack.append((multiplies, call.group(1)))
                deepest = max(deepest, sum(m for m, _ in stack))
                at = text.index("(", name.end()) + 1
            continue
        if text[at] == "(":
            stack.append((False, None))
        elif text[at] == ")" and stack:
            stack.pop()
        at += 1
    return deepest


# `(x,` after a comprehension's name; the chain `a.b.c` a receiver ends with (its root).
_MACRO_CALL = re.compile(r"\s*\(\s*([A-Za-z_]\w*)\s*,")
_CHAIN_ROOT = re.compile(r"(?<![\w.\])])([A-Za-z_]\w*)(?:\s*\.\s*[A-Za-z_]\w*)*\s*$")


def _values(value: Any, limit: int) -> int:
    """The values in `value` (itself, and every item and map entry below), counted up to
    a little past `limit`."""
    count, pending = 0, [value]
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return count


def _too_costly(rule: CelRule, value: Any) -> str | None:
    """Why evaluating `rule` on `value` could exceed the cost limit, or None."""
    if not rule.depth:
        return None
    values = _values(value, int(PER_CALL_COST_LIMIT ** (1 / rule.depth)) + 1)
    if values**rule.depth <= PER_CALL_COST_LIMIT:
        return None
    return (
        f"with {rule.depth} nested comprehension{'s' if rule.depth > 1 else ''} over the "
        f"{values}{'+' if values > PER_CALL_COST_LIMIT ** (1 / rule.depth) else ''} values "
        f"here it could take more steps than the per-call cost limit of "
        f"{PER_CALL_COST_LIMIT:,} the API server puts on a rule (bound the lists with "
        "maxItems, the maps with maxProperties)"
    )


def _past_literal(text: str, at: int) -> int | None:
    """Where the string literal starting at `at` ends (after its closing quote), or None
    when none starts there: rule texts are scanned without looking into strings."""
    literal = _LITERAL_START.match(text, at)
    if literal is None:
        return None
    quote, raw = literal.group(1), "r" in literal.group(0)[: -len(literal.group(1))].lower()
    end = literal.end()
    while end < len(text) and not text.startswith(quote, end):
        end += 2 if text[end] == "\\" and not raw else 1
    return end + len(quote)


def _rename_size(text: str) -> str:
    """`text` with its calls of size (`size(x)`, `x.size()`) calling _SIZE, string
    literals left as written."""
    out: list[str] = []
    at = 0
    while at < len(text):
        skipped = _past_literal(text, at)
        if skipped is not None:
            out.append(text[at:skipped])
            at = skipped
            continue
        name = _IDENTIFIER.match(text, at)
        if name is not None:
            after = text[name.end() :].lstrip()
            out.append(
                _SIZE if name.group(0) == "size" and after.startswith("(") else name.group(0)
            )
            at = name.end()
            continue
        number = re.match(r"\d[\w.]*", text[at:])  # 1e5, 0x1f, 2u: not identifiers
        chunk = number.group(0) if number else text[at]
        out.append(chunk)
        at += len(chunk)
    return "".join(out)


def _parse_field_path(value: Any, path: FieldPath) -> FieldPath:
    """`.spec.a['b-c'].d` (a rule's fieldPath, relative to where the rule is) -> path."""
    if value is None:
        return ()
    if not isinstance(value, str):
        raise CrdError(path, "fieldPath must be a string")
    parts: list[str | int] = []
    for match in re.finditer(
        r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]|(.)", value
    ):
        name, key, index, junk = match.groups()
        if junk is not None:
            raise CrdError(path, f"fieldPath {value!r} is not a valid field path (.a.b['c'])")
        parts.append(int(index) if index is not None else (name if name is not None else key))
    return tuple(parts)


_ENGINE: ModuleType | None = None


def _engine() -> ModuleType:
    """The binding's extension module (`cel.cel`). `import cel` would also import the
    package's interactive shell (typer, rich, prompt_toolkit: some 150 ms of start-up);
    the extension alone loads in about 10 ms."""
    global _ENGINE
    if _ENGINE is None:
        import sys

        loaded = sys.modules.get("cel.cel")
        if loaded is None:
            loaded = _load_extension()
        _ENGINE = loaded
    return _ENGINE


def _load_extension() -> ModuleType:
    import importlib.machinery
    import importlib.util
    import sys
    from pathlib import Path

    package = importlib.util.find_spec("cel")  # finds the package without running it
    for folder in (package.submodule_search_locations or []) if package else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = Path(folder) / f"cel{suffix}"
            spec = importlib.util.spec_from_file_location("cel.cel", candidate)
            if candidate.is_file() and spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules["cel.cel"] = module  # `import cel` later reuses it
                return module
    import cel.cel  # another layout: the ordinary (slower) import

    return cel.cel


# ---- evaluation ---------------------------------------------------------------------


def evaluate(plan: PlanNode, data: Any) -> Iterator[Problem]:
    noted: set[tuple[int, str]] = set()
    context = _engine().Context(functions=_FUNCTIONS)
    yield from _walk(plan, data, (), noted, context)


def _walk(
    node: PlanNode, data: Any, path: FieldPath, noted: set[tuple[int, str]], context: Any
) -> Iterator[Problem]:
    if data is None:
        return  # a null is pruned (or nullable): rules judge values, not absence
    if node.rules:
        value = to_cel(data, node.schema)
        for rule in node.rules:
            yield from _judge(rule, value, path, noted, context)
    if node.map_keys is not None and isinstance(data, list):
        yield from _duplicates(node.map_keys, data, path)
    if isinstance(data, dict):
        for name, child in node.properties.items():
            if name in data:
                yield from _walk(child, data[name], (*path, name), noted, context)
        if node.values is not None:
            for key, value in data.items():
                yield from _walk(node.values, value, (*path, key), noted, context)
    elif isinstance(data, list) and node.items is not None:
        for index, item in enumerate(data):
            yield from _walk(node.items, item, (*path, index), noted, context)


def _note(
    rule: CelRule, why: str, path: FieldPath, noted: set[tuple[int, str]]
) -> Iterator[Problem]:
    key = (id(rule), "note")
    if key not in noted:
        noted.add(key)
        yield Problem(
            path, f"x-kubernetes-validations rule not evaluated: {why}: {rule.text}", note=True
        )


def _judge(
    rule: CelRule, value: Any, path: FieldPath, noted: set[tuple[int, str]], context: Any
) -> Iterator[Problem]:
    if rule.transition:
        why = "it compares with the stored object (oldSelf): the API server judges it on update"
        yield from _note(rule, why, path, noted)
        return
    if rule.program is None:
        why = f"it uses {rule.unsupported}, which the CEL library here lacks"
        yield from _note(rule, why, path, noted)
        return
    costly = _too_costly(rule, value)
    if costly is not None:
        yield from _note(rule, costly, path, noted)
        return
    where = (*path, *rule.field_path)
    try:
        result = _run(rule.program, value, context)
    except Exception as exc:  # the engine's errors, and our extensions' (_Failed)
        lacking = _lacking(exc)
        if lacking is not None:
            why = f"it uses {lacking}() on arguments the CEL library here lacks it for"
            yield from _note(rule, why, path, noted)
            return
        yield Problem(where, f"{_error_text(exc)} evaluating rule: {rule.text}")
        return
    if result is True:
        return
    if result is not False:
        yield Problem(where, f"rule is not a boolean expression: {rule.text}")
        return
    yield Problem(where, _message(rule, value, context))


def _run(program: Any, value: Any, context: Any) -> Any:
    _FAILURE.error = None
    context.add_variable("self", value)
    try:
        return program.execute(context)
    except Exception:
        failed = _FAILURE.error
        if failed is not None:  # one of our functions failed: its error, not the engine's
            raise failed from None
        raise


def _message(rule: CelRule, value: Any, context: Any) -> str:
    """The messageExpression's string; else the message; else the rule (as the API
    server: an expression that fails, or gives an empty or multi-line text, falls back)."""
    if rule.message_program is not None:
        try:
            text = _run(rule.message_program, value, context)
        except Exception:
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text:
            return text
    if rule.message:
        return rule.message
    return f"failed rule: {rule.text}"


def _lacking(error: Exception) -> str | None:
    """The standard function the engine lacks an overload of (`int(timestamp)`), if that
    is why `error` was raised: a gap of the engine, not a fault of the rule."""
    found = re.match(r"Undefined variable or function: '(\w+)'", str(error))
    if found and found.group(1) in STANDARD_FUNCTIONS:
        return found.group(1)
    return None


def _error_text(error: Exception) -> str:
    """The engine's error as cel-go (the API server) words it, without the advice."""
    if isinstance(error, KeyError):
        return f"no such key: {error.args[0] if error.args else ''}"
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, OverflowError):
        return "integer overflow"
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    found = re.match(r"Undefined variable or function: '(\w+)'", text)
    if found:
        return f"undeclared reference to '{found.group(1)}'"
    if text.startswith(("No such overload", "Unsupported operation")):
        operation = re.match(r"Unsupported operation: ([^.]*)", text)
        return "no such overload" + (f": {operation.group(1)}" if operation else "")
    text = re.sub(r"^Function '\w+' error: ", "", text)
    return re.split(r"\. (?:Check|CEL does not|Convert) ", text)[0].rstrip(".")


def _duplicates(keys: list[str], items: list[Any], path: FieldPath) -> Iterator[Problem]:
    seen: dict[tuple[Any, ...], int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        identity = tuple(repr(item.get(k)) for k in keys)
        if identity in seen:
            shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            yield Problem(
                (*path, index), f"duplicate entry ({shown}): items {seen[identity]} and {index}"
            )
        else:
            seen[identity] = index


def escape(name: str) -> str | None:
    """A property name as CEL sees it (Kubernetes' escaping), None if it cannot be named."""
    if name in _RESERVED:
        return f"__{name}__"
    if not re.fullmatch(r"[A-Za-z_./-][A-Za-z0-9_./-]*", name):
        return None
    escaped = name.replace("__", "__underscores__").replace(".", "__dot__")
    return escaped.replace("-", "__dash__").replace("/", "__slash__")


def to_cel(value: Any, schema: dict[str, Any] | None) -> Any:
    """A JSON value as CEL sees it, typed by its schema (date-time -> timestamp, ...), with
    Kubernetes' escaped property names (`__dash__`, ...) beside the plain ones."""
    if isinstance(value, str):
        fmt = schema.get("format") if schema else None
        if fmt is not None:
            typed = _formatted(value, fmt)
            if typed is not None:
                return typed
        return value
    if isinstance(value, list):
        items = schema.get("items") if schema else None
        return [to_cel(item, items) for item in value]
    if isinstance(value, dict):
        properties = (schema.get("properties") or {}) if schema else {}
        extra = schema.get("additionalProperties") if schema else None
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            sub = (
                properties.get(key) if properties else (extra if isinstance(extra, dict) else None)
            )
            converted = to_cel(item, sub)
            out[key] = converted
            if key in properties:
                name = escape(key)
                if name is not None and name != key:
                    out[name] = converted
        return out
    return value  # null, booleans and numbers are CEL's as they are


_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+)")


def _formatted(value: str, fmt: str) -> Any:
    """A `date-time`/`date`, `duration` or `byte` string as its CEL type; None when it is
    not valid (the schema check reports it) or the format gives no CEL type."""
    try:
        if fmt == "date-time":
            moment = datetime.datetime.fromisoformat(value)
            return moment if moment.tzinfo is not None else None
        if fmt == "date":
            day = datetime.date.fromisoformat(value)
            return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
        if fmt == "duration" and _GO_DURATION.fullmatch(value):
            return _guarded_duration(value)
        if fmt == "byte":
            return base64.b64decode(value, validate=True)
    except Exception:
        return None
    return None


_DURATION: Any = None


def _guarded_duration(value: str) -> Any:
    """Go's duration syntax (`2160h`, `1h30m`) parsed as the engine's duration() does."""
    global _DURATION
    if _DURATION is None:
        _DURATION = _engine().compile("duration(text)")
    return _DURATION.execute({"text": value})


# ---- Kubernetes' CEL extension libraries: strings, lists, regex ----------------------
#
# The engine calls these with Python values (the receiver of `x.f()` first). An exception
# raised back into the engine is printed on stderr by it, so each function is wrapped:
# its error is kept (per thread) and the engine is handed a value it cannot convert,
# which ends the evaluation; _run then raises the kept error.


class _Failure(threading.local):
    error: Exception | None = None


_FAILURE = _Failure()
_UNCONVERTIBLE = object()


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except Exception as exc:
            _FAILURE.error = exc
            return _UNCONVERTIBLE

    return call


def _s(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"no such overload: expected a string, got {type(value).__name__}")
    return value


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | dict):
        return len(value)  # a str's len counts code points, as CEL's size
    raise TypeError(f"no such overload: size of {type(value).__name__}")


def _index_of(target: Any, item: Any, start: Any = 0) -> int:
    if isinstance(target, list):
        return next((i for i, x in enumerate(target) if x == item), -1)
    text, at = _s(target), int(start)
    if not 0 <= at <= len(text):
        raise IndexError(f"index out of range: {at}")
    return text.find(_s(item), at)


def _last_index_of(target: Any, item: Any, end: Any = None) -> int:
    if isinstance(target, list):
        found = [i for i, x in enumerate(target) if x == item]
        return found[-1] if found else -1
    text, sought = _s(target), _s(item)
    return text.rfind(sought) if end is None else text.rfind(sought, 0, int(end) + len(sought))


def _substring(text: Any, start: Any, end: Any = None) -> str:
    value = _s(text)
    begin, stop = int(start), len(value) if end is None else int(end)
    if not 0 <= begin <= stop <= len(value):
        raise IndexError(f"index out of range: {begin}..{stop} of a string of {len(value)}")
    return value[begin:stop]


def _split(text: Any, separator: Any, limit: Any = -1) -> list[str]:
    count = int(limit)
    if count == 0:
        return []
    if count > 0:
        return _s(text).split(_s(separator), count - 1)
    return _s(text).split(_s(separator))


def _replace(text: Any, old: Any, new: Any, limit: Any = -1) -> str:
    return _s(text).replace(_s(old), _s(new), int(limit))


def _join(items: Any, separator: Any = "") -> str:
    return _s(separator).join(_s(item) for item in items)


def _char_at(text: Any, index: Any) -> str:
    value, at = _s(text), int(index)
    if not 0 <= at <= len(value):
        raise IndexError(f"index out of range: {at}")
    return value[at : at + 1]


def _is_sorted(items: Any) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


def _sum(items: Any) -> Any:
    values = list(items)
    if not values:
        return 0
    total = values[0]
    for item in values[1:]:
        total = total + item
    return total


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def chosen(items: Any, *more: Any) -> Any:
        values = list(items) if not more else [items, *more]
        if not values:
            raise ValueError("min/max of an empty list")
        return pick(values)

    return chosen


def _find(text: Any, pattern: Any) -> str:
    import re2

    match = re2.search(_s(pattern), _s(text))
    return str(match.group(0)) if match else ""


def _find_all(text: Any, pattern: Any, limit: Any = -1) -> list[str]:
    import re2

    found = [str(m.group(0)) for m in re2.finditer(_s(pattern), _s(text))]
    count = int(limit)
    return found if count < 0 else found[:count]


_TRUE, _FALSE = {"1", "t", "true", "TRUE", "True"}, {"0", "f", "false", "FALSE", "False"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _s(value) in _TRUE | _FALSE:
        return value in _TRUE
    raise ValueError(f"type conversion error from 'string' to 'bool': {value!r}")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

KUBERNETES_EXTENSIONS: dict[str, Callable[..., Any]] = {
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda text: _s(text).translate(_ASCII_LOWER),
    "upperAscii": lambda text: _s(text).translate(_ASCII_UPPER),
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "trim": lambda text: _s(text).strip(),
    "join": _join,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _extreme(min),
    "max": _extreme(max),
    "find": _find,
    "findAll": _find_all,
    # the standard library's bool(string), which the engine lacks
    "bool": _bool,
}
_FUNCTIONS = {
    name: _guarded(function) for name, function in {**KUBERNETES_EXTENSIONS, _SIZE: _size}.items()
}
