"""Where the bundled policy pack and reference manifests are, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    inside = _PACKAGE / "_bundled" / name  # a wheel install: force-included by pyproject.toml
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / name  # a checkout or an editable install


def bundled_policies() -> Path:
    return _bundled("policies")


def bundled_policy_pack() -> Path:
    return bundled_policies() / "autobot-guard.yaml"


def bundled_manifests() -> Path:
    return _bundled("manifests")
