"""The ASGI application: /validate, /healthz, /readyz, /metrics. No framework: the
routes are four, and every microsecond counts at a thousand reviews a second.

Nothing a client sends can make it answer 500 with a traceback: transport problems get
a 4xx with a one-line JSON error, a review whose object cannot be judged gets a
well-formed denial, and an unexpected error while judging is logged with its traceback
on stderr and answered with a well-formed AdmissionReview.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TextIO

from pydantic import ValidationError
from pydantic_core import from_json

from .metrics import Metrics
from .models import API_VERSION, AdmissionRequest, AdmissionReview, response
from .review import CannotJudge, Decision, Reviewer, shorten

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
BODY_SECONDS = 10.0  # the API server sends a review at once; its timeout is at most 30 s
MAX_LOGGED_CHARS = 253  # the longest Kubernetes name: longer kinds and names are cut


class BadRequest(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class WebhookApp:
    def __init__(
        self,
        reviewer: Reviewer,
        metrics: Metrics,
        readiness: Callable[[], tuple[bool, dict[str, Any]]],
        max_body_bytes: int,
        log: TextIO | None = None,
        on_startup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.reviewer = reviewer
        self.metrics = metrics
        self.readiness = readiness
        self.max_body_bytes = max_body_bytes
        self.log = log if log is not None else sys.stdout
        self.on_startup = on_startup
        self.draining = False
        self.background: list[asyncio.Task[None]] = []
        self.labelled_kinds = reviewer.judged_kinds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/validate":
            if method != "POST":
                await _reply(send, 405, {"error": "use POST"}, [(b"allow", b"POST")])
                return
            await self._validate(scope, receive, send)
        elif path in ("/healthz", "/readyz", "/metrics"):
            if method not in ("GET", "HEAD"):
                await _reply(send, 405, {"error": "use GET"}, [(b"allow", b"GET, HEAD")])
            elif path == "/healthz":
                await _reply(send, 200, {"status": "ok"})
            elif path == "/readyz":
                ready, details = self.readiness()
                if self.draining:
                    ready, details = False, {**details, "draining": "shutting down"}
                await _reply(send, 200 if ready else 503, {"ready": ready, **details})
            else:
                body = self.metrics.render()
                headers = [(b"content-type", self.metrics.content_type.encode())]
                await _raw(send, 200, body, headers)
        else:
            await _reply(send, 404, {"error": f"no route {path}"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.on_startup is not None:
                    await self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self.background:
                    task.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- /validate -----------------------------------------------------------------

    async def _validate(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            body = await self._body(scope, receive)
            review = _parse(body)
        except BadRequest as exc:
            self.metrics.bad_requests.labels(exc.reason).inc()
            headers = [(b"connection", b"close")] if exc.status in (408, 413) else []
            await _reply(send, exc.status, {"error": exc.message}, headers)
            return
        request = review.request
        try:
            if self.reviewer.opa is not None:  # the event loop serves others meanwhile
                decision = await self.reviewer.review_async(request)
            else:
                decision = self.reviewer.review(request)
        except CannotJudge as exc:  # OPA not reachable, a policy failed on this object
            decision = self._cannot_judge(request, str(exc))
        except Exception:  # a bug in a rule must not become a 500 with a traceback
            decision = self._internal_error(request)
        payload = response(
            request.uid, decision.allowed, decision.code, decision.message, decision.warnings
        )
        await _reply(send, 200, payload)
        elapsed = time.perf_counter() - started
        self._record(request, decision, elapsed)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        content_type = b""
        length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        if content_type.split(b";")[0].strip().lower() != b"application/json":
            shown = content_type.decode("latin-1")[:60] or "none"
            raise BadRequest(415, "content-type", f"content type {shown!r}: use application/json")
        limit = self.max_body_bytes
        if length is not None and length > limit:
            raise BadRequest(413, "too-large", f"body of {length} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + BODY_SECONDS
        while True:
            try:  # a client that trickles its body must not hold a connection for ever
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                raise BadRequest(
                    408, "slow-body", f"request body not received within {BODY_SECONDS:g} s"
                ) from None
            if message["type"] == "http.disconnect":
                raise BadRequest(400, "disconnect", "client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, "too-large", f"body over the {limit} bytes limit")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not body.strip():
            raise BadRequest(400, "empty", "empty body: send an AdmissionReview")
        return body

    def _internal_error(self, request: AdmissionRequest) -> Decision:
        self._write(
            {
                "level": "error",
                "msg": "internal error while reviewing",
                "uid": request.uid,
                "traceback": traceback.format_exc(limit=20),
            },
            sys.stderr,
        )
        message = f"autobot-guard: internal error reviewing this object (uid {request.uid})"
        if self.reviewer.settings.mode == "enforce":
            return Decision(False, "deny", "internal-error", code=500, message=message)
        return Decision(True, "warn", "internal-error", warnings=[message])

    def _cannot_judge(self, request: AdmissionRequest, reason: str) -> Decision:
        """An internal error whose cause is known and one line: logged without a
        traceback, and named in the answer (kubectl shows it)."""
        self._write(
            {"level": "error", "msg": "cannot judge", "uid": request.uid, "error": reason},
            sys.stderr,
        )
        message = f"autobot-guard: cannot judge this object (uid {request.uid}): {reason}"
        if self.reviewer.settings.mode == "enforce":
            return Decision(False, "deny", "internal-error", code=500, message=message)
        return Decision(True, "warn", "internal-error", warnings=[shorten(message, 256)])

    def _record(self, request: AdmissionRequest, decision: Decision, elapsed: float) -> None:
        metrics = self.metrics
        kind = request.kind.kind[:MAX_LOGGED_CHARS] or "unknown"
        # A label value per kind anyone can invent would grow /metrics without bound:
        # the kinds the rules and policies judge are labelled, all others are "other".
        labelled = kind if kind in self.labelled_kinds else "other"
        metrics.requests.labels(request.operation, labelled, decision.action).inc()
        metrics.request_seconds.observe(elapsed)
        if decision.reason == "judged":
            metrics.engine_seconds.observe(decision.engine_seconds)
            metrics.rego_seconds.observe(decision.rego_seconds)
            metrics.review_seconds.observe(decision.review_seconds)
        for action, findings in (
            ("deny", decision.denied),
            ("warn", decision.warned),
            ("audit", decision.audited),
        ):
            for finding in findings:
                metrics.findings.labels(finding.rule, action).inc()
        obj = request.object if isinstance(request.object, dict) else request.oldObject
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        name = request.name or (meta.get("name") if isinstance(meta, dict) else None) or ""
        name = name[:MAX_LOGGED_CHARS] if isinstance(name, str) else ""
        entry: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": "info",
            "msg": "admission review",
            "uid": request.uid,
            "kind": kind,
            "namespace": request.namespace or "",
            "name": name,
            "operation": request.operation,
            "user": request.userInfo.username,
            "dryRun": bool(request.dryRun),
            "decision": decision.action,
            "allowed": decision.allowed,
            "reason": decision.reason,
            "denied": sorted({f.rule for f in decision.denied}),
            "rules": decision.rule_ids,
            "warnings": len(decision.warnings),
            "exempted": decision.exempted,  # findings an exemption annotation waived
            "crossResourceSkipped": decision.cross_resource_skipped,
            "durationMs": round(elapsed * 1000, 3),
            "regoMs": round(decision.rego_seconds * 1000, 3),
        }
        if decision.code == 400:
            entry["error"] = decision.message
        self._write(entry, self.log)

    @staticmethod
    def _write(entry: dict[str, Any], stream: TextIO) -> None:
        try:
            stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or full log pipe must not fail reviews
            pass


def _parse(body: bytes) -> AdmissionReview:
    try:
        data = from_json(body)  # Rust, and faster than parsing inside the model
    except ValueError as exc:
        raise BadRequest(400, "malformed-json", f"malformed JSON: {exc}"[:300]) from None
    try:
        review = AdmissionReview.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = f"not an AdmissionReview: {where}: {first['msg']}"
        raise BadRequest(400, "not-a-review", message[:300]) from None
    if review.apiVersion != API_VERSION:
        raise BadRequest(
            400,
            "api-version",
            f"apiVersion {review.apiVersion[:60]!r} is not supported: send {API_VERSION}",
        )
    return review


async def _reply(
    send: Send,
    status: int,
    payload: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await _raw(send, status, body, [*_JSON, *headers])


async def _raw(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
