"""Start parsing manifests in a forked worker while the command is still starting up.

Importing the engine (pydantic, the rule modules, the schemas) takes a fifth of a
second during which the second core would sit idle. The CLI lists the files first and
forks a worker that parses them from the front of the list; once started up, the
command parses from the back until the two meet, then takes the worker's results.
Work is claimed one file at a time under a lock, so the split adapts to how long
start-up took. If the worker fails, the command parses what it had claimed itself:
the results are the same with or without a worker.
"""

from __future__ import annotations

import marshal
import mmap
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

from .parallel import MIN_ITEMS, workers
from .sources import Source, SourceList, list_sources

_CURSORS = struct.Struct("qq")  # next file the worker takes, end of what remains for us
Batch = list[Any]  # the plain-data parse results of one file


class Prefetch:
    """A worker parsing `listing.sources` from the front; see `collect`."""

    def __init__(self, paths: Sequence[str], listing: SourceList) -> None:
        self.paths = list(paths)
        self.listing = listing
        self._cursors = mmap.mmap(-1, _CURSORS.size)  # anonymous and shared across fork
        _CURSORS.pack_into(self._cursors, 0, 0, len(listing.sources))
        self._lock_read, self._lock_write = os.pipe()  # one token in the pipe: the lock
        os.write(self._lock_write, b".")
        self._results, results_write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:
            os.close(self._results)
            self._work(results_write)
        os.close(results_write)

    @classmethod
    def start(cls, paths: Sequence[str]) -> Prefetch | None:
        """A started worker, or None where one does not pay (few files, one core, stdin)."""
        if "-" in paths or not hasattr(os, "fork") or workers() < 2:
            return None
        listing = list_sources(paths)
        if listing.size // 2048 < MIN_ITEMS or len(listing.sources) < 2:
            return None
        return cls(paths, listing)

    def collect(self, parse: Callable[[Sequence[Source]], Batch]) -> list[Batch]:
        """Parse from the back until meeting the worker; every file's results, in order."""
        sources = self.listing.sources
        mine: dict[int, Batch] = {}
        while (index := self._claim(front=False)) is not None:
            mine[index] = parse([sources[index]])
        theirs = self._receive()
        return [
            mine[i] if i in mine else theirs[i] if i in theirs else parse([sources[i]])
            for i in range(len(sources))
        ]

    def cancel(self) -> None:
        """Stop the worker (the command failed before it needed the results)."""
        if self._pid:
            try:
                os.kill(self._pid, 9)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            os.close(self._results)
            self._pid = 0

    # -- both sides ---------------------------------------------------------------------

    def _claim(self, front: bool) -> int | None:
        os.read(self._lock_read, 1)
        try:
            start, end = _CURSORS.unpack_from(self._cursors, 0)
            if start >= end:
                return None
            if front:
                _CURSORS.pack_into(self._cursors, 0, start + 1, end)
                return start
            _CURSORS.pack_into(self._cursors, 0, start, end - 1)
            return end - 1
        finally:
            os.write(self._lock_write, b".")

    def _work(self, results_write: int) -> None:  # the worker: parse, send, leave
        try:
            from .loader import parse_sources

            sources = self.listing.sources
            done: dict[int, Batch] = {}
            while (index := self._claim(front=True)) is not None:
                done[index] = parse_sources([sources[index]])
            payload = marshal.dumps(done)
            with os.fdopen(results_write, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)  # never run the parent's cleanup or flush its buffers

    def _receive(self) -> dict[int, Batch]:
        with os.fdopen(self._results, "rb") as pipe:
            payload = pipe.read()
        os.waitpid(self._pid, 0)
        self._pid = 0
        try:
            done = marshal.loads(payload) if payload else {}
        except (EOFError, ValueError, TypeError):
            done = {}  # the worker died mid-write: `collect` parses its files again
        return done if isinstance(done, dict) else {}
