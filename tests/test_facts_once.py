"""Facts the CLI, the policy pack and the engines share are declared once: what each
entry point offers is what the implementation has."""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner

from autobot_guard import cli, rego
from autobot_guard.config import AdmissionSettings, config_json_schema
from autobot_guard.gate.baseline import DEFAULT_FILE
from autobot_guard.reporters import FORMATS, render


def option(command: click.Command, name: str) -> click.Option:
    found = next(p for p in command.params if isinstance(p, click.Option) and name in p.opts)
    assert isinstance(found, click.Option)
    return found


def choices(command: click.Command, name: str) -> list[str]:
    kind: Any = option(command, name).type
    return list(kind.choices)


def test_every_format_the_cli_offers_renders() -> None:
    from autobot_guard.findings import Report

    assert choices(cli.check, "--format") == list(FORMATS)
    for fmt in FORMATS:
        assert render(Report(), fmt)  # each has a renderer


def test_rego_modes_and_defaults_come_from_the_rego_package() -> None:
    assert choices(cli.check, "--rego") == choices(cli.baseline_command, "--rego")
    assert choices(cli.check, "--rego") == list(rego.MODES)
    assert option(cli.check, "--rego-timeout").default == rego.DEFAULT_TIMEOUT
    assert choices(cli.serve, "--rego-engine") == list(rego.ADMISSION_ENGINES)
    engine = config_json_schema()["$defs"]["AdmissionSettings"]["properties"]["regoEngine"]
    assert engine["enum"] == list(rego.ADMISSION_ENGINES)
    settings = AdmissionSettings()
    assert (settings.opaUrl, settings.opaTimeoutSeconds) == (rego.OPA_URL, rego.OPA_TIMEOUT)


def test_the_baseline_command_writes_the_file_the_gate_reads() -> None:
    assert option(cli.baseline_command, "--output").default == DEFAULT_FILE
    result = CliRunner().invoke(cli.main, ["baseline", "--help"])
    assert DEFAULT_FILE in result.output
