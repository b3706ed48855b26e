"""Shared by the webhook tests: AdmissionReviews as the API server sends them, TLS
certificates made with trustme, and a real `autobot-guard serve` on loopback."""

from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
NAMESPACE = "autobot-system"


# -- objects -------------------------------------------------------------------------


def kubectl_json(*args: str) -> dict[str, Any] | None:
    """`kubectl create ... --dry-run=client -o json` (offline), or None without kubectl."""
    if shutil.which("kubectl") is None:
        return None
    result = subprocess.run(
        ["kubectl", *args, "--dry-run=client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def kubectl_deployment(name: str = "web", namespace: str = NAMESPACE) -> dict[str, Any]:
    """What `kubectl create deployment NAME --image=nginx:1.27 --replicas=2` sends."""
    made = kubectl_json(
        "create", "deployment", name, "--image=nginx:1.27", "--replicas=2", "-n", namespace
    )
    if made is not None:
        return made
    return {  # the same object, for machines without kubectl
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": None,
            "labels": {"app": name},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "resources": {}}]},
            },
            "strategy": {},
        },
        "status": {},
    }


def manifest(kind: str, name: str, path: str = "agents/chat-agent.yaml") -> dict[str, Any]:
    import yaml

    for document in yaml.safe_load_all((MANIFESTS / path).read_text()):
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            return document  # type: ignore[no-any-return]
    raise KeyError((kind, name, path))


def chat_agent() -> dict[str, Any]:
    """The reference chat agent Deployment (compliant; its replicas are the HPA's)."""
    return manifest("Deployment", "autobot-chat-agent")


def admitted(obj: dict[str, Any], applied: bool = True) -> dict[str, Any]:
    """`obj` as the API server shows it to a webhook: defaulted, with server metadata and,
    when `applied`, kubectl's last-applied-configuration annotation."""
    written = copy.deepcopy(obj)
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
    meta["generation"] = 1
    meta["managedFields"] = [
        {
            "manager": "kubectl-client-side-apply" if applied else "kubectl-create",
            "operation": "Update",
            "apiVersion": out.get("apiVersion", "v1"),
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields(written),
        }
    ]
    if applied:
        notes = meta.setdefault("annotations", {})
        notes["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(written) + "\n"
    if out.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet"):
        spec = out["spec"]
        spec.setdefault("replicas", 1)
        if out["kind"] == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("revisionHistoryLimit", 10)
            spec["strategy"] = spec.get("strategy") or {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            }
        pod = spec["template"]["spec"]
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("schedulerName", "default-scheduler")
        pod.setdefault("terminationGracePeriodSeconds", 30)
        pod.setdefault("securityContext", {})
        for container in pod.get("containers", []):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", "IfNotPresent")
        spec["template"].setdefault("metadata", {}).pop("creationTimestamp", None)
    out.setdefault("status", {})
    return out


def _fields(value: Any) -> Any:
    """A FieldsV1 tree like the API server's (keys only)."""
    if isinstance(value, dict):
        return {f"f:{key}": _fields(item) for key, item in value.items()}
    return {}


_GROUPS = {"Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
           "ReplicaSet": ("apps", "replicasets"), "Pod": ("", "pods"),
           "Service": ("", "services"), "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
           "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers")}  # fmt: skip


def review(
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
    uid: str | None = None,
    namespace: str | None = None,
    username: str = "kubernetes-admin",
) -> dict[str, Any]:
    """An AdmissionReview exactly shaped like the API server's."""
    source = obj if obj is not None else old
    assert source is not None
    kind = source["kind"]
    group, resource = _GROUPS.get(kind, ("", kind.lower() + "s"))
    version = source["apiVersion"].rpartition("/")[2]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(
        operation, "DeleteOptions"
    )
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": source["metadata"].get("name", ""),
        "namespace": namespace or source["metadata"].get("namespace") or "default",
        "operation": operation,
        "userInfo": {
            "username": username,
            "groups": ["system:masters", "system:authenticated"],
        },
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"},
    }
    if operation == "UPDATE":
        request["options"]["fieldManager"] = "kubectl-client-side-apply"
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


# -- TLS and the server ----------------------------------------------------------------


@dataclass
class Certificates:
    directory: Path
    ca: Any  # trustme.CA

    @property
    def cert(self) -> Path:
        return self.directory / "tls.crt"

    @property
    def key(self) -> Path:
        return self.directory / "tls.key"

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    def issue(self, common_name: str = "autobot-guard") -> str:
        """A new serving certificate, swapped in atomically (as a Secret volume does);
        returns its serial number in hex."""
        leaf = self.ca.issue_cert("127.0.0.1", "localhost", common_name=common_name)
        for target, pem in ((self.key, leaf.private_key_pem), (self.cert, leaf.cert_chain_pems[0])):
            temporary = target.with_suffix(".new")
            pem.write_to_path(str(temporary))
            os.replace(temporary, target)
        return serial_of(self.cert.read_bytes())

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def serial_of(pem: bytes) -> str:
    from cryptography import x509

    return format(x509.load_pem_x509_certificate(pem).serial_number, "x")


def make_certificates(directory: Path) -> Certificates:
    import trustme

    ca = trustme.CA()
    certificates = Certificates(directory, ca)
    ca.cert_pem.write_to_path(str(certificates.ca_file))
    certificates.issue()
    return certificates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    certificates: Certificates
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def connect(self, timeout: float = 10) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.certificates.context(), timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPSConnection | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        own = connection is None
        conn = connection or self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, answer.read(), {k.lower(): v for k, v in answer.getheaders()}
        finally:
            if own:
                conn.close()

    def review(
        self, payload: dict[str, Any], connection: http.client.HTTPSConnection | None = None
    ) -> dict[str, Any]:
        status, body, _ = self.request(
            "POST",
            "/validate?timeout=10s",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
            connection,
        )
        assert status == 200, body
        answer = json.loads(body)
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == payload["request"]["uid"]
        return answer["response"]  # type: ignore[no-any-return]

    def decisions(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.stdout) if line.startswith("{")]


def _pump(stream: Any, sink: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        sink.append(raw.decode("utf-8", "replace").rstrip("\n"))


@contextmanager
def running_server(
    certificates: Certificates,
    *args: str,
    ready_path: str = "/healthz",
    env: dict[str, str] | None = None,
    timeout: float = 30,
    opa_url: str | None = None,
) -> Iterator[Server]:
    """`autobot-guard serve` on 127.0.0.1 with the given extra arguments; always stopped.
    Rego at admission in the OPA server at `opa_url` (as shipped: a sidecar), else in
    the embedded engine (the tests of everything but Rego need no OPA)."""
    port = free_port()
    rego = (
        ["--rego-engine", "opa", "--opa-url", opa_url] if opa_url else ["--rego-engine", "embedded"]
    )
    command = [
        sys.executable, "-m", "autobot_guard", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--tls-cert", str(certificates.cert),
        "--tls-key", str(certificates.key), *rego, *args,
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    environment.update(env or {})
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
    )
    server = Server(process, port, certificates)
    pumps = [
        threading.Thread(target=_pump, args=(process.stdout, server.stdout), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, server.stderr), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}: {server.stderr}")
            try:
                if server.request("GET", ready_path)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in {timeout}s: {server.stderr}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for pump in pumps:
            pump.join(5)


# The kube-controller-manager's ReplicaSet controller, as --use-service-account-credentials
# makes it appear in a request's userInfo.
REPLICASET_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"
