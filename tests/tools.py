"""The real command-line tools some tests run (conftest, opa, actionlint, kubectl, chromium).

`scripts/install-tools` puts the pinned Go tools into `.tools/bin` and `scripts/test`
puts that folder on PATH. Where a tool is missing a test that needs it skips with the
reason, except under CI=true (what `.ci/run` runs with): there it fails, so a broken
install can never turn into a green run that tested nothing.
"""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL = {
    "conftest": "scripts/install-tools (needs Go)",
    "opa": "scripts/install-tools (needs Go)",
    "actionlint": "scripts/install-tools (needs Go)",
    "kubectl": "the kubectl package of your distribution",
    "chromium": "apt-get install chromium (Debian; .ci/run does)",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def tool(name: str) -> str:
    """The path of `name`; skips the test without it (fails it under CI=true)."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not on PATH (install it with {INSTALL.get(name, name)})"
    if in_ci():
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)
