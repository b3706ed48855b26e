"""A stand-in for the conftest binary, put on PATH as `conftest` by tests/rego.

It prints what `conftest test --output json` prints (the JSON shape of conftest's
output/json.go and output/result.go: one entry per file and namespace with `filename`,
`namespace`, `successes` and optional `warnings`, `failures`, `exceptions`, each result
with `msg` and optional `loc` and `metadata`), and records its arguments. FAKE_CONFTEST
selects the behaviour:

- `emulate` (default): evaluates the policies with the embedded engine, as conftest would
  evaluate them (per file and namespace; `--combine`: once, filename "Combined"); an
  evaluation error (conflicting values...) fails as conftest's does (exit 1, stderr);
- `recorded:FILE`: prints FILE (a recorded output) whatever the input;
- `garbage`, `fail`, `sleep`, `crash`: unparseable output, a conftest error (exit 1,
  message on stderr, nothing on stdout), a hang, an unexpected exit status.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_CONFTEST_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": argv, "cwd": os.getcwd()}) + "\n")
    mode = os.environ.get("FAKE_CONFTEST", "emulate")
    if mode.startswith("recorded:"):
        sys.stdout.write(Path(mode.split(":", 1)[1]).read_text(encoding="utf-8"))
        return 1
    if mode == "garbage":
        print("FAIL - docs/000000.json - main - not json")
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
    return emulate(argv)


def emulate(argv: list[str]) -> int:
    assert argv[:3] == ["test", "--output", "json"], argv
    policy = argv[argv.index("--policy") + 1]
    namespaces = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--namespace"]
    combine = "--combine" in argv
    target = Path(argv[-1])
    files = sorted(str(p) for p in target.rglob("*.json"))

    sys.path.insert(0, os.environ["FAKE_CONFTEST_REPO"])
    from autobot_guard.rego.embedded import EmbeddedEngine
    from autobot_guard.rego.policies import load_policy_set

    engine = EmbeddedEngine(load_policy_set(policy))
    documents = [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]
    output = []
    hits_seen: list = []
    if combine:
        hits = engine.evaluate_combined(documents, files)
        hits_seen += hits
        output = [
            entry("Combined", ns, [h for h in hits if h.namespace == ns]) for ns in namespaces
        ]
    else:
        for index, file in enumerate(files):
            hits = engine.evaluate([documents[index]], index)
            hits_seen += hits
            output += [entry(file, ns, [h for h in hits if h.namespace == ns]) for ns in namespaces]
    errors = [h.value["error"] for h in hits_seen if h.kind == "error"]
    if errors:  # as conftest: an evaluation error, no JSON
        print(f"Error: running test: query rule: eval_conflict_error: {errors[0]}", file=sys.stderr)
        return 1
    print(json.dumps(output, indent="\t"))
    return 1 if any(result.get("failures") for result in output) else 0


def entry(filename: str, namespace: str, hits: list) -> dict:
    result: dict = {"filename": filename, "namespace": namespace, "successes": 0}
    for key, kind in (("warnings", "warning"), ("failures", "failure")):
        items = []
        for hit in hits:
            if hit.kind != kind:
                continue
            value = hit.value if isinstance(hit.value, dict) else {"msg": hit.value}
            item: dict = {"msg": value["msg"]}
            loc = value.get("_loc")
            if isinstance(loc, dict) and (loc.get("file") or loc.get("line")):
                item["loc"] = {k: v for k, v in loc.items() if k in ("file", "line") and v}
            metadata = {k: v for k, v in value.items() if k not in ("msg", "_loc")}
            if metadata:
                item["metadata"] = metadata
            items.append(item)
        if items:
            result[key] = items
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
