#!/usr/bin/env python3
"""Custom resources cost no more than built-in kinds: `check` on 2,000 of each.

    python bench/bench_crds.py [--count 2000] [--repeat 3] [--cmd "autobot-guard"]

Writes three corpora of `--count` documents into a temporary directory (100 documents a
file), then times whole `check DIR --rego off --format json --fail-on never` processes:

- deployments: Deployments like the reference stack's (every built-in rule applies);
- custom: Certificates, Issuers and ExternalSecrets like the reference stack's, validated
  against the bundled pack's CRDs (policies/crds);
- custom+cel: Issuers whose `spec.venafi` has the CRD's CEL rule, evaluated on each.

Each case runs once to warm up, then `--repeat` times (min and median wall seconds).
It also times, in this process, compiling the bundled CRDs once and then again: the
second build finds every validator in the cache keyed by schema content.
Always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent-{i}
  namespace: autobot-system
  labels: {{app: agent-{i}, component: agents}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: agent-{i}}}
  template:
    metadata:
      labels: {{app: agent-{i}, component: agents, logging: centralized}}
    spec:
      securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
      - name: agent
        image: ghcr.io/mrveiss/autobot-agent:1.4.{i}
        ports: [{{containerPort: 8000, name: http}}]
        resources:
          requests: {{cpu: 100m, memory: 256Mi}}
          limits: {{memory: 512Mi}}
        readinessProbe: {{httpGet: {{path: /health, port: http}}}}
        livenessProbe: {{httpGet: {{path: /health, port: http}}}}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {{drop: [ALL]}}
"""
CERTIFICATE = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: serving-{i}
  namespace: autobot-system
  labels: {{app: agent-{i}}}
spec:
  secretName: serving-{i}-tls
  duration: 2160h
  renewBefore: 720h
  dnsNames: [agent-{i}.autobot-system.svc, agent-{i}.autobot-system.svc.cluster.local]
  privateKey: {{algorithm: ECDSA, size: 256, rotationPolicy: Always}}
  usages: [server auth]
  issuerRef: {{kind: Issuer, name: autobot-ca}}
"""
ISSUER = """\
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca-{i}
  namespace: autobot-system
spec:
  ca: {{secretName: ca-{i}}}
"""
EXTERNAL_SECRET = """\
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: secrets-{i}
  namespace: autobot-system
spec:
  refreshInterval: 1h
  secretStoreRef: {{kind: ClusterSecretStore, name: autobot-secret-store}}
  target: {{name: secrets-{i}, creationPolicy: Owner}}
  data:
  - secretKey: password
    remoteRef: {{key: autobot/agent-{i}, property: password}}
"""
VENAFI_ISSUER = """\
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: venafi-{i}
  namespace: autobot-system
spec:
  venafi:
    zone: autobot\\\\agents
    cloud:
      apiTokenSecretRef: {{name: venafi-token, key: token}}
"""
CORPORA = {
    "deployments": [DEPLOYMENT],
    "custom": [CERTIFICATE, ISSUER, EXTERNAL_SECRET],
    "custom+cel": [VENAFI_ISSUER],
}


def write(directory: Path, templates: list[str], count: int) -> None:
    directory.mkdir(parents=True)
    for start in range(0, count, 100):
        docs = [
            templates[i % len(templates)].format(i=i) for i in range(start, min(count, start + 100))
        ]
        (directory / f"part-{start // 100:03}.yaml").write_text("---\n".join(docs))


def timed(command: list[str], repeat: int) -> list[float]:
    subprocess.run(command, cwd=REPO, capture_output=True, check=False)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            sys.exit(f"bench_crds: {shlex.join(command)} failed ({done.returncode}): {done.stderr}")
    return times


def compile_figures() -> tuple[float, float, int]:
    sys.path.insert(0, str(REPO))
    from autobot_guard.crds import build_catalogue, crd_folders_resources
    from autobot_guard.paths import bundled_policies

    crds, errors = crd_folders_resources([str(bundled_policies() / "crds")])
    assert not errors, errors
    start = time.perf_counter()
    catalogue, _ = build_catalogue([crds], True, "1.35")
    first = time.perf_counter() - start
    start = time.perf_counter()
    build_catalogue([crds], True, "1.35")
    return first, time.perf_counter() - start, len(catalogue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cmd", default=f"{sys.executable} -m autobot_guard")
    args = parser.parse_args()
    base = shlex.split(args.cmd)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, templates in CORPORA.items():
            directory = Path(tmp) / name
            write(directory, templates, args.count)
            command = [*base, "check", str(directory), "--rego", "off", "--format", "json",
                       "--fail-on", "never", "--output", "/dev/null"]  # fmt: skip
            times = timed(command, args.repeat)
            rows.append((name, min(times), statistics.median(times)))
    first, again, kinds = compile_figures()
    print(f"check --rego off, {args.count} documents, {args.repeat} runs (wall seconds)")
    print(f"{'corpus':<14}{'min':>8}{'median':>9}")
    for name, low, middle in rows:
        print(f"{name:<14}{low:>8.2f}{middle:>9.2f}")
    deployments = rows[0][2]
    for name, _, middle in rows[1:]:
        verdict = "no more than" if middle <= deployments else "MORE than"
        print(f"{name}: {middle / deployments:.0%} of the Deployments' median ({verdict})")
    print(
        f"bundled CRDs ({kinds} kinds): compiled in {first * 1000:.0f} ms, "
        f"built again from the cache in {again * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
