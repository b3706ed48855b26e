#!/usr/bin/env python3
"""Load test of ``autobot-guard serve``: reviews per second, latency, engine time.

    python bench/bench_webhook.py [--rate 1000] [--seconds 10] [--connections 8] [--strict]
                                  [--rego-engine opa|embedded] [--opa-url URL] [--no-rego]

Starts the real server on 127.0.0.1 with real TLS (a throwaway CA made with trustme)
and the bundled manifests as its inventory, with Rego at admission as shipped: in a real
OPA beside it (`--rego-engine opa`, the default: the `opa` on PATH or in .tools/bin, made
by scripts/install-tools, started on a free loopback port and stopped at the end, unless
`--opa-url` names a running one), then an asyncio HTTPS keep-alive client
(uvloop when installed) sends the AdmissionReview of a realistic Deployment (the chat
agent of the reference stack, as the API server sends it: defaulted fields, managed
fields, kubectl's last-applied annotation) at a fixed rate over several connections.

Latency is measured from each request's *scheduled* send time (no coordinated
omission: a late request counts its wait). The engine time per review is read from the
server's own histograms: ``autobot_guard_admission_engine_duration_seconds`` (the rules,
in ``engine.evaluate``) and ``..._review_duration_seconds`` (the whole decision). Targets:
>= 1,000 reviews/s sustained, p99 <= 10 ms, no error, engine p50 <= 0.3 ms. Always
exits 0 unless ``--strict`` is given and a target is missed. Traffic goes to loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
UID_WIDTH = 36


def realistic_deployment() -> dict[str, Any]:
    """The chat agent Deployment of manifests/, as the API server shows it to a webhook."""
    text = (REPO / "manifests" / "agents" / "chat-agent.yaml").read_text()
    manifest = next(
        doc for doc in yaml.safe_load_all(text) if doc and doc.get("kind") == "Deployment"
    )
    obj = copy.deepcopy(manifest)
    meta = obj["metadata"]
    meta.update(
        uid="6f1c3e8a-2b1d-4c1e-9a57-0d3c2b1a9e77",
        creationTimestamp="2026-01-01T00:00:00Z",
        generation=1,
        annotations={
            **meta.get("annotations", {}),
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(manifest),
        },
        managedFields=[
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-01-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(manifest),
            }
        ],
    )
    spec = obj["spec"]
    spec.setdefault("replicas", 1)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    pod = spec["template"]["spec"]
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("schedulerName", "default-scheduler")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    for container in pod["containers"]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("imagePullPolicy", "IfNotPresent")
    obj["status"] = {}
    return obj


def fields_v1(value: Any) -> Any:
    """The FieldsV1 tree of managedFields (keys only), as large as the object itself."""
    if isinstance(value, dict):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    return {}


def review_body(obj: dict[str, Any]) -> bytes:
    """An AdmissionReview with a fixed-width uid placeholder, replaced per request."""
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "U" * UID_WIDTH,
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "requestResource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {
                "username": "kubernetes-admin",
                "groups": ["system:masters", "system:authenticated"],
            },
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }
    return json.dumps(review).encode()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = directory / "tls.crt", directory / "tls.key", directory / "ca.crt"
    cert.cert_chain_pems[0].write_to_path(str(paths[0]))
    cert.private_key_pem.write_to_path(str(paths[1]))
    ca.cert_pem.write_to_path(str(paths[2]))
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload


async def connect(port: int, context: ssl.SSLContext) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    return Connection(reader, writer)


def head_for(length: int) -> bytes:
    return (
        f"POST /validate?timeout=10s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nAccept: application/json, */*\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def load(
    port: int,
    context: ssl.SSLContext,
    body: bytes,
    rate: float,
    seconds: float,
    connections: int,
) -> dict[str, Any]:
    head = head_for(len(body))
    latencies: list[float] = []
    errors: list[str] = []
    pool = [await connect(port, context) for _ in range(connections)]
    start = time.perf_counter() + 0.05
    total = int(rate * seconds)

    async def worker(index: int, conn: Connection) -> None:
        sequence = index
        while sequence < total:
            scheduled = start + sequence / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            uid = f"{sequence:0{UID_WIDTH}d}".encode()
            try:
                status, payload = await conn.request(head, body.replace(b"U" * UID_WIDTH, uid))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(f"transport: {exc!r}")
                conn = await connect(port, context)
                sequence += connections
                continue
            latencies.append(time.perf_counter() - scheduled)
            if status != 200:
                errors.append(f"HTTP {status}: {payload[:200]!r}")
            else:
                answer = json.loads(payload)["response"]
                if answer["uid"] != uid.decode() or answer["allowed"] is not True:
                    errors.append(f"unexpected response: {payload[:300]!r}")
            sequence += connections

    began = time.perf_counter()
    await asyncio.gather(*(worker(i, conn) for i, conn in enumerate(pool)))
    elapsed = time.perf_counter() - began
    for conn in pool:
        conn.writer.close()
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "sent": total}


def histogram_quantile(metrics: str, name: str, quantile: float) -> float | None:
    """Quantile from a Prometheus histogram's cumulative buckets (linear in a bucket)."""
    buckets: list[tuple[float, float]] = []
    pattern = re.compile(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$')
    for line in metrics.splitlines():
        match = pattern.match(line)
        if match:
            bound = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
            buckets.append((bound, float(match.group(2))))
    if not buckets or buckets[-1][1] == 0:
        return None
    wanted = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= wanted:
            if bound == float("inf"):
                return lower_bound
            share = (wanted - lower_count) / (count - lower_count) if count > lower_count else 0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return None


def fetch(port: int, context: ssl.SSLContext, path: str) -> tuple[int, str]:
    import http.client

    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def without_rego(directory: Path) -> Path:
    """The bundled policy pack with `admission.rego: false`."""
    from autobot_guard.paths import bundled_policy_pack

    pack = directory / "pack.yaml"
    text = bundled_policy_pack().read_text()
    pack.write_text(text + "\nadmission:\n  rego: false\n")
    return pack


# As the sidecar runs (manifests/webhook/deployment.yaml): one P, and a collector that
# runs less often (the garbage is per query). Measured here: about 0.5 ms of OPA's CPU a
# review instead of 0.7-0.8 with the defaults.
OPA_ENV = {"GOMAXPROCS": "1", "GOGC": "400"}


def find_opa() -> str | None:
    import shutil

    return shutil.which("opa") or shutil.which("opa", path=str(REPO / ".tools" / "bin"))


def start_opa(executable: str, port: int) -> subprocess.Popen[bytes]:
    """`opa run --server` on 127.0.0.1:`port`, as the sidecar runs; ready when /health is."""
    import http.client

    process = subprocess.Popen(
        [executable, "run", "--server", f"--addr=127.0.0.1:{port}", "--skip-version-check",
         "--log-level-request=debug"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **OPA_ENV},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"opa did not start: {process.communicate()[1].decode()[:500]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="reviews per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--no-rego",
        action="store_true",
        help="serve with admission.rego false (the built-in rules alone) to see what Rego costs",
    )
    parser.add_argument(
        "--rego-engine",
        choices=("opa", "embedded"),
        default="opa",
        help="where Rego runs at admission (default: opa, a real OPA server beside the webhook)",
    )
    parser.add_argument(
        "--opa-url", help="a running OPA server (default: start the go-installed opa)"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    opa: subprocess.Popen[bytes] | None = None
    rego = ["--rego-engine", args.rego_engine]
    if args.rego_engine == "opa" and not args.no_rego:
        url = args.opa_url
        if url is None:
            executable = find_opa()
            if executable is None:
                print("opa is not on PATH: run scripts/install-tools (needs Go), give "
                      "--opa-url, or --rego-engine embedded", file=sys.stderr)  # fmt: skip
                return 1
            opa_port = free_port()
            opa = start_opa(executable, opa_port)
            url = f"http://127.0.0.1:{opa_port}"
        rego += ["--opa-url", url]
    try:
        return run(args, rego)
    finally:
        if opa is not None:
            opa.terminate()
            try:
                opa.wait(10)
            except subprocess.TimeoutExpired:
                opa.kill()


def run(args: argparse.Namespace, rego: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key, ca = make_certificates(Path(tmp))
        port = free_port()
        log = open(Path(tmp) / "decisions.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [sys.executable, "-m", "autobot_guard", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key),
             "--inventory", str(REPO / "manifests"), "--no-watch-cluster",
             *(["--config", str(without_rego(Path(tmp)))] if args.no_rego else rego)],
            cwd=REPO, stdout=log, stderr=subprocess.PIPE, env={**os.environ},
        )  # fmt: skip
        try:
            context = ssl.create_default_context(cafile=str(ca))
            deadline = time.monotonic() + 30
            while True:
                try:
                    if fetch(port, context, "/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("server did not become ready", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            body = review_body(realistic_deployment())
            asyncio.run(load(port, context, body, args.rate, args.warmup, args.connections))
            before = fetch(port, context, "/metrics")[1]
            result = asyncio.run(
                load(port, context, body, args.rate, args.seconds, args.connections)
            )
            after = fetch(port, context, "/metrics")[1]
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            lines = (Path(tmp) / "decisions.log").read_bytes().count(b"\n")
    del before  # the histograms are cumulative; warm-up reviews are a small share of them
    name = "autobot_guard_admission_engine_duration_seconds"
    engine_p50 = histogram_quantile(after, name, 0.5)
    engine_p99 = histogram_quantile(after, name, 0.99)
    name = "autobot_guard_admission_review_duration_seconds"
    review_p50 = histogram_quantile(after, name, 0.5)
    review_p99 = histogram_quantile(after, name, 0.99)
    latencies, errors = result["latencies"], result["errors"]
    achieved = len(latencies) / result["elapsed"]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    engine = "off" if args.no_rego else " ".join(rego[1:])
    print(f"body: {len(body)} bytes (Deployment CREATE), {args.connections} connections, "
          f"target {args.rate:.0f}/s for {args.seconds:.0f} s")  # fmt: skip
    print(f"Rego at admission: {engine}")
    print(f"reviews: {len(latencies)} answered of {result['sent']} sent, {len(errors)} errors")
    print(f"throughput: {achieved:.0f} reviews/s")
    print(f"latency (from scheduled send): p50 {p50 * 1000:.2f} ms, "
          f"p90 {percentile(latencies, 0.9) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
          f"max {max(latencies) * 1000:.2f} ms, "
          f"mean {statistics.mean(latencies) * 1000:.2f} ms")  # fmt: skip
    if engine_p50 is not None and engine_p99 is not None:
        print(f"engine per review (server histogram, engine.evaluate): "
              f"p50 {engine_p50 * 1000:.3f} ms, p99 {engine_p99 * 1000:.3f} ms")  # fmt: skip
    name = "autobot_guard_admission_rego_duration_seconds"
    rego_p50 = histogram_quantile(after, name, 0.5)
    rego_p99 = histogram_quantile(after, name, 0.99)
    if rego_p50 is not None and rego_p99 is not None:
        print(f"Rego per review (server histogram, {engine}): "
              f"p50 {rego_p50 * 1000:.3f} ms, p99 {rego_p99 * 1000:.3f} ms")  # fmt: skip
    if review_p50 is not None and review_p99 is not None:
        print(f"whole decision per review (server histogram): p50 {review_p50 * 1000:.3f} ms, "
              f"p99 {review_p99 * 1000:.3f} ms")  # fmt: skip
    print(f"decision log lines written: {lines}")
    for error in errors[:5]:
        print(f"  error: {error}")
    # The target is 1,000/s; below it (--rate 400, to find what a setup sustains) the
    # line says whether the offered rate was kept up, and is never a PASS of the target.
    kept_up = achieved >= args.rate * 0.98
    throughput = (
        ("throughput >= 1000/s", kept_up)
        if args.rate >= 1000
        else (f"kept up with the offered {args.rate:g}/s (target 1000/s not tested)", kept_up)
    )
    checks = [
        throughput,
        ("p99 <= 10 ms", p99 <= 0.010),
        ("no error", not errors),
        ("engine p50 <= 0.3 ms", engine_p50 is not None and engine_p50 <= 0.0003),
    ]
    for label, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {label}")
    return 1 if args.strict and not all(passed for _, passed in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
