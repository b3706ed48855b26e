"""`autobot-guard fix` on the migration plan's manifests exactly as written.

The plan (tests/fixtures/seed-as-written) has 62 findings. The fixable ones, checked by
hand against the rules' autofix declarations: the labels whose value is known (`app` from
the selector or the name, `logging: centralized`; never `component`), every container's
unset restricted security-context fields, the chat agent's PodDisruptionBudget (HPA
minimum 2; it has a selector) and the log collector's NetworkPolicy (it has a selector; the
StatefulSets have none, so neither gets a new document). Adding the log collector's `app`
label from its selector also ends the selector mismatch: the one finding that goes
without being a fix's target. Everything else needs a human and must still be reported.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from autobot_guard.cli import main
from tests.test_seed_as_written import CHAT, ES, EXPECTED, FLUENTD, REDIS, SEED_DIR
from tests.util import check_paths

FIXED = Counter(
    {
        ("logging-labels", REDIS): 2,
        ("security-context", REDIS): 4,
        ("logging-labels", ES): 2,
        ("security-context", ES): 4,
        ("logging-labels", FLUENTD): 2,
        ("security-context", FLUENTD): 4,
        ("network-policy", FLUENTD): 1,
        ("security-context", CHAT): 4,
        ("pdb", CHAT): 1,
    }
)
GONE_WITH_THEM = Counter({("selector-match", FLUENTD): 1})
UNTOUCHED = ("01-fluentd-config.yaml", "06-agent-hpa.yaml", "07-agent-network-policy.yaml")


def seed_copy(tmp: Path) -> Path:
    work = tmp / "seed"
    work.mkdir(parents=True)
    for path in SEED_DIR.glob("*.yaml"):
        shutil.copyfile(path, work / path.name)
    return work


def fix(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["fix", *args, "--rego", "off"])
    return result.exit_code, result.output


def test_fix_removes_exactly_the_fixable_findings(tmp_path: Path) -> None:
    work = seed_copy(tmp_path)
    code, output = fix(str(work))
    assert code == 1, output  # findings that need a human remain
    said = Counter(
        (line.split()[1], line.split()[2].rstrip(":"))
        for line in output.splitlines()
        if line.startswith("  ") and "not fixed" not in line
    )
    assert said == FIXED
    assert "fixed 24 findings in 4 files" in output
    after = check_paths([work])
    remaining = Counter((f.rule, f.resource.display()) for f in after.findings)
    before = Counter((rule, resource) for rule, resource, _ in EXPECTED)
    assert remaining == before - FIXED - GONE_WITH_THEM
    for name in UNTOUCHED:
        assert (work / name).read_bytes() == (SEED_DIR / name).read_bytes()
    # Every change is an insertion: no line of the plan was rewritten or lost.
    for path in work.glob("*.yaml"):
        old = (SEED_DIR / path.name).read_text(encoding="utf-8").splitlines()
        new = path.read_text(encoding="utf-8").splitlines()
        iterator = iter(new)
        assert all(line in iterator for line in old), path.name  # old is a subsequence


def test_fixing_twice_changes_nothing(tmp_path: Path) -> None:
    work = seed_copy(tmp_path)
    fix(str(work))
    first = {p.name: p.read_bytes() for p in work.glob("*.yaml")}
    code, output = fix(str(work))
    assert code == 1
    assert "autobot-guard fix: nothing to fix; 37 findings remain" in output
    assert {p.name: p.read_bytes() for p in work.glob("*.yaml")} == first


def test_diff_and_dry_run_change_nothing(tmp_path: Path) -> None:
    work = seed_copy(tmp_path)
    code, output = fix(str(work), "--diff")
    assert code == 1
    assert "+++ b/" in output and "+        logging: centralized\n" in output
    code, dry = fix(str(work), "--dry-run")
    assert "would fix 24 findings in 4 files" in dry
    for path in work.glob("*.yaml"):
        assert path.read_bytes() == (SEED_DIR / path.name).read_bytes()


def test_diff_applies_with_patch_to_what_fix_writes(tmp_path: Path) -> None:
    import subprocess

    work = seed_copy(tmp_path)
    result = CliRunner().invoke(main, ["fix", str(work), "--diff", "--rego", "off"])
    diff = result.stdout
    fixed = seed_copy(tmp_path / "other")
    fix(str(fixed))
    applied = subprocess.run(  # git apply: the diff is a plain unified diff
        ["git", "apply", "-p1", "-"],
        cwd=work,
        input=diff.replace(str(work).lstrip("/") + "/", ""),
        text=True,
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    for path in work.glob("*.yaml"):
        assert path.read_bytes() == (fixed / path.name).read_bytes(), path.name
