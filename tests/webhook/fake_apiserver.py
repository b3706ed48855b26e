"""A small fake Kubernetes API server on loopback: list (paged) and watch (chunked JSON
lines) for the resources the webhook watches, so the real `kubernetes` client is tested
against real HTTP rather than mocks."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from autobot_guard.webhook.inventory_watch import WATCHED, Watched


def path_of(watched: Watched) -> str:
    group, _, version = watched.api_version.rpartition("/")
    return (
        f"/api/{version}/{watched.resource}"
        if not group
        else f"/apis/{group}/{version}/{watched.resource}"
    )


@dataclass
class Collection:
    watched: Watched
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    watchers: list[queue.Queue[dict[str, Any] | None]] = field(default_factory=list)
    lists: int = 0
    watches: int = 0


class FakeApiServer:
    def __init__(self) -> None:
        self.collections = {path_of(w): Collection(w) for w in WATCHED}
        self.version = 100
        self.lock = threading.Lock()
        self.lists_open = threading.Event()
        self.lists_open.set()
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- control -----------------------------------------------------------------------

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.closing.set()
        self.lists_open.set()
        for collection in self.collections.values():
            for watcher in list(collection.watchers):
                watcher.put(None)
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}
                    ],
                    "users": [{"name": "webhook", "user": {"token": "fake-token"}}],
                    "contexts": [
                        {"name": "fake", "context": {"cluster": "fake", "user": "webhook"}}
                    ],
                    "current-context": "fake",
                }
            )
        )
        return path

    def collection(self, kind: str) -> Collection:
        return next(c for c in self.collections.values() if c.watched.kind == kind)

    def put(self, obj: dict[str, Any], event: str | None = None) -> None:
        """Store `obj` (ADDED or MODIFIED) and tell the watchers."""
        collection = self.collection(obj["kind"])
        meta = obj["metadata"]
        key = (meta.get("namespace", "default"), meta["name"])
        with self.lock:
            self.version += 1
            meta["resourceVersion"] = str(self.version)
            kind = event or ("MODIFIED" if key in collection.objects else "ADDED")
            collection.objects[key] = obj
            for watcher in collection.watchers:
                watcher.put({"type": kind, "object": obj})

    def delete(self, kind: str, namespace: str, name: str) -> None:
        collection = self.collection(kind)
        with self.lock:
            self.version += 1
            obj = collection.objects.pop((namespace, name))
            obj["metadata"]["resourceVersion"] = str(self.version)
            for watcher in collection.watchers:
                watcher.put({"type": "DELETED", "object": obj})

    def expire(self, kind: str) -> None:
        """Send 410 Gone on every watch of `kind`, as an API server whose history moved on."""
        collection = self.collection(kind)
        with self.lock:
            for watcher in collection.watchers:
                watcher.put(
                    {
                        "type": "ERROR",
                        "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "message": "too old resource version", "reason": "Expired",
                                   "code": 410},
                    }
                )  # fmt: skip

    def watching(self, kind: str) -> int:
        with self.lock:
            return len(self.collection(kind).watchers)

    # -- HTTP --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append((url.path, query, headers))
        collection = self.collections.get(url.path)
        if collection is None:
            self._json(handler, 404, {"kind": "Status", "code": 404, "message": "not found"})
            return
        if query.get("watch", ["false"])[0] in ("true", "1"):
            self._watch(handler, collection, query)
        else:
            self._list(handler, collection, query, headers)

    def _list(
        self,
        handler: BaseHTTPRequestHandler,
        collection: Collection,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> None:
        self.lists_open.wait(30)
        limit = int(query.get("limit", ["500"])[0])
        start = int(query.get("continue", ["0"])[0] or 0)
        excluded = _excluded_namespaces(query)
        with self.lock:
            collection.lists += 1
            items = [
                obj
                for (namespace, _), obj in sorted(collection.objects.items())
                if namespace not in excluded
            ]
            version = str(self.version)
        page = items[start : start + limit]
        metadata_only = "as=PartialObjectMetadataList" in headers.get("accept", "")
        if metadata_only:
            page = [
                {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                 "metadata": obj["metadata"]}
                for obj in page
            ]  # fmt: skip
        else:  # the API server leaves kind and apiVersion out of list items
            page = [
                {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in page
            ]
        meta: dict[str, Any] = {"resourceVersion": version}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        kind = "PartialObjectMetadataList" if metadata_only else f"{collection.watched.kind}List"
        self._json(
            handler, 200, {"kind": kind, "apiVersion": "v1", "metadata": meta, "items": page}
        )

    def _watch(
        self, handler: BaseHTTPRequestHandler, collection: Collection, query: dict[str, list[str]]
    ) -> None:
        timeout = float(query.get("timeoutSeconds", ["30"])[0])
        excluded = _excluded_namespaces(query)
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self.lock:
            collection.watches += 1
            collection.watchers.append(events)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        deadline = time.monotonic() + timeout
        try:
            while not self.closing.is_set() and time.monotonic() < deadline:
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    break
                namespace = event["object"].get("metadata", {}).get("namespace")
                if namespace in excluded:
                    continue
                line = json.dumps(event).encode() + b"\n"
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                handler.wfile.flush()
                if event["type"] == "ERROR":
                    break
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            pass
        finally:
            with self.lock:
                collection.watchers.remove(events)
            handler.close_connection = True

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _excluded_namespaces(query: dict[str, list[str]]) -> set[str]:
    excluded = set()
    for selector in query.get("fieldSelector", []):
        for part in selector.split(","):
            if part.startswith("metadata.namespace!="):
                excluded.add(part.split("!=", 1)[1])
    return excluded
