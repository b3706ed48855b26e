"""The parts of `audit` that need no API server: a listed object as the rules see it,
what is left alone, the PolicyReports built from a Report, and every format naming the
object and field path instead of a file and line. (tests/cluster/test_cluster_audit.py
runs the whole command against a real API server.)"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from autobot_guard.audit import policy_reports
from autobot_guard.audit.listing import LISTED, Watched
from autobot_guard.audit.outcome import AuditOutcome
from autobot_guard.audit.run import Audit
from autobot_guard.audit.scope import LiveObject, live_object, scope
from autobot_guard.check import judge
from autobot_guard.config import PolicyPack
from autobot_guard.findings import Report
from autobot_guard.loader import load_paths
from autobot_guard.rego import RegoStep
from autobot_guard.reporters import render

WATCHED = {w.kind: w for w in LISTED}

AS_WRITTEN: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]},
        },
    },
}


def as_listed(manifest: dict[str, Any], uid: str = "u-1", **extra: Any) -> dict[str, Any]:
    """`manifest` as the API server lists it after `kubectl apply`: no apiVersion/kind
    (a list's items), server metadata, replicas defaulted, status."""
    item = copy.deepcopy(manifest)
    item.pop("apiVersion")
    item.pop("kind")
    meta = item["metadata"]
    meta.update(uid=uid, resourceVersion="812", generation=3,
                creationTimestamp="2025-01-01T00:00:00Z",
                managedFields=[{"manager": "kubectl", "operation": "Update"}])  # fmt: skip
    meta["annotations"] = {
        **meta.get("annotations", {}),
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest),
        "deployment.kubernetes.io/revision": "1",
    }
    meta.update(extra)
    if manifest["kind"] == "Deployment":
        item["spec"] = {**item["spec"], "replicas": 1}
        for container in item["spec"]["template"]["spec"]["containers"]:
            container.setdefault("resources", {})  # as the server defaults it
    item["status"] = {"replicas": 1, "observedGeneration": 3}
    return item


def judged(objects: list[LiveObject], pack: PolicyPack | None = None) -> Audit:
    pack = pack or PolicyPack.default()
    chosen = scope(pack, objects)
    rules = pack.enabled_rules()
    rego = RegoStep.prepare("off")
    report = judge([o.resource for o in chosen.judged], pack, rego, rules)
    report.audit = AuditOutcome(server="https://127.0.0.1:6443")
    return Audit(report, chosen.judged, rules, rego.rule_ids)


def convert(kind: str, item: dict[str, Any]) -> LiveObject:
    found = live_object(WATCHED[kind], item)
    assert found is not None
    return found


def test_a_listed_object_is_judged_as_its_manifest(tmp_path: Any) -> None:
    live = convert("Deployment", as_listed(AS_WRITTEN))
    # What the server added is gone: the rules see the manifest as written.
    assert live.resource.data == AS_WRITTEN
    assert live.uid == "u-1"
    path = tmp_path / "web.yaml"
    path.write_text(json.dumps(AS_WRITTEN))
    on_file = judge(
        load_paths([str(path)]).resources, PolicyPack.default(), RegoStep.prepare("off")
    )
    on_cluster = judged([live]).report

    def key(report: Report) -> list[tuple[str, str, str, str]]:
        return [(f.rule, f.resource.display(), f.path, f.message) for f in report.findings]

    assert key(on_cluster) == key(on_file)
    assert {f.rule for f in on_cluster.findings} >= {"image-tag", "min-replicas"}
    assert {f.file for f in on_cluster.findings} == {"cluster:Deployment/shop/web"}
    assert {f.line for f in on_cluster.findings} == {0}


def test_replicas_the_author_wrote_are_kept() -> None:
    manifest = copy.deepcopy(AS_WRITTEN)
    manifest["spec"]["replicas"] = 1
    live = convert("Deployment", as_listed(manifest))
    assert live.resource.data["spec"]["replicas"] == 1


def test_what_the_webhook_leaves_alone_is_left_alone_and_counted() -> None:
    def namespace(name: str, labels: dict[str, str] | None = None) -> LiveObject:
        return convert("Namespace", {"metadata": {"name": name, "uid": f"ns-{name}",
                                                  "labels": labels or {}}})  # fmt: skip

    def pod(name: str, ns: str, owner: tuple[str, str] | None) -> LiveObject:
        meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"pod-{name}"}
        if owner:
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": "x",
                                        "uid": owner[1], "controller": True}]  # fmt: skip
        return convert("Pod", {"metadata": meta,
                               "spec": {"containers": [{"name": "c", "image": "a:1"}]}})  # fmt: skip

    replica_set = convert("ReplicaSet", {"metadata": {"name": "web-1", "namespace": "shop",
                                                      "uid": "rs-1"}, "spec": {}})  # fmt: skip
    objects = [
        namespace("shop"), namespace("legacy", {"autobot-guard.io/ignore": "true"}),
        namespace("kept", {"autobot-guard.io/ignore": "false"}),
        replica_set,
        pod("owned", "shop", ("ReplicaSet", "rs-1")),  # by a listed ReplicaSet
        pod("orphan", "shop", ("ReplicaSet", "gone")),  # its owner was not listed
        pod("operator", "shop", ("Rollout", "ro-1")),  # not a built-in controller
        pod("bare", "shop", None),
        pod("system", "kube-system", None),
        pod("old", "legacy", None),
        pod("labelled-false", "kept", None),
    ]  # fmt: skip
    chosen = scope(PolicyPack.default(), objects)
    names = sorted(o.resource.name for o in chosen.judged if o.resource.kind == "Pod")
    assert names == ["bare", "labelled-false", "operator", "orphan"]
    assert chosen.controlled == {"Pod": 1}
    assert chosen.skipped_namespaces == {"kube-system": 1, "legacy": 1}
    assert chosen.ignored_namespaces == ["legacy"]
    every = PolicyPack.from_dict({"apiVersion": "autobot-guard.io/v1", "kind": "PolicyPack",
                                  "admission": {"judgeControlledPods": True}})  # fmt: skip
    assert scope(every, objects).controlled == {}


def test_policy_reports_have_a_result_per_rule_and_object() -> None:
    exempt = copy.deepcopy(AS_WRITTEN)
    exempt["metadata"].update(name="db", annotations={
        "autobot-guard.io/exempt": "min-replicas",
        "autobot-guard.io/exempt-reason": "single primary"})  # fmt: skip
    namespace = convert("Namespace", {"metadata": {"name": "shop", "uid": "ns-1"}})
    audit = judged([
        convert("Deployment", as_listed(AS_WRITTEN, uid="d-1")),
        convert("Deployment", as_listed(exempt, uid="d-2")),
        namespace,
    ])  # fmt: skip
    documents = policy_reports.build(audit, now=1700000000.5)
    assert [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents] \
        == [("PolicyReport", "shop", "autobot-guard"),
            ("ClusterPolicyReport", None, "autobot-guard")]  # fmt: skip
    report = documents[0]
    assert report["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    assert report["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "autobot-guard"}
    results = report["results"]
    by = {(r["resources"][0]["name"], r["rule"], r["resources"][0].get("fieldPath")): r
          for r in results}  # fmt: skip
    tag = by[("web", "image-tag", "spec.template.spec.containers[0].image")]
    assert (tag["result"], tag["severity"], tag["policy"]) == ("fail", "high", "image-tag")
    assert tag["resources"][0] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web",
        "uid": "d-1", "fieldPath": "spec.template.spec.containers[0].image"}  # fmt: skip
    assert tag["timestamp"] == {"seconds": 1700000000, "nanos": 500000000}
    (exempted,) = [r for r in results if r["resources"][0]["name"] == "db" and
                   r["rule"] == "min-replicas"]  # fmt: skip
    assert exempted["result"] == "skip" and "single primary" in exempted["message"]
    security = [r for r in results if r["rule"] == "security-context" and
                r["resources"][0]["name"] == "web"]  # fmt: skip
    assert {(r["result"], r["severity"]) for r in security} == {("warn", "medium")}
    # A rule that judged the object and found nothing passes; rules of other kinds are
    # not listed for it.
    assert by[("web", "selector-match", None)]["result"] == "pass"
    assert ("web", "hpa-replicas", None) not in by
    expected = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    for result in results:
        expected[result["result"]] += 1
    assert report["summary"] == expected
    assert expected["fail"] == sum(
        1 for f in audit.report.findings if f.severity.value == "error")  # fmt: skip
    cluster = documents[1]
    assert "namespace" not in cluster["metadata"]
    assert {r["resources"][0]["kind"] for r in cluster["results"]} == {"Namespace"}
    assert {r["result"] for r in cluster["results"]} == {"pass"}
    assert "schema" in {r["rule"] for r in cluster["results"]}


def test_a_large_namespace_continues_in_more_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = []
    for index in range(30):
        manifest = copy.deepcopy(AS_WRITTEN)
        manifest["metadata"]["name"] = f"web-{index}"
        objects.append(convert("Deployment", as_listed(manifest, uid=f"d-{index}")))
    audit = judged(objects)
    whole = policy_reports.build(audit, now=1.0)
    monkeypatch.setattr(policy_reports, "MAX_REPORT_BYTES", 20_000)
    parts = policy_reports.build(audit, now=1.0)
    assert len(whole) == 1 and len(parts) > 2
    assert [p["metadata"]["name"] for p in parts[:3]] == [
        "autobot-guard", "autobot-guard-2", "autobot-guard-3"]  # fmt: skip
    assert all(len(json.dumps(p["results"])) < 21_000 for p in parts)
    assert [r for p in parts for r in p["results"]] == whole[0]["results"]


@pytest.mark.parametrize(
    "fmt", ["text", "json", "sarif", "junit", "github", "markdown", "html", "quiet"]
)
def test_every_format_names_the_object_and_field_not_a_line(fmt: str) -> None:
    audit = judged([convert("Deployment", as_listed(AS_WRITTEN))])
    text = render(audit.report, fmt)
    assert "Deployment/shop/web" in text
    field = "spec.template.spec.containers[0].image"
    assert (field.replace("[", "\\[").replace("]", "\\]") if fmt == "markdown" else field) in text
    # Not a path of the working directory, no line 0.
    assert "/cluster:" not in text and "cluster%3A" not in text
    assert ":0:" not in text and 'line="0"' not in text and "line=0" not in text
    if fmt == "quiet":
        first = text.splitlines()[0]
        assert first.startswith("cluster:Deployment/shop/web:spec.")
    if fmt == "sarif":
        location = json.loads(text)["runs"][0]["results"][0]["locations"][0]
        uri = location["physicalLocation"]["artifactLocation"]
        assert uri == {"uri": "cluster:Deployment/shop/web"}
        assert "region" not in location["physicalLocation"]
    if fmt == "json":
        document = json.loads(text)
        assert document["audit"]["server"] == "https://127.0.0.1:6443"
        assert {f["line"] for f in document["findings"]} == {0}
        from tests.test_report_schema import errors_of

        assert errors_of(document) == []  # docs/report.schema.json is the audit's contract too
    if fmt == "text":
        assert "audited 1 resource" in text


def test_watched_table_is_the_webhooks_plus_the_audits() -> None:
    from autobot_guard.webhook.inventory_watch import WATCHED as WEBHOOK

    assert set(WEBHOOK) < set(LISTED)
    assert len({w.resource for w in LISTED}) == len(LISTED)
    assert all(isinstance(w, Watched) for w in LISTED)


def test_a_kubeconfig_that_cannot_be_used_is_one_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    empty = tmp_path / "kubeconfig"
    empty.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [],
                                 "contexts": [], "users": []}))  # fmt: skip
    for args in (["--kubeconfig", str(tmp_path / "missing")],
                 ["--kubeconfig", str(empty), "--context", "prod"]):  # fmt: skip
        result = subprocess.run([sys.executable, "-m", "autobot_guard", "audit", *args],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith("autobot-guard: error: cannot use kubeconfig "), line
    assert "prod" in line


def test_context_chooses_the_cluster(tmp_path: Any) -> None:
    import socket
    import subprocess
    import sys

    ports = []
    for _ in range(2):  # two ports nothing listens on
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": n, "cluster": {"server": f"http://127.0.0.1:{p}"}}
                     for n, p in zip("ab", ports, strict=True)],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in "ab"],
    }  # fmt: skip
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    for args, port in (([], ports[0]), (["--context", "b"], ports[1])):
        result = subprocess.run(
            [sys.executable, "-m", "autobot_guard", "audit", "--kubeconfig", str(path), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr == (
            f"autobot-guard: error: cannot reach the API server http://127.0.0.1:{port}: "
            "connection refused\n"
        )


def _audit_cli(*args: str, timeout: float = 60) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "autobot_guard", "audit", *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_a_kubeconfig_that_is_not_yaml_or_not_a_mapping_is_one_line(tmp_path: Any) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [a\n  : : b\n")
    text = tmp_path / "text"
    text.write_text("just some text\n")
    for path, says in ((broken, "not YAML"), (text, "not a kubeconfig")):
        result = _audit_cli("--kubeconfig", str(path))
        assert result.returncode == 2 and result.stdout == "", result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"autobot-guard: error: cannot use kubeconfig {path}: "), line
        assert says in line, line


class _FaultyServer:
    """An HTTP server that is no API server: it hangs, or answers HTML: faults a real
    API server does not produce on demand."""

    def __init__(self, answer: tuple[int, bytes] | None) -> None:
        import http.server
        import threading
        import time

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if answer is None:
                    time.sleep(30)  # longer than the test's --request-timeout
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, directory: Any) -> str:
        path = directory / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        }))  # fmt: skip
        return str(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_server_that_does_not_answer_times_out_in_one_line(tmp_path: Any) -> None:
    import time

    server = _FaultyServer(None)
    try:
        started = time.monotonic()
        result = _audit_cli("--kubeconfig", server.kubeconfig(tmp_path),
                            "--request-timeout", "1", timeout=30)  # fmt: skip
        took = time.monotonic() - started
    finally:
        server.close()
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr == (
        f"autobot-guard: error: the API server {server.url} did not answer within 1 s "
        "(--request-timeout)\n"
    )
    assert took < 20  # one wait, not one per retry and resource


@pytest.mark.parametrize(
    ("answer", "says"),
    [((200, b"<html><body>Welcome</body></html>"), "HTTP 200, text/html"),
     ((502, b"<html><body>502 Bad Gateway</body></html>"), "HTTP 502, text/html"),
     ((500, b"Internal Server Error"), "HTTP 500, text/html")],
)  # fmt: skip
def test_a_server_that_answers_no_kubernetes_api_is_one_line(
    tmp_path: Any, answer: tuple[int, bytes], says: str
) -> None:
    server = _FaultyServer(answer)
    try:
        result = _audit_cli("--kubeconfig", server.kubeconfig(tmp_path))
    finally:
        server.close()
    assert result.returncode == 2 and result.stdout == "", result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"autobot-guard: error: {server.url} did not answer as a Kubernetes API server ({says}"
    ), line
    assert "HTTPHeaderDict" not in line
