from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook.helpers import Certificates, Server, make_certificates, running_server


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


@pytest.fixture(scope="module")
def module_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(module_certificates: Certificates) -> Iterator[Server]:
    """One server for a module: the reference manifests as its inventory."""
    with running_server(
        module_certificates, "--inventory", str(Path(__file__).parents[2] / "manifests"),
        "--no-watch-cluster", "--namespace", "autobot-guard", ready_path="/readyz",
    ) as running:  # fmt: skip
        yield running
