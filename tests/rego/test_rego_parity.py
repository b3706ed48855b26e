"""Every Rego engine gives the findings the real conftest gives.

The oracle is conftest run the way a user runs it: one file per document,
`conftest test --output json --all-namespaces`, and `--combine` for the combined
namespaces. `check --rego conftest` (one batch evaluation, batch.py) and
`check --rego embedded` (rego-cpp in process) must report exactly what it reports:
rule, severity, message, file, line, field path, fix, exemption.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.findings import Finding
from autobot_guard.loader import load_paths
from autobot_guard.paths import bundled_manifests
from autobot_guard.rego.batch import document_path
from autobot_guard.rego.policies import PolicySet, load_policy_set
from autobot_guard.rego.results import Hit, check_value, to_finding
from tests.rego.helpers import CASES, CONVENTIONS, DATA, REPO, SHIPPED, check, rego_findings
from tests.rego.test_rego_conventions import MANIFEST
from tests.tools import tool

pytestmark = [pytest.mark.conftest]
HOSTILE = DATA / "hostile.yaml"


@pytest.fixture(autouse=True)
def conftest_binary() -> str:
    """The real conftest: skipped without it, failed under CI=true (tests/tools.py)."""
    return tool("conftest")


def as_user_runs_conftest(paths: list[Path], policies: PolicySet, work: Path) -> list[Finding]:
    """The findings of plain `conftest test` on the documents, one file each."""
    resources = load_paths([str(p) for p in paths]).resources
    docs = work / "docs"
    docs.mkdir()
    for index, resource in enumerate(resources):
        (work / document_path(index)).write_text(json.dumps(resource.data), encoding="utf-8")
    hits: list[Hit] = []
    for namespaces, combine in ((policies.per_document(), False), (policies.combined(), True)):
        if not namespaces:
            continue
        command = ["conftest", "test", "--output", "json", "--no-color"]
        command += ["--policy", str(policies.directory)]
        for namespace in namespaces:
            command += ["--namespace", namespace]
        command += ["--combine", "docs"] if combine else ["docs"]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=300)
        assert done.returncode in (0, 1), done.stderr
        for result in json.loads(done.stdout):
            index = None if combine else int(Path(result["filename"]).stem)
            for key, kind in (("failures", "failure"), ("warnings", "warning")):
                for item in result.get(key) or []:
                    metadata = dict(item.get("metadata") or {})
                    metadata.pop("query", None)
                    value: Any = {"msg": item["msg"], **metadata} if metadata else item["msg"]
                    if "loc" in item:  # conftest moves a result's _loc to loc
                        value = {**value, "_loc": item["loc"]}
                    assert check_value(value, result["namespace"], key)
                    target = index
                    if target is None:  # a combined result names its document
                        named = metadata.get("document", "")
                        target = int(Path(named).stem) if named else 0
                    hits.append(Hit(target, result["namespace"], kind, value))
    found = [to_finding(resources[hit.index], hit) for hit in hits]
    return sorted((f for f in found if not f.exempt_reason), key=Finding.order)


def as_json(found: list[Finding]) -> list[dict[str, Any]]:
    return sorted((f.to_json() for f in found), key=lambda f: json.dumps(f, sort_keys=True))


def assert_parity(paths: list[Path], work: Path, policies: Path = SHIPPED) -> int:
    expected = as_json(as_user_runs_conftest(paths, load_policy_set(policies), work))
    for engine in ("conftest", "embedded"):
        got = as_json(rego_findings(check(paths, rego=engine, policies=policies)))
        missing = [f for f in expected if f not in got]
        extra = [f for f in got if f not in expected]
        assert not missing and not extra, f"--rego {engine}: {missing=} {extra=}"
    return len(expected)


def test_conftest_verify_passes_the_unit_tests() -> None:
    result = subprocess.run(
        ["conftest", "verify", "--no-color", "--policy", str(SHIPPED)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parity_on_the_shipped_cases(tmp_path: Path) -> None:
    found = assert_parity(sorted(CASES.glob("*.yaml")), tmp_path)
    assert found == 9  # the fail cases fail, ownership-labels (enforced) included


def test_parity_on_the_reference_manifests(tmp_path: Path) -> None:
    paths = sorted(bundled_manifests().rglob("*.yaml"))
    assert assert_parity(paths, tmp_path) == 0  # the reference stack passes the pack


def test_parity_on_the_conventions(tmp_path: Path) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    assert assert_parity([manifest], work, CONVENTIONS) == 8


def test_parity_on_hostile_documents(tmp_path: Path) -> None:
    assert assert_parity([HOSTILE], tmp_path) >= 5


def test_parity_on_the_benchmark_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "corpus.py"), "--documents", "300", "--out", corpus],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    assert assert_parity(sorted(corpus.glob("*.yaml")), work) > 50
