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
import select
import signal
import struct
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from .parallel import MIN_ITEMS, workers
from .sources import Source, SourceList, list_sources

_POLL_SECONDS = 0.2  # how often a process waiting for the lock checks the other is alive
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
        os.set_blocking(self._lock_read, False)  # never block where the holder may be dead
        os.write(self._lock_write, b".")
        self._results, results_write = os.pipe()
        self._parent = os.getpid()
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
            with suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            os.close(self._results)
            self._reap()

    def _reap(self) -> None:
        with suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        self._pid = 0
        for descriptor in (self._lock_read, self._lock_write):
            with suppress(OSError):
                os.close(descriptor)
        self._cursors.close()

    # -- both sides ---------------------------------------------------------------------

    def _claim(self, front: bool) -> int | None:
        if front and not self._parent_alive():
            return None  # the command was killed: an orphan has nobody to parse for
        if not self._acquire(self._parent_alive if front else self._worker_alive):
            return None  # the other side died holding the lock: stop; `collect` redoes
        try:
            start: int
            end: int
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

    def _acquire(self, other_alive: Callable[[], bool]) -> bool:
        """Take the lock; False if the other process died (it may have died holding it)."""
        while True:
            try:
                if os.read(self._lock_read, 1):
                    return True
            except BlockingIOError:
                pass  # the other process holds it
            ready = select.select([self._lock_read], [], [], _POLL_SECONDS)[0]
            if not ready and not other_alive():
                return False

    def _worker_alive(self) -> bool:
        try:
            return os.waitpid(self._pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def _parent_alive(self) -> bool:
        return os.getppid() == self._parent

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
        self._reap()
        try:
            done = marshal.loads(payload) if payload else {}
        except (EOFError, ValueError, TypeError):
            done = {}  # the worker died mid-write: `collect` parses its files again
        return done if isinstance(done, dict) else {}
