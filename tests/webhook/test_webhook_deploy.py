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
from autobot_guard.rego.step import default_policy_dir
from autobot_guard.rules import ALL_RULES
from autobot_guard.webhook.inventory_watch import WATCHED
from autobot_guard.webhook.review import CONTROLLED_KINDS
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
    assert settings.maxBodyBytes == 7 * 1024 * 1024 and settings.maxContainers == 64
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
    # Only the OPA sidecar's upstream image, until policies/rego/images.rego approves it.
    assert report["exempted"] == []


def test_rbac_is_exactly_the_watch() -> None:
    role = objects()[("ClusterRole", "autobot-guard-inventory")]
    granted = set()
    for rule in role["rules"]:
        # The watch lists and watches (inventory_watch.py): it never gets one object.
        assert sorted(rule["verbs"]) == ["list", "watch"], rule
        granted |= {
            (group, resource) for group in rule["apiGroups"] for resource in rule["resources"]
        }
    assert granted == {(watched.group, watched.resource) for watched in WATCHED}
    assert not role.get("aggregationRule")
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
    # Priority classes are cluster-specific: none is invented, a comment says why.
    if "priorityClassName" not in pod:
        assert re.search(r"#.*priorityClassName", (WEBHOOK / "deployment.yaml").read_text())


def test_the_opa_sidecar() -> None:
    """OPA beside the webhook (admission.regoEngine opa): a native sidecar (started
    before the webhook, stopped after it), the version the tests run, its API on
    loopback only, hardened like the webhook, probed on its diagnostic port."""
    pod = objects()[("Deployment", "autobot-guard")]["spec"]["template"]["spec"]
    (opa,) = pod["initContainers"]
    assert opa["restartPolicy"] == "Always"
    pinned = re.search(
        r"github\.com/open-policy-agent/opa@v([\d.]+)",
        (ROOT / "scripts" / "install-tools").read_text(),
    )
    assert pinned and opa["image"] == f"openpolicyagent/opa:{pinned.group(1)}-static"
    args = opa["args"]
    assert args[:2] == ["run", "--server"] and "--addr=127.0.0.1:8181" in args
    assert not any(a.startswith(("--addr=0", "--addr=:")) for a in args)
    assert "--log-level-request=debug" in args  # no log line per query
    assert PolicyPack.default().admission.regoEngine == "opa"
    assert PolicyPack.default().admission.opaUrl == "http://127.0.0.1:8181"
    security = opa["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert opa["resources"]["requests"] and opa["resources"]["limits"]["memory"]
    (diagnostic,) = opa["ports"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert opa[probe]["httpGet"] == {"path": "/health", "port": diagnostic["name"]}
    assert f"--diagnostic-addr=0.0.0.0:{diagnostic['containerPort']}" in args
    # The NetworkPolicy still admits only the webhook's port from outside the Pod.
    policy = objects()[("NetworkPolicy", "autobot-guard")]["spec"]
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [8443]


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
    resources = {
        (g, r) for rule in webhook["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    for wanted in [("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
                   ("", "pods"), ("", "services"), ("batch", "cronjobs"),
                   ("networking.k8s.io", "networkpolicies"), ("policy", "poddisruptionbudgets"),
                   ("autoscaling", "horizontalpodautoscalers")]:  # fmt: skip
        assert wanted in resources
    # No subresources (scale, status), but the one that adds containers to a Pod.
    assert {r for _, r in resources if "/" in r} == {"pods/ephemeralcontainers"}
    assert all(set(rule["operations"]) == {"CREATE", "UPDATE"} for rule in webhook["rules"])
    text = (WEBHOOK / "webhook.yaml").read_text()
    assert re.search(r"#.*\n(\s*#.*\n)*\s*failurePolicy:", text), "the trade-off is explained"


# The webhook's rules name API resources; the rules and the Rego policies name kinds.
KIND_RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Service": ("", "v1", "services"),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets"),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies"),
    "Ingress": ("networking.k8s.io", "v1", "ingresses"),
}


def rego_sources() -> list[Path]:
    return [
        path
        for path in sorted(default_policy_dir().rglob("*.rego"))
        if not path.stem.endswith("_test")
    ]


def rego_kinds() -> set[str]:
    """The kinds the Rego policies (and their library) compare `kind` with, and the
    workload kinds of the library's templated_kinds."""
    kinds: set[str] = set()
    for path in rego_sources():
        text = path.read_text()
        kinds |= set(re.findall(r"\bkind\s*==\s*\"(\w+)\"", text))
        for listed in re.findall(r"^templated_kinds\s*:=\s*\{([^}]*)\}", text, re.M):
            kinds |= set(re.findall(r"\"(\w+)\"", listed))
    return kinds


def webhook_rules() -> set[tuple[str, str, str]]:
    (webhook,) = objects()[("ValidatingWebhookConfiguration", "autobot-guard")]["webhooks"]
    return {
        (group, version, resource)
        for rule in webhook["rules"]
        if set(rule["operations"]) >= {"CREATE", "UPDATE"}
        for group in rule["apiGroups"]
        for version in rule["apiVersions"]
        for resource in rule["resources"]
    }


def test_the_webhook_rules_cover_every_kind_the_pack_judges() -> None:
    """Every kind a built-in rule or a Rego policy judges reaches the webhook, so the
    policy at the door cannot drift from the pack again."""
    builtin = set().union(*(rule.kinds for rule in ALL_RULES if rule.kinds is not None))
    rego = rego_kinds()
    # The derivation itself works: the policies' known kinds are found.
    assert {"Ingress", "Service", "Pod", "CronJob", "Deployment"} <= rego, rego
    assert {"Service", "NetworkPolicy", "HorizontalPodAutoscaler"} <= builtin, builtin
    judged = builtin | rego
    unknown = judged - set(KIND_RESOURCES)
    assert not unknown, f"add {unknown} to webhook.yaml's rules and to KIND_RESOURCES"
    covered = webhook_rules()
    missing = {kind for kind in judged if KIND_RESOURCES[kind] not in covered}
    assert not missing, f"webhook.yaml's rules miss {sorted(missing)}"


def test_the_webhook_rules_cover_ephemeral_containers() -> None:
    """`kubectl debug` adds containers through pods/ephemeralcontainers: where a policy
    judges ephemeral containers (approved-registry does), the subresource is sent."""
    if any("ephemeralContainers" in path.read_text() for path in rego_sources()):
        assert ("", "v1", "pods/ephemeralcontainers") in webhook_rules()


def match_condition() -> str:
    (webhook,) = objects()[("ValidatingWebhookConfiguration", "autobot-guard")]["webhooks"]
    (condition,) = webhook["matchConditions"]
    return " ".join(condition["expression"].split())


def conjuncts(expression: str) -> list[str]:
    """The operands of the top-level `&&`s of `expression`."""
    parts, depth, start, quoted = [], 0, 0, False
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and expression.startswith("&&", index):
            parts.append(expression[start:index].strip())
            start = index + 2
    return [*parts, expression[start:].strip()]


def test_the_match_condition_skips_only_what_the_controller_manager_creates() -> None:
    """A Pod, ReplicaSet or Job is skipped (the expression is false) only when it has a
    controller ownerReference AND the kube-controller-manager sends it: an
    ownerReference anyone may write must not be enough (review.py controlled() asks the
    same). Every other request, and one whose fields are missing, is sent."""
    expression = match_condition()
    assert expression.startswith("!(") and expression.endswith(")")
    inner = expression[2:-1]
    assert conjuncts(f"({inner})") == [f"({inner})"], "the !( ... ) spans the whole expression"
    parts = conjuncts(inner)  # skipped only when every one of them holds
    kinds = next((p for p in parts if p.startswith("request.kind.kind in")), "")
    assert set(re.findall(r"'(\w+)'", kinds)) == CONTROLLED_KINDS
    identity = next((p for p in parts if "request.userInfo.username ==" in p), "")
    assert identity.startswith("(") and identity.endswith(")"), parts
    assert "request.userInfo.username == 'system:kube-controller-manager'" in identity
    assert "request.userInfo.username.startsWith('system:serviceaccount:kube-system:')" in identity
    assert len(conjuncts(identity[1:-1])) == 1  # one ||: either identity
    owner = next((p for p in parts if "ownerReferences.exists(" in p), "")
    assert re.fullmatch(
        r"object\.metadata\.ownerReferences\.exists\((\w+), has\(\1\.controller\) && "
        r"\1\.controller == true\)",
        owner,
    ), owner
    # Fails safe: what is read is tested first, so a request without it is sent.
    assert "has(request.userInfo.username)" in parts
    assert parts.index("has(request.userInfo.username)") < parts.index(identity)
    assert "has(object.metadata.ownerReferences)" in parts
    assert parts.index("has(object.metadata.ownerReferences)") < parts.index(owner)
    # kubectl debug (a subresource) is always sent.
    assert "(!has(request.subResource) || request.subResource == '')" in parts
    text = (WEBHOOK / "webhook.yaml").read_text()
    head = text[: text.index("matchConditions:")]
    assert "ownerReference" in head[-2500:] and "trade-off" in head[-2500:]


def test_the_namespace_selector() -> None:
    """kube-system, cert-manager (which the webhook's certificate depends on) and the
    webhook's own namespace are never sent, nor a namespace labelled
    autobot-guard.io/ignore: "true" (the emergency opt-out docs/webhook.md documents)."""
    (webhook,) = objects()[("ValidatingWebhookConfiguration", "autobot-guard")]["webhooks"]
    selector = webhook["namespaceSelector"]
    assert set(selector) == {"matchExpressions"}
    expressions = {e["key"]: e for e in selector["matchExpressions"]}
    assert set(expressions) == {"kubernetes.io/metadata.name", "autobot-guard.io/ignore"}
    names = expressions["kubernetes.io/metadata.name"]
    assert names["operator"] == "NotIn"
    namespace = objects()[("Namespace", "autobot-guard")]["metadata"]["name"]
    assert set(names["values"]) == {"kube-system", namespace, "cert-manager"}
    ignore = expressions["autobot-guard.io/ignore"]
    # A namespace without the label must still be sent: NotIn matches a missing label.
    assert (ignore["operator"], ignore.get("values")) in (
        ("NotIn", ["true"]),
        ("DoesNotExist", None),
    )
    text = (WEBHOOK / "webhook.yaml").read_text()
    assert re.search(r"#.*cert-manager.*\n(\s*#.*\n)*\s*namespaceSelector:", text)
    operations = (ROOT / "docs" / "webhook.md").read_text()
    section = operations[operations.index("## Deployment") :]
    assert 'autobot-guard.io/ignore: "true"' in section


def test_the_network_policy_reaches_the_api_server_by_port() -> None:
    """Port-only rules: CIDR rules (ipBlock) miss the API server and node traffic on
    some CNIs (Cilium), so the API server could not call the webhook nor the watch reach
    the API server."""
    policy = objects()[("NetworkPolicy", "autobot-guard")]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (container,) = objects()[("Deployment", "autobot-guard")]["spec"]["template"]["spec"][
        "containers"
    ]
    (https,) = [p for p in container["ports"] if p["name"] == "https"]
    (ingress,) = policy["ingress"]
    assert set(ingress) == {"ports"}, "no `from`: every source, the API server included"
    assert ingress["ports"] == [{"protocol": "TCP", "port": https["containerPort"]}]
    (egress,) = policy["egress"]
    assert set(egress) == {"ports"}, "no `to`: the API server wherever it is"
    assert {(p["protocol"], p["port"]) for p in egress["ports"]} == {("TCP", 443), ("TCP", 6443)}
    text = (WEBHOOK / "deployment.yaml").read_text()
    assert "ipBlock:" not in text.split("kind: NetworkPolicy", 1)[1]
    assert re.search(r"#.*mTLS", text), "the comment says what the real control is"
    # DNS stays allowed, by the namespace's own policy.
    dns = objects()[("NetworkPolicy", "allow-dns-egress")]["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
    assert {"protocol": "UDP", "port": 53} in dns["egress"][0]["ports"]


def test_the_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert "digest" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "[webhook]" in text and ".whl" in text
    assert re.search(r'^ENTRYPOINT \["autobot-guard"\]', text, re.M)


def test_the_image_pins_every_runtime_dependency_within_pyproject_ranges() -> None:
    import re
    import tomllib

    from packaging.requirements import Requirement

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--constraint /wheels/constraints.txt" in dockerfile
    pins: dict[str, str] = {}
    for line in (ROOT / "docker" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert re.fullmatch(r"[a-z0-9-]+", name) and version, line
            pins[name] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"], *project["optional-dependencies"]["webhook"]]
    for text in direct:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not pinned for the image"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
