"""Find the source line of a field path, only for documents that have findings.

Parsing with positions costs ten times more than parsing without, and most documents
have no finding, so lines are looked up afterwards. Block-style YAML (what people
write) is read by indentation; anything else (flow style, JSON, odd quoting) falls
back to PyYAML's node tree, which is exact.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .findings import FieldPath

if TYPE_CHECKING:
    import yaml


def _one_line_flow(value: str) -> bool:
    """`{name: x, key: y}` or `["ALL"]` that opens and closes on this line."""
    if not value or value[0] not in "[{":
        return False
    depth, quote, index = 0, "", 0
    while index < len(value):
        char = value[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return True
        index += 1
    return False


@lru_cache(maxsize=4096)
def _key_pattern(column: int, key: str, dash_column: int) -> re.Pattern[str]:
    """`key:` at `column`, or first on a `- ` line whose dash is at `dash_column`."""
    name = re.escape(key)
    lead = f" {{{column}}}"
    if dash_column >= 0:
        lead = f"(?:{lead}| {{{dash_column}}}- +)"
    return re.compile(rf"^{lead}(?:{name}|\"{name}\"|'{name}')[ \t]*:(?=[ \t\n]|$)", re.M)


@lru_cache(maxsize=256)
def _dash_pattern(column: int) -> re.Pattern[str]:
    return re.compile(rf"^ {{{column}}}-(?=[ \t\n]|$)", re.M)


_CONTENT = re.compile(r"^( *)[^ \n#]", re.M)  # the first line that holds something
_SPACES = re.compile(" *")


class TextLocator:
    """Indentation-based lookup over block-style YAML, by regex over character offsets.

    Only paths that exist in the parsed data are looked up, and YAML forbids duplicate
    keys, so the first `key:` at the mapping's column after the parent is the one: no
    block end needs to be measured. Everything that is not plain block style (flow
    collections spanning lines, compact nested sequences, odd quoting) answers "not
    found" and the caller falls back to PyYAML.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        # path prefix -> (start, column, dash_column, found_at) where its block begins:
        # findings of one object share long prefixes (spec.template.spec.containers[0])
        self._blocks: dict[FieldPath, tuple[int, int, int, int]] = {}

    def locate(self, path: FieldPath) -> tuple[int | None, int]:
        """(line of the deepest segment found, number of segments found)."""
        text = self.text
        blocks = self._blocks
        resume = next((d for d in range(len(path), 0, -1) if path[:d] in blocks), 0)
        if resume:
            start, column, dash_column, found_at = blocks[path[:resume]]
        else:
            first = _CONTENT.search(text)
            if first is None:
                return None, 0
            start, column, dash_column = first.start(), len(first.group(1)), -1
            found_at = start
        for depth in range(resume, len(path)):
            part = path[depth]
            if depth > resume:
                blocks[path[:depth]] = (start, column, dash_column, found_at)
            if isinstance(part, int):
                if dash_column >= 0:
                    return self._line(found_at), depth  # "- - a": leave it to PyYAML
                match = None
                for index, candidate in enumerate(_dash_pattern(column).finditer(text, start)):
                    if index == part:
                        match = candidate
                        break
                if match is None:
                    return self._line(found_at), depth
                found_at = match.start()
                rest_start = match.end()
                line_end = text.find("\n", rest_start)
                rest = text[rest_start : line_end if line_end >= 0 else len(text)].strip()
                if rest and not rest.startswith("#"):
                    if _one_line_flow(rest):
                        return self._line(found_at), len(path)
                    # "- name: a": the item's mapping starts on the dash line
                    dash_column = column
                    column = _SPACES.match(text, rest_start).end() - found_at  # type: ignore[union-attr]
                    start = found_at
                    continue
            else:
                match = _key_pattern(column, part, dash_column).search(text, start)
                if match is None:
                    return self._line(found_at), depth
                found_at = match.start()
                line_end = text.find("\n", match.end())
                rest = text[match.end() : line_end if line_end >= 0 else len(text)].strip()
                if rest and not rest.startswith(("&", "!", "#")):
                    if _one_line_flow(rest):
                        return self._line(found_at), len(path)
                    return self._line(found_at), depth + 1  # an inline scalar: nothing below
                key_column = self._column_of_key(match)
                if line_end < 0:
                    return self._line(found_at), depth + 1
            # The block nested under this key or item: its column is that of its first line.
            child = _CONTENT.search(text, line_end + 1)
            if child is None:
                return self._line(found_at), depth + 1
            child_column = len(child.group(1))
            parent_column = key_column if not isinstance(part, int) else column
            is_dash = text.startswith("-", child.end() - 1)
            if child_column < parent_column or (child_column == parent_column and not is_dash):
                return self._line(found_at), depth + 1  # nothing nested (an empty value)
            start, column, dash_column = child.start(), child_column, -1
        if len(path) > resume:
            blocks[path] = (start, column, dash_column, found_at)
        return self._line(found_at), len(path)

    def _column_of_key(self, match: re.Match[str]) -> int:
        text = match.group(0)
        stripped = text.lstrip(" ")
        if stripped.startswith("-"):
            after_dash = stripped[1:]
            return len(text) - len(after_dash.lstrip(" "))
        return len(text) - len(stripped)

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1


def compose(text: str, loader: type[Any]) -> yaml.Node | None:
    """PyYAML's node tree (with positions) of one document, or None if it cannot be read."""
    import yaml

    try:
        return yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return None


def node_line(node: yaml.Node, path: FieldPath) -> int:
    """Exact lookup through PyYAML's node tree: the line of the deepest node on `path`."""
    import yaml

    line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = _mapping_key(node, part)
            if found is not None:
                key_node, child = found
                line = key_node.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _mapping_key(node: yaml.MappingNode, key: str, depth: int = 0) -> tuple[Any, Any] | None:
    """(key node, value node) of `key` in a mapping, or in what it merges (`<<: *base`):
    a merged field's line is where the anchored mapping writes it."""
    import yaml

    merged: list[Any] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or (
            isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<"
        ):
            merged.extend(
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node  # a key written here wins over a merged one
    for source in merged if depth < 20 else []:  # merges of merges, not endlessly
        if isinstance(source, yaml.MappingNode):
            found = _mapping_key(source, key, depth + 1)
            if found is not None:
                return found
    return None


def existing_depth(data: Any, path: FieldPath) -> int:
    """How many leading segments of `path` exist in `data`."""
    node = data
    for depth, part in enumerate(path):
        if isinstance(part, int):
            if not isinstance(node, list) or not 0 <= part < len(node):
                return depth
        elif not isinstance(node, dict) or part not in node:
            return depth
        node = node[part]
    return len(path)
