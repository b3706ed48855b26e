"""Every output format renders the same Report; none of them judges anything."""

from __future__ import annotations

import importlib
from typing import Protocol

from ..findings import Report

FORMATS = ("text", "json", "sarif", "junit", "github")


class Renderer(Protocol):
    def __call__(self, report: Report, *, color: bool = False) -> str: ...


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    module = importlib.import_module(f"{__name__}.{fmt}_report")
    renderer: Renderer = module.render
    return renderer(report, color=color)
