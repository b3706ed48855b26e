"""`check --changed-since REF` through the real CLI, on fixture git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autobot_guard.gate.changed import ChangedFilesError, changed_files
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


# --- git runs in the repository of the checked paths, not in the working directory --------


def other_repo(root: Path) -> Path:
    """A second repository with two commits (so HEAD~1 and main resolve there too)."""
    other = root / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "notes.txt").write_text("one\n", encoding="utf-8")
    commit_all(other, "one")
    (other / "notes.txt").write_text("two\n", encoding="utf-8")
    commit_all(other, "two")
    return other


@pytest.mark.parametrize("where", ["outside any repository", "in another repository"])
def test_git_asks_the_repository_of_the_checked_paths(
    repo: Path, tmp_path: Path, where: str
) -> None:
    line = break_backend_liveness_probe(repo)
    commit_all(repo)
    cwd = tmp_path if where == "outside any repository" else other_repo(tmp_path)
    for path in (repo / "manifests", repo / "manifests" / "app" / "backend.yaml"):
        result = cli("check", str(path), "--changed-since", "HEAD~1", "-q", cwd=cwd)
        assert result.returncode == 1, (path, result.stdout, result.stderr)
        assert f"backend.yaml:{line}: error probe-port" in result.stdout, path
        assert "legacy" not in result.stdout, path
        text = cli("check", str(path), "--changed-since", "main", cwd=cwd)
        assert "findings in the 1 file changed since main" in text.stdout, text.stderr


def test_paths_of_two_repositories_are_a_one_line_error_naming_the_path(
    repo: Path, tmp_path: Path
) -> None:
    other = other_repo(tmp_path)
    (other / "k8s").mkdir()
    (other / "k8s" / "a.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    result = cli("check", "manifests", str(other / "k8s"), "--changed-since", "main", cwd=repo)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert str(other / "k8s") in result.stderr and "another git repository" in result.stderr


def test_a_path_outside_any_repository_is_named(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "loose"
    outside.mkdir()
    (outside / "a.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    result = cli("check", str(outside / "a.yaml"), "--changed-since", "main", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{outside / 'a.yaml'} is not inside a git repository" in result.stderr


@pytest.mark.parametrize("paths", [["-"], ["manifests", "-"]])
def test_stdin_cannot_be_judged_changed(repo: Path, paths: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *paths, "--changed-since", "main"],
        cwd=repo,
        input=LEGACY_WORKER,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--changed-since cannot tell whether stdin changed: give files or directories" in (
        result.stderr
    )


def test_changed_files_needs_no_working_directory_in_the_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library call: the repository is found from the paths (symlinks resolved)."""
    break_backend_liveness_probe(repo)
    monkeypatch.chdir(other_repo(tmp_path))
    link = tmp_path / "link"
    link.symlink_to(repo / "manifests", target_is_directory=True)
    backend = os.path.realpath(repo / "manifests" / "app" / "backend.yaml")
    for paths in ([str(repo / "manifests")], [str(link)], [str(link / "app" / "backend.yaml")]):
        assert changed_files("main", paths) == {backend}, paths
    with pytest.raises(ChangedFilesError, match="stdin"):
        changed_files("main", [str(repo / "manifests"), "-"])


def test_a_missing_path_is_left_to_the_loader(repo: Path) -> None:
    """A path that does not exist is an input error of the loader, not a git error."""
    result = cli("check", "manifests/nope.yaml", "--changed-since", "main", cwd=repo)
    assert result.returncode == 2
    assert "nope.yaml" in result.stdout and result.stderr == ""
