"""A stand-in for the conftest binary, for the faults a real conftest cannot be made to
produce on demand. Everything else is tested against the real conftest.

FAKE_CONFTEST selects the fault: `garbage` (output that is not conftest's JSON),
`fail` (an error on stderr, exit 1, nothing on stdout), `sleep` (a hang), `crash` (an
unexpected exit status). Its arguments are logged to FAKE_CONFTEST_LOG.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_CONFTEST_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": argv, "cwd": os.getcwd()}) + "\n")
    mode = os.environ.get("FAKE_CONFTEST", "")
    if mode == "garbage":
        print("FAIL - batch.json - main - not json")
        return 1
    if mode == "fail":
        print(
            "Error: running test: load: loading policies: get compiler: 1 error occurred: "
            "policy/bad.rego:3: rego_parse_error: unexpected eof token",
            file=sys.stderr,
        )
        return 1
    if mode == "sleep":
        time.sleep(30)
        return 0
    if mode == "crash":
        print("panic: runtime error", file=sys.stderr)
        return 2
    print(f"fake conftest: unknown FAKE_CONFTEST mode {mode!r}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
