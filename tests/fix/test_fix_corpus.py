"""Properties of `autobot-guard fix` on the benchmark's generated corpus (bench/corpus.py):
realistic bundles of which about 30% carry defects. For corpora of several seeds:

- no finding (schema errors included) is there after the fix that was not there before;
- a second run changes no byte (idempotent);
- no line of the original is changed or removed except the line of a fixed field (a value
  replaced, or a flow collection grown): everything else is inserted lines.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autobot_guard.fix.command import FixOptions, run_fix
from autobot_guard.fix.plan import key
from autobot_guard.fix.yamledit import changed_line_ranges
from tests.util import check_paths

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from corpus import write_corpus  # noqa: E402  (the benchmark's generator)

DOCUMENTS = 200


def fix(directory: Path) -> object:
    return run_fix(FixOptions([str(directory)], rego="off"))


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_fix_on_the_corpus(seed: int, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp(f"corpus-{seed}")
    write_corpus(DOCUMENTS, directory, seed=seed)
    original = {path: path.read_text(encoding="utf-8") for path in directory.glob("*.yaml")}
    before = check_paths([directory])

    outcome = fix(directory)
    assert not outcome.errors
    fixed = [c for plan in outcome.plan.files for c in plan.fixed]
    # Nothing silently skipped: each fixable finding is fixed or reported with a reason.
    fixable = Counter(key(f) for f in before.findings if f.edits)
    accounted = Counter(key(c.finding) for c in fixed)
    accounted.update(key(r.finding) for r in outcome.plan.rejected)
    assert accounted == fixable, f"seed {seed}"
    assert all(r.reason for r in outcome.plan.rejected)

    # Nothing new: every (rule, object, message key) at most as often as before.
    after = check_paths([directory])
    grown = Counter(key(f) for f in after.findings) - Counter(key(f) for f in before.findings)
    assert not grown, f"seed {seed}: new findings {sorted(grown)}"
    schema = [f for f in after.findings if f.rule == "schema"]
    assert len(schema) <= len([f for f in before.findings if f.rule == "schema"])
    gone = Counter(key(f) for f in before.findings) - Counter(key(f) for f in after.findings)
    assert not Counter(key(c.finding) for c in fixed) - gone, f"seed {seed}: a fix did not hold"

    # Only the lines of fixed fields change; the rest of a change is inserted lines.
    allowed: dict[str, set[int]] = {}
    for candidate in fixed:
        for edit in candidate.edits:
            path = getattr(edit, "path", None)
            if path is not None:
                allowed.setdefault(candidate.finding.file, set()).add(
                    candidate.resource.line_of(path)
                )
    for path, old in original.items():
        new = path.read_text(encoding="utf-8")
        for first, count, _ in changed_line_ranges(old, new):
            touched = set(range(first, first + count))
            assert touched <= allowed.get(str(path), set()), (seed, path.name, touched)

    # Idempotent.
    written = {path: path.read_bytes() for path in directory.glob("*.yaml")}
    again = fix(directory)
    assert not again.plan.files
    assert {path: path.read_bytes() for path in directory.glob("*.yaml")} == written
