"""Rego in a real OPA server (`opa run --server`), through its REST API.

For the admission webhook: OPA runs beside it (a sidecar on 127.0.0.1:8181 in the Pod,
the go-installed binary in tests), so admission has exactly conftest's semantics. The
webhook owns the policies: `push()` PUTs every module of the policy set and the batch
module (`batch.py`) with `PUT /v1/policies/<id>` (the sidecar needs no files), and
`evaluate()` asks `POST /v0/data/autobot_guard/batch/results` with the input
`{"documents": [...]}` as the body (the v0 data API: see _DATA); `batch.hits_of` turns
the answer into hits.

- An undefined answer (404 undefined_document: OPA restarted and lost the modules) is
  never "no findings": the modules are pushed again and the query asked
  once more; still undefined is an `OpaError`.
- An evaluation error (HTTP 500 with OPA's error, e.g. conflicting values of a complete
  rule) is an "error" hit of the document it happened on (each document is then asked
  alone to find it), which `results.to_finding` raises as that object's error.
- OPA not reachable (connection refused, reset, timeout) is `OpaUnavailable`, so the
  webhook's failure handling applies; a compile error OPA reports is a `UsageError` of
  one line naming the policy file and line.

Stdlib `http.client` with keep-alive: one connection per thread (thread-local), with
TCP_NODELAY and short timeouts; a connection OPA closed is reopened once. The webhook's
event loop asks with `evaluate_async` instead, over a pool of asyncio connections: a
review waiting on OPA then does not hold up the others (measured: the blocking call
capped one webhook at about 700 reviews/s, threads at 500, GIL-bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic_core import from_json, to_json

from ..errors import UsageError
from . import OPA_TIMEOUT, OPA_URL
from .batch import PACKAGE, RESULTS, batch_input, batch_module, document_path, error_hit, hits_of
from .policies import PolicySet
from .results import Hit

ID_PREFIX = "autobot-guard/"  # policy ids this client owns in OPA
BATCH_ID = ID_PREFIX + ".batch.rego"  # a leading dot: no policy file can have that name
# The v0 data API: the body is the input itself and an undefined document is a 404, not
# an answer without `result`. OPA parses the body once (v1 parses the request object
# and then its input): measured about 20 % less of OPA's CPU per review.
_DATA = "/v0/data/" + PACKAGE.replace(".", "/") + "/"
RESULTS_PATH = _DATA + RESULTS
DOCUMENT_PATH = _DATA + "document_results"
COMBINED_PATH = _DATA + "combined_results"
MAX_IN_FLIGHT = 1  # queries out at once; the others wait, together (2 measured worse tails)
MAX_BATCH = 64  # reviews in one query at most
_JSON = {"Content-Type": "application/json"}
_TEXT = {"Content-Type": "text/plain"}
_RETRYABLE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


class OpaError(RuntimeError):
    """OPA answered something other than a result (an unexpected status or body)."""


class OpaUnavailable(OpaError):
    """OPA cannot be reached: connection refused, reset or timed out."""


class OpaServer:
    """A client of one OPA server for one policy set; thread-safe."""

    def __init__(
        self, policies: PolicySet, url: str = OPA_URL, timeout: float = OPA_TIMEOUT
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise UsageError(
                f"OPA URL {url!r}: give http://HOST:PORT (OPA beside the webhook, on loopback)"
            )
        if timeout <= 0:
            raise UsageError("the OPA timeout must be a positive number of seconds")
        self.policies = policies
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self.modules = {ID_PREFIX + module.name: module.source for module in policies.modules}
        self.batch = batch_module(policies)
        self._names = {ID_PREFIX + module.name: module.name for module in policies.modules}
        self._local = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None  # request_async's pool is its
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._queue: list[tuple[list[Any], asyncio.Future[list[Hit]]]] = []
        self._in_flight = 0  # queries evaluate_async has out
        self._senders: set[asyncio.Task[None]] = set()
        self._combined = bool(policies.combined())
        self._push_lock = threading.Lock()
        self.generation = 0  # successful pushes so far
        self.pushed = False  # the modules are in OPA, as far as this client knows
        self.pushes = 0  # every push, the first one included
        self.last_error: str | None = None  # why the last push or request failed
        self.compile_error: str | None = None  # OPA refused a module: no use pushing again

    # -- transport --------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            connection.connect()
            # A request is one write, but the answer of the previous one may still be
            # unacknowledged: without TCP_NODELAY Nagle would hold the next request.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = connection
            self._local.used = False
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, json_body: bool = True
    ) -> tuple[int, bytes]:
        """(status, body) of one request; OpaUnavailable when OPA cannot be reached.
        A kept-alive connection OPA closed meanwhile is reopened once (every request
        this client sends is idempotent)."""
        for attempt in (0, 1):
            reused = False
            try:
                connection = self._connection()
                reused = self._local.used
                connection.request(method, self.base + path, body, _JSON if json_body else _TEXT)
                answer = connection.getresponse()
                data = answer.read()
            except _RETRYABLE as exc:
                self._drop()
                if reused and attempt == 0:
                    continue
                raise self._unavailable(exc) from None
            except (OSError, http.client.HTTPException) as exc:  # refused, timeout, garbage
                self._drop()
                raise self._unavailable(exc) from None
            self._local.used = True
            if answer.will_close:
                self._drop()
            return answer.status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _unavailable(self, exc: BaseException) -> OpaUnavailable:
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {self.timeout:g} s"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        else:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if not isinstance(exc, TimeoutError):  # gone (and a new OPA has no modules): push
            self.pushed = False  # again, and unready until then; slow is not gone
        error = OpaUnavailable(f"OPA at {self.url} is not reachable: {reason}")
        self.last_error = str(error)
        return error

    # -- policies ---------------------------------------------------------------------

    def push(self, seen: int | None = None) -> None:
        """Put the policy modules and the batch module into OPA (replacing ours, deleting
        ours that the policy set no longer has). With `seen`, only if no push succeeded
        since generation `seen` (another thread may just have done it).

        UsageError for a module OPA does not compile; OpaUnavailable, OpaError."""
        with self._push_lock:
            if seen is not None and self.generation != seen and self.pushed:
                return
            self.pushes += 1
            self.pushed = False
            try:
                self._push()
            except UsageError as exc:
                self.last_error = self.compile_error = str(exc)
                raise
            except OpaError as exc:
                self.last_error = str(exc)
                raise
            self.compile_error = None
            self.generation += 1
            self.pushed, self.last_error = True, None

    def _push(self) -> None:
        status, body = self.request("GET", "/v1/policies")
        if status != 200:
            raise OpaError(
                f"OPA at {self.url}: GET /v1/policies answered {_describe(status, body)}"
            )
        listed = _json(body, self.url).get("result")
        present = {
            entry.get("id")
            for entry in (listed if isinstance(listed, list) else [])
            if isinstance(entry, dict)
        }
        for stale in sorted(i for i in present if isinstance(i, str) and i.startswith(ID_PREFIX)):
            if stale not in self.modules and stale != BATCH_ID:
                self._put_or_delete("DELETE", stale)
        # A module may call a function of one not pushed yet (OPA compiles every PUT
        # with what it has): put what compiles, then try the others again, until a round
        # makes no progress; what fails then fails on its own.
        pending = dict(self.modules)
        while pending:
            failed: dict[str, tuple[str, bytes]] = {}
            for policy_id, source in pending.items():
                status, body = self._put_or_delete("PUT", policy_id, source)
                if status != 200:
                    failed[policy_id] = (source, body)
            if len(failed) == len(pending):
                policy_id, (_source, body) = next(iter(failed.items()))
                raise UsageError(self._compile_error(policy_id, body))
            pending = {policy_id: source for policy_id, (source, _) in failed.items()}
        status, body = self._put_or_delete("PUT", BATCH_ID, self.batch)
        if status != 200:
            raise UsageError(self._compile_error(BATCH_ID, body))

    def _put_or_delete(
        self, method: str, policy_id: str, source: str | None = None
    ) -> tuple[int, bytes]:
        data = source.encode("utf-8") if source is not None else None
        status, body = self.request(method, "/v1/policies/" + policy_id, data, json_body=False)
        if status == 400 and method == "PUT":
            return status, body  # a compile error: the caller decides
        if status != 200 and not (method == "DELETE" and status == 404):
            raise OpaError(
                f"OPA at {self.url}: {method} /v1/policies/{policy_id} answered "
                f"{_describe(status, body)}"
            )
        return status, body

    def _compile_error(self, policy_id: str, body: bytes) -> str:
        """OPA's compile error as one line: `<policy file>:<line>: <code>: <message>`."""
        answer = _json(body, self.url, strict=False)
        listed = answer.get("errors")
        errors = listed if isinstance(listed, list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        located = first.get("location")
        location = located if isinstance(located, dict) else {}
        file = location.get("file") or policy_id
        where = self._file_name(str(file))
        line = location.get("row")
        message = str(first.get("message") or answer.get("message") or "")
        message = " ".join(message.replace(ID_PREFIX, "").split())
        code = first.get("code") or answer.get("code") or "error"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return (
            f"{where}{f':{line}' if line else ''}: OPA does not compile the Rego policy: "
            f"{code}: {message[:300]}{more}"
        )

    def _file_name(self, policy_id: str) -> str:
        if policy_id == BATCH_ID:
            return f"the generated batch module (package {PACKAGE})"
        name = self._names.get(policy_id)
        return str(self.policies.directory / name) if name else policy_id

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, documents: Sequence[Any]) -> list[Hit]:
        """The hits of the policies on `documents` (an "error" hit for a document on
        which evaluation failed). OpaUnavailable, OpaError, UsageError."""
        if not documents:  # as conftest, which has no combined input without files
            return []
        body = batch_input(documents)
        for attempt in (0, 1):
            seen = self.generation
            if not self.pushed:
                if self.compile_error is not None:  # the keeper (check) tries again
                    raise UsageError(self.compile_error)
                self.push(seen)
            status, data = self.request("POST", RESULTS_PATH, body)
            if status == 500:
                return self._one_by_one(documents)
            defined, result = self._result(status, data, RESULTS_PATH)
            if defined:
                return hits_of(result, len(documents))
            # Undefined: OPA lost our modules (restarted). Never "no findings".
            self.pushed = False
            if attempt == 0:
                self.push(seen)
        raise OpaError(
            f"OPA at {self.url}: {RESULTS_PATH} is undefined even after pushing the policies"
        )

    async def evaluate_async(self, documents: Sequence[Any]) -> list[Hit]:
        """`evaluate` for an event loop: the loop serves other requests while OPA
        evaluates. At most MAX_IN_FLIGHT queries are out at once; the documents that
        arrive meanwhile go together in the next one (OPA's cost is mostly per query:
        parsing the request, instrumenting it, its garbage), which is how one webhook
        keeps up with a thousand reviews a second on two cores. Not with combined
        policies (main.combine), which must see only the documents of one call."""
        if not documents:
            return []
        if self._combined:
            return await self._evaluate_async(list(documents))
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests run several): its own pool, queue
            self._loop, self._idle, self._queue, self._in_flight = loop, [], [], 0
        answer: asyncio.Future[list[Hit]] = loop.create_future()
        self._queue.append((list(documents), answer))
        if self._in_flight < MAX_IN_FLIGHT:
            self._in_flight += 1
            task = loop.create_task(self._send_queued())
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)
        return await answer

    async def _send_queued(self) -> None:
        """Ask OPA for everything queued, batch after batch, until the queue is empty;
        each caller gets the hits of its own documents (an error hit included)."""
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                documents = [document for given, _ in batch for document in given]
                try:
                    hits = await self._evaluate_async(documents)
                except Exception as exc:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                offset = 0
                for given, answer in batch:
                    end = offset + len(given)
                    if not answer.done():  # its review may have been cancelled
                        answer.set_result(
                            [
                                Hit(hit.index - offset, hit.namespace, hit.kind, hit.value, hit.loc)
                                for hit in hits
                                if offset <= hit.index < end
                            ]
                        )
                    offset = end
        finally:
            self._in_flight -= 1

    async def _evaluate_async(self, documents: list[Any]) -> list[Hit]:
        """One query over a pooled asyncio connection. The rare steps (pushing, asking
        each document alone after an evaluation error) run in a thread."""
        body = batch_input(documents)
        for attempt in (0, 1):
            seen = self.generation
            if not self.pushed:
                if self.compile_error is not None:
                    raise UsageError(self.compile_error)
                await asyncio.to_thread(self.push, seen)
            status, data = await self.request_async(RESULTS_PATH, body)
            if status == 500:
                return await asyncio.to_thread(self._one_by_one, documents)
            defined, result = self._result(status, data, RESULTS_PATH)
            if defined:
                return hits_of(result, len(documents))
            self.pushed = False  # undefined: OPA lost our modules
            if attempt == 0:
                await asyncio.to_thread(self.push, seen)
        raise OpaError(
            f"OPA at {self.url}: {RESULTS_PATH} is undefined even after pushing the policies"
        )

    async def request_async(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of a POST over a kept-alive asyncio connection (a pool of
        them, for the running loop); OpaUnavailable when OPA cannot be reached."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests run several): its own pool
            self._loop, self._idle, self._queue, self._in_flight = loop, [], [], 0
        head = (
            f"POST {self.base}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        for attempt in (0, 1):
            reused = bool(self._idle)
            try:
                if reused:
                    reader, writer = self._idle.pop()
                else:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port), self.timeout
                    )
                    _nodelay(writer)
            except (OSError, TimeoutError) as exc:
                raise self._unavailable(exc) from None
            try:
                writer.write(head + body)
                status, data, keep = await asyncio.wait_for(_response(reader), self.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                writer.close()
                closed = isinstance(exc, ConnectionError | asyncio.IncompleteReadError)
                if reused and attempt == 0 and closed:
                    continue  # OPA closed the idle connection (or restarted): once more
                raise self._unavailable(exc) from None
            except BaseException:  # cancelled: the connection is in an unknown state
                writer.close()
                raise
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def check(self) -> None:
        """Push when OPA does not have the modules (not pushed yet, or OPA restarted):
        for the webhook's readiness and its background keeper."""
        seen = self.generation
        if self.pushed:
            status, data = self.request("POST", RESULTS_PATH, b'{"documents":[]}')
            if self._result(status, data, RESULTS_PATH)[0]:
                return
            self.pushed = False
        self.push(seen)

    def _result(self, status: int, data: bytes, path: str) -> tuple[bool, Any]:
        """(defined, value) of a v0 data query's answer; OpaError for anything else."""
        if status == 200:
            try:
                return True, from_json(data)
            except ValueError:
                pass
        elif status == 404 and _json(data, self.url, strict=False).get("code") == (
            "undefined_document"
        ):
            return False, None
        raise OpaError(f"OPA at {self.url}: POST {path} answered {_describe(status, data)}")

    def _one_by_one(self, documents: Sequence[Any]) -> list[Hit]:
        """After an evaluation error: each document alone, then the combined input, so
        the error is the hit of the document (or combined input) it happened on."""
        hits: list[Hit] = []
        if self.policies.per_document():
            for index, document in enumerate(documents):
                entries, reason = self._ask(DOCUMENT_PATH, document)
                if reason is not None:
                    hits.append(error_hit(index, reason))
                else:
                    hits += hits_of([[index, *entry] for entry in entries], len(documents))
        if self.policies.combined():
            combined = [{"path": document_path(i), "contents": d} for i, d in enumerate(documents)]
            entries, reason = self._ask(COMBINED_PATH, combined)
            if reason is not None:
                hits.append(error_hit(0, reason, combined=True))
            else:
                hits += hits_of([["combined", *entry] for entry in entries], len(documents))
        if not any(hit.kind == "error" for hit in hits):  # failed together, not alone
            reason = "the evaluation of all documents together failed"
            hits.append(error_hit(0, reason, combined=bool(self.policies.combined())))
        return hits

    def _ask(self, path: str, given: Any) -> tuple[list[Any], str | None]:
        status, data = self.request("POST", path, to_json(given))
        if status == 500:
            return [], self._evaluation_error(data)
        defined, result = self._result(status, data, path)
        if not defined:
            self.pushed = False
            raise OpaError(f"OPA at {self.url}: {path} is undefined (OPA lost the policies?)")
        return (result if isinstance(result, list) else []), None

    def _evaluation_error(self, data: bytes) -> str:
        """OPA's evaluation error in one line, with our policy ids as file names."""
        answer = _json(data, self.url, strict=False)
        errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        message = str(first.get("message") or answer.get("message") or "evaluation failed")
        code = first.get("code")
        text = " ".join(message.replace(ID_PREFIX, "").split())
        return f"{code}: {text}"[:500] if code else text[:500]

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 response: (status, body, whether the connection stays open). Go's
    net/http answers with a Content-Length, or chunked when the body is larger."""
    status_line = await reader.readuntil(b"\r\n")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    length: int | None = None
    chunked, keep = False, parts[0] == b"HTTP/1.1"
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            keep = value != b"close"
    if chunked:
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return int(parts[1]), b"".join(chunks), keep
    if length is None:  # until the connection closes
        return int(parts[1]), await reader.read(), False
    return int(parts[1]), await reader.readexactly(length), keep


def _json(data: bytes, url: str, strict: bool = True) -> dict[str, Any]:
    try:
        answer = from_json(data)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    if strict:
        raise OpaError(f"OPA at {url} answered something other than a JSON object: {data[:200]!r}")
    return {}


def _describe(status: int, body: bytes) -> str:
    answer = _json(body, "", strict=False)
    message = answer.get("message") if isinstance(answer.get("message"), str) else ""
    text = " ".join((message or body.decode("utf-8", "replace")).split())[:200]
    return f"HTTP {status}" + (f": {text}" if text else "")
