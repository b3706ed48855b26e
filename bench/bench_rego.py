#!/usr/bin/env python3
"""Embedded evaluation of the shipped Rego policies on the benchmark corpus.

    python bench/bench_rego.py [--documents 2000] [--repeat 5] [--seed 42] [--strict]

Generates a corpus with ``corpus.py``, loads it with autobot-guard's loader, compiles
``policies/rego`` once with the embedded engine (regopy / rego-cpp) and evaluates every
document on its own, as the admission webhook does: input conversion, the query of every
per-document namespace, and the parsing of its results. Prints the compile time, the
median, 90th-percentile and mean milliseconds per document (best of ``--repeat`` passes,
timed one document at a time), then the whole Rego step of ``check`` (every document and
the combined policies, split across cores as ``check`` does). Target: median <= 0.5 ms
per document. Always exits 0 unless ``--strict`` is given and the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from corpus import DEFAULT_SEED, write_corpus

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_MEDIAN_MS = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the embedded Rego engine per document.")
    parser.add_argument("--documents", "-n", type=int, default=2000, help="corpus size (2000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes (5); best is kept")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed (42)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.documents < 1 or args.repeat < 1:
        parser.error("--documents and --repeat must be positive")

    import regopy

    from autobot_guard.findings import Report
    from autobot_guard.loader import load_paths
    from autobot_guard.rego.embedded import EmbeddedEngine
    from autobot_guard.rego.policies import load_policy_set
    from autobot_guard.rego.step import RegoStep, default_policy_dir

    with tempfile.TemporaryDirectory(prefix="autobot-guard-bench-rego-") as tmp:
        write_corpus(args.documents, Path(tmp), seed=args.seed)
        resources = load_paths([tmp]).resources
        documents = [resource.data for resource in resources]

        policies = load_policy_set(default_policy_dir())
        start = time.perf_counter()
        engine = EmbeddedEngine(policies)
        compile_ms = (time.perf_counter() - start) * 1000

        best: list[float] = []
        hits = 0
        for _ in range(args.repeat):
            times = []
            hits = 0
            for index, document in enumerate(documents):
                start = time.perf_counter()
                hits += len(engine.evaluate([document], index))
                times.append(time.perf_counter() - start)
            if not best or statistics.median(times) < statistics.median(best):
                best = times

        step = RegoStep("embedded", policies)
        start = time.perf_counter()
        report = Report()
        step.run(report, resources)
        step_s = time.perf_counter() - start

    per_doc = sorted(t * 1000 for t in best)
    median = statistics.median(per_doc)
    p90 = per_doc[int(len(per_doc) * 0.9) - 1]
    verdict = "PASS" if median <= TARGET_MEDIAN_MS else "FAIL"
    print(f"regopy {regopy.rego_version()}, policies: {policies.directory}")
    print(f"documents: {len(documents)} (corpus seed {args.seed}), hits: {hits}")
    print(f"compile (once per process): {compile_ms:.1f} ms")
    print(
        f"per document (best of {args.repeat} passes): median {median:.3f} ms, "
        f"p90 {p90:.3f} ms, mean {statistics.fmean(per_doc):.3f} ms, max {per_doc[-1]:.3f} ms"
    )
    print(
        f"whole Rego step of check (split across cores): {step_s:.3f} s, "
        f"{len(documents) / step_s:,.0f} documents/s, "
        f"{len(report.findings) + len(report.exempted)} findings"
    )
    print(f"target: median <= {TARGET_MEDIAN_MS} ms per document: {verdict}")
    return 1 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    raise SystemExit(main())
