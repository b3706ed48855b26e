"""Which fixes to apply: every finding's edits, kept only if the re-check agrees.

The engine judges the edited files again, with everything else as it is: each fix kept
must remove its finding and no fix may bring a finding that was not there before (a
finding counts as the same when rule, object and message key match; its line and field
may move). First all fixes are tried together; if the re-check objects, the fixes are
tried in halves until each one that causes a problem is found and left out, with the
re-check's reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import PolicyPack
from ..edits import AddDocument, Edit
from ..findings import Finding, InputError, Report, message_key
from ..loader import Document, LoadResult, _to_resources, parse_sources
from ..resources import Resource
from ..sources import Refused, read_file
from .yamledit import edit_text

if TYPE_CHECKING:
    from ..rego import RegoStep

MAX_FIX_FILE_BYTES = 8 * 1024 * 1024  # an edited file is read, dumped and diffed in memory

Key = tuple[str, str, str]


@dataclass(slots=True)
class SourceFile:
    """A file as it was read, to edit and to tell whether it changed meanwhile."""

    file: str
    raw: bytes
    text: str  # decoded, without a byte order mark, newlines as \n
    bom: bool
    crlf: bool
    mtime_ns: int
    size: int
    mode: int
    is_json: bool

    def encode(self, text: str) -> bytes:
        """`text` (newlines as \n) as this file's bytes: its newlines, its byte order mark."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8")

    def shown(self, text: str) -> str:
        """The file's text as it is on disk (CRLF kept), for diffs and suggestions."""
        return text.replace("\n", "\r\n") if self.crlf else text


@dataclass(slots=True)
class Candidate:
    finding: Finding
    resource: Resource

    @property
    def edits(self) -> tuple[Edit, ...]:
        return self.finding.edits

    def describe(self) -> str:
        return "; ".join(edit.describe() for edit in self.edits)


@dataclass(slots=True)
class Rejected:
    finding: Finding
    reason: str


@dataclass(slots=True)
class FilePlan:
    source: SourceFile
    new_text: str  # newlines as \n
    fixed: list[Candidate]
    follow_ups: list[Candidate] = field(default_factory=list)  # fixed in the second pass


@dataclass(slots=True)
class Plan:
    files: list[FilePlan] = field(default_factory=list)  # only files that change
    rejected: list[Rejected] = field(default_factory=list)
    after: Report | None = None  # the re-check of the result
    singles: dict[int, str] = field(default_factory=dict)  # id(finding) -> file text, alone

    @property
    def fixed(self) -> list[Candidate]:
        return [candidate for plan in self.files for candidate in plan.fixed]


def read_sources(
    names: Iterable[tuple[str, bool | None]],
) -> tuple[list[SourceFile], list[InputError]]:
    """Read each file once, recording what `fix` needs to write it back safely."""
    sources: list[SourceFile] = []
    errors: list[InputError] = []
    for name, force_json in names:
        try:
            raw, status = read_file(name, MAX_FIX_FILE_BYTES, " fix")
        except Refused as exc:
            errors.append(InputError(name, None, str(exc)))
            continue
        except OSError as exc:
            errors.append(InputError(name, None, f"cannot read: {exc.strerror or exc}"))
            continue
        bom = raw.startswith(b"\xef\xbb\xbf")
        try:
            text = raw[3 if bom else 0 :].decode("utf-8")
        except UnicodeDecodeError:
            text = ""  # the loader reports it with its line
        crlf = "\r\n" in text
        if crlf:
            text = text.replace("\r\n", "\n")
        is_json = bool(force_json) or (force_json is None and text.lstrip().startswith("{"))
        sources.append(
            SourceFile(
                name,
                raw,
                text,
                bom,
                crlf,
                status.st_mtime_ns,
                status.st_size,
                status.st_mode,
                is_json,
            )
        )
    return sources, errors


def load(sources: Sequence[SourceFile], texts: dict[str, str] | None = None) -> LoadResult:
    """Resources and input errors of `sources`, as `check` loads them; `texts` replaces
    the text of some files (the edited ones)."""
    texts = texts or {}
    result = LoadResult(files=len(sources))
    for source in sources:
        raw = source.encode(texts[source.file]) if source.file in texts else source.raw
        for item in parse_sources([(source.file, raw, source.is_json)]):
            if item[0] == "error":
                result.errors.append(InputError(item[1], item[2], item[3]))
            else:
                _to_resources(Document(item[1], item[2], item[3], item[4], item[5]), result)
    return result


def key(finding: Finding) -> Key:
    return (finding.rule, finding.resource.display(), message_key(finding.message))


@dataclass
class Planner:
    sources: list[SourceFile]
    loaded: LoadResult
    before: Report
    pack: PolicyPack
    rego: RegoStep
    singles: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_file = {source.file: source for source in self.sources}
        self.use_before(self.before)

    def use_before(self, before: Report) -> None:
        """The check the fixes are measured against."""
        self.before = before
        self.before_keys = Counter(key(f) for f in before.findings)
        self.before_errors = {(e.file, e.message) for e in before.errors}

    def recheck(self, texts: dict[str, str]) -> Report:
        """The check of the files with `texts` in place of theirs, judged as `check` judges
        (the built-in rules, custom resources against their CRDs, the Rego policies)."""
        from ..check import judge

        loaded = load(self.sources, texts) if texts else self.loaded
        report = judge(loaded.resources, self.pack, self.rego)
        report.errors = [*loaded.errors, *report.errors]
        return report

    def follow_ups(self, after: Report, accepted: Sequence[Candidate]) -> list[Finding]:
        """The findings of `after` beyond what `accepted` leaves of the check before."""
        allowed = self.before_keys - Counter(key(c.finding) for c in accepted)
        out = []
        for finding in after.findings:
            k = key(finding)
            if allowed[k] > 0:
                allowed[k] -= 1
            else:
                out.append(finding)
        return out

    def render(self, candidates: Sequence[Candidate]) -> tuple[dict[str, str], dict[int, str]]:
        """The new text of each file the candidates edit, and why some could not be applied
        (id(finding) -> reason)."""
        per_file: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            per_file.setdefault(candidate.finding.file, []).append(candidate)
        texts: dict[str, str] = {}
        failed: dict[int, str] = {}
        for file, group in per_file.items():
            source = self.by_file[file]
            edits = [
                (c.resource.document.start_line, c.resource.base, edit)
                for c in group
                for edit in c.edits
            ]
            plain = {c.resource.document.start_line: c.resource.document.data for c in group}
            new_text, broken = edit_text(source.text, edits, plain)
            for candidate in group:
                reason = broken.get(candidate.resource.document.start_line)
                if reason is not None:
                    failed[id(candidate.finding)] = f"cannot edit this document: {reason}"
            if new_text != source.text:
                texts[file] = new_text
        return texts, failed

    def problem(
        self, after: Report, accepted: Sequence[Candidate], tolerant: bool = False
    ) -> str | None:
        """Why the re-check rejects `accepted` together, or None when it agrees.

        `tolerant`: a new finding that has a fix of its own is no objection (a second pass
        fixes it: raising replicas to 2 brings the need for a PodDisruptionBudget).
        """
        new_errors = [e for e in after.errors if (e.file, e.message) not in self.before_errors]
        if new_errors:
            return f"the edited file would not load: {new_errors[0].display()}"
        fixed = Counter(key(candidate.finding) for candidate in accepted)
        after_keys = Counter(key(f) for f in after.findings)
        for finding in after.findings:
            k = key(finding)
            if after_keys[k] > self.before_keys[k] - fixed[k]:
                if fixed[k]:
                    return f"the re-check still reports it: {finding.message}"
                if tolerant and finding.edits:
                    continue
                return (
                    f"it would bring a new finding: {finding.rule} on "
                    f"{finding.resource.display()}: {finding.message}"
                )
        return None


def plan(
    planner: Planner,
    targets: Sequence[Finding],
    resource_of: Callable[[Finding], Resource | None],
    not_editable: dict[str, str],
    alone: bool = False,
) -> Plan:
    """Decide which of `targets` (findings with edits) to fix. `not_editable`: files left
    alone (read-only, unparsable, JSON) with the reason; `alone`: also render each fix on
    its own (Plan.singles, for SARIF)."""
    result = Plan()
    candidates: list[Candidate] = []
    for finding in targets:
        resource = resource_of(finding)
        reason = not_editable.get(finding.file)
        if resource is None:
            reason = "the object it names was not found in the file"
        if reason is not None:
            result.rejected.append(Rejected(finding, reason))
        else:
            assert resource is not None
            candidates.append(Candidate(finding, resource))
    # Documents a fix cannot edit are known before any re-check: all edits together first,
    # each fix alone where that fails (and for `alone`: SARIF shows each fix on its own).
    _, together_failed = planner.render(candidates)
    feasible: list[Candidate] = []
    for candidate in candidates:
        if not alone and id(candidate.finding) not in together_failed:
            feasible.append(candidate)
            continue
        texts, failed = planner.render([candidate])
        reason = failed.get(id(candidate.finding))
        if reason is not None:
            result.rejected.append(Rejected(candidate.finding, reason))
            continue
        if candidate.finding.file not in texts:
            result.rejected.append(Rejected(candidate.finding, "the edit changes nothing"))
            continue
        planner.singles[id(candidate.finding)] = texts[candidate.finding.file]
        feasible.append(candidate)
    # Field edits before new documents: a new PodDisruptionBudget or NetworkPolicy selects
    # the pods by labels that a field edit of the same run may add.
    feasible.sort(key=lambda c: all(isinstance(e, AddDocument) for e in c.edits))
    tried: list[Rejected] = []
    accepted, after = _settle(planner, [], feasible, tried, None, tolerant=True)
    texts, _ = planner.render(accepted)
    after = after if after is not None else planner.recheck(texts)
    second = _second_pass(planner, texts, after, accepted) if accepted else None
    follow_ups: list[Candidate] = []
    if second is not None:
        texts, after, follow_ups = second
    else:  # some fix brings a finding the second pass cannot fix: strictly, from the start
        tried = []
        accepted, after = _settle(planner, [], feasible, tried, None)
        texts, _ = planner.render(accepted)
        after = after if after is not None else planner.recheck(texts)
    result.rejected += tried
    result.after = after
    by_file: dict[str, list[Candidate]] = {}
    for candidate in accepted:
        by_file.setdefault(candidate.finding.file, []).append(candidate)
    extra: dict[str, list[Candidate]] = {}
    for candidate in follow_ups:
        extra.setdefault(candidate.finding.file, []).append(candidate)
    for source in planner.sources:
        if source.file in texts:
            result.files.append(
                FilePlan(
                    source,
                    texts[source.file],
                    by_file.get(source.file, []),
                    extra.get(source.file, []),
                )
            )
    result.singles = planner.singles
    return result


def _second_pass(
    planner: Planner, texts: dict[str, str], after: Report, accepted: list[Candidate]
) -> tuple[dict[str, str], Report, list[Candidate]] | None:
    """Fix what the first pass brought (it has fixes of its own), on the edited texts; None
    when some of it stays. Returns the final texts, their re-check and the extra fixes."""
    brought = planner.follow_ups(after, accepted)
    if not brought:
        return texts, after, []
    sources = [
        _edited(source, texts[source.file]) if source.file in texts else source
        for source in planner.sources
    ]
    second = Planner(sources, load(sources), after, planner.pack, planner.rego)
    finder = _finder(second.loaded.resources)
    candidates = []
    for finding in brought:
        resource = finder(finding)
        if resource is None or not finding.edits:
            return None
        candidates.append(Candidate(finding, resource))
    candidates.sort(key=lambda c: all(isinstance(e, AddDocument) for e in c.edits))
    rejected: list[Rejected] = []
    fixed, final = _settle(second, [], candidates, rejected, None)
    if rejected or final is None:
        return None
    new_texts, _ = second.render(fixed)
    merged = {**texts, **new_texts}
    return merged, final, fixed


def _edited(source: SourceFile, text: str) -> SourceFile:
    """`source` as the first pass left it (in memory; nothing is written yet)."""
    from dataclasses import replace

    return replace(source, raw=source.encode(text), text=text)


def _finder(resources: Sequence[Resource]) -> Callable[[Finding], Resource | None]:
    """finding -> the resource it is about: same file and object, the last document that
    starts at or before the finding's line (an object may be written twice)."""
    index: dict[tuple[str, str], list[Resource]] = {}
    for resource in resources:
        index.setdefault((resource.document.file, resource.ref.display()), []).append(resource)

    def find(finding: Finding) -> Resource | None:
        found = index.get((finding.file, finding.resource.display()), [])
        before = [r for r in found if r.document.start_line <= finding.line]
        chosen = before or found
        return chosen[-1] if chosen else None

    return find


def _settle(
    planner: Planner,
    accepted: list[Candidate],
    pending: list[Candidate],
    rejected: list[Rejected],
    after: Report | None,
    tolerant: bool = False,
) -> tuple[list[Candidate], Report | None]:
    """`accepted` plus as many of `pending` as the re-check agrees with (halving)."""
    if not pending:
        return accepted, after
    trial = [*accepted, *pending]
    texts, failed = planner.render(trial)
    report = planner.recheck(texts)
    problem = next(iter(failed.values()), None) or planner.problem(report, trial, tolerant)
    if problem is None:
        return trial, report
    if len(pending) == 1:
        rejected.append(Rejected(pending[0].finding, problem))
        return accepted, after
    middle = len(pending) // 2
    accepted, after = _settle(planner, accepted, pending[:middle], rejected, after, tolerant)
    return _settle(planner, accepted, pending[middle:], rejected, after, tolerant)
