"""Rego policies' rules are configured in the policy pack like built-in rules: `enabled`
and `severity` under `rules.<id>`, the same in every engine (conftest, embedded, the
webhook's OPA sidecar and embedded engine), and a typo is named with its line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autobot_guard.check import CheckOptions, run_check
from autobot_guard.errors import UsageError
from autobot_guard.webhook.models import AdmissionReview
from autobot_guard.webhook.review import Reviewer
from autobot_guard.webhook.store import InventoryStore
from tests.opa_server import Opa, running_opa
from tests.tools import tool
from tests.util import assert_no_input_errors, pack_with, write_pack
from tests.webhook.helpers import admitted, chat_agent, review

HOSTPATH_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  volumes: [{name: h, hostPath: {path: /etc}}]
  containers: [{name: c, image: docker.io/library/busybox:1.36}]
"""

PACK_RULES = {"no-hostpath": {"severity": "warning"}, "approved-registry": {"enabled": False}}


def rego_view(report: Any) -> dict[str, list[str]]:
    """rule id -> severities of its findings, for the two Rego rules the pack configures."""
    view: dict[str, list[str]] = {"no-hostpath": [], "approved-registry": []}
    for finding in report.findings:
        if finding.rule in view:
            view[finding.rule].append(finding.severity.value)
    return view


def check_with(tmp_path: Path, rego: str, rules: dict[str, Any] | None) -> Any:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(HOSTPATH_POD, encoding="utf-8")
    config = write_pack(pack_with(rules), tmp_path / "pack.yaml") if rules is not None else None
    report = run_check(CheckOptions([str(manifest)], config=config, rego=rego))
    assert_no_input_errors(report)
    return report


@pytest.fixture(params=["conftest", "embedded"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "conftest":
        tool("conftest")
    return str(request.param)


def test_the_pack_sets_severity_and_switches_off_rego_rules(tmp_path: Path, engine: str) -> None:
    default = rego_view(check_with(tmp_path, engine, None))
    assert default == {"no-hostpath": ["error"], "approved-registry": ["error"]}
    configured = check_with(tmp_path, engine, PACK_RULES)
    assert rego_view(configured) == {"no-hostpath": ["warning"], "approved-registry": []}
    # SARIF's rule metadata says the configured severity too
    summary, _, severity = configured.rule_docs["no-hostpath"]
    assert severity.value == "warning" and summary


def test_the_cli_reports_the_configured_severity(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(HOSTPATH_POD, encoding="utf-8")
    pack = write_pack(pack_with(PACK_RULES), tmp_path / "pack.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", "--rego", "embedded", "-q",
         "--fail-on", "never", "-c", pack, str(manifest)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("warning" in line and "no-hostpath" in line for line in lines), done.stdout
    assert not any("approved-registry" in line for line in lines), done.stdout


def test_a_misspelt_rego_rule_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    text = (
        "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n"
        "  min-replicas: {minReplicas: 2}\n  no-hostpat:\n    severity: warning\n"
    )
    pack = tmp_path / "pack.yaml"
    pack.write_text(text, encoding="utf-8")
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(HOSTPATH_POD, encoding="utf-8")
    with pytest.raises(UsageError) as raised:
        run_check(CheckOptions([str(manifest)], config=str(pack), rego="embedded"))
    assert str(raised.value) == (
        f"{pack}:5: rules.no-hostpat: unknown key (unknown rule; did you mean 'no-hostpath'?)"
    )
    done = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", "--rego", "off", "-c", str(pack),
         str(manifest)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().endswith("did you mean 'no-hostpath'?)"), done.stderr


def test_a_rego_rule_takes_only_the_settings_every_rule_has(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n"
        "  no-hostpath:\n    allowedPaths: [/var/log]\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError) as raised:
        run_check(CheckOptions([], config=str(pack), rego="off"))
    assert str(raised.value) == (
        f"{pack}:5: rules.no-hostpath.allowedPaths: unknown key"
        " (rules of Rego policies take only enabled and severity)"
    )


# -- at admission ----------------------------------------------------------------------


def hostpath_deployment() -> dict[str, Any]:
    obj = admitted(chat_agent())
    pod = obj["spec"]["template"]["spec"]
    pod["volumes"] = [*pod.get("volumes", []), {"name": "h", "hostPath": {"path": "/etc"}}]
    pod["containers"][0]["image"] = "registry.example.com/chat:1.4.0"
    return obj


def decide(reviewer: Reviewer) -> Any:
    """The decision as the server takes it: asynchronously through OPA, else in process."""
    request = AdmissionReview.model_validate(review("CREATE", hostpath_deployment())).request
    if reviewer.rego_engine == "opa":
        return asyncio.run(reviewer.review_async(request))
    return reviewer.review(request)


@pytest.fixture
def opa() -> Iterator[Opa]:
    tool("opa")
    with running_opa() as running:
        yield running


@pytest.mark.opa
def test_the_webhook_with_opa_applies_the_packs_rego_settings(opa: Opa) -> None:
    plain = decide(Reviewer(pack_with(admission={"opaUrl": opa.url}), InventoryStore(), "x"))
    assert plain.allowed is False
    assert {"no-hostpath", "approved-registry"} <= set(plain.rule_ids)
    pack = pack_with(PACK_RULES, admission={"opaUrl": opa.url})
    configured = decide(Reviewer(pack, InventoryStore(), "x"))
    assert "approved-registry" not in configured.rule_ids
    # a warning at admission: the object is allowed, with the finding as a warning
    assert configured.allowed is True, configured.message
    assert any("no-hostpath" in warning for warning in configured.warnings)


def test_the_embedded_webhook_engine_applies_the_packs_rego_settings() -> None:
    pack = pack_with(PACK_RULES, admission={"regoEngine": "embedded"})
    configured = decide(Reviewer(pack, InventoryStore(), "x"))
    assert "approved-registry" not in configured.rule_ids
    assert configured.allowed is True, configured.message
    assert any("no-hostpath" in warning for warning in configured.warnings)


def test_the_webhook_refuses_to_start_with_an_unknown_rule() -> None:
    pack = pack_with({"no-hostpat": {"enabled": False}}, admission={"regoEngine": "embedded"})
    with pytest.raises(UsageError, match=r"rules.no-hostpat: unknown key .*'no-hostpath'"):
        Reviewer(pack, InventoryStore(), "x")
