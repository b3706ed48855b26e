"""The webhook's policy-pack section, command line, deployment manifests and image."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobot_guard.config import ConfigError, PolicyPack, load_policy_pack
from autobot_guard.paths import bundled_policy_pack
from autobot_guard.rules import ALL_RULES
from autobot_guard.webhook.inventory_watch import WATCHED
from tests.webhook.helpers import MANIFESTS, ROOT

WEBHOOK = MANIFESTS / "webhook"


def objects() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in sorted(WEBHOOK.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                out[(document["kind"], document["metadata"]["name"])] = document
    return out


# -- policy pack ---------------------------------------------------------------------


def test_admission_defaults() -> None:
    settings = PolicyPack.default().admission
    assert settings.mode == "enforce" and settings.enforceSeverity == "error"
    assert settings.crossResourceRules == "warn"
    assert settings.skipNamespaces == ["kube-system"]
    assert settings.judgeControlledPods is False
    assert settings.maxBodyBytes == 3 * 1024 * 1024
    known = {rule.id for rule in ALL_RULES}
    assert set(settings.crossResourceRuleIds) <= known


def test_the_commented_example_in_the_bundled_pack_is_valid_and_the_defaults() -> None:
    text = bundled_policy_pack().read_text()
    block = text[text.index("# admission:") :]
    uncommented = "\n".join(line[2:] for line in block.splitlines() if line.startswith("# "))
    example = yaml.safe_load(uncommented)["admission"]
    pack = PolicyPack.from_dict(
        {"apiVersion": "autobot-guard.io/v1", "kind": "PolicyPack", "admission": example}
    )
    assert pack.admission == PolicyPack.default().admission


@pytest.mark.parametrize(
    ("snippet", "fragment"),
    [
        ("admission: {mode: block}", "admission.mode"),
        ("admission: {crossResourceRuleIds: [network-polcy]}", "unknown rule id(s): network-polcy"),
        ("admission: {maxBodyBytes: 10}", "admission.maxBodyBytes"),
        ("admission: {failOpen: true}", "admission.failOpen: unknown key"),
    ],
)
def test_bad_admission_settings_are_one_line_errors(
    tmp_path: Path, snippet: str, fragment: str
) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(f"apiVersion: autobot-guard.io/v1\nkind: PolicyPack\n{snippet}\n")
    with pytest.raises(ConfigError) as caught:
        load_policy_pack(str(path))
    message = str(caught.value)
    assert fragment in message and "\n" not in message and f"{path}:3" in message


def test_config_schema_documents_the_admission_section() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "config-schema"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    schema = json.loads(result.stdout)
    assert "admission" in schema["properties"]
    admission = schema["$defs"]["AdmissionSettings"]
    assert admission["properties"]["mode"]["enum"] == ["enforce", "warn", "audit"]
    for key in ("enforceSeverity", "crossResourceRules", "skipNamespaces",
                "judgeControlledPods", "maxBodyBytes"):  # fmt: skip
        assert admission["properties"][key].get("description"), key


def test_serve_without_a_certificate_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "serve", "--tls-cert", str(tmp_path / "no.crt"),
         "--tls-key", str(tmp_path / "no.key"), "--no-watch-cluster"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("autobot-guard: error: cannot load the TLS certificate")
    assert len(result.stderr.strip().splitlines()) == 1


# -- manifests -----------------------------------------------------------------------


def test_the_manifests_are_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    listed = {entry for entry in kustomization["resources"] if entry.startswith("webhook/")}
    assert listed == {f"webhook/{path.name}" for path in WEBHOOK.glob("*.yaml")}


def test_the_manifests_pass_check_with_no_error_and_no_warning() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", str(WEBHOOK), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["errors"] == 0 and report["summary"]["warnings"] == 0, report
    assert report["exempted"] == []


def test_rbac_is_exactly_the_watch() -> None:
    role = objects()[("ClusterRole", "autobot-guard-inventory")]
    granted = set()
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list", "watch"], rule
        granted |= {
            (group, resource) for group in rule["apiGroups"] for resource in rule["resources"]
        }
    assert granted == {(watched.group, watched.resource) for watched in WATCHED}
    binding = objects()[("ClusterRoleBinding", "autobot-guard-inventory")]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "autobot-guard", "namespace": "autobot-guard"}
    ]


def test_the_deployment() -> None:
    deployment = objects()[("Deployment", "autobot-guard")]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "https",
        "scheme": "HTTPS",
    }
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "https",
        "scheme": "HTTPS",
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["args"][0] == "serve" and "--watch-cluster" in container["args"]
    assert objects()[("PodDisruptionBudget", "autobot-guard")]["spec"]["maxUnavailable"] == 1
    # The Certificate provides the Secret the Deployment mounts.
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {objects()[("Certificate", "autobot-guard-serving")]["spec"]["secretName"]}


def test_the_webhook_configuration() -> None:
    config = objects()[("ValidatingWebhookConfiguration", "autobot-guard")]
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        "autobot-guard/autobot-guard-serving"
    )
    (webhook,) = config["webhooks"]
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["sideEffects"] == "None"
    assert 1 <= webhook["timeoutSeconds"] <= 30
    assert webhook["failurePolicy"] in ("Fail", "Ignore")
    assert webhook["clientConfig"]["service"]["path"] == "/validate"
    (expression,) = webhook["namespaceSelector"]["matchExpressions"]
    assert expression["operator"] == "NotIn"
    assert set(expression["values"]) == {"kube-system", "autobot-guard"}
    resources = {
        (g, r) for rule in webhook["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    for wanted in [("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
                   ("", "pods"), ("", "services"), ("batch", "cronjobs"),
                   ("networking.k8s.io", "networkpolicies"), ("policy", "poddisruptionbudgets"),
                   ("autoscaling", "horizontalpodautoscalers")]:  # fmt: skip
        assert wanted in resources
    assert all("/" not in resource for _, resource in resources)  # no subresources
    assert all(set(rule["operations"]) == {"CREATE", "UPDATE"} for rule in webhook["rules"])
    text = (WEBHOOK / "webhook.yaml").read_text()
    assert re.search(r"#.*\n(\s*#.*\n)*\s*failurePolicy:", text), "the trade-off is explained"


def test_the_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert "digest" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "[webhook]" in text and ".whl" in text
    assert re.search(r'^ENTRYPOINT \["autobot-guard"\]', text, re.M)


def test_the_readme_documents_the_webhook_before_performance() -> None:
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert "Admission webhook" in headings
    if "Performance" in headings:
        assert headings.index("Admission webhook") == headings.index("Performance") - 1
