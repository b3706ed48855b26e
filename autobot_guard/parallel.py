"""Use the second core for large inputs: half the work in a forked child.

Parsing and judging are pure Python per document, so threads do not help; a forked
child shares the parent's memory (the inventory, compiled validators) for free and
sends back only its results. Small inputs, single-core machines and platforms
without fork run everything in one process: results are the same either way.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 400  # below this, forking costs more than it saves


def workers() -> int:
    """How many processes may work at once (AUTOBOT_GUARD_WORKERS=1: no fork)."""
    wanted = os.environ.get("AUTOBOT_GUARD_WORKERS", "")
    if wanted.isdigit():
        return int(wanted)  # 1 turns the fork off, e.g. where processes are counted
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_map(
    work: Callable[[Sequence[T]], R],
    items: Sequence[T],
    weight: int | None = None,
    plain_data: bool = False,
) -> list[R]:
    """[work(first half), work(second half)], the second computed in a forked child.

    `weight` (default: len(items)) decides whether splitting is worth it. With
    `plain_data` the result holds only builtins and travels by `marshal`, several
    times faster than pickle for parsed manifests.
    """
    import pickle

    codec: Any = marshal if plain_data else pickle
    size = len(items) if weight is None else weight
    if size < MIN_ITEMS or len(items) < 2 or not hasattr(os, "fork") or workers() < 2:
        return [work(items)]
    middle = len(items) // 2
    first, second = items[:middle], items[middle:]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's cleanup
        os.close(read_end)
        try:
            try:
                payload = codec.dumps((True, work(second)))
            except BaseException as exc:  # whatever fails, the parent redoes it and reports
                payload = codec.dumps((False, repr(exc)))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    mine = work(first)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    try:
        ok, theirs = codec.loads(payload) if payload else (False, "child died")
    except (pickle.UnpicklingError, EOFError, ValueError):
        ok, theirs = False, "unreadable result"
    return [mine, theirs if ok else work(second)]  # type: ignore[list-item]  # ok: theirs is R
