"""`--changed-since REF`: which files a change touches, as git sees them.

Changed means: committed on this branch since it left REF (`git diff REF...HEAD`), plus
staged and unstaged changes (`git diff HEAD`), plus untracked files that are not ignored.
Paths are compared as absolute real paths, so `manifests/a.yaml`, `./manifests/a.yaml` and
a symlinked checkout all name the same file.

git runs in the repository that holds the checked paths, wherever autobot-guard runs from:
paths in two repositories, a path outside any repository and stdin (which git cannot know)
are usage errors.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from ..findings import Report

GIT_TIMEOUT = 60  # seconds, per git command


class ChangedFilesError(Exception):
    """git cannot say what changed: one line for the user."""


STDIN = "-"


def changed_files(ref: str, paths: Sequence[str]) -> frozenset[str]:
    """Absolute real paths of the files changed since `ref` in the repository of `paths`.

    `paths` are the checked files and directories (relative to the working directory);
    they must all be in one repository.
    """
    if STDIN in paths:
        raise ChangedFilesError(
            "--changed-since cannot tell whether stdin changed: give files or directories"
        )
    top = repository_of(paths)
    verify = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
    if not ref or ref.startswith("-") or not _git_ok(verify, top):
        raise ChangedFilesError(f"--changed-since: unknown git ref {ref!r}")
    names: set[str] = set()
    for args in (
        ["diff", "--name-only", "-z", "--no-ext-diff", f"{ref}...HEAD", "--"],
        ["diff", "--name-only", "-z", "--no-ext-diff", "HEAD", "--"],
        ["ls-files", "--others", "--exclude-standard", "-z"],
    ):
        names.update(name for name in _git(args, top).split("\0") if name)
    return frozenset(os.path.realpath(os.path.join(top, name)) for name in names)


def repository_of(paths: Sequence[str]) -> str:
    """The top directory of the one git work tree that holds every path in `paths`."""
    if not paths:
        raise ChangedFilesError("--changed-since: no file or directory to check")
    tops: dict[str, str] = {}  # directory -> its work tree: one git call per directory
    first, first_top = "", ""
    for path in paths:
        directory = _directory_of(path)
        if directory not in tops:
            tops[directory] = _toplevel(directory, path)
        top = tops[directory]
        if not first:
            first, first_top = path, top
        elif top != first_top:
            raise ChangedFilesError(
                f"--changed-since: {path} is in another git repository ({top}) than "
                f"{first} ({first_top}): check each repository on its own"
            )
    return first_top


def is_changed(file: str, changed: frozenset[str]) -> bool:
    """Whether `file` (as a finding names it) is one of `changed`; stdin never is."""
    if file.startswith("<") and file.endswith(">"):
        return False
    return os.path.realpath(file) in changed


def restrict_to(report: Report, changed: frozenset[str], ref: str) -> None:
    """Keep only the findings (and judged resources) located in changed files.

    Input errors are kept: a file that cannot be loaded leaves the whole tree unjudged.
    """
    known: dict[str, bool] = {}  # one realpath per file, not per finding or resource

    def keep(file: str) -> bool:
        if file not in known:
            known[file] = is_changed(file, changed)
        return known[file]

    report.findings = [f for f in report.findings if keep(f.file)]
    report.exempted = [f for f in report.exempted if keep(f.file)]
    report.checked = [(file, ref_) for file, ref_ in report.checked if keep(file)]
    count = len({file for file, _ in report.checked})
    scope = f"findings in the {count} file{'s' if count != 1 else ''} changed since {ref}"
    report.target = f"{report.target}; {scope}" if report.target else scope


def _directory_of(path: str) -> str:
    """The existing directory git should run in for `path`, symlinks resolved.

    A file's repository is that of its real location (as `is_changed` compares it); a path
    that does not exist is the loader's input error, so its nearest existing parent answers.
    """
    directory = os.path.realpath(path)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    return directory


class _NotARepository(ChangedFilesError):
    """git says the directory is in no repository (one for `path` is then worded)."""


def _toplevel(directory: str, path: str) -> str:
    """The real path of the work tree that holds `directory` (where `path` lies)."""
    try:
        top = _git(["rev-parse", "--show-toplevel"], directory, not_repo=True).strip()
    except _NotARepository:
        raise ChangedFilesError(f"--changed-since: {path} is not inside a git repository") from None
    if not top:  # inside a .git directory or a bare repository: no work tree
        raise ChangedFilesError(f"--changed-since: {path} is not in a git work tree")
    return os.path.realpath(top)


def _git(args: Sequence[str], cwd: str, not_repo: bool = False) -> str:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env=_environment(),
        )
    except FileNotFoundError:
        raise ChangedFilesError("--changed-since needs git, which is not on PATH") from None
    except subprocess.TimeoutExpired:
        message = f"--changed-since: git {args[0]} took over {GIT_TIMEOUT}s"
        raise ChangedFilesError(message) from None
    if result.returncode != 0:
        message = _first_line(result.stderr)
        if not_repo and "not a git repository" in message:
            raise _NotARepository(f"--changed-since: not inside a git repository: {cwd}")
        if "no merge base" in message:
            message += " (a shallow clone? fetch the history, e.g. actions/checkout fetch-depth: 0)"
        raise ChangedFilesError(f"--changed-since: git {args[0]} failed: {message}")
    return result.stdout


def _git_ok(args: Sequence[str], cwd: str) -> bool:
    try:
        _git(args, cwd)
    except ChangedFilesError:
        return False
    return True


def _environment() -> dict[str, str]:
    # git's messages in English: "not a git repository" and "no merge base" are matched above.
    return {**os.environ, "LC_ALL": "C"}


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip().removeprefix("fatal: ").removeprefix("error: ")
    return "no message"
