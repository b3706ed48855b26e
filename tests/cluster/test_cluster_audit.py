"""`autobot-guard audit` against a real API server: objects created with kubectl, the
report compared with `check` on the same manifests, the PolicyReports read back with
kubectl, the CronJob's identity (manifests/audit/) and a restricted one, and the
failures: server unreachable, credentials expired or not valid, a list cut mid-way."""

from __future__ import annotations

import datetime
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobot_guard.audit.listing import LISTED, resource_name
from tests.cluster.helpers import MANIFESTS, ROOT, Cluster, deployment, wait_for

SHOP, LEGACY, GONE = "audit-shop", "audit-legacy", "audit-gone"


def manifests() -> list[dict[str, Any]]:
    """What a team applied to audit-shop: compliant and non-compliant objects, one
    exempted, cross-resource problems, and what the Rego policies judge."""
    good = deployment("good", SHOP)
    good["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "settings"}}]  # fmt: skip
    bad = deployment("bad", SHOP, image="nginx:latest", replicas=1, compliant=False)
    bad["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "missing"}}]  # fmt: skip
    exempt = deployment("legacy-tag", SHOP, image="ghcr.io/mrveiss/autobot-web:latest")
    exempt["metadata"]["annotations"] = {
        "autobot-guard.io/exempt": "image-tag",
        "autobot-guard.io/exempt-reason": "pinned by the vendor's digest mirror",
    }
    scaled = deployment("scaled", SHOP)  # replicas left to its HPA: the server defaults 1
    del scaled["spec"]["replicas"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "debug", "namespace": SHOP, "labels": {"app": "debug"}},
           "spec": {"containers": [{"name": "sh", "image": "busybox"}]}}  # fmt: skip
    return [
        good, bad, exempt, scaled, pod,
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings", "namespace": SHOP}, "data": {"level": "info"}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "good", "namespace": SHOP},
         "spec": {"selector": {"app": "good"}, "ports": [{"port": 80, "targetPort": "http"}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "orphan", "namespace": SHOP},
         "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "public", "namespace": SHOP},
         "spec": {"type": "LoadBalancer", "selector": {"app": "good"},
                  "ports": [{"port": 443, "targetPort": 8080}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "good", "namespace": SHOP},
         "spec": {"podSelector": {"matchLabels": {"app": "good"}}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "good", "namespace": SHOP},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "good"}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
         "metadata": {"name": "scaled", "namespace": SHOP},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "scaled"},
                  "minReplicas": 1, "maxReplicas": 4,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization",
                                                "averageUtilization": 70}}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "web", "namespace": SHOP},
         "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{
             "path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "good", "port": {"number": 80}}}}]}}]}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def applied(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifests written to a directory and applied with kubectl; the directory."""
    directory = tmp_path_factory.mktemp("audit-manifests")
    path = directory / "shop.yaml"
    path.write_text(yaml.safe_dump_all(manifests()))
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SHOP}},
                  {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": LEGACY, "labels": {"autobot-guard.io/ignore": "true"}}},
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GONE}}]  # fmt: skip
    assert cluster.apply(*namespaces).returncode == 0
    # A Pod needs its namespace's default ServiceAccount, which a controller creates.
    wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", SHOP).returncode
             == 0, what="the default ServiceAccount")  # fmt: skip
    result = cluster.kubectl("apply", "-f", str(path))
    assert result.returncode == 0, result.stderr
    # A namespace opted out: its objects are not judged (and not in `check`'s files).
    assert cluster.apply(deployment("old", LEGACY, image="nginx:latest", compliant=False),
                         deployment("old", GONE, image="nginx:latest")).returncode == 0  # fmt: skip
    wait_for(lambda: "bad-" in cluster.ok("get", "replicasets", "-n", SHOP, "-o", "name"),
             what="the controller manager to create ReplicaSets")  # fmt: skip
    wait_for(lambda: cluster.ok("get", "pods", "-n", SHOP, "-l", "app=bad", "-o", "name"),
             what="the ReplicaSet controller to create Pods")  # fmt: skip
    return directory


def audit(
    cluster: Cluster, *args: str, kubeconfig: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "audit",
         "--kubeconfig", str(kubeconfig or cluster.kubeconfig), "--rego", "embedded", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip


def check(*paths: Path, fmt: str = "json") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *map(str, paths), "--rego", "embedded",
         "--format", fmt],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


Key = tuple[str, str, str, str, str, str]


def keys(findings: list[dict[str, Any]]) -> set[Key]:
    """What a finding says, without where in a file it is."""
    return {(f["rule"], f["severity"], f["resource"]["kind"], f["resource"]["name"],
             f["path"], f["message"]) for f in findings}  # fmt: skip


def test_audit_finds_what_check_finds_on_the_same_manifests(
    cluster: Cluster, applied: Path
) -> None:
    on_files = check(applied)
    live = audit(cluster, "-n", SHOP, "-n", LEGACY, "--format", "json")
    assert on_files.returncode == live.returncode == 1, live.stderr
    assert live.stderr == ""
    files, cluster_report = json.loads(on_files.stdout), json.loads(live.stdout)
    assert keys(cluster_report["findings"]) == keys(files["findings"])
    assert keys(cluster_report["exempted"]) == keys(files["exempted"])
    rules = {f["rule"] for f in cluster_report["findings"]}
    # built-in, cross-resource and Rego rules alike
    assert {"image-tag", "config-ref", "service-target", "hpa-replicas", "ingress-tls",
            "internal-load-balancer", "ownership-labels"} <= rules, rules  # fmt: skip
    # The HPA's Deployment: replicas defaulted by the server are not the author's.
    assert not [f for f in cluster_report["findings"]
                if f["rule"] == "min-replicas" and f["resource"]["name"] == "scaled"]  # fmt: skip
    # Findings name the object and field path; no file, no line.
    assert {f["file"] for f in cluster_report["findings"]} >= {"cluster:Deployment/audit-shop/bad"}
    assert {f["line"] for f in cluster_report["findings"]} == {0}
    # Left alone as the webhook leaves it, and counted.
    left = cluster_report["audit"]["notJudged"]
    assert left["ignoredNamespaces"] == [LEGACY]
    assert left["namespaces"][LEGACY] >= 1  # the Deployment (and what it created)
    assert left["controlled"].get("ReplicaSet", 0) >= 4 and left["controlled"].get("Pod", 0) >= 1
    names = {f["resource"]["name"] for f in cluster_report["findings"]}
    assert "old" not in names and "debug" in names  # the bare Pod is judged


@pytest.mark.parametrize("fmt", ["text", "sarif", "junit", "github", "markdown", "html"])
def test_every_format_and_fail_on(cluster: Cluster, applied: Path, fmt: str) -> None:
    result = audit(cluster, "-n", SHOP, "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert "Deployment/audit-shop/bad" in result.stdout
    if fmt == "sarif":
        results = json.loads(result.stdout)["runs"][0]["results"]
        assert {r["ruleId"] for r in results} >= {"image-tag", "ingress-tls"}
    if fmt == "text":
        assert (
            "audited " in result.stdout and "not judged, created by a controller" in result.stdout
        )
    never = audit(cluster, "-n", SHOP, "--format", fmt, "--fail-on", "never")
    assert never.returncode == 0 and never.stdout.count("bad") == result.stdout.count("bad")


CRDS = MANIFESTS / "audit" / "policy-report-crds.yaml"
NAMES = ("policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io")


def test_without_the_crds_policy_reports_is_one_line_naming_them(
    cluster: Cluster, applied: Path
) -> None:
    if cluster.kubectl("get", "crd", NAMES[0]).returncode == 0:
        pytest.skip("another test installed the PolicyReport CRDs already")
    result = audit(cluster, "-n", SHOP, "--policy-reports", "--format", "json")
    assert result.returncode == 2
    assert result.stderr == (
        "autobot-guard: input error: cluster:policyreports.wgpolicyk8s.io: cannot list the "
        "PolicyReports it owns: the API server does not serve wgpolicyk8s.io/v1alpha2 (404): "
        "install the PolicyReport CRDs first (kubectl apply -f "
        "manifests/audit/policy-report-crds.yaml)\n"
    )
    assert json.loads(result.stdout)["findings"]  # the audit itself is still reported


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    """The CRDs as shipped, applied with kubectl, served."""
    cluster.ok("apply", "-f", str(CRDS))
    for name in NAMES:
        cluster.ok("wait", "--for", "condition=established", f"crd/{name}", "--timeout=60s")


def reports(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    text = cluster.ok("get", "policyreports", "-n", namespace, "-o", "json")
    return json.loads(text)["items"]  # type: ignore[no-any-return]


@pytest.mark.usefixtures("crds")
def test_policy_reports_read_back_with_kubectl(cluster: Cluster, applied: Path) -> None:
    first = audit(cluster, "-n", SHOP, "-n", GONE, "--format", "json", "--policy-reports")
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    (written,) = reports(cluster, SHOP)
    assert written["metadata"]["name"] == "autobot-guard"
    assert written["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "autobot-guard"
    results = written["results"]
    failing = {(r["rule"], r["resources"][0]["name"], r["resources"][0].get("fieldPath", ""),
                r["message"]) for r in results if r["result"] in ("fail", "warn")}  # fmt: skip
    found = {(f["rule"], f["resource"]["name"], f["path"], f["message"])
             for f in report["findings"] if f["resource"]["namespace"] == SHOP}  # fmt: skip
    assert failing == found
    skipped = {(r["rule"], r["resources"][0]["name"]) for r in results if r["result"] == "skip"}
    assert skipped == {("image-tag", "legacy-tag")}
    severities = {r["severity"] for r in results if r["result"] == "fail"}
    assert severities == {"high"}
    uids = json.loads(cluster.ok("get", "deployment", "bad", "-n", SHOP, "-o", "json"))
    bad = [r for r in results if r["resources"][0]["name"] == "bad"]
    assert {r["resources"][0]["uid"] for r in bad} == {uids["metadata"]["uid"]}
    assert any(r["result"] == "pass" for r in results if r["resources"][0]["name"] == "good")
    summary = written["summary"]
    assert summary["fail"] == sum(1 for r in results if r["result"] == "fail")
    assert summary["fail"] == sum(1 for f in report["findings"] if f["severity"] == "error"
                                  and f["resource"]["namespace"] == SHOP)  # fmt: skip
    assert summary["pass"] > 0 and summary["skip"] == 1
    assert [r["metadata"]["name"] for r in reports(cluster, GONE)] == ["autobot-guard"]
    # The next run replaces what it owns: the deleted Deployment is gone from the report,
    # and a namespace now opted out loses its report.
    cluster.ok("delete", "deployment", "bad", "-n", SHOP, "--wait")
    cluster.ok("label", "namespace", GONE, "autobot-guard.io/ignore=true")
    try:
        again = audit(cluster, "-n", SHOP, "-n", GONE, "--format", "json", "--policy-reports")
    finally:
        cluster.ok("apply", "-f", str(applied / "shop.yaml"))
    assert again.returncode == 1, again.stderr
    (replaced,) = reports(cluster, SHOP)
    assert replaced["metadata"]["uid"] == written["metadata"]["uid"]
    assert not [r for r in replaced["results"] if r["resources"][0]["name"] == "bad"]
    assert reports(cluster, GONE) == []
    assert json.loads(again.stdout)["audit"]["policyReports"]["deleted"] == [
        f"PolicyReport {GONE}/autobot-guard"]  # fmt: skip
    cluster.ok("label", "namespace", GONE, "autobot-guard.io/ignore-")


@pytest.mark.usefixtures("crds")
def test_the_cluster_report_holds_the_cluster_scoped_objects(
    cluster: Cluster, applied: Path
) -> None:
    result = audit(cluster, "--format", "json", "--policy-reports", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    written = json.loads(cluster.ok("get", "clusterpolicyreport", "autobot-guard", "-o", "json"))
    names = {r["resources"][0]["name"] for r in written["results"]}
    assert {SHOP, GONE, "default"} <= names
    assert {r["resources"][0]["kind"] for r in written["results"]} == {"Namespace"}


# -- identities: the CronJob's, and one with too few rights ----------------------------


def token_kubeconfig(cluster: Cluster, directory: Path, token: str) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": cluster.server, "certificate-authority": str(cluster.ca)}}],
        "users": [{"name": "someone", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "someone"}}],
        "current-context": "test",
    }  # fmt: skip
    path = directory / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def service_account(cluster: Cluster, tmp: Path, name: str) -> Path:
    token = cluster.ok("create", "token", name, "-n", "autobot-guard", "--duration=1h").strip()
    return token_kubeconfig(cluster, tmp, token)


@pytest.mark.usefixtures("crds")
def test_the_cronjobs_service_account_may_do_exactly_the_audit(
    cluster: Cluster, applied: Path, tmp_path: Path
) -> None:
    cluster.ok("apply", "-f", str(MANIFESTS / "webhook" / "namespace.yaml"))
    cluster.ok("apply", "-f", str(MANIFESTS / "audit"))
    kubeconfig = service_account(cluster, tmp_path, "autobot-guard-audit")
    result = audit(cluster, "--policy-reports", "--format", "json", "--fail-on", "never",
                   kubeconfig=kubeconfig)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listed = json.loads(result.stdout)["audit"]["listed"]
    assert set(listed) == {resource_name(w) for w in LISTED}
    assert reports(cluster, SHOP)
    # And nothing more: no get, no watch, no writes outside its reports.
    user = "system:serviceaccount:autobot-guard:autobot-guard-audit"
    for verb, what in (("get", "secrets"), ("watch", "pods"), ("create", "deployments"),
                       ("list", "serviceaccounts")):  # fmt: skip
        answer = cluster.kubectl("auth", "can-i", verb, what, "--as", user, "-A")
        assert answer.stdout.strip() == "no", (verb, what)


def test_forbidden_lists_are_named_and_the_rest_is_reported(
    cluster: Cluster, applied: Path, tmp_path: Path
) -> None:
    # The webhook's identity lists what its inventory needs, not pods, namespaces, ...
    cluster.ok("apply", "-f", str(MANIFESTS / "webhook" / "namespace.yaml"))
    cluster.ok("apply", "-f", str(MANIFESTS / "webhook" / "rbac.yaml"))
    kubeconfig = service_account(cluster, tmp_path, "autobot-guard")
    result = audit(cluster, "-n", SHOP, "--format", "json", kubeconfig=kubeconfig)
    assert result.returncode == 2
    forbidden = {"namespaces", "pods", "replicationcontrollers", "persistentvolumeclaims",
                 "replicasets.apps", "jobs.batch", "ingresses.networking.k8s.io"}  # fmt: skip
    lines = result.stderr.splitlines()
    assert len(lines) == len(forbidden), result.stderr
    for line in lines:
        assert line.startswith("autobot-guard: input error: cluster:"), line
        assert "forbidden" in line and "system:serviceaccount:autobot-guard:autobot-guard" in line
    assert {line.split("cluster:")[1].split(":")[0] for line in lines} == forbidden
    report = json.loads(result.stdout)
    assert set(report["audit"]["notListed"]) == forbidden
    assert "config-ref" in report["audit"]["crossResourceRulesSkipped"]
    rules = {f["rule"] for f in report["findings"]}
    assert "image-tag" in rules and "config-ref" not in rules and "ingress-tls" not in rules
    assert {e["file"] for e in report["inputErrors"]} == {f"cluster:{r}" for r in forbidden}
    text = audit(cluster, "-n", SHOP, kubeconfig=kubeconfig)
    assert text.returncode == 2
    assert "not listed (their objects are not judged): " in text.stdout


# -- the server unreachable, credentials refused, a list cut ---------------------------


def test_an_unreachable_server_is_one_line(cluster: Cluster, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = json.loads(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    result = audit(cluster, kubeconfig=path, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"autobot-guard: error: cannot reach the API server https://127.0.0.1:{port}: "
        "connection refused\n"
    )


def test_credentials_not_valid_are_one_line(cluster: Cluster, tmp_path: Path) -> None:
    path = token_kubeconfig(cluster, tmp_path, "not-a-token")
    result = audit(cluster, kubeconfig=path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        f"autobot-guard: error: the API server {cluster.server} rejected the credentials "
        "(401 Unauthorized)"
    )
    assert len(result.stderr.splitlines()) == 1


def test_an_expired_client_certificate_is_one_line(cluster: Cluster, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pki = cluster.run / "pki"
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])  # fmt: skip
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now - datetime.timedelta(days=1))  # expired yesterday
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )  # fmt: skip
    (tmp_path / "expired.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "expired.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    config = json.loads(cluster.kubeconfig.read_text())
    config["users"][0]["user"] = {"client-certificate": str(tmp_path / "expired.crt"),
                                  "client-key": str(tmp_path / "expired.key")}  # fmt: skip
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    result = audit(cluster, kubeconfig=path)
    assert result.returncode == 2 and result.stdout == ""
    assert "rejected the credentials (401 Unauthorized)" in result.stderr
    assert len(result.stderr.splitlines()) == 1


class Proxy:
    """Plain HTTP in front of the real API server (as the admin), which breaks the
    responses a test names: the one fault the real server does not produce on demand."""

    def __init__(self, cluster: Cluster) -> None:
        pki = cluster.run / "pki"
        self.context = ssl.create_default_context(cafile=str(cluster.ca))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.upstream = cluster.server.removeprefix("https://")
        self.cut: str | None = None  # a path prefix whose continued pages are cut
        self.expire: str | None = None  # ... whose continued pages answer 410
        self.hang: str | None = None  # a path prefix whose requests are never answered
        self.released = threading.Event()  # set at exit: hanging requests end
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if proxy.hang and self.path.startswith(proxy.hang):
                    proxy.released.wait(30)
                    self.close_connection = True
                    return
                continued = "continue=" in self.path
                if continued and proxy.expire and self.path.startswith(proxy.expire):
                    body = json.dumps({"kind": "Status", "apiVersion": "v1", "code": 410,
                                       "status": "Failure", "reason": "Expired",
                                       "message": "The provided continue parameter is too old"
                                       }).encode()  # fmt: skip
                    self.send_response(410)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                connection = http.client.HTTPSConnection(proxy.upstream, context=proxy.context)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request("GET", self.path, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                connection.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if continued and proxy.cut and self.path.startswith(proxy.cut):
                    self.wfile.write(body[: len(body) // 2])  # then the connection drops
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Proxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Proxy, Path]]:
    with Proxy(cluster) as running:
        config = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": running.url}}],
            "users": [{"name": "anyone", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "anyone"}}],
            "current-context": "proxy",
        }  # fmt: skip
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps(config))
        yield running, path


def test_a_list_cut_mid_way_is_named_and_the_rest_reported(
    cluster: Cluster, applied: Path, proxy: tuple[Proxy, Path]
) -> None:
    running, kubeconfig = proxy
    running.cut = f"/api/v1/namespaces/{SHOP}/services"
    result = audit(cluster, "-n", SHOP, "--format", "json", "--page-size", "1",
                   kubeconfig=kubeconfig)  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "autobot-guard: input error: cluster:services: cannot list in namespace audit-shop: "
        "the list was cut after 1 objects in 1 page: "
    ), line
    report = json.loads(result.stdout)
    assert report["audit"]["notListed"] == ["services"]
    assert report["audit"]["crossResourceRulesSkipped"]
    rules = {f["rule"] for f in report["findings"]}
    assert "image-tag" in rules and "ingress-tls" in rules  # what could be listed: judged
    assert "service-target" not in rules and "internal-load-balancer" not in rules


def test_an_expired_continue_token_lists_again_then_gives_up(
    cluster: Cluster, applied: Path, proxy: tuple[Proxy, Path]
) -> None:
    running, kubeconfig = proxy
    running.expire = f"/apis/apps/v1/namespaces/{SHOP}/deployments"
    result = audit(cluster, "-n", SHOP, "--format", "json", "--page-size", "2",
                   kubeconfig=kubeconfig)  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line == (
        "autobot-guard: input error: cluster:deployments.apps: cannot list in namespace "
        "audit-shop: the continue token expired after 2 objects in 1 page (410 Gone), twice"
    ), line
    assert json.loads(result.stdout)["audit"]["notListed"] == ["deployments.apps"]
    # Through the same proxy, unbroken: the same findings as straight to the server.
    running.expire = None
    through = audit(cluster, "-n", SHOP, "--format", "json", "--page-size", "2",
                    kubeconfig=kubeconfig)  # fmt: skip
    direct = audit(cluster, "-n", SHOP, "--format", "json")
    assert through.returncode == direct.returncode == 1, through.stderr
    assert keys(json.loads(through.stdout)["findings"]) == keys(
        json.loads(direct.stdout)["findings"])  # fmt: skip


@pytest.mark.usefixtures("crds")
def test_a_server_that_stops_answering_while_reports_are_written_is_given_up(
    cluster: Cluster, applied: Path, proxy: tuple[Proxy, Path]
) -> None:
    """The lists answer; the PolicyReport requests hang: one line, exit 2, no hang."""
    running, kubeconfig = proxy
    running.hang = f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{SHOP}/policyreports"
    result = audit(cluster, "-n", SHOP, "--policy-reports", "--request-timeout", "2",
                   "--format", "json", kubeconfig=kubeconfig, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "autobot-guard: input error: cluster:policyreports.wgpolicyk8s.io: cannot list the "
        "PolicyReports it owns: the API server did not answer in time (--request-timeout)\n"
    )
    assert json.loads(result.stdout)["findings"]  # the audit itself is still reported


def test_a_namespace_that_does_not_exist_is_an_input_error(cluster: Cluster, applied: Path) -> None:
    """A typo in -n must not read as a clean audit of nothing (exit 0)."""
    result = audit(cluster, "-n", SHOP, "-n", "audit-shpo", "--format", "json")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line == (
        "autobot-guard: input error: cluster:Namespace/audit-shpo: no such namespace "
        "(given with -n): nothing there was audited"
    ), line
    report = json.loads(result.stdout)
    assert {f["rule"] for f in report["findings"]} >= {"image-tag"}  # audit-shop: judged
