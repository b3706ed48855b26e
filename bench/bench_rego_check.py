#!/usr/bin/env python3
"""What the Rego layer costs `check`, side by side in one run, and Checkov beside it.

    python bench/bench_rego_check.py [--repeat 5] [--no-checkov] [--checkov-venv DIR]

On the 2,000-document corpus (corpus.py): `check --rego off`, the default `check`
(Rego on: conftest when it is on PATH, else the embedded engine) and
`checkov -d DIR --framework kubernetes --compact --skip-download -o json` (Checkov
3.3.30, installed by this script into a throwaway virtualenv unless --checkov-venv names
one to reuse). Then the default `check` on 20,000 documents, with the peak memory of
its process tree. Targets (issue 10): default <= 1.2x `--rego off`, >= 40x faster than
Checkov, 20k <= 10x the 2k time and <= 500 MB. Median of --repeat runs after one warm-up.
Always exits 0: it is a report. Run it with .tools/bin on PATH (scripts/install-tools)
to measure the conftest engine, as `scripts/test` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_check import run_once, tree_peak_mb
from corpus import DEFAULT_SEED, write_corpus

CHECKOV = "checkov==3.3.30"
CHECK = [sys.executable, "-m", "autobot_guard", "check"]
QUIET = ["--format", "json", "--fail-on", "never", "--output", os.devnull]


def median_seconds(command: list[str], repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for run in range(repeat + 1):  # run 0 warms caches and is not counted
        elapsed, _, code, stderr = run_once(command)
        if code not in ok:
            tail = stderr.strip().splitlines()[-1:] or ["no stderr"]
            raise SystemExit(f"{' '.join(command[:6])}...: exit {code}: {tail[0]}")
        if run:
            times.append(elapsed)
    return statistics.median(times)


def checkov_binary(venv: Path | None, work: Path) -> Path:
    target = venv or work / "checkov-venv"
    binary = target / "bin" / "checkov"
    if not binary.exists():
        print(f"installing {CHECKOV} into {target} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        pip = [str(target / "bin" / "pip"), "install", "--quiet", CHECKOV]
        subprocess.run(pip, check=True)
    return binary


def engine_in_use() -> str:
    return "conftest" if shutil.which("conftest") else "embedded (no conftest on PATH)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per case (5)")
    parser.add_argument("--no-checkov", action="store_true", help="leave Checkov out")
    parser.add_argument("--checkov-venv", type=Path, help="reuse (or create) this virtualenv")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-rego-") as temp:
        work = Path(temp)
        small, large = work / "2k", work / "20k"
        write_corpus(2000, small, args.seed)
        write_corpus(20000, large, args.seed)
        print(f"Rego engine of the default check: {engine_in_use()}; load: {os.getloadavg()}")
        off = median_seconds([*CHECK, str(small), "--rego", "off", *QUIET], args.repeat)
        default = median_seconds([*CHECK, str(small), *QUIET], args.repeat)
        rows = [
            ("check --rego off, 2k", off, "-"),
            (
                "check (default), 2k",
                default,
                f"{default / off:.2f}x of --rego off (target <= 1.2x)",
            ),
        ]
        if not args.no_checkov:
            checkov = checkov_binary(args.checkov_venv, work)
            command = [str(checkov), "-d", str(small), "--framework", "kubernetes"]
            command += ["--compact", "--skip-download", "-o", "json"]
            seconds = median_seconds(command, max(1, args.repeat // 2), ok=(0, 1))
            rows.append(
                ("checkov 3.3.30, 2k", seconds, f"default check is {seconds / default:.0f}x faster"
                 " (target >= 40x)")
            )  # fmt: skip
        big_command = [*CHECK, str(large), *QUIET]
        big = median_seconds(big_command, max(1, args.repeat // 2))
        peak = tree_peak_mb(big_command)
        memory = f", peak {peak:.0f} MB (target <= 500)" if peak else ""
        rows.append(
            ("check (default), 20k", big, f"{big / default:.1f}x of 2k (target <= 10x){memory}")
        )
    width = max(len(name) for name, _, _ in rows)
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:7.3f} s  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
