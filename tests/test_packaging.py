"""An installed wheel works outside the repository: the policy pack and manifests travel with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if (
        shutil.which("pip") is None
        and subprocess.run(
            [sys.executable, "-m", "pip", "--version"], capture_output=True
        ).returncode
    ):
        pytest.skip("pip is not available")
    wheels = tmp_path_factory.mktemp("wheels")
    site = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("autobot_guard-*.whl")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    return site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_wheel_checks_its_bundled_manifests_from_anywhere(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import autobot_guard; print(autobot_guard.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip().startswith(str(installed))  # the wheel, not the checkout
    result = run_installed(installed, tmp_path, "check", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["policyPack"].startswith(
        str(installed / "autobot_guard" / "_bundled" / "policies")
    )
    assert report["summary"]["resources"] > 50
    assert report["summary"]["errors"] == report["summary"]["warnings"] == 0
    text = run_installed(installed, tmp_path, "check")
    assert "the bundled AutoBot reference manifests" in text.stdout


def test_wheel_carries_the_html_report_style_and_script(installed: Path, tmp_path: Path) -> None:
    result = run_installed(installed, tmp_path, "check", "--format", "html")
    assert result.returncode == 0, result.stderr
    assert "--bar-error:" in result.stdout  # html_report.css, inlined
    assert 'form.addEventListener("change", apply);' in result.stdout  # html_report.js
