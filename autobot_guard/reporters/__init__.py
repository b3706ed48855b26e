"""Every output format renders the same Report; none of them judges anything."""

from __future__ import annotations

import importlib
from typing import Protocol

from ..findings import Report

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown", "html")
_MODULES = {"quiet": "text_report"}  # `--quiet` is the text format's one-line-per-finding form


class Renderer(Protocol):
    def __call__(self, report: Report, *, color: bool = False) -> str: ...


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    if fmt not in FORMATS and fmt not in _MODULES:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES.get(fmt, fmt + '_report')}")
    renderer: Renderer = module.render_quiet if fmt == "quiet" else module.render
    return renderer(report, color=color)


def plural(count: int, noun: str, suffix: str = "s") -> str:
    """ "1 file", "2 files": for every format's summary."""
    return f"{count} {noun}{suffix if count != 1 else ''}"
