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
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import ConfigError, PolicyPack
from ..engine import evaluate
from ..errors import UsageError
from ..findings import FieldPath, Finding, message_key
from ..inventory import Inventory
from ..resources import WORKLOADS, Resource
from .models import AdmissionRequest
from .store import LAST_APPLIED, InventoryStore, resource_from

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..rego.opa_server import OpaServer
    from ..rego.results import Hit
    from ..rules.base import RuleSettings

T = TypeVar("T")

CONTROLLED_KINDS = frozenset({"Pod", "ReplicaSet", "Job"})
CONTROLLER_MANAGER = "system:kube-controller-manager"
CONTROLLER_ACCOUNTS = "system:serviceaccount:kube-system:"
HPA = "HorizontalPodAutoscaler"
WARNING_CHARS = 120
MESSAGE_FINDING_CHARS = 240


@dataclass(slots=True)
class Decision:
    allowed: bool
    action: str  # allow | deny | warn (allowed with warnings) | skip (not judged)
    reason: str  # judged | operation | namespace | controlled | invalid | internal-error
    # (internal-error: a bug, or CannotJudge: OPA not reachable, a policy failed on it)
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


# A decision in steps: yields each resource the Rego policies must judge, is sent the
# findings, returns the result (Reviewer.review and review_async drive it).
Steps = Generator[Resource, list[Finding], T]


@dataclass(slots=True)
class _Times:
    engine: float = 0.0  # seconds in engine.evaluate, for one review


class CannotJudge(Exception):
    """The object cannot be judged: the Rego engine is not reachable or failed on it.
    The webhook answers it as an internal error (denied when enforcing), in one line."""


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
        # A workload whose manifest leaves spec.replicas to an HPA (the API server
        # defaulted it): the rules not otherwise cross-resource that read HPAs depend on
        # one that may come later.
        self.cross_when_replicas_defaulted = self.cross | {
            rule.id for rule in self.rules if not rule.cross_resource and HPA in rule.reads
        }
        skip = set(self.settings.skipNamespaces) | set(pack.skip_namespaces)
        if own_namespace:
            skip.add(own_namespace)
        self.skip_namespaces = frozenset(skip)
        self.rego_policies: str | None = None  # the embedded engine's directory
        self.rego_rule_ids: frozenset[str] = frozenset()
        self.opa: OpaServer | None = None
        self.rego_engine = "off"  # "opa", "embedded" or "off"
        if self.settings.rego:
            from ..rego.policies import load_policy_set
            from ..rego.step import default_policy_dir, evaluate_resources

            directory = self.settings.regoPolicies or str(default_policy_dir())
            if self.settings.regoEngine == "opa":
                from ..rego.opa_server import OpaServer

                policies = load_policy_set(Path(directory).resolve())
                self.rego_rule_ids = policies.rule_ids
                # Pushed by the server at start-up (and again whenever OPA lost them).
                self.opa = OpaServer(
                    policies, self.settings.opaUrl, self.settings.opaTimeoutSeconds
                )
                self.rego_engine = "opa"
            else:
                self.rego_rule_ids = load_policy_set(Path(directory)).rule_ids
                self.rego_policies = directory
                evaluate_resources([], directory)  # compile now: a broken policy fails start-up
                self.rego_engine = "embedded"
            try:
                pack.check_rule_ids(self.rego_rule_ids)
            except ConfigError as exc:
                raise UsageError(exc.error.display()) from None
        self.rego_settings = pack.rego_settings  # enabled and severity of the Rego rules

    def describe_rego(self) -> str:
        """Which engine judges the Rego policies, for metrics and readiness."""
        if self.opa is not None:
            return f"OPA server at {self.opa.url}"
        return "embedded engine, rego-cpp" if self.rego_policies is not None else "off"

    def judged_kinds(self) -> frozenset[str]:
        """Kinds some rule or policy judges (the workloads, what each rule names, what
        the shipped Rego policies judge): a bounded set, for metric labels."""
        kinds = set(WORKLOADS) | {"Service", "Ingress", "Namespace"}
        for rule in self.rules:
            kinds.update(rule.kinds or ())
        return frozenset(kinds)

    def review(self, request: AdmissionRequest) -> Decision:
        """The decision on `request`; the Rego policies are asked synchronously."""
        steps = self._review(request)
        rego_seconds = 0.0
        try:
            resource = next(steps)
            while True:
                began = time.perf_counter()
                found = self._rego(resource)
                rego_seconds += time.perf_counter() - began
                resource = steps.send(found)
        except StopIteration as done:
            decision: Decision = done.value
        decision.rego_seconds = rego_seconds
        return decision

    async def review_async(self, request: AdmissionRequest) -> Decision:
        """`review`, awaiting OPA's answers: the event loop serves other requests while
        one waits on its round trip (regoEngine opa)."""
        steps = self._review(request)
        rego_seconds = 0.0
        try:
            resource = next(steps)
            while True:
                began = time.perf_counter()
                found = await self._rego_async(resource)
                rego_seconds += time.perf_counter() - began
                resource = steps.send(found)
        except StopIteration as done:
            decision: Decision = done.value
        decision.rego_seconds = rego_seconds
        return decision

    def _review(self, request: AdmissionRequest) -> Steps[Decision]:
        """The decision, as steps: each yields a resource the Rego policies must judge
        and is sent their findings (the driver, `review` or `review_async`, asks them)."""
        if request.operation in ("DELETE", "CONNECT"):
            return Decision(True, "skip", "operation")
        started = time.perf_counter()
        times = _Times()
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
        cross = self.cross_when_replicas_defaulted if replicas_defaulted else self.cross
        findings, exempted, crossed = yield from self._judge(resource, times)
        decision = yield from self._classify(findings, cross, request, resource, times)
        decision.exempted = exempted
        decision.cross_resource_skipped = not crossed
        if decision.denied:
            decision.code, decision.message = (
                403,
                deny_message(resource, decision.denied, self.settings.maxMessageFindings),
            )
        decision.engine_seconds = times.engine
        decision.review_seconds = time.perf_counter() - started
        return decision

    # -- judging -------------------------------------------------------------------

    def _judge(self, resource: Resource, times: _Times) -> Steps[tuple[list[Finding], int, bool]]:
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
        times.engine += time.perf_counter() - began
        if report.errors:  # a rule failed: answered as an internal error, never as "allowed"
            raise RuntimeError(report.errors[0].message)
        findings, exempted = report.findings, len(report.exempted)
        if self.rego_engine != "off":
            found: list[Finding] = yield resource
            for finding in found:
                if finding.exempt_reason:
                    exempted += 1
                else:
                    findings.append(finding)
        return findings, exempted, crossed

    def _rego(self, resource: Resource) -> list[Finding]:
        """The Rego policies' findings on `resource`; CannotJudge when the engine cannot
        answer (OPA not reachable) or evaluation failed on this object."""
        if self.opa is None:
            from ..rego.step import evaluate_resources

            assert self.rego_policies is not None
            try:
                return evaluate_resources(
                    [resource], self.rego_policies, configured=self.rego_settings
                )
            except UsageError as exc:
                raise CannotJudge(str(exc)) from None
        from ..rego.opa_server import OpaError

        try:
            hits = self.opa.evaluate([rego_input(resource.data)])
        except (OpaError, UsageError) as exc:
            raise CannotJudge(str(exc)) from None
        return _findings_of(resource, hits, self.rego_settings)

    async def _rego_async(self, resource: Resource) -> list[Finding]:
        from ..rego.opa_server import OpaError

        assert self.opa is not None
        try:
            hits = await self.opa.evaluate_async([rego_input(resource.data)])
        except (OpaError, UsageError) as exc:
            raise CannotJudge(str(exc)) from None
        return _findings_of(resource, hits, self.rego_settings)

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

    def _old_keys(self, request: AdmissionRequest, times: _Times) -> Steps[set[Identity]]:
        """Identities of the findings the object had before this UPDATE."""
        old = request.oldObject
        if not isinstance(old, dict):
            return set()
        old, _ = prepare(old, request.namespace)
        resource, _problem = resource_from(old)
        if resource is None:
            return set()
        findings, _, _ = yield from self._judge(resource, times)
        return {identity(f, resource) for f in findings}

    def _classify(
        self,
        findings: list[Finding],
        cross: frozenset[str],
        request: AdmissionRequest,
        resource: Resource,
        times: _Times,
    ) -> Steps[Decision]:
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
            existing = yield from self._old_keys(request, times)
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


def _findings_of(
    resource: Resource, hits: list[Hit], configured: Mapping[str, RuleSettings]
) -> list[Finding]:
    """OPA's hits on `resource` -> its findings; CannotJudge for an evaluation error."""
    from ..rego.results import ERROR, findings_of

    for hit in hits:
        if hit.kind == ERROR:
            value = hit.value if isinstance(hit.value, dict) else {}
            raise CannotJudge(
                f"Rego evaluation failed on {value.get('subject') or 'this object'}: "
                f"{value.get('error') or 'OPA gave no reason'}"
            )
    return sorted(findings_of([resource], hits, configured), key=Finding.order)


def rego_input(data: dict[str, Any]) -> dict[str, Any]:
    """The object as OPA judges it: without kubectl's last-applied-configuration
    annotation, which the manifest conftest judges in CI never has (a copy of the whole
    object as one string: half of what OPA would parse for a Deployment)."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return data
    notes = meta.get("annotations")
    if not isinstance(notes, dict) or LAST_APPLIED not in notes:
        return data
    kept = {key: value for key, value in notes.items() if key != LAST_APPLIED}
    return {**data, "metadata": {**meta, "annotations": kept}}


def _invalid(message: str) -> Decision:
    return Decision(False, "deny", "invalid", code=400, message=f"autobot-guard: {message}")


def prepare(original: dict[str, Any], namespace: str | None) -> tuple[dict[str, Any], bool]:
    """The object as its author wrote it, as far as the request tells: no `status` and
    no `metadata.managedFields` (the server's, never judged, yet often as large as the
    object), the request's namespace filled in, and a `spec.replicas` the API server
    defaulted taken out.

    Returns (object, whether spec.replicas was taken out). A workload whose manifest
    leaves replicas to an HPA gets `replicas: 1` by defaulting; judged as written, its
    findings of the rules that read HPAs (min-replicas) depend on the HPA, which may
    arrive after it.
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
Identity = tuple[str, tuple[str | int, ...], Any, str]
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
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
    path: list[str | int] = list(finding.path)
    for position, (part, index) in enumerate(zip(finding.path, finding.path[1:], strict=False)):
        if part in _CONTAINER_LISTS and isinstance(index, int):
            items = spec.get(str(part))
            if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
                path[position + 1] = f"name={items[index].get('name')}"
    value = value_at(resource.data, finding.path)
    scalar = value if isinstance(value, _SCALARS) else _NOT_A_VALUE
    return finding.rule, tuple(path), scalar, message_key(finding.message)


def value_at(data: Any, path: FieldPath) -> Any:
    """The value at a field path; _NOT_A_VALUE where the path leads nowhere."""
    node = data
    for part in path:
        if isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                return _NOT_A_VALUE
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        else:
            return _NOT_A_VALUE
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
        shorten(f"[{f.rule}] {f.path_text}: {f.message}", MESSAGE_FINDING_CHARS)
        for f in findings[:limit]
    ]
    if count > limit:
        parts.append(f"+{count - limit} more (autobot-guard check lists them all)")
    return f"{head}: " + "; ".join(parts)
