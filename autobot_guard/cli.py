"""`autobot-guard`: a thin command-line adapter around the engine.

Heavy modules (the engine, pydantic, YAML, schemas) are imported inside the commands
so that `--help` and `rules` start fast.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from . import __version__

FAIL_ON = ("error", "warning", "info", "never")
FORMATS = ("text", "json", "sarif", "junit", "github")


def _die(message: str) -> NoReturn:
    click.echo(f"autobot-guard: error: {message}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autobot-guard")
def main() -> None:
    """Policy-as-code compliance checker for the Kubernetes manifests of the AutoBot platform."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding at or above this severity exists.",
)
@click.option(
    "--kubernetes-version",
    metavar="X.Y",
    help="Validate against this Kubernetes version (default: the policy pack's).",
)
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False),
    help="Policy pack file (default: the bundled AutoBot policy pack).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Text format: only one line per finding, no summary."
)
def check(
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    fail_on: str,
    kubernetes_version: str | None,
    config: str | None,
    quiet: bool,
) -> None:
    """Check manifests: files, directories (recursive) or - for stdin.

    With no PATH, checks the bundled AutoBot reference manifests.
    Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.
    """
    import gc

    # A run builds millions of small dicts and frees them all at exit: the collector's
    # generational passes over that heap cost more than parsing, and manifests make no
    # reference cycles worth collecting in a short-lived process.
    gc.disable()
    from .check import CheckOptions, UsageError, run_check
    from .findings import Severity
    from .reporters import render

    try:
        report = run_check(CheckOptions(paths, config, kubernetes_version))
    except UsageError as exc:
        _die(str(exc))
    color = (
        fmt == "text" and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    threshold = None if fail_on == "never" else Severity(fail_on)
    text = render(report, "quiet" if fmt == "text" and quiet else fmt, color=color)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            _die(f"cannot write {output}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    for error in report.errors:
        if fmt != "text" or output:
            click.echo(f"autobot-guard: input error: {error.display()}", err=True)
    sys.exit(report.exit_code(threshold))


@main.command()
def rules() -> None:
    """List every rule: id, default severity and what it checks."""
    from .rules import ALL_RULES

    width = max(len(rule.id) for rule in ALL_RULES)
    for rule in ALL_RULES:
        click.echo(f"{rule.id:<{width}}  {rule.default_severity.value:<7}  {rule.summary}")


@main.command()
@click.argument("rule_id", metavar="RULE")
def explain(rule_id: str) -> None:
    """Explain a rule: what it checks, why, how to fix it, with examples."""
    from .rules import RULES_BY_ID

    rule = RULES_BY_ID.get(rule_id)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, list(RULES_BY_ID), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; `autobot-guard rules` lists them"
        _die(f"unknown rule {rule_id!r}{hint}")
    settings = rule.Settings.model_fields
    click.echo(f"{rule.id} (default severity: {rule.default_severity.value})\n")
    click.echo(rule.documentation())
    click.echo(f"\nHow to fix:\n  {rule.fix}")
    params = {k: v for k, v in settings.items() if k not in ("enabled", "severity")}
    if params:
        click.echo("\nParameters (policy pack: rules." + rule.id + "):")
        for name, info in params.items():
            alias = info.alias or name
            default = info.get_default(call_default_factory=True)
            click.echo(f"  {alias} (default {default!r}): {info.description or ''}")
    click.echo("\nFailing example:\n" + _indent(rule.failing_example))
    click.echo("Passing example:\n" + _indent(rule.passing_example))


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))


@main.command("config-schema")
def config_schema() -> None:
    """Print the JSON Schema of the policy pack file, for editors."""
    import json

    from .config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))
