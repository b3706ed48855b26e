#!/usr/bin/env python3
"""Wall time and peak memory of ``autobot-guard``, against the performance targets.

    python bench/bench_check.py [--sizes 2000,20000] [--repeat 5] [--cmd "autobot-guard"]
                                [--check-args "--rego off"] [--strict]

Generates corpora with ``corpus.py`` into a temporary directory, then times whole
processes: ``--help``, ``check`` on the bundled manifests, and
``check DIR --format json --fail-on never --output /dev/null`` per corpus.  Each case
runs once to warm up, then ``--repeat`` times; the table shows min and median wall
seconds and the peak memory of the process tree (PSS, from one extra sampled run).
Always exits 0 (it is a report) unless ``--strict`` is given and a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from corpus import DEFAULT_SEED, write_corpus

REPO = Path(__file__).resolve().parent.parent
# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
RSS_PER_MB = 1024 * 1024 if sys.platform == "darwin" else 1024
# A child's ru_maxrss never reads below its parent's peak RSS (Linux keeps the high-water
# mark across fork and exec), so measured commands are started by this small probe
# (python -I -S, about 11 MB) instead of by the benchmark process itself.
PROBE = """
import os, subprocess, sys, time
with open(sys.argv[1], "wb") as err:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
proc.returncode = os.waitstatus_to_exitcode(status)
print(elapsed, usage.ru_maxrss, proc.returncode)
"""
# Memory is the peak of the whole process tree (the command and the worker it forks),
# summed as PSS: each page counts once however many processes map it, so the parent's
# pages a forked child still shares are not counted twice, and the pages a child copied
# are. A separate, untimed run samples it every few milliseconds from /proc (Linux);
# elsewhere the command's own peak RSS stands in.
MEMORY_PROBE = """
import os, subprocess, sys, time
def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0
def tree(pid):
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return [pid]
    return [pid] + [p for kid in kids for p in tree(int(kid))]
proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
peak = 0
while proc.poll() is None:
    peak = max(peak, sum(pss(p) for p in tree(proc.pid)))
    time.sleep(0.003)
print(peak)
"""
# Targets per corpus size: (max median seconds, max peak MB or None).
CORPUS_TARGETS: dict[int, tuple[float, float | None]] = {2000: (0.5, None), 20000: (3.0, 500.0)}


@dataclass
class Case:
    name: str
    args: list[str]
    documents: int | None = None
    max_seconds: float | None = None
    max_mb: float | None = None


@dataclass
class Result:
    case: Case
    times: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        case = self.case
        if case.max_seconds is None and case.max_mb is None:
            return "-"
        too_slow = case.max_seconds is not None and statistics.median(self.times) > case.max_seconds
        too_big = case.max_mb is not None and self.peak_mb > case.max_mb
        return "FAIL" if too_slow or too_big else "PASS"


def run_once(command: list[str]) -> tuple[float, float, int, str]:
    """Run ``command`` through the probe; return wall seconds, peak RSS in MB, exit code, stderr."""
    with tempfile.NamedTemporaryFile(prefix="bench-stderr-") as stderr:
        probe = [sys.executable, "-I", "-S", "-c", PROBE, stderr.name, *command]
        done = subprocess.run(probe, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:  # the probe itself failed, e.g. command not found
            raise OSError(done.stderr.strip().splitlines()[-1] if done.stderr else "probe failed")
        elapsed, max_rss, code = done.stdout.split()
        message = Path(stderr.name).read_text(errors="replace")
    return float(elapsed), int(max_rss) / RSS_PER_MB, int(code), message


def tree_peak_mb(command: list[str]) -> float | None:
    """Peak PSS of the process tree of ``command`` in MB; None where /proc has no PSS."""
    if not Path("/proc/self/smaps_rollup").exists():
        return None
    probe = [sys.executable, "-I", "-S", "-c", MEMORY_PROBE, *command]
    done = subprocess.run(probe, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return int(done.stdout.split()[0]) / 1024


def measure(case: Case, base: list[str], repeat: int) -> Result:
    result = Result(case)
    command = base + case.args
    for run in range(repeat + 1):  # run 0 warms caches and is not counted
        try:
            elapsed, peak_mb, code, stderr = run_once(command)
        except OSError as exc:
            result.error = f"cannot run: {exc}"
            break
        if code != 0:
            last = stderr.strip().splitlines()[-1:] or ["no stderr"]
            result.error = f"exit {code}: {last[0]}"
            break
        if run > 0:
            result.times.append(elapsed)
            result.peak_mb = max(result.peak_mb, peak_mb)
    if not result.error:
        result.peak_mb = tree_peak_mb(command) or result.peak_mb  # the whole tree, if known
    return result


def target_text(case: Case) -> str:
    parts = []
    if case.max_seconds is not None:
        parts.append(f"<={case.max_seconds:g} s")
    if case.max_mb is not None:
        parts.append(f"<={case.max_mb:g} MB")
    return ", ".join(parts) or "-"


def print_table(results: list[Result]) -> None:
    header = ("case", "documents", "min s", "median s", "peak MB", "docs/s", "target", "result")
    rows = [header]
    for r in results:
        case = r.case
        if r.times:
            median = statistics.median(r.times)
            timing = (f"{min(r.times):.3f}", f"{median:.3f}", f"{r.peak_mb:.1f}")
            rate = f"{case.documents / median:,.0f}" if case.documents else "-"
        else:
            timing, rate = ("-", "-", "-"), "-"
        docs = f"{case.documents:,}" if case.documents else "-"
        rows.append((case.name, docs, *timing, rate, target_text(case), r.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, 6, 7) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    for r in results:
        if r.error:
            print(f"{r.case.name}: {r.error}")


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark autobot-guard against its targets.")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[2000, 20000], help="corpus sizes (2000,20000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per case (5)")
    parser.add_argument(
        "--cmd", help='command to benchmark (default: "<this python> -m autobot_guard")'
    )
    parser.add_argument(
        "--check-args",
        default="",
        help='extra arguments for every check, e.g. "--rego off" for the built-in rules alone',
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    base = shlex.split(args.cmd) if args.cmd else [sys.executable, "-m", "autobot_guard"]

    print(f"command: {shlex.join(base)}")
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"runs per case: 1 warm-up + {args.repeat} measured")
    extra = shlex.split(args.check_args)
    print(f"extra check arguments: {shlex.join(extra) or '(none)'}\n")

    cases = [
        Case("--help", ["--help"], max_seconds=0.15),
        Case("check (bundled)", ["check", "--fail-on", "never", *extra], max_seconds=0.4),
    ]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="autobot-guard-bench-") as tmp:
        for size in args.sizes:
            out = Path(tmp) / f"corpus-{size}"
            start = time.perf_counter()
            paths = write_corpus(size, out, seed=args.seed)
            megabytes = sum(p.stat().st_size for p in paths) / 1e6
            seconds = time.perf_counter() - start
            print(f"corpus {size:,}: {len(paths)} files, {megabytes:.1f} MB in {seconds:.1f} s")
            max_seconds, max_mb = CORPUS_TARGETS.get(size, (None, None))
            name = f"check {size // 1000}k" if size % 1000 == 0 else f"check {size}"
            check_args = ["check", str(out), "--format", "json", "--fail-on", "never"]
            check_args += ["--output", os.devnull, *extra]
            cases.append(Case(name, check_args, size, max_seconds, max_mb))
        print()
        for case in cases:
            print(f"measuring {case.name} ...", flush=True)
            results.append(measure(case, base, args.repeat))
    print()
    print_table(results)

    missed = [r.case.name for r in results if r.verdict in ("FAIL", "ERROR")]
    if missed:
        print(f"\nmissed targets: {', '.join(missed)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
