"""The real server on loopback with real TLS: reviews exactly as the API server sends
them, bad requests, probes, metrics, the decision log."""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import ssl
import time

import pytest

from tests.webhook.helpers import (
    REPLICASET_CONTROLLER,
    Server,
    admitted,
    chat_agent,
    kubectl_deployment,
    review,
)

JSON = {"Content-Type": "application/json"}


def test_create_compliant_is_allowed(server: Server) -> None:
    answer = server.review(review("CREATE", admitted(chat_agent())))
    assert answer["allowed"] is True
    assert "status" not in answer and "warnings" not in answer


def test_create_non_compliant_is_denied_with_a_short_message(server: Server) -> None:
    payload = review("CREATE", admitted(kubectl_deployment()))
    answer = server.review(payload)
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert answer["status"]["reason"] == "Forbidden"
    message = answer["status"]["message"]
    assert message.startswith("autobot-guard: Deployment autobot-system/web violates")
    assert "[liveness-probe]" in message and len(message) < 1500
    assert all(len(warning) <= 120 for warning in answer["warnings"])


def test_a_rego_deny_shows_up_in_the_admission_review_response(server: Server) -> None:
    obj = chat_agent()
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/chat:1.4.0"
    answer = server.review(review("CREATE", admitted(obj)))
    assert answer["allowed"] is False and answer["status"]["code"] == 403
    assert "[approved-registry]" in answer["status"]["message"]


def test_update_with_old_object_and_dry_run(server: Server) -> None:
    old = admitted(kubectl_deployment())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 4
    answer = server.review(review("UPDATE", new, old, dry_run=True))
    assert answer["allowed"] is True
    assert any(w.startswith("(already present) ") for w in answer["warnings"])


def test_delete_is_allowed(server: Server) -> None:
    answer = server.review(review("DELETE", None, admitted(kubectl_deployment())))
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_controlled_pod_and_skipped_namespace(server: Server) -> None:
    template = kubectl_deployment()["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-5d8f7c9b4-",
            "namespace": "autobot-system",
            "labels": template["metadata"]["labels"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b4",
                 "uid": "9e3c1a2b-0000-4000-8000-000000000002", "controller": True,
                 "blockOwnerDeletion": True}
            ],
        },
        "spec": template["spec"],
    }  # fmt: skip
    # created by the ReplicaSet controller: not judged again; the same from a user: judged
    by_controller = review("CREATE", pod, username=REPLICASET_CONTROLLER)
    assert server.review(by_controller)["allowed"] is True
    assert server.review(review("CREATE", pod))["allowed"] is False
    for namespace in ("kube-system", "autobot-guard"):
        obj = admitted(kubectl_deployment(namespace=namespace))
        assert server.review(review("CREATE", obj))["allowed"] is True


def test_probes_and_metrics(server: Server) -> None:
    status, body, _ = server.request("GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body, _ = server.request("GET", "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] is True
    assert ready["inventory"].startswith("synced: ")
    server.review(review("CREATE", admitted(kubectl_deployment())))
    status, body, headers = server.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert (
        'autobot_guard_admission_requests_total{decision="deny",kind="Deployment",'
        'operation="CREATE"}' in text
    )
    assert "autobot_guard_admission_request_duration_seconds_bucket" in text
    assert "autobot_guard_admission_engine_duration_seconds_bucket" in text
    assert 'autobot_guard_admission_findings_total{action="deny",rule="liveness-probe"}' in text
    assert "autobot_guard_inventory_synced 1.0" in text


def test_one_json_log_line_per_decision(server: Server) -> None:
    payload = review("CREATE", admitted(kubectl_deployment(name="logged")))
    server.review(payload)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [d for d in server.decisions() if d.get("uid") == payload["request"]["uid"]]
        if lines:
            break
        time.sleep(0.05)
    (line,) = lines
    assert line["kind"] == "Deployment" and line["namespace"] == "autobot-system"
    assert line["name"] == "logged" and line["operation"] == "CREATE"
    assert line["user"] == "kubernetes-admin" and line["decision"] == "deny"
    assert "liveness-probe" in line["denied"] and "security-context" in line["rules"]
    assert isinstance(line["durationMs"], float)
    assert line["exempted"] == 0 and line["crossResourceSkipped"] is False


def test_exemptions_leave_a_trace_in_the_log(server: Server) -> None:
    obj = admitted(kubectl_deployment(name="exempted"))
    obj["metadata"].setdefault("annotations", {}).update(
        {"autobot-guard.io/exempt": "liveness-probe,readiness-probe",
         "autobot-guard.io/exempt-reason": "legacy batch worker"}
    )  # fmt: skip
    payload = review("CREATE", obj)
    server.review(payload)
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline and not lines:
        lines = [d for d in server.decisions() if d.get("uid") == payload["request"]["uid"]]
        time.sleep(0.05)
    assert lines and lines[0]["exempted"] == 2  # the waived findings are counted


def test_invented_kinds_do_not_grow_the_metrics(server: Server) -> None:
    for index in range(5):
        payload = review("DELETE", None, admitted(kubectl_deployment()))
        payload["request"]["kind"]["kind"] = f"Invented{index}" + "x" * 5000
        server.review(payload)
    _, body, _ = server.request("GET", "/metrics")
    text = body.decode()
    assert "Invented" not in text
    assert 'kind="other",operation="DELETE"' in text


# -- bad requests: a clear 4xx or a well-formed denial, and the next one is served ----


def valid() -> bytes:
    return json.dumps(review("CREATE", admitted(chat_agent()))).encode()


BAD: list[tuple[str, str, bytes, dict[str, str], int, str]] = [
    ("empty body", "POST", b"", JSON, 400, "empty body"),
    ("wrong content type", "POST", valid(), {"Content-Type": "text/plain"}, 415, "content type"),
    ("no content type", "POST", valid(), {}, 415, "content type"),
    ("malformed JSON", "POST", b'{"apiVersion": ', JSON, 400, "malformed JSON"),
    ("not an object", "POST", b"[1, 2]", JSON, 400, "not an AdmissionReview"),
    ("missing request", "POST",
     b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', JSON, 400, "request"),
    ("missing uid", "POST",
     b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":'
     b'{"operation":"CREATE","object":{}}}', JSON, 400, "request.uid"),
    ("wrong apiVersion", "POST",
     valid().replace(b"admission.k8s.io/v1", b"admission.k8s.io/v1beta1"), JSON, 400,
     "not supported"),
    ("wrong kind", "POST", valid().replace(b'"AdmissionReview"', b'"Review"'), JSON, 400,
     "kind"),
    ("unknown operation", "POST", valid().replace(b'"CREATE"', b'"PATCH"'), JSON, 400,
     "operation"),
    ("GET /validate", "GET", b"", {}, 405, "use POST"),
    ("unknown path", "POST", valid(), JSON, 404, "no route"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "method", "body", "headers", "status", "fragment"),
    BAD,
    ids=[case[0] for case in BAD],
)
def test_bad_requests_get_a_clear_4xx(
    server: Server,
    label: str,
    method: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    connection = server.connect()
    try:
        path = "/nowhere" if label == "unknown path" else "/validate"
        got, answer, _ = server.request(method, path, body, headers, connection)
        assert got == status, answer
        error = json.loads(answer)["error"]
        assert fragment in error and "Traceback" not in error
        # The same keep-alive connection serves the next review normally.
        assert server.review(json.loads(valid()), connection)["allowed"] is True
    finally:
        connection.close()


def test_an_object_that_is_not_kubernetes_is_a_well_formed_denial(server: Server) -> None:
    payload = review("CREATE", admitted(chat_agent()))
    payload["request"]["object"] = {"hello": "world"}
    answer = server.review(payload)
    assert answer["allowed"] is False and answer["status"]["code"] == 400
    assert "not a Kubernetes object" in answer["status"]["message"]


def test_oversized_bodies_are_refused(server: Server) -> None:
    huge = review("CREATE", admitted(chat_agent()))
    huge["request"]["object"]["metadata"]["annotations"]["padding"] = "x" * (8 * 1024 * 1024)
    status, body, headers = server.request("POST", "/validate", json.dumps(huge).encode(), JSON)
    assert status == 413 and "limit" in json.loads(body)["error"]
    assert headers.get("connection") == "close"
    # Chunked, without a Content-Length: refused as it streams in.
    connection = server.connect()
    connection.putrequest("POST", "/validate")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    chunk = b"x" * (1024 * 1024)
    try:
        for _ in range(9):  # over the default 7 MiB
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server may close before the last chunk: that is the point
    answer = connection.getresponse()
    assert answer.status == 413
    connection.close()
    assert server.review(json.loads(valid()))["allowed"] is True


def test_a_client_that_hangs_up_mid_body_does_not_hurt(server: Server) -> None:
    raw = socket.create_connection(("127.0.0.1", server.port))
    tls = server.certificates.context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 5000\r\n\r\n{\"apiVersion\":")  # fmt: skip
    tls.close()
    assert server.review(json.loads(valid()))["allowed"] is True


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_1_is_refused_and_1_2_accepted(server: Server) -> None:
    for version, works in ((ssl.TLSVersion.TLSv1_1, False), (ssl.TLSVersion.TLSv1_2, True)):
        context = server.certificates.context()
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = version
        with contextlib.suppress(ssl.SSLError):
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer TLS 1.1
        try:
            with (
                socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
            ):
                negotiated = tls.version()
        except (ssl.SSLError, OSError):
            negotiated = None
        assert (negotiated is not None) == works, (version, negotiated)
    # Plain HTTP is not served.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(5)
        try:
            data = raw.recv(100)
        except OSError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")


def test_the_server_is_still_well_after_all_that(server: Server) -> None:
    assert server.process.poll() is None
    assert server.review(json.loads(valid()))["allowed"] is True
    assert not [line for line in server.stderr if "Traceback" in line and "error" not in line]
