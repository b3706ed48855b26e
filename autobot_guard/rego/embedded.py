"""The embedded engine: rego-cpp (Microsoft's C++ Rego interpreter) through `regopy`.

The policies are compiled once into a bundle with one query that collects every
deny/violation/warn/exception rule of every per-document namespace; each document is
then set as the input (built node by node through the C API, cheaper than JSON text)
and the bundle is queried. Combined namespaces get a second bundle, queried once with
the input conftest `--combine` builds: `[{"path": ..., "contents": <object>}, ...]`.

Known limits of rego-cpp (regopy 1.5) that policies must respect (README "Rego
policies"): it is laxer than OPA at compile time (an unsafe variable or an unknown
function is not an error: `conftest verify` in CI catches those); `sprintf` quotes
computed strings when given several arguments (build messages with `concat`); in tests,
`with input as {...}` does not compile, give input field by field with literals. A
running evaluation cannot be interrupted: the timeout is checked between documents.
"""

from __future__ import annotations

import ctypes
import json
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..check import UsageError
from .policies import PolicySet
from .results import Hit, check_value, exception_name, rule_kind

INSTALL_HINT = "pip install regopy (a dependency of autobot-guard)"
# (error <n>:<file>|<offset>|<length> (errormsg <n>:<text>) ...) in rego-cpp's errors
_ERROR = re.compile(r"\(error \d+:(?P<file>[^|]*)\|(?P<offset>\d+)\|\d+")
_ERRORMSG = re.compile(r"\(errormsg (?P<size>\d+):")


def _regopy() -> Any:
    try:
        import regopy
    except ImportError as exc:  # pragma: no cover - regopy is a dependency
        raise UsageError(f"the embedded Rego engine needs regopy: {INSTALL_HINT} ({exc})") from None
    return regopy


class EmbeddedEngine:
    """A compiled policy set. Not thread-safe: callers serialise `evaluate*` (`lock`)."""

    def __init__(self, policies: PolicySet) -> None:
        regopy = _regopy()
        from regopy import rego_shared

        self.policies = policies
        self.lock = threading.Lock()
        self._c = rego_shared
        self._rego = regopy.Interpreter()
        self._rego.log_level = regopy.LogLevel.NONE  # errors come back as exceptions, not stdout
        sources = {module.name: module.source for module in policies.modules}
        for name, source in sources.items():
            try:
                self._rego.add_module(name, source)
            except regopy.RegoError as exc:
                raise UsageError(describe_error(str(exc), policies, sources)) from None
        self._per_document = _Query(self, policies.per_document())
        self._combined = _Query(self, policies.combined())

    # -- evaluation -------------------------------------------------------------------

    def evaluate(
        self, documents: Sequence[Any], first_index: int = 0, deadline: float | None = None
    ) -> list[Hit]:
        """Hits of the per-document namespaces; `documents[i]` is resource first_index+i."""
        hits: list[Hit] = []
        if not self._per_document.slots:
            return hits
        for offset, document in enumerate(documents):
            if deadline is not None and time.monotonic() > deadline:
                raise UsageError(
                    f"Rego evaluation timed out after {first_index + offset} documents "
                    "(--rego-timeout); the embedded engine stops between documents"
                )
            hits.extend(self._per_document.run(document, first_index + offset))
        return hits

    def evaluate_combined(self, documents: Sequence[Any], paths: Sequence[str]) -> list[Hit]:
        """Hits of the combined namespaces; a hit's `document` names the path it is about."""
        if not self._combined.slots:
            return []
        combined = [{"path": p, "contents": d} for p, d in zip(paths, documents, strict=True)]
        by_path = {path: index for index, path in enumerate(paths)}
        hits = []
        for hit in self._combined.run(combined, 0):
            named = hit.value.get("document") if isinstance(hit.value, dict) else None
            index = by_path.get(named, 0) if isinstance(named, str) else 0
            hits.append(Hit(index, hit.namespace, hit.kind, hit.value, hit.loc))
        return hits

    def run_unit_tests(self) -> list[tuple[str, bool, str]]:
        """(name, passed, detail) of every `test_` rule of the `_test.rego` files."""
        regopy = _regopy()
        rego = regopy.Interpreter()
        rego.log_level = regopy.LogLevel.NONE
        sources = {module.name: module.source for module in self.policies.files}
        for name, source in sources.items():
            try:
                rego.add_module(name, source)
            except regopy.RegoError as exc:
                raise UsageError(describe_error(str(exc), self.policies, sources)) from None
        results = []
        for module in self.policies.files:
            if not module.is_test:
                continue
            for test in sorted(set(re.findall(r"^(test_\w+)", module.source, re.M))):
                name = f"data.{module.package}.{test}"
                output = self._raw_query(rego, f"x := {name}")
                passed = output is not None and _binding(output) is True
                results.append((name, passed, "" if passed else str(output)[:300]))
        return results

    # -- plumbing ---------------------------------------------------------------------

    def _raw_query(self, rego: Any, query: str) -> Any:
        c = self._c
        impl = c.rego_query(rego._impl, query)
        try:
            if not c.rego_output_ok(impl):
                return {"error": c.rego_get_error(rego._impl)}
            text = c.rego_output_string(impl)
        finally:
            c.rego_free_output(impl)
        return None if text == "undefined" else json.loads(text)


class _Query:
    """One compiled bundle whose query returns, per (namespace, rule) slot, [value] or []."""

    def __init__(self, engine: EmbeddedEngine, namespaces: dict[str, tuple[str, ...]]) -> None:
        self.engine = engine
        self.slots = [(ns, rule) for ns, rules in namespaces.items() for rule in rules]
        self.bundle: Any = None
        if self.slots:
            # [v | v := rule]: [] where a rule is undefined, instead of an undefined query
            terms = ", ".join(f"[v | v := data.{ns}.{rule}]" for ns, rule in self.slots)
            rego = engine._rego
            self.bundle = rego.build(f"x := [{terms}]")
            if not self.bundle.ok():
                raise UsageError(
                    f"Rego policies do not compile: {engine._c.rego_get_error(rego._impl)}"
                )

    def run(self, document: Any, index: int) -> list[Hit]:
        engine, c = self.engine, self.engine._c
        rego = engine._rego
        handle = to_input(document, c)
        try:
            c.rego_set_input(rego._impl, handle)
        finally:
            c.rego_free_input(handle)
        impl = c.rego_bundle_query(rego._impl, self.bundle._impl)
        try:
            if not c.rego_output_ok(impl):
                raise UsageError(f"Rego evaluation failed: {c.rego_get_error(rego._impl)[:500]}")
            text = c.rego_output_string(impl)
        finally:
            c.rego_free_output(impl)
        try:
            values = _binding(json.loads(text))
        except ValueError:
            raise UsageError(
                "the embedded Rego engine returned malformed output (rego-cpp renders some "
                "sprintf results unescaped: build messages with concat): " + text[:300]
            ) from None
        return self._hits(values, index)

    def _hits(self, values: Any, index: int) -> list[Hit]:
        by_slot = dict(zip(self.slots, values if isinstance(values, list) else [], strict=False))
        hits = []
        for (namespace, rule), found in by_slot.items():
            kind = rule_kind(rule)
            if kind is None or not found:
                continue
            exceptions = _exception_names(by_slot.get((namespace, "exception")))
            if exception_name(rule) in exceptions:
                continue
            items = found[0] if isinstance(found[0], list) else []
            for value in items:
                if check_value(value, namespace, rule):
                    loc = value.get("_loc") if isinstance(value, dict) else None
                    hits.append(Hit(index, namespace, kind, value, loc))
        return hits


def _exception_names(found: Any) -> set[str]:
    names: set[str] = set()
    for entries in found[0] if isinstance(found, list) and found else []:
        if isinstance(entries, list):
            names.update(name for name in entries if isinstance(name, str))
    return names


def _binding(output: Any) -> Any:
    result = output[0] if isinstance(output, list) and output else output
    return result.get("bindings", {}).get("x") if isinstance(result, dict) else None


def to_input(value: Any, c: Any) -> Any:
    """The rego-cpp input for a JSON-like value, built node by node through the C API.

    The calls go through a prototype-free handle of the same library: ctypes' per-call
    argument conversion is a third of the cost of a call here, so arguments are given as
    the C types they are (a c_void_p handle, bytes, ints that fit a C int as counts).
    """
    raw = _raw_library(c)
    handle = ctypes.c_void_p(c.rego.regoNewInput())
    put_str, put_int, put_float = raw.regoInputString, raw.regoInputInt, raw.regoInputFloat
    put_bool, put_null, put_item = raw.regoInputBoolean, raw.regoInputNull, raw.regoInputObjectItem
    put_object, put_array = raw.regoInputObject, raw.regoInputArray
    int64, double, boolean = ctypes.c_int64, ctypes.c_double, ctypes.c_bool

    def add(item: Any) -> None:
        kind = type(item)
        if kind is str:
            put_str(handle, item.encode("utf-8", "surrogatepass"))
        elif kind is dict:
            for key, child in item.items():
                put_str(handle, str(key).encode("utf-8", "surrogatepass"))
                if type(child) is str:
                    put_str(handle, child.encode("utf-8", "surrogatepass"))
                else:
                    add(child)
                put_item(handle)
            put_object(handle, len(item))
        elif kind is list or kind is tuple:
            for child in item:
                add(child)
            put_array(handle, len(item))
        elif kind is bool:
            put_bool(handle, boolean(item))
        elif kind is int:
            if -(2**63) <= item < 2**63:
                put_int(handle, int64(item))
            else:
                put_float(handle, double(float(item)))
        elif kind is float:
            put_float(handle, double(item))
        elif item is None:
            put_null(handle)
        else:
            put_str(handle, str(item).encode("utf-8", "surrogatepass"))

    add(value)
    return handle.value


_RAW: list[Any] = []


def _raw_library(c: Any) -> Any:
    """regopy's shared library, loaded again without argtypes (same library, same state).

    As a PyDLL: these calls only append to the input being built, so keeping the GIL
    through them is cheaper than releasing and taking it back five hundred times."""
    if not _RAW:
        raw = ctypes.PyDLL(c.rego._name)
        for name in (
            "regoInputString", "regoInputInt", "regoInputFloat", "regoInputBoolean",
            "regoInputNull", "regoInputObjectItem", "regoInputObject", "regoInputArray",
        ):  # fmt: skip
            getattr(raw, name).restype = ctypes.c_uint32
        _RAW.append(raw)
    return _RAW[0]


def describe_error(text: str, policies: PolicySet, sources: dict[str, str]) -> str:
    """rego-cpp's error tree -> "file:line: Rego syntax error: message"."""
    where, message = "", text.strip().splitlines()[0] if text.strip() else "unknown error"
    located = _ERROR.search(text)
    if located:
        name = located.group("file")
        source = sources.get(name, "")
        offset = int(located.group("offset"))
        line = source.encode("utf-8")[:offset].count(b"\n") + 1
        where = f"{policies.directory / name}:{line}: "
    described = _ERRORMSG.search(text)
    if described:
        start = described.end()
        message = text[start : start + int(described.group("size"))]
    return f"{where}Rego syntax error: {message}"
