"""Edits applied to a manifest's text with ruamel.yaml round-trip, everything else as written.

Only the documents that get an edit are loaded and dumped again; the other documents and
the `---` lines between them are copied as they are. A document is edited only when
ruamel.yaml, with the indentation it was written in, reproduces it byte for byte
unedited: then the dump after the edits differs from it only where the edits are.
The result is parsed again the way `check` parses it and compared with the data the edits
should give, so a YAML 1.1 reading (`on`, `0755`) can never slip in unnoticed.
"""

from __future__ import annotations

import copy
import io
import itertools
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..edits import AddDocument, AppendItem, Edit, FieldPath
from ..findings import render_path
from ..yamlparse import YamlError, parse_document

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\n]|\Z)", re.M)
_LEADING_BLANK = re.compile(r"(?:[ \t]*\n)*")
_INDENT = re.compile(r"[ ]*")
# (mapping indent, sequence indent, dash offset): the layouts tried, most common first.
_LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 4, 0), (4, 6, 4), (3, 3, 0), (3, 5, 2))


class CannotEdit(Exception):
    """The document (or file) cannot get the edit without changing what it does not touch."""


@dataclass(frozen=True, slots=True)
class Span:
    """One document of a file's text: text[start:end], its first line (1-based), as the
    loader numbers documents (Document.start_line)."""

    start: int
    end: int
    line: int


def document_spans(text: str) -> list[Span]:
    """The documents of `text` split at `---` / `...` lines, exactly as the loader splits
    them: a document starts right after the marker (the rest of the marker's line is its
    first line) and ends with the newline before the next marker."""
    spans: list[Span] = []
    position, line = 0, 1
    for match in _MARKER.finditer(text):
        spans.append(Span(position, match.start(), line))
        line += text.count("\n", position, match.start())
        position = match.end()
    spans.append(Span(position, len(text), line))
    return spans


def edit_text(
    text: str, edits: Sequence[tuple[int, FieldPath, Edit]], plain: dict[int, Any]
) -> tuple[str, dict[int, str]]:
    """`text` with `edits` applied: (document start line, resource base path, edit).

    `plain`: the data `check` parsed for each edited document (by start line), to verify
    the result. Returns the new text and, per document that could not be edited, why; the
    edits of those documents are left out, the others applied.
    """
    by_line: dict[int, list[tuple[FieldPath, Edit]]] = {}
    for line, base, edit in edits:
        by_line.setdefault(line, []).append((base, edit))
    out: list[str] = []
    failed: dict[int, str] = {}
    position = 0
    for span in document_spans(text):
        wanted = by_line.get(span.line)
        if not wanted:
            continue
        chunk = text[span.start : span.end]
        memo_key = (chunk, repr(wanted), span.line)
        replacement = _EDITED.get(memo_key)
        if replacement is None:
            try:
                replacement = _edit_document(chunk, wanted, plain[span.line], span.line)
            except CannotEdit as exc:
                replacement = exc
            if len(_EDITED) > 4096:
                _EDITED.clear()
            _EDITED[memo_key] = replacement
        if isinstance(replacement, CannotEdit):
            failed[span.line] = str(replacement)
            continue
        out += [text[position : span.start], replacement]
        position = span.end
    out.append(text[position:])
    return "".join(out), failed


# (document text, its edits) -> the edited text, or why not: `fix` renders the same
# document with the same edits several times (alone, with the others, finally).
_EDITED: dict[tuple[str, str, int], str | CannotEdit] = {}


def _edit_document(
    chunk: str, edits: list[tuple[FieldPath, Edit]], plain: Any, first_line: int
) -> str:
    lead_end = _LEADING_BLANK.match(chunk)
    assert lead_end is not None
    lead = chunk[: lead_end.end()]
    body = chunk[len(lead) :]
    if not lead and chunk[:1] in " \t":  # `--- {a: 1}` or `--- # note`: ruamel moves it
        raise CannotEdit("the document starts on its `---` line")
    newline_at_end = body.endswith("\n")
    body_line = first_line + lead.count("\n")
    layout, data = _faithful_layout(body if newline_at_end else body + "\n", body_line)
    expected = copy.deepcopy(plain)
    field_edits = [(base, e) for base, e in edits if not isinstance(e, AddDocument)]
    for base, edit in field_edits:
        _apply(data, base, edit)
        _apply_plain(expected, base, edit)
    dumped = _dump(data, layout) if field_edits else body if newline_at_end else body + "\n"
    if not newline_at_end:
        dumped = dumped[:-1]
    try:
        reparsed = parse_document(dumped)
    except YamlError as exc:  # never expected: ruamel wrote it
        raise CannotEdit(f"the edited document does not parse ({exc.message})") from None
    if reparsed != expected:
        raise CannotEdit("the edited document would not read back as intended")
    added = [e for _, e in edits if isinstance(e, AddDocument)]
    for document in added:
        _check_new_document(document, layout)
    tail = "".join(_new_document(document, layout) for document in added)
    if tail:
        dumped = (dumped if dumped.endswith("\n") else dumped + "\n") + tail
        if not newline_at_end:
            dumped = dumped[:-1]
    return lead + dumped


def _yaml(layout: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # never fold a long line that was written on one line
    mapping, sequence, offset = layout
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(data: Any, layout: tuple[int, int, int]) -> str:
    stream = io.StringIO()
    _yaml(layout).dump(data, stream)
    return stream.getvalue()


_LAYOUT_OF: dict[str, tuple[int, int, int]] = {}  # document text -> its layout, per process


def _faithful_layout(body: str, first_line: int) -> tuple[tuple[int, int, int], Any]:
    """The indentation with which ruamel.yaml writes `body` back unchanged, and its data.

    Loading does not depend on the indentation settings, only dumping: one load, then a
    dump per layout tried (the one found last time for this text first).
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = _yaml(_LAYOUTS[0]).load(body)
    except MarkedYAMLError as exc:  # one line, on the file's line: not ruamel's dump
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {first_line + mark.line})" if mark is not None else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise CannotEdit(f"ruamel.yaml cannot read it: {what}{where}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise CannotEdit(f"ruamel.yaml cannot read it: {first}") from None
    known = _LAYOUT_OF.get(body)
    if known is not None:
        return known, data
    for layout in sorted(_LAYOUTS, key=lambda layout: layout != _guess(body)):
        if _dump(data, layout) == body:
            if len(_LAYOUT_OF) > 10_000:
                _LAYOUT_OF.clear()
            _LAYOUT_OF[body] = layout
            return layout, data
    raise CannotEdit(
        "its layout cannot be kept (mixed indentation, or a construct ruamel.yaml rewrites)"
    )


_KEY_LINE = re.compile(r"^( *)[^\s#-][^:#]*:[ \t]*(?:#.*)?$")  # `key:` opening a block


def _guess(body: str) -> tuple[int, int, int] | None:
    """The layout the text suggests (the first block below a key), tried first."""
    mapping = offset = None
    lines = body.split("\n")
    for above, line in itertools.pairwise(lines):
        parent = _KEY_LINE.match(above)
        if parent is None or not line.strip() or line.lstrip().startswith("#"):
            continue
        step = len(line) - len(line.lstrip(" ")) - len(parent.group(1))
        if line.lstrip().startswith("- "):
            offset = step if offset is None else offset
        elif step > 0:
            mapping = step if mapping is None else mapping
        if mapping is not None and offset is not None:
            break
    mapping = mapping or 2
    offset = offset or 0
    return (mapping, offset + 2 if offset + 2 > mapping else mapping, offset)


def _apply(data: Any, base: FieldPath, edit: Edit) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    assert not isinstance(edit, AddDocument)  # written as its own document
    path = (*base, *edit.path)
    node = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            node = node[part]
            continue
        if not isinstance(node, CommentedMap) or isinstance(part, int):
            raise CannotEdit(f"{render_path(path[:depth]) or 'the document'} is not a mapping")
        if node.get(part) is None:
            child = _new_node(_nest(path[depth + 1 :], edit), node)
            _insert(node, part, child, getattr(edit, "before", None))
            return
        node = node[part]
    last = path[-1]
    if isinstance(edit, AppendItem):
        target = node.get(last) if isinstance(node, CommentedMap) else None
        if not isinstance(target, CommentedSeq):
            raise CannotEdit(f"{render_path(path)} is not a list")
        target.append(_new_node(edit.value, target))
        return
    if not isinstance(node, CommentedMap) or isinstance(last, int):
        raise CannotEdit(f"{render_path(path[:-1]) or 'the document'} is not a mapping")
    if last in node:
        node[last] = _new_node(edit.value, node)
    else:
        _insert(node, last, _new_node(edit.value, node), edit.before)


def _nest(rest: FieldPath, edit: Edit) -> Any:
    """The value to create for a missing mapping: the rest of the path down to the edit."""
    value: Any = [edit.value] if isinstance(edit, AppendItem) else edit.value  # type: ignore[union-attr]
    for part in reversed(rest):
        value = {part: value}
    return value


def _apply_plain(data: Any, base: FieldPath, edit: Edit) -> None:
    """The same edit on plain data: what `check` must read back."""
    path = (*base, *edit.path)  # type: ignore[union-attr]
    node = data
    for part in path[:-1]:
        if isinstance(node, dict) and node.get(part) is None:
            node[part] = {}
        node = node[part]
    if isinstance(edit, AppendItem):
        node[path[-1]].append(copy.deepcopy(edit.value))
    else:
        node[path[-1]] = copy.deepcopy(edit.value)  # type: ignore[union-attr]


def _new_node(value: Any, parent: Any) -> Any:
    """Plain data as ruamel.yaml nodes: block style under a block parent (ruamel.yaml
    writes anything inside a flow collection in flow style), strings quoted where YAML 1.1
    would read them as something else."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    flow = bool(getattr(parent, "fa", None) and parent.fa.flow_style())
    if isinstance(value, dict):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _new_node(item, node)
        if flow:
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_new_node(item, parent) for item in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and _needs_quotes(value):
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        return DoubleQuotedScalarString(value)
    return value


def _needs_quotes(value: str) -> bool:
    from ..yaml11 import parse_yaml11

    try:
        return bool(parse_yaml11(f"k: {value}\n") != {"k": value})
    except Exception:  # not a plain scalar at all
        return True


def _insert(mapping: Any, key: str, value: Any, before: str | None) -> None:
    """Add `key` to a mapping (before `before` if it holds it, else last), moving the
    comment lines that belong to what follows the mapping after the new entry."""
    keys = list(mapping)
    position = keys.index(before) if before is not None and before in keys else len(keys)
    flow = bool(mapping.fa.flow_style())
    previous = keys[position - 1] if position > 0 else None
    moved = "" if flow or previous is None else _take_trailing_comment(mapping, previous, position)
    if position == len(keys):
        mapping[key] = value
    else:
        mapping.insert(position, key, value)
    if moved:
        _give_trailing_comment(mapping, key, moved)


def _column_of(mapping: Any) -> int | None:
    """The column the keys of a block mapping start at."""
    lc = getattr(mapping, "lc", None)
    if lc is None or not mapping:
        return None
    try:
        return int(lc.key(next(iter(mapping)))[1])
    except (KeyError, TypeError, AttributeError):
        return None


def _take_trailing_comment(mapping: Any, previous: Any, position: int) -> str:
    """Comment lines after the entry before the insertion point that belong further out.

    ruamel.yaml keeps the comment lines that follow a value with the last scalar of it. When
    a key is added after that value, the lines indented less than the mapping's keys (a
    comment on the parent's next key; when inserting before a sibling, also the lines at the
    keys' column: a comment on that sibling) and the blank lines before them must follow the
    new key, or they would end up above it, describing the wrong field.
    """
    holder, slot = _last_comment_slot(mapping, previous)
    if holder is None:
        return ""
    column = _column_of(mapping)
    if column is None:
        # A mapping this fix created has no position: its comment lines are only those
        # moved into it (they belong further out), so they move on below the new key.
        column = sys.maxsize
    entry = holder.ca.items[slot]
    index_in_entry = 2 if _is_map(holder) else 0
    token = entry[index_in_entry]
    if token is None or "\n" not in token.value:
        return ""
    head, _, rest = token.value.partition("\n")
    lines = rest.split("\n")
    appending = position == len(mapping)
    last_kept = 0  # lines[:last_kept] stay: up to the last comment line that stays
    for index, line in enumerate(lines):
        if not line.strip():
            continue  # a blank line goes with what follows it
        indent = len(line) - len(line.lstrip(" "))
        if indent < column or (not appending and indent == column):
            moved = "\n".join(lines[last_kept:])
            kept = "".join(kept_line + "\n" for kept_line in lines[:last_kept])
            if head or kept:
                token.value = head + "\n" + kept
            else:
                entry[index_in_entry] = None
            return moved
        last_kept = index + 1
    return ""


def _is_map(holder: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(holder, CommentedMap)


def _last_comment_slot(mapping: Any, key: Any) -> tuple[Any, Any]:
    """The (collection, key or index) whose comment slot holds what follows mapping[key]:
    the last entry of the last entry ... of its value."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    holder, slot = mapping, key
    while True:
        value = holder[slot]
        if isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
            holder, slot = value, list(value)[-1]
        elif isinstance(value, CommentedSeq) and len(value) and not value.fa.flow_style():
            holder, slot = value, len(value) - 1
        else:
            break
    entry = holder.ca.items.get(slot)
    return (holder, slot) if entry is not None else (None, None)


def _give_trailing_comment(mapping: Any, key: Any, text: str) -> None:
    """Attach comment lines after the new entry mapping[key] (to its last scalar)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    holder, slot = mapping, key
    while True:
        value = holder[slot]
        if isinstance(value, CommentedMap) and len(value):
            holder, slot = value, list(value)[-1]
        elif isinstance(value, CommentedSeq) and len(value):
            holder, slot = value, len(value) - 1
        else:
            break
    token = CommentToken("\n" + text, CommentMark(0), None)
    if isinstance(holder, CommentedMap):
        holder.ca.items[slot] = [None, None, token, None]
    else:
        holder.ca.items[slot] = [token, None]


def _new_document(edit: AddDocument, layout: tuple[int, int, int]) -> str:
    import textwrap

    lines = [part for line in edit.comment.splitlines() for part in textwrap.wrap(line, 88)]
    comment = "".join(f"# {line}\n" for line in lines)
    return "---\n" + comment + _dump(_new_node(edit.data, None), layout)


def _check_new_document(edit: AddDocument, layout: tuple[int, int, int]) -> None:
    try:
        if parse_document(_new_document(edit, layout)[4:]) != edit.data:
            raise CannotEdit("the new document would not read back as intended")
    except YamlError as exc:
        raise CannotEdit(f"the new document does not parse ({exc.message})") from None


def changed_line_ranges(old: str, new: str) -> Iterable[tuple[int, int, list[str]]]:
    """(first old line, old line count, new lines) of each change, 1-based, no context."""
    import difflib

    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            yield i1 + 1, i2 - i1, new_lines[j1:j2]
