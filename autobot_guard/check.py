"""The `check` pipeline every entry point shares: policy pack -> load -> evaluate -> Report.

Features that change what is checked or reported (Rego policies, changed-only, baselines,
kustomize rendering) plug in here as steps, so the CLI and the CI gate stay adapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import ConfigError, PolicyPack, load_policy_pack
from .engine import evaluate
from .findings import Report
from .loader import load_paths
from .paths import bundled_manifests, bundled_policy_pack

BUNDLED_TARGET = "the bundled AutoBot reference manifests"


class UsageError(Exception):
    """A problem with how autobot-guard was asked to run: one line, exit status 2."""


@dataclass
class CheckOptions:
    paths: Sequence[str] = ()
    config: str | None = None
    kubernetes_version: str | None = None


def load_pack(config: str | None, kubernetes_version: str | None = None) -> PolicyPack:
    """The policy pack from `config` (default: bundled), with the version override applied."""
    from .rules.schema import schema_directory, supported_versions

    try:
        pack = load_policy_pack(config or str(bundled_policy_pack()))
    except ConfigError as exc:
        raise UsageError(exc.error.display()) from None
    if kubernetes_version:
        updated = pack.model.model_copy(update={"kubernetesVersion": kubernetes_version})
        pack = PolicyPack(updated, pack.source)
    try:
        schema_directory(pack.kubernetes_version, True)
    except ValueError:
        versions = supported_versions()
        raise UsageError(
            f"Kubernetes version {pack.kubernetes_version!r} is not supported "
            f"(supported: {versions[0]} to {versions[-1]}, as X.Y)"
        ) from None
    return pack


def run_check(options: CheckOptions) -> Report:
    pack = load_pack(options.config, options.kubernetes_version)
    paths, target = list(options.paths), ""
    if not paths:
        paths, target = [str(bundled_manifests())], BUNDLED_TARGET
    loaded = load_paths(paths)
    report = evaluate(loaded.resources, pack)
    report.errors = loaded.errors
    report.files = loaded.files
    report.target = target
    return report
