"""Every kind the pack judges, listed from the API server page by page.

Through the `kubernetes` client and the list calls the webhook's inventory watch uses
(`Watched`, `kube_configuration`, `_short`): the same resource table, extended by the
kinds only the audit lists (Pods, ReplicaSets, Jobs, ...). Pages of `limit` objects
follow the `continue` token; an expired token (410) lists the resource again from the
start, once. Each page is converted as it arrives (the raw JSON is not kept).

Failures are per resource, so what could be listed is still judged: `Failure` names the
resource and says why in one line. Two failures concern every resource alike and end
the audit at once (`Fatal`): the API server cannot be reached, or it rejects the
credentials (401).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..resources import CLUSTER_SCOPED
from ..webhook.inventory_watch import METADATA_LIST, WATCHED, Watched, _short
from . import DEFAULT_REQUEST_TIMEOUT

T = TypeVar("T")

# What the audit lists besides what the webhook watches: the kinds the webhook judges
# at admission and does not need in its inventory, and the namespaces (for their
# autobot-guard.io/ignore label, and as cluster-scoped objects the pack judges).
AUDIT_ONLY = (
    Watched("namespaces", "v1", "Namespace", "CoreV1Api", "list_namespace"),
    Watched("pods", "v1", "Pod", "CoreV1Api", "list_pod_for_all_namespaces"),
    Watched("replicationcontrollers", "v1", "ReplicationController", "CoreV1Api",
            "list_replication_controller_for_all_namespaces"),
    Watched("persistentvolumeclaims", "v1", "PersistentVolumeClaim", "CoreV1Api",
            "list_persistent_volume_claim_for_all_namespaces"),
    Watched("replicasets", "apps/v1", "ReplicaSet", "AppsV1Api",
            "list_replica_set_for_all_namespaces"),
    Watched("jobs", "batch/v1", "Job", "BatchV1Api", "list_job_for_all_namespaces"),
    Watched("ingresses", "networking.k8s.io/v1", "Ingress", "NetworkingV1Api",
            "list_ingress_for_all_namespaces"),
)  # fmt: skip
LISTED: tuple[Watched, ...] = (AUDIT_ONLY[0], *WATCHED, *AUDIT_ONLY[1:])
DEFAULT_PAGE_SIZE = 500
THREADS = 3  # resources listed at once: the API server works while this process parses


def resource_name(watched: Watched) -> str:
    """`deployments.apps`, `pods`: the resource as kubectl and RBAC name it."""
    group = watched.group
    return f"{watched.resource}.{group}" if group else watched.resource


def namespaced(watched: Watched) -> bool:
    return watched.kind not in CLUSTER_SCOPED


@dataclass(frozen=True, slots=True)
class Failure:
    """A resource that could not be listed (completely): its objects are left out."""

    resource: str  # as resource_name says it
    message: str  # one line


class Fatal(Exception):
    """Nothing can be listed: the server is unreachable or refuses the credentials."""


@dataclass
class Listing:
    """What the listing produced: converted objects per resource, and the failures."""

    objects: dict[str, list[Any]] = field(default_factory=dict)  # resource name -> items
    failures: list[Failure] = field(default_factory=list)


class _Expired(Exception):
    """The continue token is too old (410 Gone): list again from the start."""


class _Cut(Exception):
    """The response ended or broke before the page was whole."""


def configuration(kubeconfig: str | None, context: str | None) -> Any:
    """The client configuration of `kubeconfig`/`context` (else in-cluster, else the
    default kubeconfig), as the webhook loads it; UsageError for an unusable one."""
    import yaml
    from kubernetes.config import ConfigException

    from ..errors import UsageError
    from ..webhook.inventory_watch import kube_configuration

    where = f"kubeconfig {kubeconfig}" if kubeconfig else "the kubeconfig"
    try:
        loaded = kube_configuration(kubeconfig, context)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise UsageError(f"cannot use {where}: not YAML{at}: {problem}") from None
    except (TypeError, AttributeError):
        # The client indexes what it loaded as a mapping: text or a list is no kubeconfig.
        raise UsageError(
            f"cannot use {where}: not a kubeconfig (a mapping with clusters, users and contexts)"
        ) from None
    except (ConfigException, OSError, ValueError) as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise UsageError(f"cannot use {where}: {text}") from None
    # No retries: a refused connection is reported at once, and a server that does not
    # answer is waited for once (request_timeout), not once more per retry.
    loaded.retries = 0
    return loaded


class Lister:
    """Lists resources with one ApiClient; `convert` turns each raw item into what is
    kept (or None to drop it)."""

    def __init__(
        self,
        config: Any,
        convert: Callable[[Watched, dict[str, Any]], Any],
        namespaces: Iterable[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        from kubernetes import client

        self.config = config
        self.server = str(config.host)
        self.client_module = client
        self.convert = convert
        self.namespaces = sorted(set(namespaces))
        self.page_size = page_size
        self.request_timeout = request_timeout
        self._metadata_client: Any = None
        self._plain_client: Any = None

    def _api_client(self, metadata_only: bool) -> Any:
        # The Accept header is per ApiClient (as in the watch): one client for metadata-only
        # lists (Secrets), one for everything else.
        if metadata_only:
            if self._metadata_client is None:
                self._metadata_client = self.client_module.ApiClient(self.config)
                self._metadata_client.default_headers["Accept"] = (
                    f"{METADATA_LIST}, application/json"
                )
            return self._metadata_client
        if self._plain_client is None:
            self._plain_client = self.client_module.ApiClient(self.config)
        return self._plain_client

    def close(self) -> None:
        for api_client in (self._metadata_client, self._plain_client):
            if api_client is not None:
                api_client.close()

    def list_all(self, resources: Iterable[Watched] = LISTED) -> Listing:
        """Every resource of `resources`. The first is listed alone: if the server cannot
        be reached or refuses the credentials, Fatal says so once, not once a resource."""
        wanted = list(resources)
        listing = Listing()
        if not wanted:
            return listing
        self._collect(listing, wanted[0], fatal=True)
        with ThreadPoolExecutor(THREADS, thread_name_prefix="audit-list") as pool:
            results = list(pool.map(self._one, wanted[1:]))
        for watched, outcome in zip(wanted[1:], results, strict=True):
            self._file(listing, watched, outcome)
        return listing

    def _one(self, watched: Watched) -> list[Any] | Failure:
        try:
            return self.list_resource(watched)
        except Fatal as exc:
            return Failure(resource_name(watched), str(exc))

    def _collect(self, listing: Listing, watched: Watched, fatal: bool) -> None:
        if fatal:
            outcome: list[Any] | Failure = self.list_resource(watched)
        else:
            outcome = self._one(watched)
        self._file(listing, watched, outcome)

    @staticmethod
    def _file(listing: Listing, watched: Watched, outcome: list[Any] | Failure) -> None:
        if isinstance(outcome, Failure):
            listing.failures.append(outcome)
        else:
            listing.objects[resource_name(watched)] = outcome

    def list_resource(self, watched: Watched) -> list[Any] | Failure:
        """Every object of `watched` (in the audited namespaces), converted; a Failure
        naming the resource when it cannot be listed whole. Raises Fatal."""
        scopes: list[str | None] = (
            list(self.namespaces) if self.namespaces and namespaced(watched) else [None]
        )
        out: list[Any] = []
        for namespace in scopes:
            for attempt in (1, 2):
                try:
                    out.extend(self._pages(watched, namespace))
                    break
                except _Expired as exc:
                    if attempt == 2:
                        return self._failure(watched, namespace, str(exc))
                except _Cut as exc:
                    return self._failure(watched, namespace, str(exc))
        return out

    def _failure(self, watched: Watched, namespace: str | None, message: str) -> Failure:
        where = f" in namespace {namespace}" if namespace else ""
        return Failure(resource_name(watched), f"cannot list{where}: {message}")

    def _pages(self, watched: Watched, namespace: str | None) -> list[Any]:
        api = getattr(self.client_module, watched.api)(self._api_client(watched.metadata_only))
        if namespace is not None:
            base = watched.method.removeprefix("list_").removesuffix("_for_all_namespaces")
            function = getattr(api, f"list_namespaced_{base}")
            positional: tuple[Any, ...] = (namespace,)
        else:
            function, positional = getattr(api, watched.method), ()
        out: list[Any] = []
        token: str | None = None
        pages = 0
        while True:
            kwargs: dict[str, Any] = {
                "limit": self.page_size,
                "_request_timeout": self.request_timeout,
            }
            if token:
                kwargs["_continue"] = token
            page = self._page(function, positional, kwargs, watched, pages, len(out))
            pages += 1
            items = page.get("items")
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    converted = self.convert(watched, item)
                    if converted is not None:
                        out.append(converted)
            meta = page.get("metadata")
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return out

    def _page(
        self,
        function: Callable[..., Any],
        positional: tuple[Any, ...],
        kwargs: dict[str, Any],
        watched: Watched,
        pages: int,
        listed: int,
    ) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError, MaxRetryError, ReadTimeoutError

        after = f" after {listed} objects in {pages} page{'s' if pages != 1 else ''}"
        try:
            response = function(*positional, _preload_content=False, **kwargs)
        except ApiException as exc:
            self._not_kubernetes(exc.status, exc.headers, exc.body, pages, after)
            self._api_error(exc, after if pages else "")
            raise  # not reached: _api_error always raises
        except (ReadTimeoutError, MaxRetryError) as exc:
            if isinstance(exc, ReadTimeoutError) or isinstance(exc.reason, ReadTimeoutError):
                silent = f"did not answer within {self.request_timeout:g} s (--request-timeout)"
                if pages:
                    raise _Cut(f"the API server {silent}{after}") from None
                raise Fatal(f"the API server {self.server} {silent}") from None
            assert isinstance(exc, MaxRetryError)
            reason = _reason(exc.reason or exc)
            if pages:  # the server went away mid-list
                raise _Cut(f"the connection failed{after}: {reason}") from None
            raise Fatal(f"cannot reach the API server {self.server}: {reason}") from None
        except HTTPError as exc:
            raise _Cut(f"the request failed{after}: {_reason(exc)}") from None
        try:
            body = response.data
        except HTTPError as exc:  # the body broke off: a list cut mid-way
            raise _Cut(f"the list was cut{after}: {_reason(exc)}") from None
        finally:
            response.release_conn()
        status = getattr(response, "status", 200)
        self._not_kubernetes(status, getattr(response, "headers", None), body, pages, after)
        if status >= 400:
            self._api_error(_Status(status, body), after if pages else "")
        try:
            page = json.loads(body)
        except ValueError:
            raise _Cut(
                f"the list was cut{after}: the response is not whole JSON ({len(body)} bytes)"
            ) from None
        if not isinstance(page, dict):
            raise _Cut(f"the response{after} is not a list object")
        return page

    def _not_kubernetes(
        self, status: int | None, headers: Any, body: Any, pages: int, after: str
    ) -> None:
        """An answer that is not JSON (an HTML page of a proxy or a login portal, a bare
        500) to a first page: whatever answers is not a Kubernetes API server, and says
        so once (Fatal). Later in a list it is a cut list."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        try:
            json.loads(text)
            return
        except ValueError:
            pass
        kind = (headers or {}).get("Content-Type") or "no Content-Type"
        if pages:
            if status is not None and status < 400:
                return  # a body cut mid-way: the caller says so
            raise _Cut(f"the request failed{after}: HTTP {status}, {kind}")
        snippet = " ".join(text.split())[:120]
        raise Fatal(
            f"{self.server} did not answer as a Kubernetes API server (HTTP {status}, "
            f"{kind}): {snippet or 'an empty body'}"
        )

    def _api_error(self, exc: Any, after: str) -> None:
        status = getattr(exc, "status", None)
        if status == 401:
            raise Fatal(
                f"the API server {self.server} rejected the credentials (401 Unauthorized): "
                "the token or client certificate is expired, revoked or not valid for it"
            )
        if status == 410 and after:
            raise _Expired(f"the continue token expired{after} (410 Gone), twice")
        if status == 404:
            raise _Cut("the API server does not serve this resource (404 Not Found)")
        raise _Cut(_short(exc).partition(": ")[2] or _short(exc))


@dataclass
class _Status:
    """An error status read from a response body (as ApiException carries it)."""

    status: int
    body: bytes

    def __str__(self) -> str:
        return f"HTTP {self.status}"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    # urllib3 wraps the OS error in its own words: keep the errno's text.
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:200] or type(exc).__name__


def listed_table() -> str:
    """The Markdown table of what an audit lists, as docs/audit.md shows it (a test keeps
    the two in step)."""
    rows = ["| resource | kind | apiVersion | scope |", "| --- | --- | --- | --- |"]
    for w in LISTED:
        scope = "namespaced" if namespaced(w) else "cluster"
        if w.metadata_only:
            scope += ", metadata only"
        rows.append(f"| `{resource_name(w)}` | {w.kind} | {w.api_version} | {scope} |")
    return "\n".join(rows) + "\n"
