"""The admission decision, pure: an AdmissionRequest in, a Decision out.

The same engine and rules as `autobot-guard check`; what admission adds is deciding
which findings deny, which warn and which are only counted:

- findings at `enforceSeverity` deny (mode enforce), else they warn (mode warn) or are
  only logged (mode audit); lower findings down to `warnSeverity` warn;
- on UPDATE a finding the old object already had (same rule and field path) only warns,
  so an old workload can still be scaled or patched;
- findings of cross-resource rules warn unless `crossResourceRules: enforce`, and those
  rules are skipped until the inventory has synced;
- DELETE and CONNECT, skipped namespaces and controller-created Pods/ReplicaSets/Jobs
  are allowed without judging.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PolicyPack
from ..engine import evaluate
from ..findings import Finding, message_key
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from .models import AdmissionRequest
from .store import InventoryStore, resource_from

CONTROLLED_KINDS = frozenset({"Pod", "ReplicaSet", "Job"})
CONTROLLER_MANAGER = "system:kube-controller-manager"
CONTROLLER_ACCOUNTS = "system:serviceaccount:kube-system:"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
WARNING_CHARS = 120
MESSAGE_FINDING_CHARS = 240


@dataclass(slots=True)
class Decision:
    allowed: bool
    action: str  # allow | deny | warn (allowed with warnings) | skip (not judged)
    reason: str  # judged | operation | namespace | controlled | invalid | internal-error
    code: int | None = None
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    denied: list[Finding] = field(default_factory=list)
    warned: list[Finding] = field(default_factory=list)
    audited: list[Finding] = field(default_factory=list)
    exempted: int = 0
    cross_resource_skipped: bool = False
    engine_seconds: float = 0.0  # in engine.evaluate (both objects of an UPDATE)
    rego_seconds: float = 0.0  # in the Rego policies (both objects of an UPDATE)
    review_seconds: float = 0.0  # the whole decision: preparing, judging, classifying

    @property
    def rule_ids(self) -> list[str]:
        return sorted({f.rule for f in (*self.denied, *self.warned, *self.audited)})


class Reviewer:
    def __init__(
        self,
        pack: PolicyPack,
        store: InventoryStore | None = None,
        own_namespace: str | None = None,
    ) -> None:
        self.pack = pack
        self.settings = pack.admission
        self.store = store
        skipped = set(self.settings.skipRules)
        self.rules = [rule for rule in pack.enabled_rules() if rule.id not in skipped]
        self.cross = frozenset(self.settings.crossResourceRuleIds)
        self.local_rules = [rule for rule in self.rules if rule.id not in self.cross]
        skip = set(self.settings.skipNamespaces) | set(pack.skip_namespaces)
        if own_namespace:
            skip.add(own_namespace)
        self.skip_namespaces = frozenset(skip)
        self._engine_seconds = 0.0
        self._rego_seconds = 0.0
        self.rego_policies: str | None = None
        self.rego_rule_ids: frozenset[str] = frozenset()
        if self.settings.rego:
            from ..rego.policies import load_policy_set
            from ..rego.step import default_policy_dir, evaluate_resources

            directory = self.settings.regoPolicies or str(default_policy_dir())
            self.rego_rule_ids = load_policy_set(Path(directory)).rule_ids
            self.rego_policies = directory
            evaluate_resources([], directory)  # compile now: a broken policy fails start-up

    def judged_kinds(self) -> frozenset[str]:
        """Kinds some rule or policy judges (the workloads, what each rule names, what
        the shipped Rego policies judge): a bounded set, for metric labels."""
        kinds = set(WORKLOADS) | {"Service", "Ingress", "Namespace"}
        for rule in self.rules:
            kinds.update(rule.kinds or ())
        return frozenset(kinds)

    def review(self, request: AdmissionRequest) -> Decision:
        if request.operation in ("DELETE", "CONNECT"):
            return Decision(True, "skip", "operation")
        started = time.perf_counter()
        self._engine_seconds = self._rego_seconds = 0.0
        data = request.object
        if not isinstance(data, dict):
            return _invalid("request.object is missing or not a JSON object")
        data, replicas_defaulted = prepare(data, request.namespace)
        resource, problem = resource_from(data)
        if resource is None:
            return _invalid(f"object is not a Kubernetes object: {problem}")
        if resource.namespace in self.skip_namespaces:
            return Decision(True, "skip", "namespace")
        if (
            not self.settings.judgeControlledPods
            and resource.kind in CONTROLLED_KINDS
            and not request.subResource  # kubectl debug adds containers: judged always
            and controlled(data, request.userInfo.username)
        ):
            return Decision(True, "skip", "controlled")
        if resource.is_workload:
            count = container_count(resource)
            if count > self.settings.maxContainers:
                return self._too_large(resource, count)
        cross = self.cross | {"min-replicas"} if replicas_defaulted else self.cross
        findings, exempted, crossed = self._judge(resource)
        decision = self._classify(findings, cross, request, resource)
        decision.exempted = exempted
        decision.cross_resource_skipped = not crossed
        if decision.denied:
            decision.code, decision.message = (
                403,
                deny_message(resource, decision.denied, self.settings.maxMessageFindings),
            )
        decision.engine_seconds = self._engine_seconds
        decision.rego_seconds = self._rego_seconds
        decision.review_seconds = time.perf_counter() - started
        return decision

    # -- judging -------------------------------------------------------------------

    def _judge(self, resource: Resource) -> tuple[list[Finding], int, bool]:
        """Findings and exempted count of `resource` as if admitted; the last item is
        False when cross-resource rules were skipped (inventory not synced)."""
        store = self.store
        if store is None or not store.synced:
            inventory, rules, crossed = Inventory([resource]), self.local_rules, False
        elif resource.is_workload:
            inventory, rules, crossed = store.workload_inventory(resource), self.rules, True
        else:
            base = store.namespace_inventory(resource.namespace)
            inventory, rules, crossed = base.replaced(resource), self.rules, True
        began = time.perf_counter()
        report = evaluate(
            [resource], self.pack, rules, inventory, [resource], extra_rule_ids=self.rego_rule_ids
        )
        self._engine_seconds += time.perf_counter() - began
        if report.errors:  # a rule failed: answered as an internal error, never as "allowed"
            raise RuntimeError(report.errors[0].message)
        findings, exempted = report.findings, len(report.exempted)
        if self.rego_policies is not None:
            from ..rego.step import evaluate_resources

            began = time.perf_counter()
            for finding in evaluate_resources([resource], self.rego_policies):
                if finding.exempt_reason:
                    exempted += 1
                else:
                    findings.append(finding)
            self._rego_seconds += time.perf_counter() - began
        return findings, exempted, crossed

    def _too_large(self, resource: Resource, count: int) -> Decision:
        where = f"{resource.namespace}/{resource.name}" if resource.namespace else resource.name
        message = (
            f"autobot-guard: {resource.kind} {where} has {count} containers, more than the "
            f"{self.settings.maxContainers} this webhook judges (admission.maxContainers): "
            "not judged"
        )
        if self.settings.mode == "enforce":
            return Decision(False, "deny", "too-large", code=403, message=message)
        decision = Decision(True, "warn" if self.settings.mode == "warn" else "allow", "too-large")
        if self.settings.mode == "warn":
            decision.warnings = [shorten(message, WARNING_CHARS)]
        return decision

    def _old_keys(self, request: AdmissionRequest) -> set[Identity]:
        """Identities of the findings the object had before this UPDATE."""
        old = request.oldObject
        if not isinstance(old, dict):
            return set()
        old, _ = prepare(old, request.namespace)
        resource, _problem = resource_from(old)
        if resource is None:
            return set()
        findings, _, _ = self._judge(resource)
        return {identity(f, resource) for f in findings}

    def _classify(
        self,
        findings: list[Finding],
        cross: frozenset[str],
        request: AdmissionRequest,
        resource: Resource,
    ) -> Decision:
        settings = self.settings
        enforce_rank = settings.enforceSeverity.rank
        warn_rank = settings.warnSeverity.rank
        enforce_cross = settings.crossResourceRules == "enforce"
        denying = [
            f
            for f in findings
            if f.severity.rank >= enforce_rank and (enforce_cross or f.rule not in cross)
        ]
        existing: set[Identity] = set()
        if denying and request.operation == "UPDATE":
            existing = self._old_keys(request)
        old = {id(f) for f in findings if existing and identity(f, resource) in existing}
        denied = [f for f in denying if id(f) not in old]
        denied_ids = {id(f) for f in denied}
        others = [f for f in findings if id(f) not in denied_ids]
        warned = [f for f in others if f.severity.rank >= warn_rank]
        decision = Decision(True, "allow", "judged")
        if settings.mode == "audit":
            decision.audited = findings
            return decision
        if settings.mode == "warn":
            warned, denied = [*denied, *warned], []
        decision.denied, decision.warned = denied, warned
        decision.audited = [f for f in others if f.severity.rank < warn_rank]
        if denied:
            decision.allowed, decision.action = False, "deny"
        decision.warnings = warnings_for(warned, old, settings.maxWarnings)
        if decision.allowed and decision.warnings:
            decision.action = "warn"
        return decision


def _invalid(message: str) -> Decision:
    return Decision(False, "deny", "invalid", code=400, message=f"autobot-guard: {message}")


def prepare(original: dict[str, Any], namespace: str | None) -> tuple[dict[str, Any], bool]:
    """The object as its author wrote it, as far as the request tells: no `status` and
    no `metadata.managedFields` (the server's, never judged, yet often as large as the
    object), the request's namespace filled in, and a `spec.replicas` the API server
    defaulted taken out.

    Returns (object, whether spec.replicas was taken out). A workload whose manifest
    leaves replicas to an HPA gets `replicas: 1` by defaulting; judged as written, its
    min-replicas finding depends on the HPA, which may arrive after it.
    """
    data = {key: value for key, value in original.items() if key != "status"}
    meta = data.get("metadata")
    if isinstance(meta, dict):
        meta = data["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
        if namespace and not meta.get("namespace"):
            meta["namespace"] = namespace
    spec = data.get("spec")
    if (
        isinstance(spec, dict)
        and data.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet")
        and "replicas" in spec
        and replicas_defaulted(original)
    ):
        data = {**data, "spec": {k: v for k, v in spec.items() if k != "replicas"}}
        return data, True
    return data, False


def replicas_defaulted(data: dict[str, Any]) -> bool:
    """True when the author's manifest had no spec.replicas: kubectl's last-applied
    configuration lacks it, or server-side apply is used and no field manager owns it."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return False
    annotations = meta.get("annotations")
    applied = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if isinstance(applied, str):
        if '"replicas"' not in applied:  # the common case, without parsing the manifest
            return '"spec"' in applied
        try:
            written = json.loads(applied)
        except ValueError:
            return False
        spec = written.get("spec") if isinstance(written, dict) else None
        return isinstance(spec, dict) and "replicas" not in spec
    managed = meta.get("managedFields")
    if not isinstance(managed, list):
        return False
    entries = [entry for entry in managed if isinstance(entry, dict)]
    if not any(entry.get("operation") == "Apply" for entry in entries):
        return False
    for entry in entries:
        fields = entry.get("fieldsV1")
        spec_fields = fields.get("f:spec") if isinstance(fields, dict) else None
        if isinstance(spec_fields, dict) and "f:replicas" in spec_fields:
            return False
    return True


def controlled(data: dict[str, Any], username: str) -> bool:
    """Created by a built-in controller: a controller ownerReference, sent by the
    kube-controller-manager (its own identity, or the per-controller service accounts of
    kube-system it uses with --use-service-account-credentials). Anyone can write an
    ownerReference; only the controller manager is trusted to have judged the owner."""
    if username != CONTROLLER_MANAGER and not username.startswith(CONTROLLER_ACCOUNTS):
        return False
    meta = data.get("metadata")
    owners = meta.get("ownerReferences") if isinstance(meta, dict) else None
    return isinstance(owners, list) and any(
        isinstance(owner, dict) and owner.get("controller") is True for owner in owners
    )


def container_count(resource: Resource) -> int:
    return len(resource.containers(ephemeral=True))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# (rule, field path with containers named, scalar value, message without numbers)
Identity = tuple[str, str, Any, str]
_CONTAINER_INDEX = re.compile(r"\b(containers|initContainers|ephemeralContainers)\[(\d+)\]")
_SCALARS = (str, int, float, bool, type(None))
_NOT_A_VALUE = ("<not a single value>",)


def identity(finding: Finding, resource: Resource) -> Identity:
    """What makes a finding "the same" in the old and the new object of an UPDATE: its
    rule; its field path with containers named rather than numbered (removing or adding
    a container moves the others); the field's value when it holds a single value
    (another untagged image in an old field is new); and its message but for numbers
    (one field can carry several findings of one rule: a cpu request fixed and a memory
    request removed is a new finding)."""
    spec = resource.pod_spec

    def by_name(match: re.Match[str]) -> str:
        items = spec.get(match.group(1))
        index = int(match.group(2))
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            return f"{match.group(1)}[name={items[index].get('name')}]"
        return match.group(0)

    value = value_at(resource.data, finding.path)
    scalar = value if isinstance(value, _SCALARS) else _NOT_A_VALUE
    path = _CONTAINER_INDEX.sub(by_name, finding.path)
    return finding.rule, path, scalar, message_key(finding.message)


def value_at(data: Any, path: str) -> Any:
    """The value at a rendered field path ("spec.containers[0].image"); keys may hold
    dots ("metadata.annotations.example.com/x"), so each step takes the longest key the
    rest of the path starts with. _NOT_A_VALUE where the path leads nowhere."""
    node, rest = data, path
    while rest:
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0 or not rest[1:end].isdigit() or not isinstance(node, list):
                return _NOT_A_VALUE
            index = int(rest[1:end])
            if index >= len(node):
                return _NOT_A_VALUE
            node, rest = node[index], rest[end + 1 :].removeprefix(".")
            continue
        if not isinstance(node, dict):
            return _NOT_A_VALUE
        key = max(
            (
                k
                for k in node
                if isinstance(k, str)
                and rest.startswith(k)
                and (len(rest) == len(k) or rest[len(k)] in ".[")
            ),
            key=len,
            default=None,
        )
        if key is None:
            return _NOT_A_VALUE
        node, rest = node[key], rest[len(key) :].removeprefix(".")
    return node


def warnings_for(
    findings: list[Finding],
    already_present: set[int],
    limit: int,
) -> list[str]:
    """Short `rule: message` lines for kubectl's `Warning:` output, at most `limit` lines
    (the last one saying how many more there are, when there are)."""
    out: list[str] = []
    shown = findings if len(findings) <= limit else findings[: max(limit - 1, 0)]
    for finding in shown:
        prefix = "(already present) " if id(finding) in already_present else ""
        out.append(shorten(f"{prefix}{finding.rule}: {finding.message}", WARNING_CHARS))
    if len(findings) > len(shown) and limit > 0:
        out.append(f"... {len(findings) - len(shown)} more; `autobot-guard check` lists them all")
    return out


def deny_message(resource: Resource, findings: list[Finding], limit: int) -> str:
    """One paragraph kubectl shows after `denied the request:`."""
    where = f"{resource.namespace}/{resource.name}" if resource.namespace else resource.name
    count = len(findings)
    head = f"autobot-guard: {resource.kind} {where} violates {count} polic"
    head += "y" if count == 1 else "ies"
    parts = [
        shorten(f"[{f.rule}] {f.path}: {f.message}", MESSAGE_FINDING_CHARS)
        for f in findings[:limit]
    ]
    if count > limit:
        parts.append(f"+{count - limit} more (autobot-guard check lists them all)")
    return f"{head}: " + "; ".join(parts)
