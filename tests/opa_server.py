"""A real OPA server for the tests (`opa run --server` on a free loopback port), as the
webhook's sidecar runs it; `tests.tools.tool("opa")` finds the binary (skips without
it, fails under CI=true)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.tools import tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Opa:
    executable: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "run", "--server", f"--addr=127.0.0.1:{self.port}",
             "--skip-version-check", "--log-level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"opa exited: {self.process.communicate()[1]!r}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("opa did not answer /health within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """A new OPA on the same port: it has none of the modules the old one had."""
        self.stop()
        self.start()

    def policy_ids(self) -> list[str]:
        import json

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("GET", "/v1/policies")
        return sorted(p["id"] for p in json.loads(connection.getresponse().read())["result"])


@contextmanager
def running_opa() -> Iterator[Opa]:
    opa = Opa(tool("opa"), free_port())
    opa.start()
    try:
        yield opa
    finally:
        opa.stop()
