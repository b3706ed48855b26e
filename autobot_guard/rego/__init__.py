"""Rego policies in conftest's conventions, run beside the built-in rules.

`policies/rego/` (or any directory) holds Rego policies: `deny`/`violation` rules fail,
`warn` rules warn, `exception` rules are honoured, and a rule may return a message or an
object `{"msg", "rule", "severity", "field", "fix"}`. Two engines evaluate them and
produce identical findings:

- `conftest` (module `conftest`): the conftest binary as a subprocess, for CI;
- `embedded` (module `embedded`): rego-cpp through `regopy`, in process, compiled once,
  for the admission webhook and machines without conftest.

`check.py` runs them as a step after the built-in rules (`RegoStep`); the webhook calls
`evaluate_resources`. This module holds what the CLI, the policy pack and the engines
say about Rego (modes, defaults), so that importing it costs nothing: the step loads
on first use, and regopy only with the embedded engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from .step import RegoStep, default_policy_dir, evaluate_resources

# `check --rego`: auto is conftest when it is on PATH, else embedded.
RegoMode = Literal["auto", "conftest", "embedded", "off"]
MODES: tuple[str, ...] = get_args(RegoMode)
DEFAULT_TIMEOUT = 60.0  # seconds for the whole Rego step of a check
# `serve` (admission.regoEngine, --rego-engine): the OPA sidecar or rego-cpp in process.
AdmissionEngine = Literal["opa", "embedded"]
ADMISSION_ENGINES: tuple[str, ...] = get_args(AdmissionEngine)
OPA_URL = "http://127.0.0.1:8181"  # the sidecar of the shipped Deployment
OPA_TIMEOUT = 2.0  # seconds per request: below the webhook's own timeoutSeconds (5)

__all__ = [
    "ADMISSION_ENGINES", "DEFAULT_TIMEOUT", "MODES", "OPA_TIMEOUT", "OPA_URL", "RegoStep",
    "default_policy_dir", "evaluate_resources",
]  # fmt: skip
_LAZY = frozenset({"RegoStep", "default_policy_dir", "evaluate_resources"})


def __getattr__(name: str) -> Any:
    """The step's API, imported on first use (it imports the engine)."""
    if name in _LAZY:
        from . import step

        return getattr(step, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
