"""The embedded engine: rego-cpp (Microsoft's C++ Rego interpreter) through `regopy`.

The policies are compiled once into a bundle with one query that collects every
deny/violation/warn/exception rule of every per-document namespace; each document is
then set as the input (built node by node through the C API, cheaper than JSON text)
and the bundle is queried. Combined namespaces get a second bundle, queried once with
the input conftest `--combine` builds: `[{"path": ..., "contents": <object>}, ...]`.

Known limits of rego-cpp (regopy 1.5) that policies must respect (docs/rego.md, "Portable
Rego"): it is laxer than OPA at compile time (an unsafe variable or an unknown
function is not an error: `conftest verify` in CI catches those); `sprintf` quotes
computed strings when given several arguments (build messages with `concat`); in tests,
give input field by field with literals (`with input.kind as "Pod"`). A running
evaluation cannot be interrupted: the timeout is checked between documents.

Some constructs make rego-cpp abort the whole process while it builds a query (the
modules are compiled then, all of them, whatever the query): `with input as <rule, data
or input reference>`, and `with input as {...}` over a rule whose value is computed
(`n := count(input.items)`). So policies other than the bundled ones are compiled in a
forked child first, which turns an abort into a UsageError naming the file and line.

A document on which evaluation fails (conflicting values of a complete rule or of a
function, recursion) becomes an "error" hit, which `results.to_finding`, knowing the
document's file, raises as a UsageError; `explain` finds the rule, which rego-cpp's
error does not name.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import select
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .policies import PolicySet, Statement, is_combine, statements
from .results import ERROR, Hit, check_value, describe_document, exception_name, rule_kind

INSTALL_HINT = "pip install regopy (a dependency of autobot-guard)"
# (error <n>:<file>|<offset>|<length> (errormsg <n>:<text>) ...) in rego-cpp's errors
_ERROR = re.compile(r"\(error \d+:(?P<file>[^|]*)\|(?P<offset>\d+)\|\d+")
_ERRORMSG = re.compile(r"\(errormsg (?P<size>\d+):")
_ERROR_NODE, _ERROR_SEQ = 1800, 1804  # regopy NodeKind.Error, NodeKind.ErrorSeq
_WHAT = re.compile(r"what\(\):\s*(?P<what>[^\n]*)")
COMPILE_CHECK_TIMEOUT = 120.0  # seconds the forked compile may take (the bundled: 0.03)


def _regopy() -> Any:
    _check_address_space()
    try:
        import regopy
    except ImportError as exc:  # pragma: no cover - regopy is a dependency
        raise UsageError(f"the embedded Rego engine needs regopy: {INSTALL_HINT} ({exc})") from None
    return regopy


_STARTS: list[bool] = []  # whether rego-cpp can start in this process (probed once)


def _check_address_space() -> None:
    """rego-cpp's allocator (snmalloc) reserves far more address space than it uses and
    aborts the process (`Failed to initialise snmalloc.`, no exception) when it cannot:
    under an address-space limit (`ulimit -v`, as some CI runners and batch systems set)
    a forked child imports it first, and a child that dies is a UsageError here."""
    if _STARTS or "regopy" in sys.modules or not hasattr(os, "fork"):
        return
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        _STARTS.append(True)
        return
    pid = os.fork()
    if pid == 0:  # the child: only the import, then leave without cleanup
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # snmalloc's message
            import regopy  # noqa: F401
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    _STARTS.append(os.waitstatus_to_exitcode(status) == 0)
    if not _STARTS[-1]:
        raise UsageError(
            f"the embedded Rego engine (rego-cpp) cannot start under this address-space "
            f"limit (ulimit -v {soft // 1024} KiB; its allocator reserves over 128 GiB of "
            "address space): put conftest on PATH (scripts/install-tools) to run the Rego "
            "policies through it, raise the limit, or use --rego off"
        )


class EmbeddedEngine:
    """A compiled policy set. Not thread-safe: callers serialise `evaluate*` (`lock`)."""

    def __init__(self, policies: PolicySet, check_in_child: bool | None = None) -> None:
        """Compile `policies`; with `check_in_child` (default: unless they are the bundled
        ones) first in a forked child, so that an abort of rego-cpp is a UsageError."""
        _regopy()
        from regopy import rego_shared

        self.policies = policies
        self.lock = threading.Lock()
        self._c = rego_shared
        self._sources = {module.name: module.source for module in policies.modules}
        per_document, combined = policies.per_document(), policies.combined()
        queries = [q for q in (bundle_query(per_document), bundle_query(combined)) if q]
        if check_in_child is None:
            check_in_child = not is_bundled(policies.directory)
        if check_in_child:
            compile_in_child(policies, self._sources, queries)
        self._rego = self._interpreter(self._sources)
        self._per_document = _Query(self, per_document)
        self._combined = _Query(self, combined)

    def _interpreter(self, sources: dict[str, str]) -> Any:
        regopy = _regopy()
        rego = regopy.Interpreter()
        rego.log_level = regopy.LogLevel.NONE  # errors come back as exceptions, not stdout
        for name, source in sources.items():
            try:
                rego.add_module(name, source)
            except regopy.RegoError as exc:
                raise UsageError(describe_error(str(exc), self.policies, sources)) from None
        return rego

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
            if hit.kind == ERROR:
                return [hit]
            named = hit.value.get("document") if isinstance(hit.value, dict) else None
            index = by_path.get(named, 0) if isinstance(named, str) else 0
            hits.append(Hit(index, hit.namespace, hit.kind, hit.value, hit.loc))
        return hits

    def run_unit_tests(self) -> list[tuple[str, bool, str]]:
        """(name, passed, detail) of every `test_` rule of the `_test.rego` files."""
        sources = {module.name: module.source for module in self.policies.files}
        if not is_bundled(self.policies.directory):  # test files abort rego-cpp more often
            compile_in_child(self.policies, sources, ["x := 1"])
        rego = self._interpreter(sources)
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

    # -- why an evaluation failed --------------------------------------------------

    def failure_hit(self, reason: str, document: Any, index: int, query: _Query) -> Hit:
        """The ERROR hit of a document on which `query` failed, saying which rule."""
        try:
            detail = self.explain(reason, document, query.slots)
        except Exception:  # the reason alone is still worth reporting
            detail = reason
        subject = "the combined input" if query.combined else describe_document(document)
        namespace = query.slots[0][0] if query.slots else ""
        return Hit(index, namespace, ERROR, {"error": detail, "subject": subject}, None)

    def explain(self, reason: str, document: Any, slots: Sequence[tuple[str, str]]) -> str:
        """`reason` with the rule it is about, found by evaluating rules one by one on a
        fresh interpreter: rego-cpp says neither the rule nor where it is defined."""
        rego = self._interpreter(self._sources)
        set_input(rego, document, self._c)

        def fails(ref: str) -> bool:
            output = self._raw_query(rego, f"x := [v | v := {ref}]")
            return isinstance(output, dict) and "error" in output

        evaluated = next((f"data.{ns}.{r}" for ns, r in slots if fails(f"data.{ns}.{r}")), None)
        rules, functions = self._definitions()
        packages = sorted({f"data.{module.package}" for module in self.policies.modules})
        failing_packages = [package for package in packages if fails(package)]
        failing = [
            ref
            for ref in rules
            if any(ref.startswith(package + ".") for package in failing_packages) and fails(ref)
        ]
        texts = {ref: " ".join(text for _, _, text in rules[ref]) for ref in failing}
        roots = [
            ref
            for ref in failing
            if not any(other != ref and _mentions(texts[ref], other) for other in failing)
        ]
        culprit, kind = (roots[0], "values") if roots else (None, "")
        if "function" in reason:  # the rules that fail call it: name it if only one can be
            called = {
                ref
                for ref in functions
                for root in roots or failing
                if _mentions(texts[root], ref, call=True)
            }
            culprit, kind = (called.pop(), "outputs") if len(called) == 1 else (None, "")
        if culprit is None:
            return f"{reason}, evaluating {evaluated}" if evaluated else reason
        where = ", ".join(
            f"{self.policies.directory / name}:{line}"
            for name, line, _ in (rules.get(culprit) or functions[culprit])[:3]
        )
        if "multiple outputs" in reason or "must be unique" in reason:
            text = f"conflicting {kind} for {culprit} ({where}; rego-cpp: {reason})"
        else:
            text = f"{culprit} ({where}): {reason}"
        return text if evaluated in (None, culprit) else f"{text}, evaluating {evaluated}"

    def _definitions(
        self,
    ) -> tuple[dict[str, list[tuple[str, int, str]]], dict[str, list[tuple[str, int, str]]]]:
        """data.<package>.<rule> -> [(file, line, text)] of the rules, and of the functions."""
        rules: dict[str, list[tuple[str, int, str]]] = {}
        functions: dict[str, list[tuple[str, int, str]]] = {}
        for module in self.policies.modules:
            for statement in statements(module.source, inner=False):
                name = statement.rule_name
                if name is None:
                    continue
                target = functions if statement.is_function else rules
                text = _text(module.source, statement)
                entry = (module.name, statement.line, text)
                target.setdefault(f"data.{module.package}.{name}", []).append(entry)
        return rules, functions

    # -- plumbing ---------------------------------------------------------------------

    def _raw_query(self, rego: Any, query: str) -> Any:
        """The JSON output of `query`; None when undefined; {"error": reason} on failure."""
        c = self._c
        try:
            impl = c.rego_query(rego._impl, query)
        except Exception as exc:  # regopy.RegoError: the query does not compile
            return {"error": str(exc) or "the query does not compile"}
        try:
            failure, text = read_output(c, rego, impl)
        finally:
            c.rego_free_output(impl)
        if failure is not None:
            return {"error": failure}
        return None if text == "undefined" else json.loads(text)


class _Query:
    """One compiled bundle whose query returns, per (namespace, rule) slot, [value] or []."""

    def __init__(self, engine: EmbeddedEngine, namespaces: dict[str, tuple[str, ...]]) -> None:
        self.engine = engine
        self.slots = [(ns, rule) for ns, rules in namespaces.items() for rule in rules]
        self.combined = bool(namespaces) and all(is_combine(ns) for ns in namespaces)
        self.bundle: Any = None
        query = bundle_query(namespaces)
        if query:
            rego = engine._rego
            self.bundle = rego.build(query)
            if not self.bundle.ok():
                raise UsageError(
                    f"Rego policies do not compile: {engine._c.rego_get_error(rego._impl)}"
                )

    def run(self, document: Any, index: int) -> list[Hit]:
        engine, c = self.engine, self.engine._c
        rego = engine._rego
        set_input(rego, document, c)
        impl = c.rego_bundle_query(rego._impl, self.bundle._impl)
        try:
            failure, text = read_output(c, rego, impl)
        finally:
            c.rego_free_output(impl)
        if failure is not None:
            return [engine.failure_hit(failure, document, index, self)]
        try:
            values = _binding(json.loads(text))
        except ValueError:
            reason = (
                "rego-cpp returned malformed output (it renders some sprintf results "
                "unescaped: build messages with concat): " + text[:200]
            )
            subject = "the combined input" if self.combined else describe_document(document)
            return [Hit(index, "", ERROR, {"error": reason, "subject": subject}, None)]
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


def bundle_query(namespaces: dict[str, tuple[str, ...]]) -> str | None:
    """The query of a bundle: per slot, [v | v := rule] ([] where a rule is undefined,
    instead of an undefined query); None without slots."""
    terms = [f"[v | v := data.{ns}.{rule}]" for ns, rules in namespaces.items() for rule in rules]
    return f"x := [{', '.join(terms)}]" if terms else None


def read_output(c: Any, rego: Any, impl: Any) -> tuple[str | None, str]:
    """(None, JSON text) of an output, or (rego-cpp's reason, "") when it is an error:
    an error node (conflicting values, ...) or an error tree as text (recursion)."""
    if not c.rego_output_ok(impl):
        node = c.rego_output_node(impl)
        reasons = _error_messages(c, node) if node else []
        reason = "; ".join(reasons) or " ".join(c.rego_get_error(rego._impl).split())
        return reason or "rego-cpp gave no reason", ""
    text = c.rego_output_string(impl)
    if text.startswith("(error"):
        return error_message(text), ""
    return None, text


def _error_messages(c: Any, node: Any) -> list[str]:
    kind = c.rego.regoNodeType(node)
    if kind == _ERROR_NODE:
        return [error_message(c.rego_node_json(node))]
    if kind == _ERROR_SEQ:
        found = []
        for i in range(c.rego_node_size(node)):
            found += _error_messages(c, c.rego_node_get(node, i))
        return found
    return []


def error_message(text: str) -> str:
    """The message of a rego-cpp error tree `(error (errormsg <size>:<message>) ...)`."""
    described = _ERRORMSG.search(text)
    if described is None:
        return " ".join(text.split())[:300]
    start = described.end()
    return text[start : start + int(described.group("size"))]


def _text(source: str, statement: Statement) -> str:
    return source[statement.start : statement.end]


def _mentions(text: str, ref: str, call: bool = False) -> bool:
    """Whether `text` names the rule `ref` (data.pkg.name) by its last name (a call: `name(`)."""
    name = re.escape(ref.rsplit(".", 1)[-1])
    return re.search(rf"(?<!\w){name}\b" + (r"\s*\(" if call else ""), text) is not None


def _exception_names(found: Any) -> set[str]:
    names: set[str] = set()
    for entries in found[0] if isinstance(found, list) and found else []:
        if isinstance(entries, list):
            names.update(name for name in entries if isinstance(name, str))
    return names


def _binding(output: Any) -> Any:
    result = output[0] if isinstance(output, list) and output else output
    return result.get("bindings", {}).get("x") if isinstance(result, dict) else None


def set_input(rego: Any, document: Any, c: Any) -> None:
    """Make `document` the input of the interpreter `rego`."""
    handle = to_input(document, c)
    try:
        c.rego_set_input(rego._impl, handle)
    finally:
        c.rego_free_input(handle)


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


# -- compiling in a forked child first ---------------------------------------------------


def is_bundled(directory: Path) -> bool:
    """Whether `directory` holds the bundled policies (tested in CI: no child needed)."""
    from ..paths import bundled_policies

    try:
        return directory.resolve() == (bundled_policies() / "rego").resolve()
    except OSError:
        return False


def compile_in_child(policies: PolicySet, sources: dict[str, str], queries: Sequence[str]) -> None:
    """Compile `sources` and build `queries` in a forked child: rego-cpp aborts the whole
    process (std::terminate, no Python exception) on some constructs; an abort in the
    child becomes a UsageError naming the file and, when it can be told, the line.

    Costs a fork and a second compile (the bundled policies: about 40 ms in all).
    Ordinary compile errors are left to the caller, which compiles again in process.
    """
    if not hasattr(os, "fork"):
        return
    _regopy()  # imported before the fork, so the child only compiles
    import resource  # noqa: F401 - for _quiet_abort, which must not import in the child

    status, output = _child(sources, queries, progress=False)
    if status == 0:
        return
    what = _WHAT.search(output)
    reason = what.group("what").strip() if what else _exit_description(status)
    # again, module by module, to tell which one (with those before it) aborts it
    _, output = _child(sources, queries, progress=True)
    marks = re.findall(r"^@module (.+)$", output, re.M)
    suspect = marks[-1] if marks and "@done" not in output else None
    order = ([suspect] if suspect else []) + [n for n in sources if n != suspect]
    hint, line, name = _abort_hint(reason), None, suspect
    for candidate in order:
        line = _with_line(sources[candidate], reason)
        if line is not None:
            name = candidate
            break
    where = f"{policies.directory / name if name else policies.directory}"
    where += f":{line}: " if name and line else ": "
    raise UsageError(
        f"{where}the embedded Rego engine (rego-cpp) aborts compiling "
        f"{'this policy' if name else 'these policies'} ({reason}): {hint}"
    )


def _child(sources: dict[str, str], queries: Sequence[str], progress: bool) -> tuple[int, str]:
    """(exit status, what it wrote to stderr) of a child compiling the policies: 0 when
    rego-cpp returned (compiled or not); else the status of an abort."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, then leave without running the parent's cleanup
        try:
            os.close(read_end)
            os.dup2(write_end, 2)  # std::terminate's "what():" goes to the parent
            _quiet_abort()
            regopy = _regopy()
            rego = regopy.Interpreter()
            rego.log_level = regopy.LogLevel.NONE
            for name, source in sources.items():
                if progress:
                    os.write(2, f"\n@module {name}\n".encode())
                rego.add_module(name, source)
                if progress:
                    rego.build("x := 1")
            for query in queries:
                rego.build(query)
            if progress:
                os.write(2, b"\n@done\n")
        except BaseException:  # a compile error: the parent compiles again and reports it
            pass
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + COMPILE_CHECK_TIMEOUT
    status = None
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while status is None:
            if select.select([pipe], [], [], 0.05)[0]:
                chunk = pipe.read(65536)
                if chunk:
                    chunks.append(chunk)
                    continue
                status = os.waitpid(pid, 0)[1]  # end of file: the child has finished
            else:
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:  # finished while another process holds the pipe open
                    status = code
                    os.set_blocking(pipe.fileno(), False)
                    with contextlib.suppress(BlockingIOError):  # its last words
                        chunks.append(pipe.read(65536) or b"")
                elif time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    raise UsageError(
                        f"compiling the Rego policies took more than {COMPILE_CHECK_TIMEOUT:g} s"
                    )
    return status, b"".join(chunks).decode("utf-8", "replace")


def _quiet_abort() -> None:
    """In the child: an abort calls _exit(SIGABRT) (exit status 6) instead of dumping core."""
    try:
        import resource  # imported by the parent already: no import lock in the child

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        libc = ctypes.CDLL(None)
        libc.signal.restype = ctypes.c_void_p
        libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
        libc.signal(signal.SIGABRT, ctypes.cast(libc._exit, ctypes.c_void_p))
    except (ImportError, OSError, AttributeError, ValueError):
        pass  # the abort still ends the child, which is all that matters


def _exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _abort_hint(reason: str) -> str:
    if "rego-with" in reason and "rego-ref" in reason:
        return (
            "it cannot compile `with input as <rule, data or input reference>`: give a "
            'literal or a local variable, or input field by field (`with input.kind as "Pod"`)'
        )
    if "rego-localref" in reason or "rego-refhead" in reason:
        return (
            "it cannot compile `with input as {...}` around a rule whose value is computed: "
            'give input field by field (`with input.kind as "Pod"`)'
        )
    return 'rewrite the construct rego-cpp cannot compile (docs/rego.md, "Portable Rego")'


def _with_line(source: str, reason: str) -> int | None:
    """The line of the `with ... as ...` that most probably makes rego-cpp abort."""
    rules = {s.rule_name.split(".")[0] for s in statements(source) if s.rule_name}
    references = rules | {"input", "data"}
    whole_input = "rego-localref" in reason or "rego-refhead" in reason
    first = None
    for statement in statements(source):
        toks = statement.tokens
        for i, token in enumerate(toks):
            if token.kind != "name" or token.text != "with":
                continue
            target = toks[i + 1 : i + 2]
            has_as = toks[i + 2 : i + 3] and toks[i + 2].text == "as"
            value = toks[i + 3 : i + 4] if has_as else []
            line = source.count("\n", 0, token.start) + 1
            first = first or line
            if not target or not value:
                continue
            if whole_input and target[0].text == "input" and value[0].text in ("{", "["):
                return line
            if not whole_input and value[0].kind == "name" and value[0].text in references:
                return line
    return first if "rego-with" in reason or whole_input else None
