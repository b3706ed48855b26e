"""The conftest engine: the conftest binary as a subprocess, judging a batch in one run.

The documents are written as one JSON file, `{"documents": [...]}` (the data every
engine sees: List items split, YAML 1.1 already resolved), and conftest evaluates the
batch module (`batch.py`) over them with the user's policies beside it:

    conftest test --output json --policy POLICIES --policy BATCH
                  --namespace autobot_guard.batch batch.json

Its answer is one `deny` result per document, namespace and rule with values, carrying
`[index, namespace, rule, values, excepted]` in its metadata. When OPA fails on a
document (conflicting values of a complete rule, a builtin error), conftest fails the
whole run: the batch is then split in halves until the failing documents stand alone,
so each becomes an input error of its own and the others are still judged.

`start` launches conftest and returns at once; `Pending.hits` waits for it, so the
built-in rules run on the other core meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .batch import PACKAGE, batch_input, batch_module, error_hit, hits_of
from .policies import PolicySet
from .results import Hit

INSTALL_HINT = (
    "install conftest (scripts/install-tools builds the pinned version with Go; or "
    "https://www.conftest.dev/install/), or use --rego embedded"
)
INPUT = "batch.json"
SPLIT_AT = 1000  # documents from which the batch is judged in chunks, two at a time
CHUNK = 1000  # documents a conftest process judges at most: bounds its memory
RUNNING = 2  # conftest processes at a time
# Go's collector at its default (GOGC=100) spends a third of conftest's CPU on a chunk,
# CPU the built-in rules need on the other core (bench/bench_rego_check.py). A chunk's
# heap is bounded by CHUNK (about 100 MB for 1,000 documents), so conftest collects only
# when its heap nears a soft limit above that: most runs never collect.
GO_ENVIRONMENT = {"GOGC": "off", "GOMEMLIMIT": "192MiB"}
# conftest's messages when OPA fails on the input: the batch is split to find the document.
_EVALUATION_ERRORS = ("evaluating policy", "eval_", "built-in error", "query rule")


def find_conftest() -> str | None:
    return shutil.which("conftest")


@dataclass
class _Run:
    indexes: list[int]  # the resources this run judges
    directory: Path
    process: subprocess.Popen[str]
    per_document: bool  # which namespaces of the batch module it judges
    combined: bool


@dataclass
class Pending:
    """conftest runs under way; `hits` waits for them (and splits failing batches)."""

    executable: str
    policies: PolicySet
    documents: Sequence[Any]
    deadline: float
    timeout: float
    work: tempfile.TemporaryDirectory[str]
    runs: list[_Run] = field(default_factory=list)  # started, oldest first
    queue: list[tuple[list[int], bool, bool]] = field(default_factory=list)  # to start
    on_hits: Callable[[list[Hit]], None] | None = None  # called in the driver thread
    _hits: list[Hit] = field(default_factory=list)
    _error: BaseException | None = None
    _thread: threading.Thread | None = None

    def module(self, per_document: bool, combined: bool) -> Path:
        """A policy directory holding the batch module for these namespaces."""
        directory = Path(self.work.name, f"batch-{int(per_document)}{int(combined)}")
        if not directory.exists():
            directory.mkdir()
            text = batch_module(self.policies, per_document, combined)
            (directory / "batch.rego").write_text(text, encoding="utf-8")
        return directory

    def launch(self, indexes: list[int], per_document: bool = True, combined: bool = True) -> None:
        """Judge `indexes` in a run of its own, as soon as fewer than RUNNING are under way."""
        per_document = per_document and bool(self.policies.per_document())
        combined = combined and bool(self.policies.combined())
        if per_document or combined:  # else nothing of the policies judges these documents
            self.queue.append((indexes, per_document, combined))
        while self.queue and len(self.runs) < RUNNING:
            self._start(*self.queue.pop(0))

    def _start(self, indexes: list[int], per_document: bool, combined: bool) -> None:
        directory = Path(tempfile.mkdtemp(dir=self.work.name))
        (directory / INPUT).write_bytes(batch_input([self.documents[i] for i in indexes]))
        command = [
            self.executable,
            "test",
            "--output",
            "json",
            "--no-color",
            "--policy",
            str(self.policies.directory.resolve()),
            "--policy",
            str(self.module(per_document, combined)),
            "--namespace",
            PACKAGE,
            INPUT,
        ]
        try:
            process = subprocess.Popen(
                command,
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_environment(),
            )
        except OSError as exc:
            self.work.cleanup()
            raise UsageError(f"cannot run conftest ({self.executable}): {exc.strerror}") from None
        self.runs.append(_Run(indexes, directory, process, per_document, combined))

    def drive(self) -> None:
        """Collect the runs and start the waiting ones as they finish, in a thread of its
        own (the built-in rules judge meanwhile); `hits` waits for it."""
        self._thread = threading.Thread(target=self._drive, name="conftest", daemon=True)
        self._thread.start()

    def _drive(self) -> None:
        try:
            while self.runs:
                run = self.runs.pop(0)
                found = self._collect(run)
                self._hits += found
                if self.on_hits is not None and found:
                    self.on_hits(found)
                self.launch([], per_document=False, combined=False)  # start what waits
        except BaseException as exc:  # re-raised in the caller's thread by `hits`
            self._error = exc

    def hits(self) -> list[Hit]:
        try:
            if self._thread is not None:
                self._thread.join()
            if self._error is not None:
                raise self._error
            return self._hits
        finally:
            for run in self.runs:
                run.process.kill()
            self.work.cleanup()

    def _collect(self, run: _Run) -> list[Hit]:
        remaining = self.deadline - time.monotonic()
        try:
            stdout, stderr = run.process.communicate(timeout=max(remaining, 0.001))
        except subprocess.TimeoutExpired:
            run.process.kill()
            run.process.communicate()
            raise UsageError(
                f"conftest timed out after {self.timeout:g} s (--rego-timeout)"
            ) from None
        status = run.process.returncode
        if status in (0, 1) and stdout.lstrip().startswith("["):
            local = hits_of(results_of(stdout), len(run.indexes))
            return [Hit(run.indexes[h.index], h.namespace, h.kind, h.value, h.loc) for h in local]
        detail = " ".join(stderr.split())[:500] or stdout.strip()[:500]
        if status == 1 and any(marker in detail for marker in _EVALUATION_ERRORS):
            if len(run.indexes) == 1:
                return [error_hit(run.indexes[0], _reason(detail))]
            if run.combined:  # the combined input fails as a whole: no split tells more
                if not run.per_document:
                    return [error_hit(run.indexes[0], _reason(detail), combined=True)]
                self.launch(run.indexes, per_document=False)
                self.launch(run.indexes, combined=False)
                return []
            half = len(run.indexes) // 2
            self.launch(run.indexes[:half], combined=False)
            self.launch(run.indexes[half:], combined=False)
            return []
        raise UsageError(f"conftest failed (exit status {status}): {detail}")


def start(
    executable: str,
    policies: PolicySet,
    documents: Sequence[Any],
    timeout: float,
    on_hits: Callable[[list[Hit]], None] | None = None,
) -> Pending:
    """Launch conftest on `documents`; the answer comes from `Pending.hits()`, and run by
    run to `on_hits` (in a thread of its own) as it arrives."""
    work = tempfile.TemporaryDirectory(prefix="autobot-guard-rego-")
    deadline = time.monotonic() + timeout
    pending = Pending(executable, policies, documents, deadline, timeout, work, on_hits=on_hits)
    indexes = list(range(len(documents)))
    if len(indexes) < SPLIT_AT:
        if indexes:
            pending.launch(indexes)
        pending.drive()
        return pending
    # Chunks, two processes at a time: OPA evaluates a query on one core, and a chunk
    # bounds the memory of each conftest (about 50 MB per 1,000 documents).
    count = max(2, -(-len(indexes) // CHUNK))
    size = -(-len(indexes) // count)
    for first in range(0, len(indexes), size):
        pending.launch(indexes[first : first + size], combined=False)
    pending.launch(indexes, per_document=False)
    pending.drive()
    return pending


def run_conftest(
    executable: str, policies: PolicySet, documents: Sequence[Any], timeout: float
) -> list[Hit]:
    return start(executable, policies, documents, timeout).hits()


def results_of(text: str) -> list[Any]:
    """The batch results in conftest's JSON output; UsageError for another shape."""
    try:
        output = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"cannot parse conftest's JSON output: {exc}") from None
    if not isinstance(output, list):
        raise UsageError("cannot parse conftest's JSON output: expected a list of results")
    results = []
    for entry in output:
        if not isinstance(entry, dict) or not isinstance(entry.get("failures") or [], list):
            raise UsageError(
                f"cannot parse conftest's JSON output: unexpected entry {entry!r:.200}"
            )
        for failure in entry.get("failures") or []:
            metadata = failure.get("metadata") if isinstance(failure, dict) else None
            if not isinstance(metadata, dict) or "result" not in metadata:
                raise UsageError(
                    f"cannot parse conftest's JSON output: unexpected failure {failure!r:.200}"
                )
            results.append(metadata["result"])
    return results


def _reason(detail: str) -> str:
    """OPA's own words from conftest's error line (after the wrapping prefixes)."""
    marker = "evaluating policy: "
    return detail.split(marker, 1)[1] if marker in detail else detail


def _environment() -> dict[str, str]:
    """conftest's environment: ours, without colours, with GO_ENVIRONMENT unless the
    user set GOGC or GOMEMLIMIT."""
    tuned = {} if {"GOGC", "GOMEMLIMIT"} & set(os.environ) else GO_ENVIRONMENT
    return {**tuned, **os.environ, "NO_COLOR": "1"}
