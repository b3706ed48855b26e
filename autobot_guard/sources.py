"""What to read: the manifest files that paths name (files, directories, `-` for stdin).

Kept free of heavy imports: the CLI lists the files before it imports the engine, so
that a forked worker can start parsing them early (see `prefetch`).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

Source = tuple[str, bytes | None, bool | None]  # (name, content if already read, force_json)


class Refused(Exception):
    """A file not read, and why (what it is, or its size): one input error line."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def read_file(name: str, limit: int, limit_name: str = "") -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file `name` (at most `limit`) and its status as opened.

    Opened without blocking and judged by its descriptor, not by its name: a named pipe
    would wait for a writer forever and a device (a committed symbolic link to /dev/zero)
    never ends. OSError for what the system refuses, Refused for what we do.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(name, flags)
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = next((k for test, k in _KINDS if test(status.st_mode)), "not a file")
            raise Refused(f"not a regular file ({kind}): not read")
        too_large = f"file is larger than the {limit >> 20} MiB{limit_name} limit"
        if status.st_size > limit:
            raise Refused(too_large)
        chunks, size = [], 0
        while size <= limit:  # it may grow while it is read
            chunk = handle.read(min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Refused(too_large)
    return b"".join(chunks), status


@dataclass(slots=True)
class SourceList:
    sources: list[Source] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, what is wrong)
    size: int = 0  # bytes of the files, to decide whether a second core is worth it


def list_sources(paths: Iterable[str], stdin_name: str = "<stdin>") -> SourceList:
    """Every manifest file of `paths`, in order, each once; stdin is read here."""
    listing = SourceList()
    seen: set[str] = set()
    for path in paths:
        if path == "-":
            listing.sources.append((stdin_name, sys.stdin.buffer.read(), None))
            continue
        for file, error in expand(path):
            if error:
                listing.errors.append((file, error))
                continue
            real = os.path.realpath(file)
            if real in seen:  # named twice (a file and its directory): checked once
                continue
            seen.add(real)
            listing.sources.append((file, None, file.lower().endswith(".json")))
            with suppress(OSError):  # reported when the file is read
                listing.size += os.path.getsize(file)
    return listing


def expand(path: str) -> Iterator[tuple[str, str | None]]:
    """(file, None) for each manifest file under `path`, or (path, error).

    Directories are walked recursively in name order, following symbolic links (each
    directory once, so a link loop ends). Directories whose name starts with a dot
    (.git, .github) are not entered; file suffixes match in any case (.yaml, .YML).
    """
    if not os.path.isdir(path):
        yield (path, None) if os.path.exists(path) else (path, _missing(path))
        return
    found, problems, visited = False, [], set()

    def unreadable(error: OSError) -> None:
        problems.append((error.filename or path, f"cannot read directory: {error.strerror}"))

    for root, dirs, files in os.walk(path, onerror=unreadable, followlinks=True):
        try:
            identity = os.stat(root)
        except OSError:
            continue
        key = (identity.st_dev, identity.st_ino)
        if key in visited:  # a link back to a directory already walked
            dirs[:] = []
            continue
        visited.add(key)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(MANIFEST_SUFFIXES):
                found = True
                yield os.path.join(root, name), None
    yield from problems
    if not found and not problems:
        yield path, "no .yaml, .yml or .json files in this directory"


def _missing(path: str) -> str:
    """Why `path` cannot be found: a link loop and a dangling link are not "no such file"."""
    if not os.path.islink(path):
        return "no such file or directory"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
    return "symbolic link to a missing file"
