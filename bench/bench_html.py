#!/usr/bin/env python3
"""How fast a browser shows the HTML report of a large tree.

    python bench/bench_html.py [--documents 2000] [--repeat 5] [--check-args "--rego off"]
                               [--chromium PATH] [--strict]

Writes the generated corpus (corpus.py), runs `autobot-guard check DIR --format html` on
it once, then opens the report in headless Chromium (the flags of tests/browser.py, the
DevTools client the HTML tests use) `--repeat` times, each in a fresh tab load with the
cache of the previous one, and reads the page's own performance timing:

- **parsed**: navigation start to the end of DOMContentLoaded (HTML parsed, the filter
  script run);
- **loaded**: navigation start to the end of the load event;
- **shown**: navigation start to the first frame after the load event (a
  requestAnimationFrame callback and a task after it): style, layout and paint of the
  whole page included. Target: median **<= 2 s** for 2,000 documents.
- **filter**: a click on the "warning" checkbox to the next frame (the filter script
  hides the rows and the browser lays the page out again).

Needs the `test` extra (websocket-client) and Debian's `chromium`. Exit 0 unless
`--strict` and the target is missed (or the browser could not run).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import DEFAULT_SEED, write_corpus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import Chromium  # noqa: E402  (the repository root is on the path now)

TARGET_SECONDS = 2.0
TIMING = """new Promise((done) => {
  const [nav] = performance.getEntriesByType('navigation');
  requestAnimationFrame(() => setTimeout(() => done({
    parsed: nav.domContentLoadedEventEnd, loaded: nav.loadEventEnd, shown: performance.now(),
    rows: document.querySelectorAll('#findings tr[data-severity]').length,
    bytes: nav.decodedBodySize,
  })));
})"""
FILTER = """new Promise((done) => {
  const box = document.querySelector('input[name=severity][value=warning]')
    || document.querySelector('input[name=severity]');
  const start = performance.now();
  box.click();
  requestAnimationFrame(() => setTimeout(() => done(performance.now() - start)));
})"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the HTML report in headless Chromium.")
    parser.add_argument("--documents", type=int, default=2000, help="corpus size (2000)")
    parser.add_argument("--repeat", type=int, default=5, help="measured page loads (5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--check-args", default="", help='extra check arguments, "--rego off"')
    parser.add_argument("--chromium", default="chromium", help="the browser (chromium)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="autobot-guard-bench-html-") as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(args.documents, corpus, seed=args.seed)
        report = Path(tmp) / "report.html"
        command = [sys.executable, "-m", "autobot_guard", "check", str(corpus), "--format",
                   "html", "--fail-on", "never", "--output", str(report),
                   *shlex.split(args.check_args)]  # fmt: skip
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(f"check failed ({result.returncode}): {result.stderr}", file=sys.stderr)
            return 1
        size = report.stat().st_size
        print(f"corpus: {args.documents:,} documents; extra check arguments: "
              f"{args.check_args or '(none)'}")  # fmt: skip
        print(f"check --format html: {seconds:.2f} s, report {size / 1e6:.2f} MB")

        timings: list[dict[str, float]] = []
        filters: list[float] = []
        with Chromium(args.chromium, Path(tmp)) as browser, browser.page() as page:
            page.navigate(report.as_uri())  # warm-up: the browser's own start-up is not counted
            for _ in range(args.repeat):
                page.navigate(report.as_uri())
                timings.append(page.evaluate(TIMING))
                filters.append(page.evaluate(FILTER))
    print(f"findings rendered: {timings[0]['rows']:,}; page loads measured: {args.repeat}\n")
    print(f"{'ms':<8} {'min':>8} {'median':>8} {'max':>8}")
    for key in ("parsed", "loaded", "shown"):
        values = [timing[key] for timing in timings]
        print(f"{key:<8} {min(values):>8.0f} {statistics.median(values):>8.0f} "
              f"{max(values):>8.0f}")  # fmt: skip
    print(f"{'filter':<8} {min(filters):>8.0f} {statistics.median(filters):>8.0f} "
          f"{max(filters):>8.0f}")  # fmt: skip
    shown = statistics.median(timing["shown"] for timing in timings) / 1000
    verdict = "PASS" if shown <= TARGET_SECONDS else "FAIL"
    print(f"\nshown (median) {shown:.2f} s, target <= {TARGET_SECONDS:.0f} s: {verdict}")
    return 1 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    raise SystemExit(main())
