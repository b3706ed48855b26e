"""`autobot-guard fix`: load -> check -> plan the verified fixes -> write, diff or report.

A file is written only if it is exactly as it was read (content, size and mtime), through
a temporary file in its directory renamed over it, with its permission bits. A file that
cannot be parsed, is read-only or changed meanwhile is one input error and stays as it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..findings import Finding, InputError, Report
from ..rego import DEFAULT_TIMEOUT as REGO_TIMEOUT
from ..sources import Refused, read_file
from .plan import (
    MAX_FIX_FILE_BYTES,
    Plan,
    Planner,
    SourceFile,
    _finder,
    load,
    plan,
    read_sources,
)

if TYPE_CHECKING:
    from ..config import PolicyPack
    from ..rego import RegoStep
    from ..resources import Resource


@dataclass
class FixOptions:
    paths: Sequence[str]
    config: str | None = None
    kubernetes_version: str | None = None
    rules: Sequence[str] = ()  # only these rules' findings (default: every rule's)
    write: bool = True  # False: --diff / --dry-run
    rego: str = "auto"
    rego_policies: str | None = None
    rego_timeout: float = REGO_TIMEOUT


@dataclass
class FixOutcome:
    plan: Plan
    before: Report
    errors: list[InputError] = field(default_factory=list)  # input errors, write failures
    written: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # files with an error: not changed

    @property
    def after(self) -> Report:
        assert self.plan.after is not None
        return self.plan.after


def run_fix(options: FixOptions) -> FixOutcome:
    from ..check import load_pack, prepare_rego
    from ..rules import RULES_BY_ID

    if not options.paths:
        raise UsageError("fix edits files in place: name the files or directories to fix")
    if "-" in options.paths:
        raise UsageError("fix edits files in place: it cannot fix standard input")
    for rule_id in options.rules:
        if rule_id not in RULES_BY_ID:
            raise UsageError(f"--rule {rule_id}: no such rule (`autobot-guard rules` lists them)")
        if RULES_BY_ID[rule_id].autofix.does is None:
            raise UsageError(
                f"--rule {rule_id}: this rule has no automatic fix "
                f"(`autobot-guard explain {rule_id}`)"
            )
    pack = load_pack(options.config, options.kubernetes_version)
    rego = prepare_rego(pack, options.rego, options.rego_policies, options.rego_timeout)
    sources, errors, not_editable = _read(options.paths)
    planner = Planner(sources, load(sources), Report(), pack, rego)
    before = planner.recheck({})
    planner.use_before(before)
    wanted = set(options.rules)
    targets = [f for f in before.findings if f.edits and (not wanted or f.rule in wanted)]
    # A file that could not be read was never judged: no count of what remains covers it.
    failed = {e.file for e in errors} | {e.file for e in before.errors}
    errors += before.errors
    for error in before.errors:
        not_editable.setdefault(error.file, "the file has an input error")
    _read_only(sources, targets, not_editable, errors, failed)
    result = plan(planner, targets, _resource_finder(planner), not_editable)
    outcome = FixOutcome(result, before, errors, failed=failed)
    if options.write:
        for file_plan in result.files:
            problem = write_if_unchanged(
                file_plan.source, file_plan.source.encode(file_plan.new_text)
            )
            if problem is None:
                outcome.written.append(file_plan.source.file)
            else:
                outcome.errors.append(InputError(file_plan.source.file, None, problem))
                outcome.failed.add(file_plan.source.file)
    return outcome


def plan_for(
    paths: Sequence[str],
    pack: PolicyPack,
    rego: RegoStep,
    before: Report,
    targets: Sequence[Finding],
) -> tuple[Plan, dict[str, SourceFile]] | None:
    """The verified fixes of `targets` (findings of `before`), for `check --suggest-fixes`."""
    if not paths or "-" in paths:
        return None
    sources, _, not_editable = _read(paths)
    planner = Planner(sources, load(sources), before, pack, rego)
    for error in before.errors:
        not_editable.setdefault(error.file, "the file has an input error")
    wanted = [f for f in targets if f.edits]
    result = plan(planner, wanted, _resource_finder(planner), not_editable, alone=True)
    return result, {source.file: source for source in sources}


def _read(paths: Sequence[str]) -> tuple[list[SourceFile], list[InputError], dict[str, str]]:
    from ..sources import list_sources

    listing = list_sources(paths)
    errors = [InputError(file, None, error) for file, error in listing.errors]
    sources, read_errors = read_sources((name, json) for name, _, json in listing.sources)
    errors += read_errors
    not_editable: dict[str, str] = {}
    for source in sources:
        if source.is_json:
            not_editable[source.file] = "JSON files are not edited (only YAML)"
        elif "\r" in source.text:
            not_editable[source.file] = "mixed line endings: the file is not edited"
    return sources, errors, not_editable


def _read_only(
    sources: Sequence[SourceFile],
    targets: Sequence[Finding],
    not_editable: dict[str, str],
    errors: list[InputError],
    failed: set[str],
) -> None:
    """A read-only file with something to fix is an input error, named once, not edited.

    The permission bits decide, not access(2) alone: root may write anything.
    """
    files = {finding.file for finding in targets}
    for source in sources:
        if source.file not in files or source.file in not_editable:
            continue
        if not source.mode & stat.S_IWUSR or not os.access(source.file, os.W_OK):
            errors.append(InputError(source.file, None, "read-only file: not fixed"))
            not_editable[source.file] = "read-only file"
            failed.add(source.file)


def _resource_finder(planner: Planner) -> Callable[[Finding], Resource | None]:
    return _finder(planner.loaded.resources)


def write_if_unchanged(source: SourceFile, content: bytes) -> str | None:
    """Write `content` over the file if it is still as read; None, or what went wrong."""
    real = os.path.realpath(source.file)  # a symbolic link stays a link to the edited file
    try:
        current, status = read_file(real, MAX_FIX_FILE_BYTES, " fix")
    except Refused as exc:
        return f"cannot read it again before writing: {exc}; not written"
    except OSError as exc:
        return f"cannot read it again before writing: {exc.strerror or exc}; not written"
    if (
        current != source.raw
        or status.st_size != source.size
        or status.st_mtime_ns != source.mtime_ns
    ):
        return "the file changed while fixing: not written"
    directory = os.path.dirname(real) or "."
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(real)}.", suffix=".autobot-guard-fix", dir=directory
        )
    except OSError as exc:
        return f"cannot write a temporary file beside it: {exc.strerror or exc}; not written"
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        if hasattr(os, "chown"):
            # Not root: the file becomes ours, as any editor would leave it.
            with contextlib.suppress(OSError):
                os.chown(temporary, status.st_uid, status.st_gid)
        os.replace(temporary, real)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return f"cannot write: {exc.strerror or exc}; not written"
    return None


def summary_lines(outcome: FixOutcome, dry: bool, path_of) -> list[str]:  # type: ignore[no-untyped-def]
    """What `fix` says it changed (or would change), per file, then the totals."""
    verb = "would fix" if dry else "fixed"
    lines: list[str] = []
    rejected_by_file: dict[str, list[tuple[Finding, str]]] = {}
    for item in outcome.plan.rejected:
        if item.finding.file in outcome.failed:
            continue  # the file's one error line says it all
        rejected_by_file.setdefault(item.finding.file, []).append((item.finding, item.reason))
    planned = {p.source.file: p for p in outcome.plan.files}
    for file in dict.fromkeys([*planned, *rejected_by_file]):
        if file in outcome.failed:
            continue
        fixed = planned[file].fixed if file in planned else []
        lines.append(f"{path_of(file)}: {verb} {_count(len(fixed), 'finding')}")
        for candidate in sorted(fixed, key=lambda c: c.finding.order()):
            finding = candidate.finding
            lines.append(
                f"  {finding.line}: {finding.rule} {finding.resource.display()}: "
                f"{candidate.describe()}"
            )
        for candidate in planned[file].follow_ups if file in planned else []:
            finding = candidate.finding
            lines.append(
                f"  also: {finding.rule} {finding.resource.display()}: {candidate.describe()} "
                "(the fixes above need it)"
            )
        for finding, reason in sorted(rejected_by_file.get(file, []), key=lambda x: x[0].order()):
            where = f"{finding.rule} {finding.resource.display()}"
            lines.append(f"  {finding.line}: not fixed: {where}: {reason}")
    fixed_total = sum(
        len(p.fixed) for p in outcome.plan.files if p.source.file not in outcome.failed
    )
    files = len([p for p in outcome.plan.files if p.source.file not in outcome.failed])
    remaining = len(outcome.after.findings) if not outcome.failed else None
    tail = "" if remaining is None else f"; {_count(remaining, 'finding')} remain"
    if remaining == 1:
        tail += "s"
    if fixed_total:
        lines.append(
            f"autobot-guard fix: {verb} {_count(fixed_total, 'finding')} in "
            f"{_count(files, 'file')}{tail}"
        )
    else:
        lines.append(f"autobot-guard fix: nothing {'to fix' if not dry else 'would change'}{tail}")
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
