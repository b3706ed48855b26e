"""The start-up worker (prefetch): same results as parsing in one process, whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autobot_guard import loader
from autobot_guard.prefetch import Prefetch
from autobot_guard.sources import list_sources

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from corpus import write_corpus  # noqa: E402  (the benchmark's generator: realistic manifests)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough manifests for the worker to start, plus files it must report as broken."""
    directory = tmp_path_factory.mktemp("corpus")
    write_corpus(600, directory, seed=7)
    (directory / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    (directory / "binary.yaml").write_bytes(b"\x00\x01")
    (directory / "config.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap"}')
    return directory


def _serial(paths: list[str]) -> list[object]:
    return loader.parse_sources(list_sources(paths).sources)


def test_worker_and_command_together_parse_every_file_in_order(corpus: Path) -> None:
    started = Prefetch.start([str(corpus)])
    assert started is not None, "a corpus this size should start the worker"
    batches = started.collect(loader.parse_sources)
    assert [item for batch in batches for item in batch] == _serial([str(corpus)])


def test_a_worker_that_dies_loses_nothing(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    real = loader.parse_sources

    def crash_in_worker(sources):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            os._exit(3)  # killed mid-way: nothing sent back
        return real(sources)

    monkeypatch.setattr(loader, "parse_sources", crash_in_worker)
    started = Prefetch.start([str(corpus)])
    assert started is not None
    batches = started.collect(crash_in_worker)
    assert [item for batch in batches for item in batch] == real(
        list_sources([str(corpus)]).sources
    )


def test_cancel_stops_the_worker(corpus: Path) -> None:
    started = Prefetch.start([str(corpus)])
    assert started is not None
    pid = started._pid
    started.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie, no stray process


def test_the_loader_makes_the_same_of_the_workers_batches(corpus: Path) -> None:
    started = Prefetch.start([str(corpus)])
    assert started is not None
    loaded = loader.load_parsed(started.listing, started.collect(loader.parse_sources))
    alone = loader.load_paths([str(corpus)])
    assert [(r.document.file, r.name, r.data) for r in loaded.resources] == [
        (r.document.file, r.name, r.data) for r in alone.resources
    ]
    assert (loaded.errors, loaded.files) == (alone.errors, alone.files) and loaded.errors


@pytest.mark.parametrize(
    "why, paths, workers",
    [("stdin", ["-"], ""), ("small input", ["SMALL"], ""), ("one core", ["CORPUS"], "1")],
)
def test_no_worker_where_it_does_not_pay(
    why: str, paths: list[str], workers: str, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = REPO / "manifests" / "agents"
    given = [str(corpus) if p == "CORPUS" else str(small) if p == "SMALL" else p for p in paths]
    monkeypatch.setenv("AUTOBOT_GUARD_WORKERS", workers)
    assert Prefetch.start(given) is None, why


def test_cli_reports_the_same_with_and_without_the_worker(corpus: Path) -> None:
    def check(workers: str) -> tuple[int, dict[str, object]]:
        env = {**os.environ, "AUTOBOT_GUARD_WORKERS": workers}
        done = subprocess.run(
            [sys.executable, "-m", "autobot_guard", "check", str(corpus), "--rego", "off",
             "--format", "json"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert "Traceback" not in done.stderr
        return done.returncode, json.loads(done.stdout)

    (code_two, two), (code_one, one) = check("2"), check("1")
    assert code_two == code_one == 2  # the broken files are input errors
    assert two == one
    assert two["summary"]["resources"] >= 600  # type: ignore[index]


class _DiesHoldingTheLock(Prefetch):
    def _work(self, results_write: int) -> None:  # takes the lock, then is killed
        while True:
            try:
                os.read(self._lock_read, 1)
                break
            except BlockingIOError:
                continue
        os._exit(9)


def test_a_worker_killed_while_holding_the_lock_does_not_hang_the_command(corpus: Path) -> None:
    listing = list_sources([str(corpus)])
    started = _DiesHoldingTheLock([str(corpus)], listing)
    batches = started.collect(loader.parse_sources)
    assert [item for batch in batches for item in batch] == _serial([str(corpus)])


def test_the_worker_leaves_when_the_command_dies_holding_the_lock(corpus: Path) -> None:
    # The command is killed between taking the lock and giving it back: its worker must
    # not wait for the lock forever (an orphan spinning in the background).
    script = f"""
import os, sys
from autobot_guard.prefetch import Prefetch
started = Prefetch.start([{str(corpus)!r}])
while True:
    try:
        os.read(started._lock_read, 1)
        break
    except BlockingIOError:
        continue
print(started._pid, flush=True)
os._exit(0)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    worker = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return  # gone
        time.sleep(0.05)
    pytest.fail(f"worker {worker} is still running after its command died")
