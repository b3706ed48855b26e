"""Helpers for the CI gate tests: the real CLI in a subprocess, and git fixture repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"

# A long-running workload with no probes, requests, limits or NetworkPolicy: many findings.
LEGACY_WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy-worker
  namespace: autobot-system
spec:
  replicas: 2
  selector:
    matchLabels: {app: legacy-worker}
  template:
    metadata:
      labels: {app: legacy-worker, component: worker, logging: centralized}
    spec:
      containers:
      - name: worker
        image: ghcr.io/mrveiss/legacy-worker:0.9.1
"""


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`autobot-guard ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def git_env() -> dict[str, str]:
    """An environment where git ignores the machine's own configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Gate Test",
        GIT_AUTHOR_EMAIL="gate@example.com",
        GIT_COMMITTER_NAME="Gate Test",
        GIT_COMMITTER_EMAIL="gate@example.com",
    )
    return env


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env=git_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def make_repo(root: Path) -> Path:
    """A repository whose main branch has the AutoBot manifests plus one legacy file with
    findings, a README, and `origin/main` pointing at main (as a CI checkout has it)."""
    repo = root / "repo"
    shutil.copytree(MANIFESTS, repo / "manifests")
    (repo / "manifests" / "legacy").mkdir()
    (repo / "manifests" / "legacy" / "worker.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    (repo / "README.md").write_text("# fixture\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "manifests")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    return repo


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def line_after(path: Path, anchor: str, text: str) -> int:
    """1-based number of the first line containing `text` after the line containing `anchor`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if anchor in line)
    return next(i for i in range(start, len(lines)) if text in lines[i]) + 1


def break_backend_liveness_probe(repo: Path) -> int:
    """Point the backend's livenessProbe at a port the container does not declare; its line."""
    path = repo / "manifests" / "app" / "backend.yaml"
    number = line_after(path, "livenessProbe:", "port: http")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[number - 1].strip() == "port: http"
    lines[number - 1] = lines[number - 1].replace("port: http", "port: metrics")
    path.write_text("\n".join(lines), encoding="utf-8")
    return number
