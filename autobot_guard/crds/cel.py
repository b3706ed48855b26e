"""`x-kubernetes-validations`: a CRD's CEL rules, compiled once and evaluated on `self`.

CEL is cel-python (`celpy`): the CEL standard library and macros (has, all, exists,
exists_one, map, filter). Of the Kubernetes CEL libraries, this module adds the string,
list and regex extensions (KUBERNETES_EXTENSIONS); rules calling the other ones (url, ip,
cidr, quantity, sets, optional types, format, semver, two-variable comprehensions) are
not evaluated, and each custom resource they apply to gets an `info` note saying so.
Rules that compare with the stored object (`oldSelf`, "transition rules") need an
update to judge: they are noted the same way, never silently passed.

A rule whose text does not parse, or that calls a function no Kubernetes version knows,
makes the CRD unusable (`CrdError`), as the API server would refuse it.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..resources import FieldPath
from .structural import CrdError

# Functions of the Kubernetes CEL libraries that cel-python lacks and this module does
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
MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter", "dyn"})
_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip
MAX_RULE_LENGTH = 10_000  # characters of one rule: a guard against hostile CRDs


@dataclass(slots=True)
class CelRule:
    text: str
    program: Any  # celpy Runner, None when not evaluated here
    message: str | None
    message_program: Any
    field_path: FieldPath
    unsupported: str | None = None  # why it is not evaluated here
    transition: bool = False


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
    return CelRule(text, program, message, message_program, field_path, unsupported, transition)


def _compile_expression(text: str, path: FieldPath) -> tuple[Any, str | None, bool]:
    """(program, why it is not evaluated here or None, whether it uses oldSelf)."""
    from celpy.celparser import CELParseError

    if len(text) > MAX_RULE_LENGTH:
        raise CrdError(path, f"CEL rule longer than {MAX_RULE_LENGTH} characters")
    environment = _environment()
    try:
        ast = environment.compile(text)
    except CELParseError as exc:
        if ".?" in text or "[?" in text:  # optional field selection: Kubernetes has it
            return None, "optional field selection (.? / [?])", False
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise CrdError(path, f"CEL rule does not compile: {first}: {text}") from None
    names, identifiers = _calls(ast)
    transition = "oldSelf" in identifiers
    unknown = sorted(
        n
        for n in names
        if n not in _known_functions()
        and n not in UNSUPPORTED_FUNCTIONS
        and n.split(".")[0] not in UNSUPPORTED_NAMESPACES
    )
    if unknown:
        raise CrdError(
            path, f"CEL rule does not compile: undeclared reference to {unknown[0]!r}: {text}"
        )
    lacking = sorted(
        n for n in names if n in UNSUPPORTED_FUNCTIONS or n.split(".")[0] in UNSUPPORTED_NAMESPACES
    )
    if lacking:
        return None, f"{lacking[0]}()", transition
    return environment.program(ast, functions=KUBERNETES_EXTENSIONS), None, transition


def _calls(ast: Any) -> tuple[set[str], set[str]]:
    """Names of the functions an expression calls (ns.name for a library namespace), and
    of the identifiers it reads."""
    from lark import Token, Tree

    calls: set[str] = set()
    identifiers: set[str] = set()
    for tree in ast.iter_subtrees():
        if tree.data == "member_dot_arg":
            target, name = tree.children[0], str(tree.children[1])
            namespace = _plain_identifier(target, Tree)
            if namespace in UNSUPPORTED_NAMESPACES:
                name = f"{namespace}.{name}"
            calls.add(name)
        elif tree.data in ("ident_arg", "dot_ident_arg"):
            calls.add(str(tree.children[0]))
        elif tree.data == "ident":
            token = tree.children[0]
            if isinstance(token, Token):
                identifiers.add(str(token))
    return calls, identifiers


def _plain_identifier(node: Any, tree_type: Any) -> str | None:
    while (
        isinstance(node, tree_type)
        and node.data in ("member", "primary")
        and len(node.children) == 1
    ):
        node = node.children[0]
    if isinstance(node, tree_type) and node.data == "ident":
        return str(node.children[0])
    return None


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


_ENVIRONMENT: Any = None


def _environment() -> Any:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import logging

        import celpy

        _ENVIRONMENT = celpy.Environment()
        logging.getLogger("celpy").setLevel(logging.CRITICAL)  # its debug chatter, not ours
    return _ENVIRONMENT


_KNOWN: frozenset[str] | None = None


def _known_functions() -> frozenset[str]:
    global _KNOWN
    if _KNOWN is None:
        from celpy.evaluation import base_functions

        _KNOWN = frozenset({*base_functions, *MACROS, *KUBERNETES_EXTENSIONS})
    return _KNOWN


# ---- evaluation ---------------------------------------------------------------------


def evaluate(plan: PlanNode, data: Any) -> Iterator[Problem]:
    noted: set[tuple[int, str]] = set()
    yield from _walk(plan, data, (), noted)


def _walk(
    node: PlanNode, data: Any, path: FieldPath, noted: set[tuple[int, str]]
) -> Iterator[Problem]:
    if data is None:
        return  # a null is pruned (or nullable): rules judge values, not absence
    for rule in node.rules:
        yield from _judge(rule, node.schema, data, path, noted)
    if node.map_keys is not None and isinstance(data, list):
        yield from _duplicates(node.map_keys, data, path)
    if isinstance(data, dict):
        for name, child in node.properties.items():
            if name in data:
                yield from _walk(child, data[name], (*path, name), noted)
        if node.values is not None:
            for key, value in data.items():
                yield from _walk(node.values, value, (*path, key), noted)
    elif isinstance(data, list) and node.items is not None:
        for index, item in enumerate(data):
            yield from _walk(node.items, item, (*path, index), noted)


def _judge(
    rule: CelRule, schema: dict[str, Any], data: Any, path: FieldPath, noted: set[tuple[int, str]]
) -> Iterator[Problem]:
    if rule.transition or rule.program is None:
        key = (id(rule), "note")
        if key in noted:
            return
        noted.add(key)
        if rule.transition:
            why = "it compares with the stored object (oldSelf): the API server judges it on update"
        else:
            why = f"it uses {rule.unsupported}, which the CEL library here (cel-python) lacks"
        yield Problem(
            path, f"x-kubernetes-validations rule not evaluated: {why}: {rule.text}", note=True
        )
        return
    value = to_cel(data, schema)
    try:
        result = rule.program.evaluate({"self": value})
    except Exception as exc:  # celpy's CELEvalError and our extensions' errors alike
        yield Problem((*path, *rule.field_path), f"{_error_text(exc)} evaluating rule: {rule.text}")
        return
    if _is_error(result):
        yield Problem(
            (*path, *rule.field_path), f"{_error_text(result)} evaluating rule: {rule.text}"
        )
        return
    if result is True or (type(result).__name__ == "BoolType" and bool(result)):
        return
    if type(result).__name__ != "BoolType":
        yield Problem((*path, *rule.field_path), f"rule is not a boolean expression: {rule.text}")
        return
    yield Problem((*path, *rule.field_path), _message(rule, value))


def _message(rule: CelRule, value: Any) -> str:
    if rule.message_program is not None:
        try:
            text = rule.message_program.evaluate({"self": value})
        except Exception:
            text = None
        if isinstance(text, str) and text.strip() and not _is_error(text):
            return str(text)
    if rule.message:
        return rule.message
    return f"failed rule: {rule.text}"


def _is_error(value: Any) -> bool:
    return type(value).__name__ == "CELEvalError"


def _error_text(error: Any) -> str:
    args = getattr(error, "args", ())
    text = args[0] if args and isinstance(args[0], str) else str(error)
    return text.split(" (in activation")[0]


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
    """A JSON value as CEL sees it, typed by its schema (date-time -> timestamp, ...)."""
    from celpy import celtypes

    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        fmt = schema.get("format") if schema else None
        try:
            if fmt in ("date-time", "date"):
                return celtypes.TimestampType(value)
            if fmt == "duration":
                return celtypes.DurationType(value)
            if fmt == "byte":
                return celtypes.BytesType(base64.b64decode(value, validate=True))
        except Exception:
            pass  # an invalid value: the schema check reports it
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items") if schema else None
        return celtypes.ListType([to_cel(item, items) for item in value])
    if isinstance(value, dict):
        properties = (schema.get("properties") or {}) if schema else {}
        extra = schema.get("additionalProperties") if schema else None
        out: dict[Any, Any] = {}
        for key, item in value.items():
            key = str(key)
            sub = (
                properties.get(key) if properties else (extra if isinstance(extra, dict) else None)
            )
            converted = to_cel(item, sub)
            out[celtypes.StringType(key)] = converted
            if key in properties:
                name = escape(key)
                if name is not None and name != key:
                    out[celtypes.StringType(name)] = converted
        return celtypes.MapType(out)
    return value


# ---- Kubernetes' CEL extension libraries: strings, lists, regex ----------------------


def _s(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"no such overload: expected a string, got {type(value).__name__}")
    return str(value)


def _string(value: str) -> Any:
    from celpy import celtypes

    return celtypes.StringType(value)


def _int(value: int) -> Any:
    from celpy import celtypes

    return celtypes.IntType(value)


def _index_of(target: Any, item: Any, start: Any = 0) -> Any:
    if isinstance(target, list):
        return _int(next((i for i, x in enumerate(target) if x == item), -1))
    return _int(_s(target).find(_s(item), int(start)))


def _last_index_of(target: Any, item: Any, end: Any = None) -> Any:
    if isinstance(target, list):
        found = [i for i, x in enumerate(target) if x == item]
        return _int(found[-1] if found else -1)
    text = _s(target)
    return _int(
        text.rfind(_s(item)) if end is None else text.rfind(_s(item), 0, int(end) + len(item))
    )


def _substring(text: Any, start: Any, end: Any = None) -> Any:
    value = _s(text)
    begin, stop = int(start), len(value) if end is None else int(end)
    if not 0 <= begin <= stop <= len(value):
        raise IndexError(f"index out of range: {begin}..{stop} of a string of {len(value)}")
    return _string(value[begin:stop])


def _split(text: Any, separator: Any, limit: Any = -1) -> Any:
    from celpy import celtypes

    count = int(limit)
    if count == 0:
        return celtypes.ListType([])
    parts = _s(text).split(_s(separator), count - 1) if count > 0 else _s(text).split(_s(separator))
    return celtypes.ListType([_string(p) for p in parts])


def _replace(text: Any, old: Any, new: Any, limit: Any = -1) -> Any:
    return _string(_s(text).replace(_s(old), _s(new), int(limit)))


def _join(items: Any, separator: Any = "") -> Any:
    return _string(_s(separator).join(_s(item) for item in items))


def _char_at(text: Any, index: Any) -> Any:
    value, at = _s(text), int(index)
    if not 0 <= at <= len(value):
        raise IndexError(f"index out of range: {at}")
    return _string(value[at : at + 1])


def _is_sorted(items: Any) -> Any:
    from celpy import celtypes

    return celtypes.BoolType(all(a <= b for a, b in itertools.pairwise(items)))


def _sum(items: Any) -> Any:
    total: Any = _int(0)
    for item in items:
        total = total + item
    return total


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def chosen(items: Any, *more: Any) -> Any:
        values = list(items) if not more else [items, *more]
        if not values:
            raise ValueError("min/max of an empty list")
        return pick(values)

    return chosen


def _find(text: Any, pattern: Any) -> Any:
    import re2

    match = re2.search(_s(pattern), _s(text))
    return _string(match.group(0) if match else "")


def _find_all(text: Any, pattern: Any, limit: Any = -1) -> Any:
    import re2
    from celpy import celtypes

    found = [m.group(0) for m in re2.finditer(_s(pattern), _s(text))]
    count = int(limit)
    return celtypes.ListType([_string(f) for f in (found if count < 0 else found[:count])])


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

KUBERNETES_EXTENSIONS: dict[str, Callable[..., Any]] = {
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda text: _string(_s(text).translate(_ASCII_LOWER)),
    "upperAscii": lambda text: _string(_s(text).translate(_ASCII_UPPER)),
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "trim": lambda text: _string(_s(text).strip()),
    "join": _join,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _extreme(min),
    "max": _extreme(max),
    "find": _find,
    "findAll": _find_all,
}
