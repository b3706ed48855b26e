"""The Rego step of `check` (after the built-in rules, into the same Report) and the
in-process API of the admission webhook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..findings import Finding, Report, Severity
from ..paths import bundled_policies
from . import DEFAULT_TIMEOUT, MODES
from .policies import PolicySet, load_policy_set
from .results import ERROR, Hit, failure, findings_of

if TYPE_CHECKING:
    from ..findings import InputError
    from ..resources import Resource
    from ..rules.base import RuleSettings
    from .conftest import Pending
    from .embedded import EmbeddedEngine


def default_policy_dir() -> Path:
    return bundled_policies() / "rego"


@dataclass
class RegoStep:
    mode: str  # resolved: "conftest", "embedded" or "off"
    policies: PolicySet | None
    timeout: float = DEFAULT_TIMEOUT
    executable: str | None = None  # conftest's path

    @classmethod
    def prepare(
        cls, mode: str = "auto", policy_dir: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> RegoStep:
        """Resolve the engine and read (for embedded: compile) the policies: every
        problem is a UsageError here, before any manifest is read."""
        from .conftest import INSTALL_HINT, find_conftest

        if mode not in MODES:
            raise UsageError(f"--rego must be one of {', '.join(MODES)}, not {mode!r}")
        if timeout <= 0:
            raise UsageError("--rego-timeout must be a positive number of seconds")
        directory = Path(policy_dir) if policy_dir else default_policy_dir()
        if mode == "off":  # still read, so exemptions may name the Rego rule ids
            try:
                return cls("off", load_policy_set(directory), timeout)
            except UsageError:
                if policy_dir:  # given on purpose: a typo should not pass unnoticed
                    raise
                return cls("off", None, timeout)
        policies = load_policy_set(directory)
        executable = find_conftest() if mode in ("auto", "conftest") else None
        if mode == "conftest" and executable is None:
            raise UsageError(f"--rego conftest: conftest is not on PATH; {INSTALL_HINT}")
        if executable:
            return cls("conftest", policies, timeout, executable)
        embedded_engine(policies)  # compile now: syntax errors surface before the run
        return cls("embedded", policies, timeout)

    @property
    def rule_ids(self) -> frozenset[str]:
        return self.policies.rule_ids if self.policies else frozenset()

    def start(
        self,
        resources: Sequence[Resource],
        skip: Iterable[str] = (),
        configured: Mapping[str, RuleSettings] | None = None,
    ) -> RegoRun:
        """Begin judging `resources` (conftest: a subprocess, on the other core while the
        built-in rules run); `RegoRun.finish` files the findings into a report.
        `configured`: the pack's Rego rule settings."""
        skipped = set(skip)
        judged = [r for r in resources if r.namespace not in skipped]
        run = RegoRun(self, judged, configured)
        if self.mode == "off" or self.policies is None:
            return run
        if self.mode == "conftest":
            from .conftest import start

            assert self.executable is not None
            documents = [r.data for r in judged]
            run.pending = start(
                self.executable, self.policies, documents, self.timeout, run.file_hits
            )
        return run

    def run(
        self,
        report: Report,
        resources: Sequence[Resource],
        skip: Iterable[str] = (),
        configured: Mapping[str, RuleSettings] | None = None,
    ) -> None:
        """Append the findings of the Rego policies on `resources` to `report`."""
        self.start(resources, skip, configured).finish(report)


@dataclass
class RegoRun:
    step: RegoStep
    judged: list[Resource]
    configured: Mapping[str, RuleSettings] | None = None  # the pack's Rego rule settings
    pending: Pending | None = None  # conftest under way
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    def file_hits(self, hits: Sequence[Hit]) -> None:
        """Turn `hits` into findings and input errors. conftest's driver thread calls it
        as each run answers, so line lookups overlap the built-in rules' work (the line
        caches of a Document tolerate two threads: both would store the same line)."""
        # An evaluation that failed on one object is an input error for that object, as
        # for a built-in rule that raises; the other objects' findings still count.
        self.errors += [failure(self.judged[h.index], h) for h in hits if h.kind == ERROR]
        passed = [h for h in hits if h.kind != ERROR]
        self.findings += findings_of(self.judged, passed, self.configured)

    def finish(self, report: Report) -> None:
        """File the findings into `report`."""
        step, configured = self.step, self.configured
        if step.mode == "off" or step.policies is None:
            return
        if self.pending is not None:
            self.pending.hits()  # waits for the driver thread, which filed them
        else:
            documents = [r.data for r in self.judged]
            self.file_hits(_embedded_hits(step.policies, documents, step.timeout, parallel=True))
        report.errors += self.errors
        report.add(self.findings)
        from .catalogue import rego_rules

        for rule in rego_rules(step.policies):  # for reports that describe rules (SARIF)
            documentation = (
                f"{rule.documentation}\n\nRego policy: {rule.file} (package {rule.package})"
            )
            settings = (configured or {}).get(rule.id)
            severity = Severity(rule.severity)
            if settings is not None and settings.severity is not None:
                severity = settings.severity
            report.rule_docs[rule.id] = (rule.summary, documentation, severity)


# -- the embedded engine, compiled once per process and policy directory ---------------

_ENGINES: dict[Path, EmbeddedEngine] = {}
_POLICY_SETS: dict[str, PolicySet] = {}  # evaluate_resources: read once per process
_ENGINES_LOCK = threading.Lock()


def embedded_engine(policies: PolicySet) -> EmbeddedEngine:
    from .embedded import EmbeddedEngine

    key = policies.directory
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None or engine.policies.files != policies.files:
            engine = _ENGINES[key] = EmbeddedEngine(policies)
        return engine


def _embedded_hits(
    policies: PolicySet, documents: Sequence[object], timeout: float, parallel: bool = False
) -> list[Hit]:
    from ..parallel import split_map
    from .batch import document_path

    engine = embedded_engine(policies)
    deadline = time.monotonic() + timeout
    indexes = list(range(len(documents)))

    def work(batch: Sequence[int]) -> list[tuple[Any, ...]]:
        if not batch:
            return []
        found = engine.evaluate([documents[i] for i in batch], batch[0], deadline)
        return [hit.as_tuple() for hit in found]

    with engine.lock:
        batches = (
            split_map(work, indexes, weight=len(indexes) * 4, plain_data=True)
            if parallel
            else [work(indexes)]
        )
        hits = [Hit(*item) for batch in batches for item in batch]
        if documents:  # as conftest, which has no combined input without files
            hits += engine.evaluate_combined(documents, [document_path(i) for i in indexes])
    return hits


def evaluate_resources(
    resources: Sequence[Resource],
    policy_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    configured: Mapping[str, RuleSettings] | None = None,
) -> list[Finding]:
    """The findings of the Rego policies on `resources`, in process (embedded engine).

    For the admission webhook: the policies of `policy_dir` (default: the bundled
    `policies/rego`) are read and compiled on the first call and reused for the life of
    the process (restart to load changed policies); calls are serialised (thread-safe).
    Combined policies see `resources` as the whole set. Findings that an
    `autobot-guard.io/exempt` annotation exempts carry `exempt_reason`. Raises
    errors.UsageError for unusable policies or a timeout.
    """
    given = str(policy_dir or default_policy_dir())
    with _ENGINES_LOCK:  # keyed by the path as given: resolving it costs a review 0.1 ms
        policies = _POLICY_SETS.get(given)
    if policies is None:
        policies = load_policy_set(Path(given).resolve())
        with _ENGINES_LOCK:
            policies = _POLICY_SETS.setdefault(given, policies)
    documents = [r.data for r in resources]
    hits = _embedded_hits(policies, documents, timeout)
    for hit in hits:
        if hit.kind == ERROR:
            raise UsageError(failure(resources[hit.index], hit).display())
    return sorted(findings_of(resources, hits, configured), key=Finding.order)
