"""`check --changed-since REF` through the real CLI, on fixture git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate_util import (
    LEGACY_WORKER,
    break_backend_liveness_probe,
    cli,
    commit_all,
    git,
    make_repo,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def findings(result_stdout: str) -> list[dict[str, object]]:
    return list(json.loads(result_stdout)["findings"])


def files_of(result_stdout: str) -> set[str]:
    return {str(f["file"]) for f in findings(result_stdout)}


def test_nothing_changed_reports_nothing_but_loads_everything(repo: Path) -> None:
    result = cli("check", "manifests", "--changed-since", "origin/main", "-f", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["findings"] == [] and document["exempted"] == []
    assert document["summary"]["resources"] > 50  # the whole tree was judged


def test_committed_staged_unstaged_and_untracked_changes_count(repo: Path) -> None:
    break_backend_liveness_probe(repo)
    commit_all(repo)  # committed on the branch
    (repo / "manifests" / "staged.yaml").write_text(
        LEGACY_WORKER.replace("legacy-worker", "staged"), encoding="utf-8"
    )
    git(repo, "add", "manifests/staged.yaml")
    (repo / "manifests" / "untracked.yaml").write_text(
        LEGACY_WORKER.replace("legacy-worker", "untracked"), encoding="utf-8"
    )
    result = cli("check", "manifests", "--changed-since", "origin/main", "-f", "json", cwd=repo)
    assert result.returncode == 1, result.stderr
    assert files_of(result.stdout) == {
        "manifests/app/backend.yaml",
        "manifests/staged.yaml",
        "manifests/untracked.yaml",
    }
    # An unstaged edit of a committed file counts too.
    legacy = repo / "manifests" / "legacy" / "worker.yaml"
    legacy.write_text("# edited\n" + legacy.read_text(encoding="utf-8"), encoding="utf-8")
    result = cli("check", "manifests", "--changed-since", "origin/main", "-f", "json", cwd=repo)
    assert "manifests/legacy/worker.yaml" in files_of(result.stdout)


def test_ignored_files_do_not_count(repo: Path) -> None:
    (repo / ".gitignore").write_text("manifests/generated/\n", encoding="utf-8")
    (repo / "manifests" / "generated").mkdir()
    (repo / "manifests" / "generated" / "x.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    result = cli("check", "manifests", "--changed-since", "origin/main", "-q", cwd=repo)
    assert "generated" not in result.stdout


def test_paths_are_compared_resolved(repo: Path) -> None:
    """Absolute paths, ./ paths and a run from a subdirectory name the same files."""
    line = break_backend_liveness_probe(repo)
    expected = f"backend.yaml:{line}: error probe-port"
    for cwd, path in (
        (repo, str(repo / "manifests")),
        (repo, "./manifests/../manifests"),
        (repo / "manifests" / "app", ".."),
    ):
        result = cli("check", path, "--changed-since", "origin/main", "-q", cwd=cwd)
        assert result.returncode == 1, (path, result.stderr)
        assert expected in result.stdout and "legacy" not in result.stdout, path


def test_text_summary_says_what_was_reported(repo: Path) -> None:
    break_backend_liveness_probe(repo)
    result = cli("check", "manifests", "--changed-since", "origin/main", cwd=repo)
    assert "findings in the 1 file changed since origin/main" in result.stdout.splitlines()[-1]


def test_outside_a_git_repository_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    result = cli("check", "a.yaml", "--changed-since", "main", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "not inside a git repository" in result.stderr


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=x", ""])
def test_unknown_ref_is_a_one_line_error(repo: Path, ref: str) -> None:
    result = cli("check", "manifests", "--changed-since", ref, cwd=repo)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"unknown git ref {ref!r}" in result.stderr
    assert not (repo / "x").exists()


def test_no_merge_base_hints_at_the_history(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "unrelated")
    commit_all(repo, "unrelated history")
    result = cli("check", "manifests", "--changed-since", "origin/main", cwd=repo)
    assert result.returncode == 2
    assert "no merge base" in result.stderr and "fetch-depth" in result.stderr
