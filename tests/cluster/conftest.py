"""A real control plane for the tests of this folder: etcd, kube-apiserver and
kube-controller-manager on 127.0.0.1, started once per session by
scripts/control-plane and always stopped at the end (docs/control-plane.md).

Without Go (nothing to build the API server with), etcd or kubectl the tests skip with
the reason; with CI=true they fail instead, so CI can never pass by skipping them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.helpers import SCRIPT, Cluster
from tests.webhook.helpers import Certificates, make_certificates

HERE = Path(__file__).resolve().parent
UNCACHED = "networkpolicies.networking.k8s.io"
TOOLS = Path(os.environ.get("AUTOBOT_KUBE_TOOLS", HERE.parents[1] / ".tools" / "kube"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster: runs against a real kube-apiserver started by scripts/control-plane",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.cluster)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, so the cluster tests must run, but {reason}", pytrace=False)
    pytest.skip(reason)


def missing() -> str | None:
    built = all((TOOLS / name).is_file() for name in ("kube-apiserver", "kube-controller-manager"))
    if not built and shutil.which("go") is None:
        return "no Go toolchain on PATH to build kube-apiserver (scripts/control-plane build)"
    if shutil.which(os.environ.get("ETCD", "etcd")) is None:
        return "no etcd on PATH (apt-get install etcd-server)"
    if shutil.which("kubectl") is None:
        return "no kubectl on PATH"
    if shutil.which("openssl") is None:
        return "no openssl on PATH (the control plane's certificates)"
    return None


def script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = missing()
    if reason:
        unavailable(reason)
    # A cold build takes minutes (docs/control-plane.md); .ci/run builds before pytest.
    built = script("build", timeout=3600)
    if built.returncode != 0:
        unavailable(f"scripts/control-plane build failed:\n{built.stderr[-4000:]}")
    run = tmp_path_factory.mktemp("control-plane")
    # SIGTERM (a CI runner's cancel) would end pytest without finalizers: turn it into
    # KeyboardInterrupt so the stop below still runs.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # NetworkPolicies are watched from etcd, not from the API server's watch cache, so
        # that compacting etcd makes a watch expire (410 Gone) on demand
        # (test_cluster_inventory.py); every other resource is served as usual.
        started = script(
            "start",
            str(run),
            f"--apiserver-arg=--watch-cache-sizes={UNCACHED}#0",
            f"--owner-pid={os.getpid()}",  # stopped even if pytest is killed
            timeout=300,
        )
        assert started.returncode == 0, f"scripts/control-plane start:\n{started.stderr}"
        facts: dict[str, Any] = json.loads((run / "cluster.json").read_text())
        etcd = f"http://127.0.0.1:{facts['ports']['etcd']}"
        yield Cluster(run, Path(facts["kubeconfig"]), facts["server"], Path(facts["ca"]), etcd)
    finally:
        stopped = script("stop", str(run), timeout=120)
        signal.signal(signal.SIGTERM, previous)
        assert stopped.returncode == 0, stopped.stderr


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def webhook_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The webhook's serving certificate (127.0.0.1) and the CA that becomes caBundle."""
    return make_certificates(tmp_path_factory.mktemp("webhook-tls"))
