"""Rego policies in conftest's conventions, run beside the built-in rules.

`policies/rego/` (or any directory) holds Rego policies: `deny`/`violation` rules fail,
`warn` rules warn, `exception` rules are honoured, and a rule may return a message or an
object `{"msg", "rule", "severity", "field", "fix"}`. Two engines evaluate them and
produce identical findings:

- `conftest` (module `conftest`): the conftest binary as a subprocess, for CI;
- `embedded` (module `embedded`): rego-cpp through `regopy`, in process, compiled once,
  for the admission webhook and machines without conftest.

`check.py` runs them as a step after the built-in rules (`RegoStep`); the webhook calls
`evaluate_resources`. Importing this package does not import regopy.
"""

from __future__ import annotations

from .step import DEFAULT_TIMEOUT, MODES, RegoStep, default_policy_dir, evaluate_resources

__all__ = ["DEFAULT_TIMEOUT", "MODES", "RegoStep", "default_policy_dir", "evaluate_resources"]
