"""Kubernetes quantities ("500m", "2Gi", "1e3") through kubernetes.utils.parse_quantity.

Importing the `kubernetes` package runs its __init__, which loads the whole API client
(about 0.3 s). The quantity module itself only needs `decimal`, so it is loaded on its
own from the installed package.
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from functools import cache
from types import ModuleType
from typing import Any


@cache
def _quantity_module() -> ModuleType:
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the 'kubernetes' package is not installed")
    location = next(iter(spec.submodule_search_locations))
    file_spec = importlib.util.spec_from_file_location(
        "autobot_guard._k8s_quantity", f"{location}/utils/quantity.py"
    )
    if file_spec is None or file_spec.loader is None:
        raise ImportError("kubernetes/utils/quantity.py not found")
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


@cache
def _parse(text: str) -> Decimal | None:
    try:
        value: Decimal = _quantity_module().parse_quantity(text)
        return value
    except (ValueError, ArithmeticError, TypeError):
        return None


def parse_quantity(value: Any) -> Decimal | None:
    """The quantity as a Decimal, or None if it is not a valid Kubernetes quantity."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        return _parse(value.strip())
    return None


def format_bytes(value: Decimal) -> str:
    """A byte count as people write it: 10Gi, 512Mi, 1500."""
    number = int(value)
    for suffix, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if number >= size and number % size == 0:
            return f"{number // size}{suffix}"
    return str(number)
