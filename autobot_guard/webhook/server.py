"""Run the webhook: uvicorn (httptools, uvloop where installed) over TLS 1.2+, with the
certificate reloaded when it changes and a drain on SIGTERM.

SIGTERM (or SIGINT): /readyz turns 503 at once; after `drain_delay` seconds (time for
the endpoint removal to reach every API server) the listening socket closes, requests
in flight are answered, idle keep-alive connections are closed, then the process exits
0. A second signal skips the delay.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from ..check import load_pack
from ..config import AdmissionSettings, PolicyPack
from .app import WebhookApp
from .inventory_watch import WATCHED, ClusterWatch, kube_configuration
from .metrics import Metrics
from .review import Reviewer
from .store import InventoryStore
from .tls import ReloadingTLS

log = logging.getLogger("autobot_guard.webhook")
OPA_CHECK_SECONDS = 2.0  # how often the webhook asks OPA whether it still has the policies
OPA_RETRY_SECONDS = 0.5  # how often it tries to push while OPA does not have them


@dataclass
class ServeOptions:
    tls_cert: str
    tls_key: str
    host: str = "0.0.0.0"
    port: int = 8443
    config: str | None = None
    kubernetes_version: str | None = None
    inventory: list[str] = field(default_factory=list)
    watch_cluster: bool | None = None  # None: when running in a cluster
    watch_secrets: bool = True
    kubeconfig: str | None = None
    namespace: str | None = None
    cert_reload_interval: float = 5.0
    drain_delay: float = 0.0
    shutdown_timeout: float = 25.0
    watch_timeout: int = 300
    rego_engine: str | None = None  # overrides the pack's admission.regoEngine
    opa_url: str | None = None  # overrides the pack's admission.opaUrl


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in ("autobot_guard", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO if name == "autobot_guard" else logging.WARNING)
        logger.propagate = False


class DrainingServer:
    """A uvicorn.Server whose SIGTERM first marks the pod unready, then drains."""

    def __init__(self, config: Any, drain_delay: float, on_terminate: Callable[[], None]):
        import uvicorn

        server = self

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                server.terminate(sig)

        self.server = _Server(config)
        self.drain_delay = drain_delay
        self.on_terminate = on_terminate
        self.terminating = False

    def terminate(self, sig: int) -> None:
        if self.terminating:  # a second signal: no more waiting
            self.server.should_exit = True
            self.server.force_exit = sig == signal.SIGINT
            return
        self.terminating = True
        log.info("signal %s: draining", signal.Signals(sig).name)
        self.on_terminate()
        if self.drain_delay > 0:
            timer = threading.Timer(self.drain_delay, self._stop)
            timer.daemon = True
            timer.start()
        else:
            self._stop()

    def _stop(self) -> None:
        self.server.should_exit = True

    def run(self) -> None:
        self.server.run()


class CoalescingTransport:
    """A transport that joins the writes of one event-loop step into one: uvicorn writes
    a response's head and body separately, which over TLS is two records and two
    syscalls (each running the loopback receiver's work too); joined, it is one."""

    __slots__ = ("_buffer", "_loop", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._buffer: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._buffer:
            self._loop.call_soon(self._flush)
        self._buffer.append(bytes(data))

    def _flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _http_protocol() -> Any:
    """uvicorn's httptools protocol with coalesced writes; "auto" without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    return CoalescingHttpToolsProtocol


def build(options: ServeOptions) -> tuple[WebhookApp, InventoryStore, ClusterWatch | None]:
    """The application and its inventory (watch not started); raises UsageError."""
    from ..errors import UsageError

    pack = load_pack(options.config, options.kubernetes_version)
    overrides = {
        key: value
        for key, value in (("regoEngine", options.rego_engine), ("opaUrl", options.opa_url))
        if value is not None
    }
    if overrides:
        from pydantic import ValidationError

        try:
            admission = AdmissionSettings.model_validate(
                {**pack.admission.model_dump(), **overrides}
            )
        except ValidationError:
            raise UsageError(
                f"--opa-url {options.opa_url!r}: give http://HOST:PORT (OPA on loopback)"
            ) from None
        pack = PolicyPack(
            pack.model.model_copy(update={"admission": admission}), pack.source, pack.text
        )
    settings = pack.admission
    store = InventoryStore()
    for directory in options.inventory:
        if not os.path.isdir(directory):
            raise UsageError(f"--inventory {directory}: not a directory")
        for error in store.load_directory(directory):
            log.warning("inventory: %s", error.display())
    watch_cluster = options.watch_cluster
    if watch_cluster is None:
        watch_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
    watch = None
    reviewer = Reviewer(pack, store, options.namespace)
    metrics = Metrics(reviewer.describe_rego())
    opa = reviewer.opa
    if opa is not None:
        metrics.rego_ready.set_function(lambda: 1.0 if opa.pushed else 0.0)
    elif reviewer.rego_engine == "embedded":
        metrics.rego_ready.set(1.0)
    if watch_cluster:
        configuration = kube_configuration(options.kubeconfig)
        watched = tuple(w for w in WATCHED if options.watch_secrets or w.resource != "secrets")
        watch = ClusterWatch(
            store,
            configuration,
            reviewer.skip_namespaces,
            lambda resource, kind: metrics.inventory_events.labels(resource, kind).inc(),
            watched=watched,
            timeout_seconds=options.watch_timeout,
        )
    metrics.watch_inventory(store.count, lambda: store.synced)

    def readiness() -> tuple[bool, dict[str, Any]]:
        details: dict[str, Any] = {
            "policyPack": pack.source,
            "rules": len(reviewer.rules),
            "mode": settings.mode,
            "rego": reviewer.describe_rego(),
        }
        ready = True
        if opa is not None:  # unready until OPA has the policies (again, after a restart)
            if opa.pushed:
                details["rego"] += f": policies pushed ({opa.pushes} pushes)"
            else:
                details["rego"] += f": policies not pushed: {opa.last_error or 'not yet'}"
                ready = False
        if not store.configured:
            details["inventory"] = "no source: cross-resource rules are off"
            return ready, details
        pending = store.pending()
        if pending:
            details["inventory"] = (
                f"not synced: waiting for the first list of {', '.join(pending)}; "
                "cross-resource rules are skipped until then"
            )
            return False, details
        details["inventory"] = f"synced: {store.count()} objects"
        return ready, details

    app = WebhookApp(reviewer, metrics, readiness, settings.maxBodyBytes)
    return app, store, watch


def serve(options: ServeOptions) -> int:
    import uvicorn

    _configure_logging()
    app, _store, watch = build(options)
    metrics = app.metrics

    def reloaded(result: str, error: str | None) -> None:
        metrics.certificate_reloads.labels(result).inc()
        if error:
            log.warning("TLS certificate not reloaded (keeping the previous one): %s", error)
        else:
            log.info("TLS certificate reloaded from %s", options.tls_cert)

    try:
        tls = ReloadingTLS(options.tls_cert, options.tls_key, reloaded)
    except OSError as exc:  # ssl.SSLError included: a key that does not match, bad PEM
        from ..errors import UsageError

        reason = exc.strerror or str(exc)
        raise UsageError(
            f"cannot load the TLS certificate {options.tls_cert} and key {options.tls_key}: "
            f"{reason}"
        ) from None

    opa = app.reviewer.opa
    if opa is not None:
        from ..rego.opa_server import OpaError

        try:  # a policy OPA does not compile fails start-up (UsageError)
            opa.push()
            log.info("Rego policies pushed to OPA at %s", opa.url)
        except OpaError as exc:  # the sidecar may still be starting: the keeper retries
            log.warning("%s; not ready until the Rego policies are pushed", exc)

    async def keep_opa() -> None:
        """Push the policies until OPA has them, and again when it lost them (OPA
        restarted): reviews would do it too, this keeps /readyz true to the state."""
        from ..errors import UsageError
        from ..rego.opa_server import OpaError

        assert opa is not None
        said: str | None = None
        while True:
            was = opa.pushed
            try:
                await asyncio.to_thread(opa.check)
            except (OpaError, UsageError) as exc:
                if str(exc) != said:
                    log.log(logging.ERROR if isinstance(exc, UsageError) else logging.WARNING,
                            "Rego policies not in OPA: %s", exc)  # fmt: skip
                said = str(exc)
            else:
                if said is not None or not was:
                    log.info("Rego policies pushed to OPA at %s", opa.url)
                said = None
            await asyncio.sleep(OPA_CHECK_SECONDS if opa.pushed else OPA_RETRY_SECONDS)

    async def reload_certificates() -> None:
        while True:
            await asyncio.sleep(options.cert_reload_interval)
            tls.check()

    async def startup() -> None:
        app.background.append(asyncio.get_running_loop().create_task(reload_certificates()))
        if app.reviewer.opa is not None:
            app.background.append(asyncio.get_running_loop().create_task(keep_opa()))
        if watch is not None:
            watch.start()

    app.on_startup = startup
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
        lifespan="on",
        http=_http_protocol(),
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        # Go's API server client keeps idle connections 90 s and does not retry a POST on
        # one the server closed under it: outlive it, so that race cannot happen.
        timeout_keep_alive=100,
        log_config=None,  # keep our JSON handlers: uvicorn's own config writes plain text
        timeout_graceful_shutdown=int(options.shutdown_timeout),
    )
    config.load()
    config.ssl = tls.listening

    def draining() -> None:
        app.draining = True

    server = DrainingServer(config, options.drain_delay, draining)
    # Everything loaded so far lives as long as the process: keep the collector off it.
    gc.collect()
    gc.freeze()
    log.info("starting https://%s:%d/validate", options.host, options.port)
    try:
        server.run()
    finally:
        if watch is not None:
            watch.stop(timeout=2.0)
    log.info("stopped")
    return 0
