"""List and watch the objects cross-resource rules need, through the `kubernetes` client.

One daemon thread per resource: list (paged), then watch from the list's resourceVersion,
applying each event to the InventoryStore; on 410 Gone list again, on any other error
back off and list again. Secrets are asked for as PartialObjectMetadata, so their values
never reach this process (the API server ignores what it cannot do: values that do come
are dropped on arrival, only key names are kept).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..rules import kinds_read
from .store import InventoryStore, Key, slim
from .store import resource_from as _resource_from

log = logging.getLogger("autobot_guard.webhook.watch")

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


@dataclass(frozen=True, slots=True)
class Watched:
    resource: str  # plural, as in RBAC
    api_version: str
    kind: str
    api: str  # class of kubernetes.client
    method: str  # its list-for-all-namespaces method
    metadata_only: bool = False

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


# How to list each kind the rules may read (`Rule.reads`) from the API server.
_LISTED = (
    Watched("networkpolicies", "networking.k8s.io/v1", "NetworkPolicy", "NetworkingV1Api",
            "list_network_policy_for_all_namespaces"),
    Watched("services", "v1", "Service", "CoreV1Api", "list_service_for_all_namespaces"),
    Watched("configmaps", "v1", "ConfigMap", "CoreV1Api", "list_config_map_for_all_namespaces"),
    Watched("secrets", "v1", "Secret", "CoreV1Api", "list_secret_for_all_namespaces",
            metadata_only=True),
    Watched("horizontalpodautoscalers", "autoscaling/v2", "HorizontalPodAutoscaler",
            "AutoscalingV2Api", "list_horizontal_pod_autoscaler_for_all_namespaces"),
    Watched("poddisruptionbudgets", "policy/v1", "PodDisruptionBudget", "PolicyV1Api",
            "list_pod_disruption_budget_for_all_namespaces"),
    Watched("deployments", "apps/v1", "Deployment", "AppsV1Api",
            "list_deployment_for_all_namespaces"),
    Watched("statefulsets", "apps/v1", "StatefulSet", "AppsV1Api",
            "list_stateful_set_for_all_namespaces"),
    Watched("daemonsets", "apps/v1", "DaemonSet", "AppsV1Api",
            "list_daemon_set_for_all_namespaces"),
    Watched("cronjobs", "batch/v1", "CronJob", "BatchV1Api", "list_cron_job_for_all_namespaces"),
)  # fmt: skip
# Kinds the rules read that the watch leaves out, and why.
NOT_WATCHED = {
    **dict.fromkeys(
        ("Pod", "ReplicaSet", "Job"),
        "made by the controllers of the watched workloads, with their pod labels: listing "
        "them would multiply the inventory for no other object",
    ),
    "ReplicationController": "superseded by Deployments",
    **dict.fromkeys(
        ("ExternalSecret", "SealedSecret", "Certificate"),
        "custom resources a cluster may not serve (a failing watch would keep the inventory "
        "from syncing): from --inventory only",
    ),
}


def watched_for(kinds: frozenset[str]) -> tuple[Watched, ...]:
    """What the cluster watch lists for rules that read `kinds` (in a fixed order)."""
    return tuple(w for w in _LISTED if w.kind in kinds)


WATCHED = watched_for(kinds_read())


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def kube_configuration(kubeconfig: str | None, context: str | None = None) -> Any:
    """A kubernetes.client.Configuration: from `kubeconfig` (its `context`, default the
    current one), else in-cluster (unless a context is named), else the default
    kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig or context:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    return configuration


class ResourceWatch(threading.Thread):
    def __init__(
        self,
        watched: Watched,
        store: InventoryStore,
        configuration: Any,
        skip_namespaces: frozenset[str] = frozenset(),
        on_event: Callable[[str, str], None] | None = None,
        timeout_seconds: int = 300,
        page_size: int = 500,
    ) -> None:
        super().__init__(name=f"watch-{watched.resource}", daemon=True)
        from kubernetes import client

        self.watched = watched
        self.store = store
        self.api_client = client.ApiClient(configuration)
        self.list_function = getattr(getattr(client, watched.api)(self.api_client), watched.method)
        self.field_selector = ",".join(
            f"metadata.namespace!={ns}" for ns in sorted(skip_namespaces)
        )
        self.on_event = on_event
        self.timeout_seconds = timeout_seconds
        self.page_size = page_size
        self.stopping = threading.Event()
        self._response: Any = None
        store.expect(watched.resource)

    def stop(self) -> None:
        self.stopping.set()
        response = self._response
        if response is not None:  # unblock a read waiting for the next event
            with contextlib.suppress(Exception):
                response.shutdown()
            with contextlib.suppress(Exception):
                response.close()

    def run(self) -> None:
        backoff = 0.2
        while not self.stopping.is_set():
            try:
                version = self._list()
                backoff = 0.2
                while not self.stopping.is_set():
                    version = self._watch(version)
            except Gone:
                log.info("watch of %s expired; listing again", self.watched.resource)
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log.warning("watch of %s failed: %s", self.watched.resource, _short(exc))
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    # -- list and watch ------------------------------------------------------------

    def _call(self, accept: str, **kwargs: Any) -> Any:
        if self.watched.metadata_only:
            self.api_client.default_headers["Accept"] = f"{accept}, application/json"
        if self.field_selector:
            kwargs["field_selector"] = self.field_selector
        return self.list_function(_preload_content=False, **kwargs)

    def _list(self) -> str:
        objects = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self.page_size, "_request_timeout": (10, 60)}
            if token:
                kwargs["_continue"] = token
            response = self._call(METADATA_LIST, **kwargs)
            try:
                page = json.loads(response.data)
            finally:
                response.release_conn()
            for item in page.get("items") or []:
                resource = self._resource(item)
                if resource is not None:
                    objects.append(resource)
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                break
        self.store.replace_source(self.watched.resource, objects)
        if self.on_event:
            self.on_event(self.watched.resource, "LIST")
        return str(meta.get("resourceVersion") or "")

    def _watch(self, version: str) -> str:
        response = self._call(
            METADATA_WATCH,
            watch=True,
            resource_version=version or None,
            allow_watch_bookmarks=True,
            timeout_seconds=self.timeout_seconds,
            _request_timeout=(10, self.timeout_seconds + 30),
        )
        self._response = response
        try:
            for line in _lines(response):
                if self.stopping.is_set():
                    break
                version = self._apply(json.loads(line), version)
        finally:
            self._response = None
            response.release_conn()
        return version

    def _apply(self, event: dict[str, Any], version: str) -> str:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return version
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise RuntimeError(f"watch error: {obj.get('message') or obj}")
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        version = str(meta.get("resourceVersion") or version)
        if kind in ("ADDED", "MODIFIED"):
            resource = self._resource(obj)
            if resource is not None:
                self.store.upsert(self.watched.resource, resource)
        elif kind == "DELETED":
            key: Key = (self.watched.kind, meta.get("namespace") or "default", meta.get("name", ""))
            self.store.delete(self.watched.resource, key)
        if self.on_event and kind in ("ADDED", "MODIFIED", "DELETED"):
            self.on_event(self.watched.resource, str(kind))
        return version

    def _resource(self, obj: Any) -> Any:
        if not isinstance(obj, dict):
            return None
        watched = self.watched
        data = slim(watched.api_version, watched.kind, obj, watched.metadata_only)
        resource, _problem = _resource_from(data, f"cluster:{watched.resource}")
        return resource


def _lines(response: Any) -> Iterator[str]:
    """Newline-delimited JSON of a watch stream, as chunks arrive."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line.decode("utf-8", "replace")
    if buffer.strip():
        yield buffer.decode("utf-8", "replace")


def _short(exc: Exception) -> str:
    """One line; for an API error the API server's own message (a 403 names the user and
    the verb and resource it lacks), not the response headers that str() starts with."""
    status, body = getattr(exc, "status", None), getattr(exc, "body", None)
    if status and body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if isinstance(message, str) and message:
            return f"{type(exc).__name__}: ({status}) {' '.join(message.split())[:300]}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


class ClusterWatch:
    """Every ResourceWatch, started and stopped together."""

    def __init__(
        self,
        store: InventoryStore,
        configuration: Any,
        skip_namespaces: frozenset[str] = frozenset(),
        on_event: Callable[[str, str], None] | None = None,
        watched: tuple[Watched, ...] = WATCHED,
        timeout_seconds: int = 300,
    ) -> None:
        self.watches = [
            ResourceWatch(w, store, configuration, skip_namespaces, on_event, timeout_seconds)
            for w in watched
        ]

    def start(self) -> None:
        for watch in self.watches:
            watch.start()

    def stop(self, timeout: float = 5.0) -> None:
        for watch in self.watches:
            watch.stop()
        for watch in self.watches:
            watch.join(timeout)
