"""Find the source line of a field path, only for documents that have findings.

Parsing with positions costs ten times more than parsing without, and most documents
have no finding, so lines are looked up afterwards. Block-style YAML (what people
write) is read by indentation; anything else (flow style, JSON, odd quoting) falls
back to PyYAML's node tree, which is exact.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class _Line:
    __slots__ = ("content", "indent", "number")

    def __init__(self, number: int, indent: int, content: str) -> None:
        self.number = number  # 1-based within the document text
        self.indent = indent
        self.content = content


def _significant_lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        out.append(_Line(number, len(raw) - len(stripped), stripped.rstrip()))
    return out


def _item_line(line: _Line) -> _Line | None:
    """The virtual line after a sequence dash: "- name: a" at 4 -> "name: a" at 6."""
    content = line.content
    if content == "-":
        return None
    rest = content[1:]
    stripped = rest.lstrip(" ")
    return _Line(line.number, line.indent + 1 + len(rest) - len(stripped), stripped)


def _is_dash(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _key_matches(content: str, key: str) -> str | None:
    """The text after `key:` if this line defines `key`, else None."""
    for quoted in (key, f'"{key}"', f"'{key}'"):
        if content.startswith(quoted):
            rest = content[len(quoted) :].lstrip(" ")
            if rest == ":" or rest.startswith(": ") or rest.startswith(":\t"):
                return rest[1:].strip()
    return None


class TextLocator:
    """Indentation-based lookup over block-style YAML."""

    def __init__(self, text: str) -> None:
        self.lines = _significant_lines(text)

    def locate(self, path: Path) -> tuple[int | None, int]:
        """(line of the deepest segment found, number of segments found)."""
        region = self.lines
        line: int | None = region[0].number if region else None
        for depth, part in enumerate(path):
            if not region:
                return line, depth
            found = self._child(region, part)
            if found is None:
                return line, depth
            line, region = found
        return line, len(path)

    @staticmethod
    def _child(region: list[_Line], part: str | int) -> tuple[int, list[_Line]] | None:
        indent = region[0].indent
        if isinstance(part, int):
            seen = -1
            for position, line in enumerate(region):
                if line.indent < indent:
                    break
                if line.indent == indent and _is_dash(line.content):
                    seen += 1
                    if seen == part:
                        body = _block_after(region, position, indent, sequence=False)
                        head = _item_line(line)
                        return line.number, ([head] if head else []) + body
            return None
        if _is_dash(region[0].content):
            return None  # a sequence where a mapping was expected
        for position, line in enumerate(region):
            if line.indent < indent:
                break
            if line.indent != indent:
                continue
            rest = _key_matches(line.content, part)
            if rest is None:
                continue
            if rest and not rest.startswith(("&", "!", "#")):
                return line.number, []  # inline value: nothing below it to descend into
            return line.number, _block_after(region, position, indent, sequence=True)
        return None


def _block_after(region: list[_Line], position: int, indent: int, sequence: bool) -> list[_Line]:
    """Lines nested under region[position]: deeper ones, plus same-indent dashes for a key."""
    out: list[_Line] = []
    for line in region[position + 1 :]:
        if line.indent > indent or (sequence and line.indent == indent and _is_dash(line.content)):
            out.append(line)
        else:
            break
    return out


def node_line(text: str, path: Path, loader: type[Any]) -> int | None:
    """Exact lookup through PyYAML's node tree: the line of the deepest node on `path`."""
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    line = key_node.start_mark.line + 1
                    child = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
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
