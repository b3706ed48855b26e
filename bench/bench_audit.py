"""`autobot-guard audit` on a real API server holding N objects, against `check` on the
same objects as files.

Starts a throw-away control plane (scripts/control-plane, no controller manager: the
Deployments stay as written, no ReplicaSets or Pods are added), writes N objects as
manifests (Namespaces, then ConfigMaps and Deployments in them), creates them with a
few parallel `kubectl apply --server-side` runs, then times, as whole processes:

- `check DIR --format json --fail-on never --output /dev/null` on the manifests;
- `audit --kubeconfig K --format json --fail-on never --output /dev/null` on the cluster;

each once untimed, then --repeat times (median), and the peak memory (PSS of the process
tree, as bench_check.py measures it). Targets: audit <= 3x check, peak <= 500 MB.

    python bench/bench_audit.py                  # 20,000 objects, 3 runs each
    python bench/bench_audit.py --objects 2000 --repeat 5

Needs what the cluster tests need (docs/control-plane.md): the built kube-apiserver and
kube-controller-manager in .tools/kube (or AUTOBOT_KUBE_TOOLS), etcd, kubectl, openssl.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_check import REPO, run_once, tree_peak_mb

SCRIPT = REPO / "scripts" / "control-plane"
PER_NAMESPACE = 100  # objects per namespace: the Namespace, then ConfigMaps and Deployments
MAX_RATIO = 3.0
MAX_MB = 500.0


def deployment(namespace: str, index: int) -> dict[str, object]:
    """A Deployment as teams write them; every fifth one has a finding or two."""
    name = f"app-{index:03d}"
    container: dict[str, object] = {
        "name": "app",
        "image": f"ghcr.io/mrveiss/autobot-app:1.{index % 9}.0",
        "ports": [{"name": "http", "containerPort": 8080}],
        "envFrom": [{"configMapRef": {"name": f"config-{index:03d}"}}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"memory": "256Mi"}},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }  # fmt: skip
    if index % 5 == 0:
        container["image"] = "ghcr.io/mrveiss/autobot-app:latest"
        del container["resources"]
    labels = {"app": name, "component": "api", "logging": "centralized"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app": name, "team": "autobot-platform",
                                "owner": "autobot-platform-team"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [container]}}},
    }  # fmt: skip


def objects(count: int) -> list[list[dict[str, object]]]:
    """`count` objects, one list per namespace (its Namespace first)."""
    out: list[list[dict[str, object]]] = []
    made = 0
    while made < count:
        namespace = f"bench-{len(out):04d}"
        group: list[dict[str, object]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        ]
        index = 0
        while len(group) < min(PER_NAMESPACE, count - made):
            group.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"config-{index:03d}", "namespace": namespace},
                          "data": {"LOG_LEVEL": "info", "REGION": "eu-west-1"}})  # fmt: skip
            if len(group) < min(PER_NAMESPACE, count - made):
                group.append(deployment(namespace, index))
            index += 1
        made += len(group)
        out.append(group)
    return out


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env)


def create(kubeconfig: Path, groups: list[list[dict[str, object]]], work: Path) -> float:
    """Create every object: the Namespaces in one apply, the rest in parallel applies of
    a few thousand objects each. Returns the seconds it took."""
    started = time.perf_counter()
    namespaces = {"apiVersion": "v1", "kind": "List", "items": [g[0] for g in groups]}
    (work / "namespaces.json").write_text(json.dumps(namespaces))
    done = kubectl(kubeconfig, "apply", "--server-side", "-f", str(work / "namespaces.json"))
    if done.returncode != 0:
        raise SystemExit(f"kubectl apply (namespaces) failed: {done.stderr[-2000:]}")
    rest = [obj for group in groups for obj in group[1:]]
    chunks = [rest[i : i + 2500] for i in range(0, len(rest), 2500)]
    paths = []
    for number, chunk in enumerate(chunks):
        path = work / f"objects-{number:03d}.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": chunk}))
        paths.append(path)

    def apply(path: Path) -> str:
        result = kubectl(kubeconfig, "apply", "--server-side", "-f", str(path))
        return "" if result.returncode == 0 else result.stderr[-2000:]

    with ThreadPoolExecutor(4) as pool:
        failures = [error for error in pool.map(apply, paths) if error]
    if failures:
        raise SystemExit(f"kubectl apply failed: {failures[0]}")
    return time.perf_counter() - started


def write_files(groups: list[list[dict[str, object]]], directory: Path) -> None:
    """The same objects as manifests, one JSON file (a List) per namespace."""
    directory.mkdir(parents=True, exist_ok=True)
    for group in groups:
        name = group[0]["metadata"]["name"]  # type: ignore[index]
        document = {"apiVersion": "v1", "kind": "List", "items": group}
        (directory / f"{name}.json").write_text(json.dumps(document, indent=1))


def timed(command: list[str], repeat: int) -> tuple[list[float], float]:
    """Wall seconds of `repeat` runs after an untimed one, and the peak PSS in MB."""
    times = []
    rss = 0.0
    for run in range(repeat + 1):
        elapsed, peak, code, stderr = run_once(command)
        if code != 0:
            last = stderr.strip().splitlines()[-1:] or ["no stderr"]
            raise SystemExit(f"{' '.join(command[2:4])} exited {code}: {last[0]}")
        if run:
            times.append(elapsed)
            rss = max(rss, peak)
    return times, tree_peak_mb(command) or rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=20000, help="objects in the cluster")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--rego", default="auto", help="--rego of both commands")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    base = [sys.executable, "-m", "autobot_guard"]
    groups = objects(args.objects)
    total = sum(len(g) for g in groups)
    deployments = sum(1 for g in groups for o in g if o["kind"] == "Deployment")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as temporary:
        work = Path(temporary)
        files = work / "manifests"
        write_files(groups, files)
        run = work / "control-plane"
        started = subprocess.run(
            [sys.executable, str(SCRIPT), "start", str(run), "--no-controller-manager",
             f"--owner-pid={os.getpid()}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if started.returncode != 0:
            raise SystemExit(f"scripts/control-plane start failed:\n{started.stderr[-3000:]}")
        try:
            kubeconfig = run / "kubeconfig"
            print(f"creating {total} objects ({len(groups)} Namespaces, {deployments} "
                  f"Deployments, {total - len(groups) - deployments} ConfigMaps) ...",
                  flush=True)  # fmt: skip
            seconds = create(kubeconfig, groups, work)
            print(f"created in {seconds:.1f} s ({total / seconds:.0f} objects/s)", flush=True)
            common = ["--format", "json", "--fail-on", "never", "--output", "/dev/null",
                      "--rego", args.rego]  # fmt: skip
            check_times, check_mb = timed([*base, "check", str(files), *common], args.repeat)
            audit_times, audit_mb = timed(
                [*base, "audit", "--kubeconfig", str(kubeconfig), *common], args.repeat
            )
        finally:
            subprocess.run([sys.executable, str(SCRIPT), "stop", str(run)], capture_output=True)
    check_s, audit_s = statistics.median(check_times), statistics.median(audit_times)
    ratio = audit_s / check_s
    print(f"\n{'command':<8} {'objects':>8} {'min s':>7} {'median s':>9} {'peak MB':>8}")
    for name, times, mb in (("check", check_times, check_mb), ("audit", audit_times, audit_mb)):
        print(f"{name:<8} {total:>8} {min(times):>7.2f} {statistics.median(times):>9.2f} "
              f"{mb:>8.0f}")  # fmt: skip
    ok_ratio, ok_memory = ratio <= MAX_RATIO, audit_mb <= MAX_MB
    print(f"\naudit / check: {ratio:.2f}x (target <= {MAX_RATIO:.0f}x): "
          f"{'PASS' if ok_ratio else 'FAIL'}")  # fmt: skip
    print(f"audit peak memory: {audit_mb:.0f} MB (target <= {MAX_MB:.0f} MB): "
          f"{'PASS' if ok_memory else 'FAIL'}")  # fmt: skip
    return 1 if args.strict and not (ok_ratio and ok_memory) else 0


if __name__ == "__main__":
    sys.exit(main())
