#!/usr/bin/env python3
"""Wall time of ``autobot-guard fix`` against ``check`` on the same corpus.

    python bench/bench_fix.py [--sizes 400,2000] [--repeat 3] [--seed 42]

Generates a corpus per size with ``corpus.py`` (about 30% of its workloads carry defects,
some of them fixable), then times whole processes, each on a fresh copy of the corpus:
``check DIR --rego off``, ``fix DIR --rego off --dry-run`` (plan and verify, write
nothing) and ``fix DIR --rego off`` (the same, then write), and a second ``fix`` on the
fixed copy (nothing left to fix: the cost of a run that changes nothing). Prints min and
median seconds and how many findings the fix repaired. A report: always exits 0.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import DEFAULT_SEED, write_corpus

REPO = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "autobot_guard"]


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([*COMMAND, *args], cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="400,2000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    options = parser.parse_args()
    print(f"{'case':<34} {'docs':>6} {'min s':>7} {'median s':>9}  note")
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(part) for part in options.sizes.split(",")):
            pristine = Path(scratch) / f"corpus-{size}"
            write_corpus(size, pristine, seed=options.seed)
            cases = {
                "check --rego off": ["check", "{dir}", "--rego", "off", "--fail-on", "never"],
                "fix --rego off --dry-run": ["fix", "{dir}", "--rego", "off", "--dry-run"],
                "fix --rego off": ["fix", "{dir}", "--rego", "off"],
                "fix --rego off (nothing left)": ["fix", "{dir}", "--rego", "off"],
            }
            for name, template in cases.items():
                times, note = [], ""
                for run in range(options.repeat):
                    work = Path(scratch) / f"work-{size}-{run}"
                    shutil.rmtree(work, ignore_errors=True)
                    shutil.copytree(pristine, work)
                    if name.endswith("(nothing left)"):
                        timed(["fix", str(work), "--rego", "off"])
                    elapsed, out = timed([part.format(dir=work) for part in template])
                    times.append(elapsed)
                    match = re.search(r"fix: (?:fixed|would fix) (\d+) findings?", out)
                    nothing = "nothing to fix" if "nothing" in out else ""
                    note = f"{match.group(1)} fixed" if match else nothing
                low, middle = min(times), statistics.median(times)
                print(f"{name:<34} {size:>6} {low:>7.2f} {middle:>9.2f}  {note}")


if __name__ == "__main__":
    main()
