"""Under an address-space limit (`ulimit -v`, as some CI runners and batch systems set),
`autobot-guard check` behaves as without one, or says in one line why it cannot."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from tests.rego.helpers import CASES, REPO
from tests.tools import tool

LIMIT = 4_000_000 * 1024  # `ulimit -v 4000000`: KiB


def limited() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def check(
    *args: str, path: str | None = None, limit: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args, "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
        preexec_fn=limited if limit else None,
    )


CASE_FILES = [str(p) for p in sorted(CASES.glob("*.yaml"))]


def test_with_conftest_the_limited_run_is_the_unlimited_run() -> None:
    tool("conftest")
    free = check(*CASE_FILES, limit=False)
    bounded = check(*CASE_FILES)
    assert (bounded.returncode, bounded.stdout) == (free.returncode, free.stdout)
    assert "ownership-labels" in bounded.stdout  # the Rego policies did run
    assert bounded.stderr == ""


@pytest.mark.parametrize("rego", ["embedded", "auto"])
def test_without_conftest_the_embedded_engine_says_why_it_cannot_start(rego: str, tmp_path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()  # no conftest on PATH: auto means embedded
    result = check(*CASE_FILES, "--rego", rego, path=str(empty))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "autobot-guard: error: the embedded Rego engine (rego-cpp) cannot start under this "
        "address-space limit (ulimit -v 4000000 KiB"
    )
    assert len(result.stderr.splitlines()) == 1
    assert "snmalloc" not in result.stderr


def test_rego_off_is_unaffected_by_the_limit() -> None:
    free = check(*CASE_FILES, "--rego", "off", limit=False)
    bounded = check(*CASE_FILES, "--rego", "off")
    assert (bounded.returncode, bounded.stdout) == (free.returncode, free.stdout)
