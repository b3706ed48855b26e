"""Find the source line of a field path, only for documents that have findings.

Parsing with positions costs ten times more than parsing without, and most documents
have no finding, so lines are looked up afterwards. Block-style YAML (what people
write) is read by indentation; anything else (flow style, JSON, odd quoting) falls
back to PyYAML's node tree, which is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

Path = tuple[str | int, ...]


Line = tuple[int, int, str]  # (1-based number, indentation, content without indentation)


def _significant_lines(text: str) -> list[Line]:
    return [
        (number, len(raw) - len(content), content.rstrip())
        for number, raw in enumerate(text.split("\n"), start=1)
        if (content := raw.lstrip(" ")) and content[0] != "#"
    ]


_ONE_LINE_FLOW = -1  # region marker: a flow collection that opens and closes on its line


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


def _is_dash(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _after_dash(line: Line) -> Line | None:
    """The virtual line after a sequence dash: "- name: a" at 4 -> "name: a" at 6."""
    number, indent, content = line
    if content == "-":
        return None
    rest = content[1:]
    stripped = rest.lstrip(" ")
    return (number, indent + 1 + len(rest) - len(stripped), stripped)


def _key_rest(content: str, key: str) -> str | None:
    """The text after `key:` if this line defines `key`, else None."""
    for quoted in (key, f'"{key}"', f"'{key}'"):
        if content.startswith(quoted):
            rest = content[len(quoted) :].lstrip(" ")
            if rest == ":" or rest.startswith((": ", ":\t")):
                return rest[1:].strip()
    return None


class TextLocator:
    """Indentation-based lookup over block-style YAML.

    A region is (head, lo, hi): an optional virtual first line (the content after a
    sequence dash) followed by lines[lo:hi]; nothing is copied while descending.
    """

    def __init__(self, text: str) -> None:
        self.lines = _significant_lines(text)

    def locate(self, path: Path) -> tuple[int | None, int]:
        """(line of the deepest segment found, number of segments found)."""
        head: Line | None = None
        lo, hi = 0, len(self.lines)
        line: int | None = self.lines[0][0] if self.lines else None
        for depth, part in enumerate(path):
            first = head or (self.lines[lo] if lo < hi else None)
            if first is None:
                return line, depth
            if isinstance(part, int):
                found = self._item(first, head, lo, hi, part)
            else:
                found = self._key(first, head, lo, hi, part)
            if found is None:
                return line, depth
            line, head, lo, hi = found
            if lo == hi == _ONE_LINE_FLOW or (head is not None and _one_line_flow(head[2])):
                return line, len(path)  # everything below sits on this line
        return line, len(path)

    def _region(self, head: Line | None, lo: int, hi: int) -> Iterator[tuple[int, Line]]:
        if head is not None:
            yield -1, head
        lines = self.lines
        for index in range(lo, hi):
            yield index, lines[index]

    def _key(
        self, first: Line, head: Line | None, lo: int, hi: int, key: str
    ) -> tuple[int, Line | None, int, int] | None:
        indent = first[1]
        if _is_dash(first[2]):
            return None  # a sequence where a mapping was expected
        for index, (number, line_indent, content) in self._region(head, lo, hi):
            if line_indent < indent:
                break
            if line_indent != indent:
                continue
            rest = _key_rest(content, key)
            if rest is None:
                continue
            if rest and not rest.startswith(("&", "!", "#")):
                if _one_line_flow(rest):
                    return number, None, _ONE_LINE_FLOW, _ONE_LINE_FLOW
                return number, None, 0, 0  # inline value: nothing below it to descend into
            start = lo if index == -1 else index + 1
            return number, None, start, len(self.lines)  # the block ends where indentation drops
        return None

    def _item(
        self, first: Line, head: Line | None, lo: int, hi: int, wanted: int
    ) -> tuple[int, Line | None, int, int] | None:
        indent = first[1]
        seen = -1
        for index, line in self._region(head, lo, hi):
            if line[1] < indent or (line[1] == indent and not _is_dash(line[2])):
                break  # dedent, or the next key of the mapping that holds this sequence
            if line[1] == indent:
                seen += 1
                if seen == wanted:
                    start = lo if index == -1 else index + 1
                    return line[0], _after_dash(line), start, len(self.lines)
        return None


def compose(text: str, loader: type[Any]) -> yaml.Node | None:
    """PyYAML's node tree (with positions) of one document, or None if it cannot be read."""
    try:
        return yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return None


def node_line(node: yaml.Node, path: Path) -> int:
    """Exact lookup through PyYAML's node tree: the line of the deepest node on `path`."""
    line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    line = key_node.start_mark.line + 1
                    child = value_node
                    break
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


def existing_depth(data: Any, path: Path) -> int:
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
