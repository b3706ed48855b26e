"""Files, directories and stdin -> documents -> resources, or input errors naming file and line."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .findings import FieldPath, InputError
from .locate import TextLocator, compose, existing_depth, node_line
from .parallel import split_map
from .resources import Resource, make_resource
from .sources import Refused, Source, SourceList, list_sources, read_file
from .yamlparse import MAX_DEPTH, YamlError, check_shape, parse_document

MAX_FILE_BYTES = 64 * 1024 * 1024
# Led by the literal newline so the engine skips ahead instead of trying every position.
_MERGE_KEY = re.compile(r"(?:^|[\s{,])<<[ \t]*:", re.M)  # not `cat <<EOF` in a command
_SEPARATOR = re.compile(r"\n(?:---|\.\.\.)(?=[ \t\n]|\Z)")


@dataclass(slots=True)
class Document:
    """One YAML/JSON document of a file, with lazy line lookups for its findings."""

    file: str
    start_line: int  # 1-based line in the file where `text` begins
    text: str
    data: Any
    is_json: bool = False
    _locator: TextLocator | None = field(default=None, repr=False)
    _node: Any = field(default=None, repr=False)  # PyYAML node tree, composed on first need
    _lines: dict[FieldPath, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: FieldPath) -> int:
        """Line of the field at `path`, else of its nearest existing parent, else of the doc."""
        cached = self._lines.get(path)
        if cached is None:
            cached = self.start_line - 1 + self._relative_line(path)
            self._lines[path] = cached
        return cached

    def _relative_line(self, path: FieldPath) -> int:
        wanted = existing_depth(self.data, path)
        # With merge keys (<<: *base) only the node tree knows where a merged field is written.
        if not self.is_json and not ("<<" in self.text and _MERGE_KEY.search(self.text)):
            if self._locator is None:
                self._locator = TextLocator(self.text)
            line, found = self._locator.locate(path[:wanted])
            if found == wanted and line is not None:
                return line
        if self._node is None:
            from .yaml11 import KubernetesLoader

            self._node = compose(self.text, KubernetesLoader) or False
        return node_line(self._node, path[:wanted]) if self._node else 1


@dataclass(slots=True)
class LoadResult:
    resources: list[Resource] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: int = 0


# What a parse produces, as plain data so a forked worker can send it back cheaply:
# ("doc", file, first line, text, data, is_json) or ("error", file, line, message).
Parsed = tuple[Any, ...]


def load_paths(paths: Iterable[str], stdin_name: str = "<stdin>") -> LoadResult:
    """Every document of every path, in order; files are parsed on two cores when many."""
    listing = list_sources(list(paths), stdin_name)
    weight = listing.size // 2048
    batches = split_map(parse_sources, listing.sources, weight=weight, plain_data=True)
    return load_parsed(listing, batches)


def load_parsed(listing: SourceList, batches: Iterable[list[Parsed]]) -> LoadResult:
    """The resources and input errors of `listing`, from the `parse_sources` results of
    its files in order (however they were parsed: the CLI's start-up worker gives them)."""
    result = LoadResult(files=len(listing.sources))
    result.errors.extend(InputError(file, None, error) for file, error in listing.errors)
    for batch in batches:
        for item in batch:
            if item[0] == "error":
                result.errors.append(InputError(item[1], item[2], item[3]))
            else:
                _to_resources(Document(item[1], item[2], item[3], item[4], item[5]), result)
    return result


def parse_sources(sources: Sequence[Source]) -> list[Parsed]:
    """The plain-data parse results of `sources` (what a forked worker sends back)."""
    out: list[Parsed] = []
    for name, raw, force_json in sources:
        if raw is None:
            try:
                raw, _ = read_file(name, MAX_FILE_BYTES)
            except Refused as exc:
                out.append(("error", name, None, str(exc)))
                continue
            except OSError as exc:
                out.append(("error", name, None, f"cannot read: {exc.strerror or exc}"))
                continue
        out.extend(_parse_bytes(name, raw, force_json))
    return out


def _parse_bytes(name: str, raw: bytes, force_json: bool | None) -> Iterator[Parsed]:
    if b"\x00" in raw:
        yield ("error", name, None, "binary file (contains NUL bytes), not a manifest")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        yield ("error", name, line, f"not UTF-8 text (byte {exc.start})")
        return
    if force_json is None:
        force_json = text.lstrip().startswith("{")
    yield from _json_documents(name, text) if force_json else _yaml_documents(name, text)


def _split_documents(text: str) -> list[tuple[int, str]]:
    """Split a YAML stream at `---` / `...` lines: [(0-based first line, document text)].

    Markers are blanked, not dropped, so `--- {a: 1}` keeps its content and columns.
    YAML forbids these markers inside scalars, so a line-based split is exact.
    """
    chunks: list[tuple[int, str]] = []
    position, line, prefix = 0, 0, ""
    for match in _SEPARATOR.finditer("\n" + text):  # offsets shift by one: start is the marker's
        start, end = match.start(), match.end() - 1
        chunks.append((line, prefix + text[position:start]))
        line += text.count("\n", position, start)
        position, prefix = end, " " * (end - start)
    chunks.append((line, prefix + text[position:]))
    return chunks


def _yaml_documents(name: str, text: str) -> Iterator[Parsed]:
    for first_line, chunk in _split_documents(text.replace("\r\n", "\n")):
        if not chunk.strip():
            continue
        try:
            data = parse_document(chunk)
        except YamlError as exc:
            where = first_line + exc.line if exc.line else first_line + 1
            yield ("error", name, where, exc.message)
            continue
        if data is None:
            continue
        yield ("doc", name, first_line + 1, chunk, data, False)


def _json_documents(name: str, text: str) -> Iterator[Parsed]:
    """One document per top-level JSON value: kubectl reads concatenated objects too."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
    position, length = 0, len(text)
    first_line, counted = 1, 0  # lines counted up to `counted`, so a long stream stays linear
    while True:
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            return
        first_line += text.count("\n", counted, position)
        counted = position
        try:
            data, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield ("error", name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        except ValueError as exc:
            yield ("error", name, first_line, f"invalid JSON: {exc}")
            return
        except RecursionError:
            yield ("error", name, first_line, f"nesting deeper than {MAX_DEPTH} levels")
            return
        try:
            check_shape(data)
        except YamlError as exc:
            yield ("error", name, first_line, exc.message)
        else:
            # Its own text from its first line (blanked before it, so columns stay the file's)
            column = position - (text.rfind("\n", 0, position) + 1)
            yield ("doc", name, first_line, " " * column + text[position:end], data, True)
        position = end


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _to_resources(document: Document, result: LoadResult) -> None:
    data = document.data
    if (
        isinstance(data, dict)
        and "apiVersion" not in data
        and "kind" not in data
        and os.path.basename(document.file) in KUSTOMIZATION_FILES
    ):  # kustomize defaults them: a build file, not a Kubernetes object missing its kind
        data = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **data}
    if not isinstance(data, dict):
        result.errors.append(
            InputError(
                document.file,
                document.line_of(()),
                f"document is a {_type_name(data)}, not a mapping",
            )
        )
        return
    if data.get("kind") == "List" or (
        isinstance(data.get("kind"), str)
        and data["kind"].endswith("List")
        and isinstance(data.get("items"), list)
    ):
        items = data.get("items")
        if not isinstance(items, list):
            result.errors.append(
                InputError(
                    document.file, document.line_of(("items",)), "List without an items array"
                )
            )
            return
        for index, item in enumerate(items):
            _append(document, item, ("items", index), result)
        return
    _append(document, data, (), result)


def _append(document: Document, data: Any, base: FieldPath, result: LoadResult) -> None:
    resource, problem = make_resource(document, data, base)
    if resource is None:
        missing_at = base + (problem[1] if problem else ())
        result.errors.append(
            InputError(
                document.file, document.line_of(missing_at), problem[0] if problem else "invalid"
            )
        )
        return
    result.resources.append(resource)


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


__all__ = ["MAX_DEPTH", "Document", "LoadResult", "load_paths"]
