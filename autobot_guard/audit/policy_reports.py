"""The audit as wgpolicyk8s.io/v1alpha2 PolicyReports, written back to the cluster.

One PolicyReport per namespace with judged objects (named `autobot-guard`) and one
ClusterPolicyReport for the cluster-scoped ones, each labelled
`app.kubernetes.io/managed-by: autobot-guard`. A result per rule and object: `fail` or
`warn` per finding (error -> fail, warning and info -> warn), `skip` per exempted
finding, `pass` for each rule that judged the object and found nothing (the built-in
rules that apply to its kind; every Rego rule, since every policy judges every object,
as conftest counts its successes). The object is the result's `resources` entry, with
the finding's field path as `fieldPath`.

A report whose results would not fit in one object (etcd keeps objects up to 1.5 MiB)
continues in `autobot-guard-2`, `-3`, ... Each run replaces the reports it owns, in the
namespaces it audited: those it no longer writes are deleted.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..findings import LIVE_PREFIX, Finding, InputError, Severity

if TYPE_CHECKING:
    from .run import Audit

GROUP, VERSION = "wgpolicyk8s.io", "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
NAME = "autobot-guard"
SOURCE = "autobot-guard"
MANAGED_BY = ("app.kubernetes.io/managed-by", "autobot-guard")
# The CRD's severity enum is critical/high/medium/low/info; its result enum
# pass/fail/warn/error/skip.
SEVERITY = {Severity.ERROR: "high", Severity.WARNING: "medium", Severity.INFO: "info"}
RESULT = {Severity.ERROR: "fail", Severity.WARNING: "warn", Severity.INFO: "warn"}
MAX_REPORT_BYTES = 1_000_000  # of results in one report; etcd's limit is 1.5 MiB
CRDS_FILE = "manifests/audit/policy-report-crds.yaml"


def build(audit: Audit, now: float | None = None) -> list[dict[str, Any]]:
    """The PolicyReports (namespace order) and the ClusterPolicyReport (last, if any
    cluster-scoped object was judged) of `audit`."""
    stamp = now if now is not None else time.time()
    timestamp = {"seconds": int(stamp), "nanos": int((stamp % 1) * 1e9)}
    report = audit.report
    found: dict[Any, list[Finding]] = defaultdict(list)
    for finding in [*report.findings, *report.exempted]:
        found[finding.resource].append(finding)
    rego_severity = {rule: docs[2] for rule, docs in report.rule_docs.items()}
    rego_ids = sorted(audit.rego_rule_ids)
    by_namespace: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for item in audit.judged:
        resource = item.resource
        reference = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "name": resource.name,
            "uid": item.uid,
        }
        if resource.namespace is not None:
            reference["namespace"] = resource.namespace
        results = by_namespace[resource.namespace]
        seen: set[str] = set()
        for finding in sorted(found.get(resource.ref, ()), key=lambda f: (f.rule, f.path_text)):
            seen.add(finding.rule)
            results.append(_result(finding, reference, timestamp))
        applicable = [
            (rule.id, rule.severity)
            for rule in audit.rules
            if rule.kinds is None or resource.kind in rule.kinds
        ]
        applicable += [(rid, rego_severity.get(rid, Severity.ERROR)) for rid in rego_ids]
        for rule_id, severity in applicable:
            if rule_id not in seen:
                results.append(
                    _entry(rule_id, "pass", severity, f"{rule_id}: passed", reference, timestamp)
                )
    documents = []
    for namespace in sorted(ns for ns in by_namespace if ns is not None):
        documents += _reports("PolicyReport", namespace, by_namespace[namespace])
    if None in by_namespace:
        documents += _reports("ClusterPolicyReport", None, by_namespace[None])
    return documents


def _result(finding: Finding, reference: dict[str, Any], timestamp: Any) -> dict[str, Any]:
    if finding.exempt_reason:
        outcome, message = "skip", f"exempted ({finding.exempt_reason}): {finding.message}"
    else:
        outcome, message = RESULT[finding.severity], finding.message
    target = {**reference, "fieldPath": finding.path_text} if finding.path else reference
    entry = _entry(finding.rule, outcome, finding.severity, message, target, timestamp)
    entry["properties"] = {"fix": finding.fix}
    return entry


def _entry(
    rule_id: str,
    outcome: str,
    severity: Severity,
    message: str,
    reference: dict[str, Any],
    timestamp: Any,
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "policy": rule_id,
        "rule": rule_id,
        "result": outcome,
        "severity": SEVERITY[severity],
        "scored": True,
        "message": message,
        "resources": [reference],
        "timestamp": timestamp,
    }


def _reports(kind: str, namespace: str | None, results: list[dict[str, Any]]) -> list[Any]:
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for result in results:
        length = len(json.dumps(result))
        if chunks[-1] and size + length > MAX_REPORT_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(result)
        size += length
    out = []
    for index, chunk in enumerate(chunks):
        summary = dict.fromkeys(("pass", "fail", "warn", "error", "skip"), 0)
        for result in chunk:
            summary[result["result"]] += 1
        metadata: dict[str, Any] = {
            "name": NAME if index == 0 else f"{NAME}-{index + 1}",
            "labels": dict([MANAGED_BY]),
        }
        if namespace is not None:
            metadata["namespace"] = namespace
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": kind,
                "metadata": metadata,
                "summary": summary,
                "results": chunk,
            }
        )
    return out


def display(document: dict[str, Any]) -> str:
    meta = document["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{document['kind']} {where}{meta['name']}"


def write(
    audit: Audit,
    config: Any,
    namespaces: Iterable[str] = (),
    request_timeout: float | None = None,
) -> tuple[list[str], list[str], list[InputError]]:
    """Write `build(audit)` over the reports this tool owns: (written, deleted, errors).

    With `namespaces`, only the reports of those namespaces are replaced (and the
    ClusterPolicyReport is left as it is); else every owned report is. Every request
    waits at most `request_timeout` seconds (--request-timeout), as the lists do."""
    from kubernetes import client

    documents = build(audit)
    scoped = sorted(set(namespaces))
    api_client: Any = client.ApiClient(config)
    api = _Timed(client.CustomObjectsApi(api_client), request_timeout)
    written: list[str] = []
    deleted: list[str] = []
    errors: list[InputError] = []
    selector = "=".join(MANAGED_BY)
    try:
        existing = _owned(api, selector, scoped)
    except Exception as exc:
        errors.append(_error("cannot list the PolicyReports it owns", exc))
        api_client.close()
        return written, deleted, errors
    wanted = {_key(document) for document in documents}
    for document in documents:
        key = _key(document)
        try:
            _put(api, document, existing.get(key))
            written.append(display(document))
        except Exception as exc:
            errors.append(_error(f"cannot write {display(document)}", exc))
    for key in existing:
        if key in wanted:
            continue
        kind, namespace, name = key
        try:
            if namespace is None:
                api.delete_cluster_custom_object(GROUP, VERSION, "clusterpolicyreports", name)
            else:
                api.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, "policyreports", name
                )
            deleted.append(f"{kind} {namespace + '/' if namespace else ''}{name}")
        except Exception as exc:
            errors.append(_error(f"cannot delete the stale {kind} {name}", exc))
    api_client.close()
    return written, deleted, errors


class _Timed:
    """The API with `_request_timeout` on every call: a server that stops answering
    while reports are written fails that write instead of hanging the run."""

    def __init__(self, api: Any, timeout: float | None) -> None:
        self._api, self._timeout = api, timeout

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._api, name)
        if self._timeout is None:
            return call
        return lambda *args, **kwargs: call(*args, _request_timeout=self._timeout, **kwargs)


def _key(document: dict[str, Any]) -> tuple[Any, ...]:
    meta = document["metadata"]
    return (document["kind"], meta.get("namespace"), meta["name"])


def _owned(api: Any, selector: str, scoped: list[str]) -> dict[tuple[Any, ...], str]:
    """(kind, namespace, name) -> resourceVersion of the reports this tool owns, in scope."""
    out: dict[tuple[Any, ...], str] = {}
    if scoped:
        pages = [
            api.list_namespaced_custom_object(
                GROUP, VERSION, ns, "policyreports", label_selector=selector
            )
            for ns in scoped
        ]
    else:
        pages = [
            api.list_cluster_custom_object(
                GROUP, VERSION, "policyreports", label_selector=selector
            ),
            api.list_cluster_custom_object(
                GROUP, VERSION, "clusterpolicyreports", label_selector=selector
            ),
        ]
    for page in pages:
        for item in page.get("items") or []:
            meta = item.get("metadata") or {}
            key = (item.get("kind"), meta.get("namespace"), meta.get("name"))
            out[key] = str(meta.get("resourceVersion") or "")
    return out


def _put(api: Any, document: dict[str, Any], version: str | None) -> None:
    meta = document["metadata"]
    namespace = meta.get("namespace")
    if version is not None:
        body = {**document, "metadata": {**meta, "resourceVersion": version}}
        if namespace is None:
            api.replace_cluster_custom_object(
                GROUP, VERSION, "clusterpolicyreports", meta["name"], body
            )
        else:
            api.replace_namespaced_custom_object(
                GROUP, VERSION, namespace, "policyreports", meta["name"], body
            )
    elif namespace is None:
        api.create_cluster_custom_object(GROUP, VERSION, "clusterpolicyreports", document)
    else:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, "policyreports", document)


def _error(what: str, exc: Exception) -> InputError:
    from ..webhook.inventory_watch import _short

    status = getattr(exc, "status", None)
    if status == 404:
        text = (
            "the API server does not serve wgpolicyk8s.io/v1alpha2 (404): install the "
            f"PolicyReport CRDs first (kubectl apply -f {CRDS_FILE})"
        )
    elif _timed_out(exc):
        text = "the API server did not answer in time (--request-timeout)"
    else:
        text = _short(exc).partition(": ")[2] or _short(exc)
    return InputError(f"{LIVE_PREFIX}policyreports.{GROUP}", None, f"{what}: {text}")


def _timed_out(exc: BaseException) -> bool:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, ReadTimeoutError)
