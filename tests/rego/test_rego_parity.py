"""Both engines give the same findings on the same fixtures, with the real conftest.

Marked `conftest`: run in GitHub Actions by .github/workflows/rego.yml, which installs a
pinned conftest; skipped (with the reason) where conftest is not on PATH.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.rego.helpers import CASES, CONVENTIONS, SHIPPED, check, rego_findings
from tests.rego.test_rego_conventions import MANIFEST
from tests.tools import tool

pytestmark = [pytest.mark.conftest]


@pytest.fixture(autouse=True)
def conftest_binary() -> str:
    """The real conftest: skipped without it, failed under CI=true (tests/tools.py)."""
    return tool("conftest")


def findings(paths: list[Path], rego: str, policies: Path | None = None) -> list[dict]:
    return [f.to_json() for f in rego_findings(check(paths, rego=rego, policies=policies))]


def test_conftest_verify_passes_the_unit_tests() -> None:
    result = subprocess.run(
        ["conftest", "verify", "--policy", str(SHIPPED)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parity_on_the_shipped_policies() -> None:
    cases = sorted(CASES.glob("*.yaml"))
    embedded = findings(cases, "embedded")
    assert len(embedded) == 9  # the fail cases fail, ownership-labels (enforced) included
    assert findings(cases, "conftest") == embedded


def test_parity_on_the_conventions(tmp_path: Path) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    embedded = findings([manifest], "embedded", CONVENTIONS)
    assert len(embedded) == 8
    assert findings([manifest], "conftest", CONVENTIONS) == embedded
