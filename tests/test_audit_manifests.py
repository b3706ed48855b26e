"""manifests/audit/: the PolicyReport CRDs and the hourly audit CronJob, its identity
exactly what `autobot-guard audit` lists and writes, passing our own pack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from autobot_guard.audit.listing import LISTED, resource_name
from autobot_guard.audit.scope import IGNORE_LABEL
from autobot_guard.config import PolicyPack
from autobot_guard.resources import WORKLOADS

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "manifests" / "audit"


def objects() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in AUDIT.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                out[(document["kind"], document["metadata"]["name"])] = document
    return out


def test_the_audit_manifests_are_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())
    listed = {entry for entry in kustomization["resources"] if entry.startswith("audit/")}
    assert listed == {f"audit/{path.name}" for path in AUDIT.glob("*.yaml")}


def test_the_audit_manifests_pass_check_without_findings() -> None:
    # With the namespace they run in (its default deny and DNS egress).
    namespace = ROOT / "manifests" / "webhook" / "namespace.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", str(AUDIT), str(namespace),
         "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == [] and report["exempted"] == [], report


def test_the_cluster_role_lists_exactly_what_the_audit_lists() -> None:
    role = objects()[("ClusterRole", "autobot-guard-audit")]
    granted: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                name = f"{resource}.{group}" if group else resource
                granted.setdefault(name, set()).update(rule["verbs"])
    reports = {"policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"}
    lists = {name for name in granted if name not in reports}
    assert lists == {resource_name(w) for w in LISTED}
    assert all(granted[name] == {"list"} for name in lists), granted
    # Its own reports: listed by label, created, replaced (update) and the stale deleted.
    assert all(granted[name] == {"list", "create", "update", "delete"} for name in reports)


def test_the_audit_lists_every_kind_the_pack_and_the_webhook_judge() -> None:
    kinds = {w.kind for w in LISTED}
    for rule in PolicyPack.default().enabled_rules():
        assert rule.kinds is None or rule.kinds <= kinds, rule.id
    assert set(WORKLOADS) <= kinds
    # The kinds the webhook is sent at admission (its ValidatingWebhookConfiguration).
    hook = yaml.safe_load_all((ROOT / "manifests" / "webhook" / "webhook.yaml").read_text())
    (configuration,) = [d for d in hook if d and d["kind"] == "ValidatingWebhookConfiguration"]
    plurals = {w.resource for w in LISTED}
    for rule in configuration["webhooks"][0]["rules"]:
        assert {r for r in rule["resources"] if "/" not in r} <= plurals


def test_the_opt_out_label_is_the_webhooks() -> None:
    hook = yaml.safe_load_all((ROOT / "manifests" / "webhook" / "webhook.yaml").read_text())
    (configuration,) = [d for d in hook if d and d["kind"] == "ValidatingWebhookConfiguration"]
    expressions = configuration["webhooks"][0]["namespaceSelector"]["matchExpressions"]
    assert {"key": IGNORE_LABEL, "operator": "NotIn", "values": ["true"]} in expressions


def test_the_cronjob_runs_hourly_as_its_service_account_writing_reports() -> None:
    found = objects()
    job = found[("CronJob", "autobot-guard-audit")]
    assert job["spec"]["schedule"].split()[1:] == ["*", "*", "*", "*"]  # once an hour
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "autobot-guard-audit"
    (container,) = pod["containers"]
    assert container["args"][:2] == ["audit", "--policy-reports"]
    binding = found[("ClusterRoleBinding", "autobot-guard-audit")]
    assert binding["roleRef"]["name"] == "autobot-guard-audit"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "autobot-guard-audit", "namespace": "autobot-guard"}
    ]


def test_the_crds_are_the_published_policy_report_definitions() -> None:
    found = objects()
    for kind, plural in (("PolicyReport", "policyreports"),
                         ("ClusterPolicyReport", "clusterpolicyreports")):  # fmt: skip
        crd = found[("CustomResourceDefinition", f"{plural}.wgpolicyk8s.io")]
        assert crd["spec"]["names"]["kind"] == kind
        versions = {v["name"]: v for v in crd["spec"]["versions"]}
        assert versions["v1alpha2"]["served"] is True
        schema = versions["v1alpha2"]["schema"]["openAPIV3Schema"]["properties"]
        result = schema["results"]["items"]["properties"]
        assert result["result"]["enum"] == ["pass", "fail", "warn", "error", "skip"]
        assert set(result["severity"]["enum"]) == {"critical", "high", "medium", "low", "info"}


def test_the_documentation_lists_what_the_audit_lists() -> None:
    from autobot_guard.audit.listing import listed_table

    assert listed_table() in (ROOT / "docs" / "audit.md").read_text()
