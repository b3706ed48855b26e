"""YAML parsing with Kubernetes' semantics and limits against hostile input.

Kubernetes reads manifests with go-yaml v2 (YAML 1.1): `yes`/`on`/`y` are booleans,
`0755` is octal, `<<` merges, duplicate keys are rejected and timestamps stay strings.
The fast parser (yaml-rs) speaks YAML 1.2, so a document whose text holds any scalar
that the two versions read differently goes through PyYAML with a go-yaml-like
resolver instead. Both paths enforce the same limits.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import yaml_rs

MAX_DOCUMENT_BYTES = 3 * 1024 * 1024  # etcd refuses objects over 1.5 MiB; leave room for comments
MAX_DEPTH = 100
MAX_NODES = 250_000  # after alias expansion: a document is at most a few thousand nodes
_ALIAS_LIMITS = yaml_rs.AliasLimits(max_total_replayed_events=MAX_NODES, max_replay_stack_depth=32)

# Plain scalars that YAML 1.1 (go-yaml v2) and YAML 1.2 (yaml-rs) read differently:
# y/n/yes/no/on/off booleans, 0755-style octals and `<<` merge keys (yaml-rs keeps a
# literal "<<" key). Regexes that test a context before the word try every position of
# the text and cost more than parsing it, so: whitespace tokens against a set (C speed)
# for the words, a literal-led regex for octals, and Python only at the few hits.
_WORDS: tuple[str, ...] = ("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO")
_WORDS += ("on", "On", "ON", "off", "Off", "OFF", "<<")
_RISKY_TOKENS = frozenset([*_WORDS, *(word + ":" for word in _WORDS)])
_FLOW_PUNCTUATION = str.maketrans({c: " " for c in "[]{},"})
_WORD = r"(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|<<)"
_WORD_IN_CONTEXT = re.compile(
    # a value, a sequence item or a flow item; or a key at the start of a line (a word
    # alone at the start of a line is prose in a multi-line scalar, not a boolean)
    rf"[\[{{,:?-][ \t]*{_WORD}[ \t]*(?:$|[#,\]}}:])|^[ \t]*{_WORD}[ \t]*:",
    re.M,
)
_EXPLICIT_TAG = re.compile(r"(?:^|[\s\[{,:-])!!\w")  # a tag starts a token; "done!!" is text
_OCTAL = re.compile(r"0(?:[0-9_]+|b[01_]+)[ \t]*(?:$|[#,\]}])", re.M)


def _in_comment(text: str, position: int) -> bool:
    """Is `position` after a `#` that starts a comment on its line? (Prose in comments
    says "no" and "on" all the time; it must not send a document down the slow path.)"""
    line_start = text.rfind("\n", 0, position) + 1
    mark = text.find("#", line_start, position)
    while mark != -1:
        if mark == line_start or text[mark - 1] in " \t":
            return True
        mark = text.find("#", mark + 1, position)
    return False


def _has_plain_word(text: str) -> bool:
    """A y/n/yes/no/on/off boolean or a `<<` merge key, plain (not quoted, not a comment)."""
    tokens = (text.translate(_FLOW_PUNCTUATION) if "[" in text or "{" in text else text).split()
    return not _RISKY_TOKENS.isdisjoint(tokens) and any(
        not _in_comment(text, match.start()) for match in _WORD_IN_CONTEXT.finditer(text)
    )


def _has_octal(text: str) -> bool:
    """A 0755-style octal or 0b binary integer (YAML 1.2 reads 0755 as 755)."""
    for match in _OCTAL.finditer(text):
        if _in_comment(text, match.start()):
            continue
        index = match.start() - 1
        if index >= 0 and text[index] in "+-":
            index -= 1  # a sign belongs to the scalar
        if index >= 0 and text[index] not in " \t\n[{,":
            continue  # "8000", "v1.05": the 0 is inside a longer scalar
        while index >= 0 and text[index] in " \t":
            index -= 1
        if index < 0 or text[index] in "\n:-[{,?":
            return True
    return False


class YamlError(ValueError):
    """A document that cannot be read; `line` is 1-based within the parsed text."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _CollectionKey(YamlError):
    """A key yaml-rs read as a collection; its output has no line to say where."""


@dataclass(frozen=True, slots=True)
class _Limits:
    depth: int = MAX_DEPTH
    nodes: int = MAX_NODES


def parse_document(text: str) -> Any:
    """Parse one YAML document (no `---` separators inside) into plain Python data."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise YamlError(
            f"document is larger than the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB limit"
        )
    # Two signals only the text has: explicit tags and octals (yaml-rs reads 0755 as 755).
    if ("!!" in text and _EXPLICIT_TAG.search(text)) or _has_octal(text):
        return _parse_yaml11(text)
    data = _parse_fast(text)  # yaml-rs enforces the alias limits itself
    if type(data) is not dict:
        check_shape(data)  # not a manifest (reported as such), but still within limits
        return data
    walk = _Walk()
    try:
        data = walk.mapping(data, 1)
    except _CollectionKey:
        return _parse_yaml11(text)  # it refuses the key too, and knows the key's line
    # yaml-rs reads yes/no/on/off and `<<` as strings; whether they were written plain
    # (YAML 1.1 reads them otherwise) or quoted, only the text says. Rare: ask only then.
    if walk.words and _has_plain_word(text):
        return _parse_yaml11(text)
    return data


_DICT, _LIST, _STR = dict, list, str
# Strings yaml-rs (YAML 1.2) makes of what YAML 1.1 reads as booleans, and the merge key.
_YAML11_WORDS = frozenset(_WORDS)


class _Walk:
    """One pass over yaml-rs output: intern keys, bound the depth, notice YAML 1.1 words.

    yaml-rs makes a new string for every key it reads, so ten thousand Deployments hold
    ten thousand copies of "containers". Interned, they take a third less memory, travel
    from a forked worker in a third of the time (marshal writes a shared string once)
    and compare by identity in dictionary lookups. yaml-rs output has no shared subtrees
    (aliases are expanded), so rebuilding cannot multiply anything.
    """

    __slots__ = ("words",)

    def __init__(self) -> None:
        self.words = False  # some key or string value is a word YAML 1.1 reads otherwise

    def mapping(self, mapping: dict[Any, Any], depth: int) -> dict[Any, Any]:
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels")
        intern, words = sys.intern, _YAML11_WORDS
        out = {}
        for key, value in mapping.items():
            kind = type(value)
            if kind is _STR:
                if value in words:
                    self.words = True
            elif kind is _DICT:
                value = self.mapping(value, depth + 1)
            elif kind is _LIST:
                value = self.sequence(value, depth + 1)
            if type(key) is _STR:
                key = intern(key)
                if key in words:
                    self.words = True
            elif type(key) in _SCALAR_KEYS:  # 80, true, null: JSON keys are strings
                key = intern(_key_text(key))
            else:  # `? [a, b] : c`, `{{ .Values.x }}`: no JSON object has such a key
                raise _CollectionKey("invalid YAML: a mapping key must be a scalar")
            out[key] = value
        return out

    def sequence(self, items: list[Any], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels")
        out = []
        for item in items:
            kind = type(item)
            if kind is _DICT:
                item = self.mapping(item, depth + 1)
            elif kind is _LIST:
                item = self.sequence(item, depth + 1)
            elif kind is _STR and item in _YAML11_WORDS:
                self.words = True
            out.append(item)
        return out


_SCALAR_KEYS = frozenset({int, float, bool, type(None)})


def _parse_fast(text: str) -> Any:
    try:
        return yaml_rs.loads(text, parse_datetime=False, alias_limits=_ALIAS_LIMITS)
    except yaml_rs.YAMLDecodeError as exc:
        message = str(exc)
        if "alias" in message:
            raise YamlError("excessive aliasing (a YAML alias bomb?)") from None
        if "recursion limit" in message:  # yaml-rs's own depth guard, in flow collections
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
        if "duplicate mapping key" in message:
            # Re-read with PyYAML for the line of the duplicate.
            return _parse_yaml11(text)
        match = re.search(r"at line (\d+), column (\d+)", message)
        first = message.splitlines()[0] if message else "invalid YAML"
        last = message.strip().splitlines()[-1].strip() if message.strip() else ""
        reason = last if last and last != first and not last.startswith("|") else first
        reason = re.sub(r"^YAML parse error at line \d+, column \d+:?\s*", "", reason) or first
        if match:
            raise YamlError(
                f"invalid YAML: {reason} (column {match.group(2)})", int(match.group(1))
            ) from None
        raise YamlError(f"invalid YAML: {reason}") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None


def _parse_yaml11(text: str) -> Any:
    from .yaml11 import parse_yaml11  # PyYAML loads only for documents that need it

    data = parse_yaml11(text)
    check_shape(data)  # before walking it: PyYAML shares aliased nodes
    return string_keys(data)


def _key_text(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml turns it into JSON: `true`, `1`, `null`."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def string_keys(data: Any) -> Any:
    """`data` with every mapping key a string (JSON has no other), rebuilt only if needed."""
    if isinstance(data, dict):
        return {_key_text(k): string_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [string_keys(item) for item in data]
    return data


def check_shape(data: Any, limits: _Limits = _Limits()) -> None:
    """Refuse nesting past the depth limit and alias expansion past the node limit.

    PyYAML shares aliased objects instead of copying them, so an alias bomb is cheap
    to build but explodes when anything walks it; count nodes as a walker would see them.
    """
    if not isinstance(data, dict | list):
        return
    budget = limits.nodes
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.depth:
            raise YamlError(f"nesting deeper than {limits.depth} levels")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            budget -= 1
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
        if budget < 0:
            raise YamlError("excessive aliasing or too many nodes (a YAML alias bomb?)")
