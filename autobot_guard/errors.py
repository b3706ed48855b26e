"""The errors every layer may raise, in a module of their own so that no lower layer
imports the pipeline (check.py) to get them."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with how autobot-guard was asked to run: one line, exit status 2."""
