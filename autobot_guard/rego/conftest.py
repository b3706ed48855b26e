"""The conftest engine: `conftest test --output json` as a subprocess on the same inputs.

Each judged resource is written as its own JSON file (`docs/000012.json`: the data the
embedded engine sees, with List items split and YAML 1.1 already resolved), so every
result of conftest's JSON output names the document it is about:

    [{"filename": "docs/000012.json", "namespace": "main.images", "successes": 3,
      "failures": [{"msg": "...", "loc": {"file": "...", "line": 3},
                    "metadata": {"rule": "...", "field": [...]}}],
      "warnings": [...], "exceptions": [...]}]

Per-document namespaces run in one invocation (`--namespace` for each), the combined
ones (under main.combine) in a second with `--combine`, whose results carry the
`document` they are about (a `path` of the combined input) in their metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .policies import PolicySet
from .results import Hit

INSTALL_HINT = (
    "install conftest (https://www.conftest.dev/install/: `brew install conftest`, or the "
    "release tarball from https://github.com/open-policy-agent/conftest/releases on PATH), "
    "or use --rego embedded"
)
DOCS = "docs"


def find_conftest() -> str | None:
    return shutil.which("conftest")


def document_path(index: int) -> str:
    """The input path of resource `index`, for conftest and the combined input alike."""
    return f"{DOCS}/{index:06d}.json"


def run_conftest(
    executable: str, policies: PolicySet, documents: Sequence[Any], timeout: float
) -> list[Hit]:
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="autobot-guard-rego-") as work:
        docs = Path(work, DOCS)
        docs.mkdir()
        for index, document in enumerate(documents):
            text = json.dumps(document, default=str, ensure_ascii=False)
            Path(work, document_path(index)).write_text(text, encoding="utf-8")
        policy = str(policies.directory.resolve())
        hits: list[Hit] = []
        for namespaces, combine in ((policies.per_document(), False), (policies.combined(), True)):
            if not namespaces or not documents:
                continue
            command = [executable, "test", "--output", "json", "--policy", policy]
            for namespace in namespaces:
                command += ["--namespace", namespace]
            if combine:
                command.append("--combine")
            command.append(DOCS)
            output = _run(command, work, deadline - time.monotonic(), timeout)
            hits += parse_output(output, len(documents), combine)
    return hits


def _run(command: list[str], cwd: str, remaining: float, timeout: float) -> str:
    if remaining <= 0:
        raise UsageError(f"conftest timed out (--rego-timeout {timeout:g} s)")
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=remaining, env=env
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"conftest timed out after {timeout:g} s (--rego-timeout)") from None
    except OSError as exc:
        raise UsageError(f"cannot run conftest ({command[0]}): {exc.strerror or exc}") from None
    if done.returncode not in (0, 1) or not done.stdout.lstrip().startswith("["):
        detail = " ".join(done.stderr.split())[:500] or done.stdout.strip()[:500]
        raise UsageError(f"conftest failed (exit status {done.returncode}): {detail}")
    return done.stdout


def parse_output(text: str, documents: int, combined: bool) -> list[Hit]:
    """conftest's JSON output -> hits; UsageError when it is not the documented shape."""
    try:
        results = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"cannot parse conftest's JSON output: {exc}") from None
    if not isinstance(results, list):
        raise UsageError("cannot parse conftest's JSON output: expected a list of results")
    hits = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("namespace"), str):
            raise UsageError(
                f"cannot parse conftest's JSON output: unexpected entry {result!r:.200}"
            )
        namespace = result["namespace"]
        index = None if combined else _document_index(result.get("filename"), documents)
        for key, kind in (("failures", "failure"), ("warnings", "warning")):
            for item in result.get(key) or []:
                if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
                    raise UsageError(f"cannot parse conftest's JSON output: bad {key} entry")
                metadata = item.get("metadata")
                value = {"msg": item["msg"], **(metadata if isinstance(metadata, dict) else {})}
                target = index if index is not None else _named_index(value, documents)
                hits.append(Hit(target, namespace, kind, value, item.get("loc")))
    return hits


def _document_index(filename: Any, documents: int) -> int:
    stem = Path(str(filename)).stem
    if not stem.isdigit() or int(stem) >= documents:
        raise UsageError(f"conftest reported a result for an unknown input {filename!r}")
    return int(stem)


def _named_index(value: dict[str, Any], documents: int) -> int:
    """A combined result's document (its `document` metadata), else the first one."""
    named = value.get("document")
    stem = Path(named).stem if isinstance(named, str) else ""
    return int(stem) if stem.isdigit() and int(stem) < documents else 0
