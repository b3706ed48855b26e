#!/usr/bin/env python3
"""Deterministic generator of a realistic Kubernetes manifest corpus.

    python bench/corpus.py --documents 2000 --out /tmp/corpus [--seed 42] [--stats]

Writes ``corpus-00000.yaml``, ``corpus-00001.yaml``, ... with 10 documents
each (separated by ``---``), about 2 KB per document on average.  The same
document count and seed give byte-identical output.  Standard library only.

The mix: application bundles (ConfigMap, ExternalSecret, Deployment or
StatefulSet or the odd DaemonSet, Services, HPA, PDB, PVC, NetworkPolicy) spread
over about five namespaces per 1,000 documents, each namespace with a
default-deny and a DNS NetworkPolicy.  About 70% of the workloads are clean;
the rest carry one or two realistic defects (see ``DEFECTS``) so that a checker
has findings, with lines, to report.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import NamedTuple

DEFAULT_SEED = 42
DOCS_PER_FILE = 10
NAMESPACES_PER_1000_DOCS = 5
DEFECT_RATE = 0.3
FILE_PREFIX = "corpus-"

# fmt: off
TEAMS = (
    "shop", "payments", "identity", "search", "logistics", "media", "analytics",
    "platform", "growth", "support", "billing", "catalog", "messaging", "risk",
    "data", "mobile", "partners", "ads", "maps", "infra", "content", "checkout",
    "loyalty", "pricing", "security",
)
APPS = (
    "checkout", "cart", "orders", "inventory", "catalog", "pricing", "payments",
    "ledger", "invoices", "accounts", "auth", "profile", "search", "reviews",
    "recommendations", "shipping", "tracking", "notifications", "mailer", "media",
    "thumbnails", "reports", "gateway", "scheduler",
)
# fmt: on
ENVIRONMENTS = ("prod", "staging", "dev", "qa")
COMPONENTS = ("api", "worker", "web", "consumer", "cron", "grpc")
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1")
EVENTS = ("created", "updated", "deleted", "audit", "dead-letter", "retry")
FEATURES = ("new-checkout", "async-invoices", "dark-mode", "v2-search", "beta-api")

DEFECTS = (
    "missing-probe",
    "single-replica",
    "missing-memory-limit",
    "latest-image",
    "missing-logging-label",
    "dangling-volume-mount",
    "missing-configmap",
    "privileged",
    "small-pvc",
)
# DaemonSets have no replicas; only Deployment bundles carry a standalone PVC.
NOT_APPLICABLE = {
    "Deployment": set[str](),
    "StatefulSet": {"small-pvc"},
    "DaemonSet": {"single-replica", "small-pvc"},
}


class Engine(NamedTuple):
    """The main container of a StatefulSet."""

    image: str
    port: tuple[str, int]
    probe: str  # "exec:<command>", "http:<path>" or "tcp"
    data_path: str
    exporter: tuple[str, int] | None = None  # sidecar image and metrics port


ENGINES = {
    "postgres": Engine(
        "postgres:16.2",
        ("postgres", 5432),
        "exec:pg_isready -U postgres",
        "/var/lib/postgresql/data",
        ("quay.io/prometheuscommunity/postgres-exporter:v0.15.0", 9187),
    ),
    "redis": Engine(
        "redis:7.2.4",
        ("redis", 6379),
        "exec:redis-cli ping",
        "/data",
        ("oliver006/redis_exporter:v1.58.0", 9121),
    ),
    "rabbitmq": Engine("rabbitmq:3.13.0-management", ("amqp", 5672), "tcp", "/var/lib/rabbitmq"),
    "opensearch": Engine(
        "opensearchproject/opensearch:2.12.0",
        ("http", 9200),
        "http:/_cluster/health?local=true",
        "/usr/share/opensearch/data",
    ),
    "kafka": Engine(
        "bitnami/kafka:3.6.1",
        ("kafka", 9092),
        "tcp",
        "/bitnami/kafka",
        ("danielqsj/kafka-exporter:v1.7.0", 9308),
    ),
}
AGENTS = {  # DaemonSet name: image, metrics port, health path
    "log-agent": ("fluent/fluent-bit:2.2.2", 2020, "/api/v1/health"),
    "node-exporter": ("quay.io/prometheus/node-exporter:v1.7.0", 9100, "/"),
    "otel-agent": ("otel/opentelemetry-collector-contrib:0.96.0", 13133, "/"),
    "csi-node": ("registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.10.0", 9809, "/healthz"),
}

_NEEDS_QUOTES = re.compile(
    r"^(|~|null|true|false|yes|no|on|off|[-+]?[0-9][0-9_.eE+-]*|.*[:#]\s.*"
    r"|[-?:,\[\]{}#&*!|>'\"%@`].*)$",
    re.IGNORECASE,
)


# -- YAML text helpers ------------------------------------------------------


def scalar(value: str) -> str:
    """A YAML scalar for a string: plain when that still reads as a string, else quoted."""
    return json.dumps(value) if _NEEDS_QUOTES.match(value) else value


def indent(lines: Iterable[str], spaces: int) -> list[str]:
    pad = " " * spaces
    return [pad + line for line in lines]


def item(lines: list[str]) -> list[str]:
    """``lines`` as one entry of a block sequence (``- `` on its first line)."""
    return ["- " + lines[0], *indent(lines[1:], 2)]


def items(entries: Iterable[list[str]], spaces: int = 2) -> list[str]:
    """A block sequence of ``entries``, indented under its key."""
    return [line for entry in entries for line in indent(item(entry), spaces)]


def mapping(values: dict[str, str]) -> list[str]:
    return [f"{key}: {scalar(value)}" for key, value in values.items()]


def mebibytes(amount: int) -> str:
    return f"{amount // 1024}Gi" if amount % 1024 == 0 else f"{amount}Mi"


def metadata(
    name: str,
    namespace: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> list[str]:
    lines = ["metadata:", f"  name: {name}", f"  namespace: {namespace}"]
    if labels:
        lines += ["  labels:", *indent(mapping(labels), 4)]
    if annotations:
        lines += ["  annotations:", *indent(mapping(annotations), 4)]
    return lines


class Document(NamedTuple):
    kind: str
    text: str
    defects: tuple[str, ...] = ()  # set on workloads; covers their whole bundle


def resource(
    api_version: str,
    kind: str,
    meta: list[str],
    body: list[str],
    key: str = "spec",
    defects: Iterable[str] = (),
) -> Document:
    lines = [f"apiVersion: {api_version}", f"kind: {kind}", *meta, f"{key}:", *indent(body, 2)]
    return Document(kind, "\n".join(lines) + "\n", tuple(defects))


# -- pod model --------------------------------------------------------------


@dataclass
class EnvVar:
    name: str
    value: str | None = None
    config_map: str | None = None
    secret: str | None = None
    key: str = ""
    field_path: str | None = None

    def render(self) -> list[str]:
        head = f"name: {self.name}"
        if self.value is not None:
            return [head, f"value: {json.dumps(self.value)}"]
        if self.field_path is not None:
            return [head, "valueFrom:", "  fieldRef:", f"    fieldPath: {self.field_path}"]
        ref = "configMapKeyRef" if self.config_map else "secretKeyRef"
        source = self.config_map or self.secret
        return [head, "valueFrom:", f"  {ref}:", f"    name: {source}", f"    key: {self.key}"]


@dataclass
class Probe:
    kind: str  # "http", "tcp" or "exec"
    target: str = ""  # HTTP path, or the command's words separated by spaces
    port: str | int = "http"
    initial_delay: int = 5
    period: int = 10
    failure_threshold: int = 3

    def render(self) -> list[str]:
        if self.kind == "http":
            action = ["httpGet:", f"  path: {scalar(self.target)}", f"  port: {self.port}"]
        elif self.kind == "tcp":
            action = ["tcpSocket:", f"  port: {self.port}"]
        else:
            action = ["exec:", "  command:", *(f"    - {w}" for w in self.target.split())]
        return [
            *action,
            f"initialDelaySeconds: {self.initial_delay}",
            f"periodSeconds: {self.period}",
            "timeoutSeconds: 2",
            f"failureThreshold: {self.failure_threshold}",
        ]

    def slower(self) -> Probe:
        """The matching liveness probe: same check, later and less often."""
        return Probe(self.kind, self.target, self.port, self.initial_delay + 10, self.period * 2)


class Resources(NamedTuple):
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str | None


class Mount(NamedTuple):
    name: str
    path: str
    read_only: bool = False


class Volume(NamedTuple):
    name: str
    source: list[str]


@dataclass
class Container:
    name: str
    image: str
    ports: list[tuple[str, int]]
    resources: Resources
    readiness: Probe | None
    liveness: Probe | None
    startup: Probe | None = None
    env: list[EnvVar] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    pre_stop_sleep: int = 0
    privileged: bool = False

    def render(self) -> list[str]:
        lines = [f"name: {self.name}", f"image: {self.image}", "imagePullPolicy: IfNotPresent"]
        if self.args:
            lines += ["args:", *indent((f"- {scalar(a)}" for a in self.args), 2)]
        if self.ports:
            ports = ([f"name: {n}", f"containerPort: {p}", "protocol: TCP"] for n, p in self.ports)
            lines += ["ports:", *items(ports)]
        if self.env:
            lines += ["env:", *items(var.render() for var in self.env)]
        res = self.resources
        lines += [
            "resources:",
            "  requests:",
            f"    cpu: {res.cpu_request}",
            f"    memory: {res.memory_request}",
            "  limits:",
            f"    cpu: {res.cpu_limit}",
        ]
        if res.memory_limit:
            lines.append(f"    memory: {res.memory_limit}")
        probes = (
            ("startupProbe", self.startup),
            ("readinessProbe", self.readiness),
            ("livenessProbe", self.liveness),
        )
        for key, probe in probes:
            if probe is not None:
                lines += [f"{key}:", *indent(probe.render(), 2)]
        if self.pre_stop_sleep:
            lines += ["lifecycle:", "  preStop:", "    exec:", "      command:"]
            lines += ["        - sleep", f'        - "{self.pre_stop_sleep}"']
        lines.append("securityContext:")
        if self.privileged:
            lines.append("  privileged: true")
        else:
            lines += [
                "  allowPrivilegeEscalation: false",
                "  readOnlyRootFilesystem: true",
                "  runAsNonRoot: true",
                "  capabilities:",
                "    drop:",
                "      - ALL",
            ]
        if self.mounts:
            mounts = (
                [f"name: {m.name}", f"mountPath: {m.path}", *(["readOnly: true"] * m.read_only)]
                for m in self.mounts
            )
            lines += ["volumeMounts:", *items(mounts)]
        return lines


@dataclass
class Workload:
    kind: str  # Deployment, StatefulSet or DaemonSet
    name: str
    namespace: str
    app: str
    component: str
    team: str
    version: str
    replicas: int
    containers: list[Container]
    volumes: list[Volume]
    config_checksum: str
    service_name: str | None = None
    claims: list[tuple[str, str, str]] = field(default_factory=list)  # name, class, size
    defects: list[str] = field(default_factory=list)
    pod_labels: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.pod_labels = {**self.selector, "logging": "centralized", "version": self.version}

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.app, "component": self.component}

    def labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self.app,
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/part-of": self.team,
            "app.kubernetes.io/version": self.version,
            "app.kubernetes.io/managed-by": "kustomize",
            "app": self.app,
            "component": self.component,
            "team": self.team,
        }

    def _pod_spec(self) -> list[str]:
        lines = [
            "automountServiceAccountToken: false",
            f"terminationGracePeriodSeconds: {60 if self.kind == 'StatefulSet' else 30}",
            "securityContext:",
            "  runAsNonRoot: true",
            "  runAsUser: 10001",
            "  fsGroup: 10001",
            "  seccompProfile:",
            "    type: RuntimeDefault",
        ]
        if self.kind == "DaemonSet":
            lines += [
                "priorityClassName: system-node-critical",
                "tolerations:",
                "  - operator: Exists",
            ]
        else:
            pool = "storage" if self.kind == "StatefulSet" else "general"
            lines += [
                "dnsConfig:",
                "  options:",
                "    - name: ndots",
                '      value: "2"',
                "affinity:",
                "  nodeAffinity:",
                "    requiredDuringSchedulingIgnoredDuringExecution:",
                "      nodeSelectorTerms:",
                "        - matchExpressions:",
                "            - key: node.kubernetes.io/pool",
                "              operator: In",
                "              values:",
                f"                - {pool}",
                "  podAntiAffinity:",
                "    preferredDuringSchedulingIgnoredDuringExecution:",
                "      - weight: 100",
                "        podAffinityTerm:",
                "          topologyKey: kubernetes.io/hostname",
                "          labelSelector:",
                "            matchLabels:",
                *indent(mapping(self.selector), 14),
                "topologySpreadConstraints:",
                "  - maxSkew: 1",
                "    topologyKey: topology.kubernetes.io/zone",
                "    whenUnsatisfiable: ScheduleAnyway",
                "    labelSelector:",
                "      matchLabels:",
                *indent(mapping(self.selector), 8),
            ]
        lines += ["containers:", *items(c.render() for c in self.containers)]
        if self.volumes:
            lines += ["volumes:", *items([f"name: {v.name}", *v.source] for v in self.volumes)]
        return lines

    def render(self) -> Document:
        main = self.containers[0]
        pod_annotations = {
            "kubectl.kubernetes.io/default-container": main.name,
            "checksum/config": self.config_checksum,
        }
        metrics_port = next((port for name, port in main.ports if "metrics" in name), None)
        if metrics_port:
            pod_annotations["prometheus.io/scrape"] = "true"
            pod_annotations["prometheus.io/port"] = str(metrics_port)

        spec: list[str] = []
        if self.kind != "DaemonSet":
            spec.append(f"replicas: {self.replicas}")
        if self.service_name:
            spec.append(f"serviceName: {self.service_name}")
        spec += ["revisionHistoryLimit: 5", "selector:", "  matchLabels:"]
        spec += indent(mapping(self.selector), 4)
        if self.kind == "Deployment":
            spec += ["progressDeadlineSeconds: 600", "minReadySeconds: 10"]
            spec += ["strategy:", "  type: RollingUpdate", "  rollingUpdate:"]
            spec += ["    maxSurge: 25%", "    maxUnavailable: 0"]
        else:
            spec += ["updateStrategy:", "  type: RollingUpdate"]
        spec += [
            "template:",
            "  metadata:",
            "    labels:",
            *indent(mapping(self.pod_labels), 6),
            "    annotations:",
            *indent(mapping(pod_annotations), 6),
            "  spec:",
            *indent(self._pod_spec(), 4),
        ]
        if self.claims:
            claims = (
                [
                    "metadata:",
                    f"  name: {claim}",
                    "spec:",
                    "  accessModes:",
                    "    - ReadWriteOnce",
                    f"  storageClassName: {storage_class}",
                    "  resources:",
                    "    requests:",
                    f"      storage: {size}",
                ]
                for claim, storage_class, size in self.claims
            )
            spec += ["volumeClaimTemplates:", *items(claims)]
        annotations = {
            "owner": f"team-{self.team}@example.com",
            "runbook": f"https://runbooks.example.com/{self.team}/{self.name}",
        }
        meta = metadata(self.name, self.namespace, self.labels(), annotations)
        return resource("apps/v1", self.kind, meta, spec, defects=self.defects)


# -- corpus -----------------------------------------------------------------


class CorpusBuilder:
    """Yields documents bundle by bundle; the caller takes as many as it needs."""

    def __init__(self, documents: int, seed: int = DEFAULT_SEED) -> None:
        self.rng = random.Random(seed)
        count = max(1, round(documents * NAMESPACES_PER_1000_DOCS / 1000))
        names = [f"{team}-{env}" for env in ENVIRONMENTS for team in TEAMS]
        self.rng.shuffle(names)
        names += [f"{name}-{i}" for i in range(2, 2 + count // len(names)) for name in names]
        self.namespaces = names[:count]
        self.started: set[str] = set()
        self.taken: dict[str, set[tuple[str, str]]] = {ns: set() for ns in self.namespaces}

    def documents(self) -> Iterator[Document]:
        """An endless stream; a namespace's baseline policies come before its apps."""
        while True:
            namespace = self.rng.choice(self.namespaces)
            if namespace not in self.started:
                self.started.add(namespace)
                yield from self._namespace_policies(namespace)
            roll = self.rng.random()
            if roll < 0.65:
                yield from self._deployment_bundle(namespace)
            elif roll < 0.93:
                yield from self._statefulset_bundle(namespace)
            else:
                yield from self._daemonset_bundle(namespace)

    # -- random pieces ------------------------------------------------------

    def _identity(
        self, namespace: str, apps: tuple[str, ...], components: tuple[str, ...]
    ) -> tuple[str, str]:
        """An (app, component) pair not yet used in the namespace."""
        taken = self.taken[namespace]
        app, component = self.rng.choice(apps), self.rng.choice(components)
        base, suffix = component, 2
        while (app, component) in taken:
            component, suffix = f"{base}-{suffix}", suffix + 1
        taken.add((app, component))
        return app, component

    def _checksum(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def _version(self) -> str:
        rng = self.rng
        return f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"

    def _resources(self) -> Resources:
        rng = self.rng
        cpu = rng.choice((50, 100, 200, 250, 500))
        memory = rng.choice((64, 128, 256, 512, 1024))
        cpu_limit = f"{cpu * rng.choice((2, 4))}m"
        return Resources(
            f"{cpu}m", mebibytes(memory), cpu_limit, mebibytes(memory * rng.choice((1, 2)))
        )

    def _env(self, name: str, namespace: str) -> list[EnvVar]:
        rng = self.rng
        otlp = "http://otel-collector.observability.svc:4317"
        plain = [
            EnvVar("APP_ENV", value=namespace.split("-")[1]),
            EnvVar("AWS_REGION", value=rng.choice(REGIONS)),
            EnvVar("OTEL_SERVICE_NAME", value=name),
            EnvVar("OTEL_EXPORTER_OTLP_ENDPOINT", value=otlp),
            EnvVar("HTTP_SERVER_TIMEOUT", value=f"{rng.choice((5, 10, 30))}s"),
            EnvVar("GOMAXPROCS", value=str(rng.choice((1, 2, 4)))),
            EnvVar("TZ", value="UTC"),
            EnvVar("SERVER_PORT", value="8080"),
            EnvVar("MANAGEMENT_PORT", value="9090"),
            EnvVar(
                "JAVA_TOOL_OPTIONS", value="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"
            ),
            EnvVar("SHUTDOWN_GRACE_PERIOD", value="20s"),
        ]
        config = [
            EnvVar("LOG_LEVEL", config_map=f"{name}-config", key="log-level"),
            EnvVar("FEATURE_FLAGS", config_map=f"{name}-config", key="feature-flags"),
        ]
        secrets = [
            EnvVar("DATABASE_PASSWORD", secret=f"{name}-secrets", key="database-password"),
            EnvVar("API_TOKEN", secret=f"{name}-secrets", key="api-token"),
        ]
        fields = [
            EnvVar("POD_NAME", field_path="metadata.name"),
            EnvVar("POD_NAMESPACE", field_path="metadata.namespace"),
            EnvVar("NODE_NAME", field_path="spec.nodeName"),
        ]
        return (
            rng.sample(plain, rng.randint(3, 7))
            + rng.sample(config, rng.randint(1, 2))
            + rng.sample(secrets, rng.randint(0, 2))
            + rng.sample(fields, rng.randint(1, 2))
        )

    def _sidecars(self, name: str) -> tuple[list[Container], list[Volume]]:
        """Zero to two sidecars (envoy, log shipper) and the volumes they bring."""
        rng = self.rng
        chosen = sorted(rng.sample(("envoy", "log-shipper"), rng.choice((0, 0, 1, 1, 2))))
        containers: list[Container] = []
        volumes: list[Volume] = []
        if "envoy" in chosen:
            ready = Probe("http", "/ready", "envoy-admin")
            containers.append(
                Container(
                    name="envoy",
                    image="envoyproxy/envoy:v1.29.2",
                    ports=[("https", 8443), ("envoy-admin", 9901)],
                    resources=self._resources(),
                    readiness=ready,
                    liveness=ready.slower(),
                    mounts=[Mount("envoy-config", "/etc/envoy", True)],
                    args=["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                )
            )
            source = ["configMap:", f"  name: {name}-config", "  items:"]
            source += ["    - key: envoy.yaml", "      path: envoy.yaml"]
            volumes.append(Volume("envoy-config", source))
        if "log-shipper" in chosen:
            ready = Probe("http", "/api/v1/health", "fb-metrics")
            containers.append(
                Container(
                    name="log-shipper",
                    image="fluent/fluent-bit:2.2.2",
                    ports=[("fb-metrics", 2020)],
                    resources=self._resources(),
                    readiness=ready,
                    liveness=ready.slower(),
                    mounts=[Mount("logs", "/var/log/app", True)],
                )
            )
            volumes.append(Volume("logs", ["emptyDir:", "  sizeLimit: 1Gi"]))
        return containers, volumes

    def _apply_defects(self, workload: Workload) -> None:
        rng = self.rng
        if rng.random() >= DEFECT_RATE:
            return
        candidates = [d for d in DEFECTS if d not in NOT_APPLICABLE[workload.kind]]
        workload.defects = rng.sample(candidates, 2 if rng.random() < 0.15 else 1)
        main = workload.containers[0]
        for defect in workload.defects:
            if defect == "missing-probe":
                if rng.random() < 0.5:
                    main.readiness = None
                else:
                    main.liveness = None
            elif defect == "single-replica":
                workload.replicas = 1
            elif defect == "missing-memory-limit":
                main.resources = main.resources._replace(memory_limit=None)
            elif defect == "latest-image":
                main.image = main.image.rsplit(":", 1)[0] + ":latest"
            elif defect == "missing-logging-label":
                del workload.pod_labels["logging"]
            elif defect == "dangling-volume-mount":
                main.mounts.append(Mount("cache", "/var/cache/app"))
            elif defect == "missing-configmap":
                shared = f"{workload.app}-shared-config"  # never generated
                main.env.append(EnvVar("SHARED_SETTINGS", config_map=shared, key="settings.json"))
            elif defect == "privileged":
                main.privileged = True
            # "small-pvc" is applied by _pvc().

    # -- resources ----------------------------------------------------------

    def _config_map(self, workload: Workload, port: int) -> Document:
        rng = self.rng
        ns = workload.namespace
        upstreams = [
            [
                f"name: {app}",
                f"url: http://{app}-api.{ns}.svc.cluster.local",
                f"timeout: {rng.choice((500, 1000, 2000))}ms",
                f"retries: {rng.randint(0, 3)}",
            ]
            for app in rng.sample(APPS, rng.randint(3, 8))
        ]
        application = [
            "server:",
            f"  port: {port}",
            "  shutdown: graceful",
            "database:",
            f"  host: {workload.app}-postgres.{ns}.svc.cluster.local",
            "  port: 5432",
            f"  name: {workload.app.replace('-', '_')}",
            f"  pool-size: {rng.choice((5, 10, 20))}",
            "  connect-timeout: 5s",
            "management:",
            "  endpoints:",
            "    web:",
            "      exposure:",
            "        include: health,prometheus",
            "app:",
            f"  name: {workload.name}",
            f"  region: {rng.choice(REGIONS)}",
            "  cache:",
            f"    ttl: {rng.choice((60, 300, 900))}s",
            f"    max-entries: {rng.choice((1000, 10000, 50000))}",
            "  upstreams:",
            *items(upstreams, 4),
            "resilience:",
            "  circuit-breaker:",
            f"    failure-rate-threshold: {rng.choice((25, 50))}",
            "    sliding-window-size: 100",
            f"    wait-duration-in-open-state: {rng.choice((10, 30, 60))}s",
            "  retry:",
            f"    max-attempts: {rng.randint(2, 5)}",
            "    backoff: exponential",
            "    initial-interval: 100ms",
            "  bulkhead:",
            f"    max-concurrent-calls: {rng.choice((25, 50, 100))}",
            "messaging:",
            f"  brokers: {workload.app}-kafka-headless.{ns}.svc.cluster.local:9092",
            f"  consumer-group: {workload.name}",
            "  topics:",
            *(f"    - {workload.app}.{event}" for event in rng.sample(EVENTS, rng.randint(1, 4))),
        ]
        logging = [
            "format: json",
            "fields:",
            f"  service: {workload.name}",
            f"  team: {workload.team}",
            "sinks:",
            "  - type: stdout",
            "  - type: otlp",
            "    endpoint: http://otel-collector.observability.svc:4318",
        ]
        envoy = [
            "static_resources:",
            "  listeners:",
            "    - name: ingress",
            "      address:",
            "        socket_address: { address: 0.0.0.0, port_value: 8443 }",
            "admin:",
            "  address:",
            "    socket_address: { address: 127.0.0.1, port_value: 9901 }",
        ]
        flags = ",".join(rng.sample(FEATURES, 2))
        data = [
            f"log-level: {rng.choice(('info', 'info', 'debug', 'warn'))}",
            f"feature-flags: {flags}",
            f'http-port: "{port}"',
            f'cache-enabled: "{str(rng.random() < 0.7).lower()}"',
            "application.yaml: |",
            *indent(application, 2),
            "logging.yaml: |",
            *indent(logging, 2),
            "envoy.yaml: |",
            *indent(envoy, 2),
        ]
        meta = metadata(f"{workload.name}-config", ns, workload.labels())
        return resource("v1", "ConfigMap", meta, data, key="data")

    def _external_secret(self, workload: Workload) -> list[Document]:
        """The ExternalSecret behind the workload's secretKeyRefs, if it has any."""
        if not any(var.secret for c in workload.containers for var in c.env):
            return []
        name = f"{workload.name}-secrets"
        data = (
            [
                f"secretKey: {key}",
                "remoteRef:",
                f"  key: {workload.team}/{workload.namespace}/{workload.name}",
                f"  property: {key}",
            ]
            for key in ("database-password", "api-token")
        )
        spec = [
            "refreshInterval: 1h",
            "secretStoreRef:",
            "  kind: ClusterSecretStore",
            "  name: vault-backend",
            "target:",
            f"  name: {name}",
            "  creationPolicy: Owner",
            "data:",
            *items(data),
        ]
        meta = metadata(name, workload.namespace, workload.labels())
        return [resource("external-secrets.io/v1", "ExternalSecret", meta, spec)]

    def _service(
        self, workload: Workload, name: str, ports: list[tuple[str, int]], headless: bool = False
    ) -> Document:
        """A Service; ``ports`` are (name, port) pairs targeting the container port by name."""
        if headless:
            spec = ["clusterIP: None", "publishNotReadyAddresses: true"]
            annotations = None
        else:
            spec = ["type: ClusterIP"]
            annotations = {"service.kubernetes.io/topology-mode": "Auto"}
        entries = (
            [f"name: {port_name}", f"port: {port}", f"targetPort: {port_name}", "protocol: TCP"]
            for port_name, port in ports
        )
        spec += ["selector:", *indent(mapping(workload.selector), 2), "ports:", *items(entries)]
        meta = metadata(name, workload.namespace, workload.labels(), annotations)
        return resource("v1", "Service", meta, spec)

    def _hpa(self, workload: Workload) -> Document:
        rng = self.rng
        targets = (("cpu", rng.choice((60, 70, 80))), ("memory", rng.choice((75, 80, 85))))
        metrics = (
            [
                "type: Resource",
                "resource:",
                f"  name: {name}",
                "  target:",
                "    type: Utilization",
                f"    averageUtilization: {utilization}",
            ]
            for name, utilization in targets
        )
        spec = [
            "scaleTargetRef:",
            "  apiVersion: apps/v1",
            f"  kind: {workload.kind}",
            f"  name: {workload.name}",
            f"minReplicas: {workload.replicas}",
            f"maxReplicas: {workload.replicas * rng.choice((2, 3, 5))}",
            "metrics:",
            *items(metrics),
        ]
        if rng.random() < 0.5:
            window = rng.choice((120, 300))
            spec += ["behavior:", "  scaleDown:", f"    stabilizationWindowSeconds: {window}"]
        meta = metadata(workload.name, workload.namespace, workload.labels())
        return resource("autoscaling/v2", "HorizontalPodAutoscaler", meta, spec)

    def _pdb(self, workload: Workload) -> Document:
        budget = self.rng.choice(("minAvailable: 1", "maxUnavailable: 1", "minAvailable: 50%"))
        spec = [budget, "selector:", "  matchLabels:", *indent(mapping(workload.selector), 4)]
        meta = metadata(workload.name, workload.namespace, workload.labels())
        return resource("policy/v1", "PodDisruptionBudget", meta, spec)

    def _pvc(self, workload: Workload, name: str) -> Document:
        small = "small-pvc" in workload.defects
        size = "500Mi" if small else f"{self.rng.choice((5, 10, 20, 50, 100))}Gi"
        spec = [
            "accessModes:",
            "  - ReadWriteMany",
            "storageClassName: efs-sc",
            "resources:",
            "  requests:",
            f"    storage: {size}",
        ]
        meta = metadata(name, workload.namespace, workload.labels())
        return resource("v1", "PersistentVolumeClaim", meta, spec)

    def _allow_policy(self, workload: Workload, port: int) -> Document:
        spec = [
            "podSelector:",
            "  matchLabels:",
            *indent(mapping(workload.selector), 4),
            "policyTypes:",
            "  - Ingress",
            "ingress:",
            "  - from:",
            "      - namespaceSelector:",
            "          matchLabels:",
            "            kubernetes.io/metadata.name: ingress-nginx",
            "      - podSelector:",
            "          matchLabels:",
            f"            app.kubernetes.io/part-of: {workload.team}",
            "    ports:",
            "      - protocol: TCP",
            f"        port: {port}",
        ]
        meta = metadata(f"{workload.name}-allow-ingress", workload.namespace, workload.labels())
        return resource("networking.k8s.io/v1", "NetworkPolicy", meta, spec)

    def _namespace_policies(self, namespace: str) -> list[Document]:
        labels = {"app.kubernetes.io/managed-by": "kustomize", "policy-tier": "baseline"}
        deny = ["podSelector: {}", "policyTypes:", "  - Ingress", "  - Egress"]
        dns = [
            "podSelector: {}",
            "policyTypes:",
            "  - Egress",
            "egress:",
            "  - to:",
            "      - namespaceSelector:",
            "          matchLabels:",
            "            kubernetes.io/metadata.name: kube-system",
            "        podSelector:",
            "          matchLabels:",
            "            k8s-app: kube-dns",
            "    ports:",
            "      - protocol: UDP",
            "        port: 53",
            "      - protocol: TCP",
            "        port: 53",
        ]
        return [
            resource(
                "networking.k8s.io/v1", "NetworkPolicy", metadata(name, namespace, labels), spec
            )
            for name, spec in (("default-deny-all", deny), ("allow-dns-egress", dns))
        ]

    # -- bundles ------------------------------------------------------------

    def _deployment_bundle(self, namespace: str) -> list[Document]:
        rng = self.rng
        team = namespace.split("-")[0]
        app, component = self._identity(namespace, APPS, COMPONENTS)
        name, version = f"{app}-{component}", self._version()
        main = Container(
            name=component.split("-")[0],
            image=f"registry.example.com/{team}/{app}-{component}:{version}",
            ports=[("http", 8080), ("metrics", 9090)],
            resources=self._resources(),
            readiness=Probe("http", "/ready"),
            liveness=Probe("http", "/healthz", initial_delay=15, period=20),
            startup=Probe("http", "/healthz", initial_delay=0, period=5, failure_threshold=30),
            env=self._env(name, namespace),
            mounts=[Mount("config", f"/etc/{app}", True), Mount("tmp", "/tmp")],
            args=[f"--config=/etc/{app}/application.yaml"],
            pre_stop_sleep=rng.choice((0, 5, 10)),
        )
        volumes = [
            Volume("config", ["configMap:", f"  name: {name}-config"]),
            Volume("tmp", ["emptyDir: {}"]),
        ]
        sidecars, sidecar_volumes = self._sidecars(name)
        if any(v.name == "logs" for v in sidecar_volumes):
            main.mounts.append(Mount("logs", "/var/log/app"))
        workload = Workload(
            kind="Deployment",
            name=name,
            namespace=namespace,
            app=app,
            component=component,
            team=team,
            version=version,
            replicas=rng.choice((2, 2, 3, 3, 4, 6)),
            containers=[main, *sidecars],
            volumes=volumes + sidecar_volumes,
            config_checksum=self._checksum(),
        )
        self._apply_defects(workload)
        has_pvc = "small-pvc" in workload.defects or rng.random() < 0.2
        if has_pvc:
            main.mounts.append(Mount("data", "/var/lib/app"))
            claim = ["persistentVolumeClaim:", f"  claimName: {name}-data"]
            workload.volumes.append(Volume("data", claim))

        docs = [self._config_map(workload, 8080), *self._external_secret(workload)]
        if has_pvc:
            docs.append(self._pvc(workload, f"{name}-data"))
        docs.append(workload.render())
        docs.append(self._service(workload, name, [("http", 80), ("metrics", 9090)]))
        if workload.replicas > 1 and rng.random() < 0.5:
            docs.append(self._hpa(workload))
        if workload.replicas > 1:
            docs.append(self._pdb(workload))
        if rng.random() < 0.5:
            docs.append(self._allow_policy(workload, 8080))
        return docs

    def _statefulset_bundle(self, namespace: str) -> list[Document]:
        rng = self.rng
        team = namespace.split("-")[0]
        app, component = self._identity(namespace, APPS, tuple(ENGINES))
        engine = ENGINES[component.split("-")[0]]
        name, version = f"{app}-{component}", engine.image.rsplit(":", 1)[1]
        port_name, port = engine.port
        kind, _, target = engine.probe.partition(":")
        ready = Probe(kind, target, port_name)
        main = Container(
            name=component.split("-")[0],
            image=engine.image,
            ports=[engine.port],
            resources=self._resources(),
            readiness=ready,
            liveness=Probe(kind, target, port_name, initial_delay=30, period=20),
            env=self._env(name, namespace),
            mounts=[
                Mount("data", engine.data_path),
                Mount("config", "/etc/config", True),
                Mount("tmp", "/tmp"),
            ],
        )
        containers = [main]
        if engine.exporter and rng.random() < 0.6:
            image, exporter_port = engine.exporter
            exporter_ready = Probe("http", "/", "exp-metrics")
            exporter = Container(
                name="exporter",
                image=image,
                ports=[("exp-metrics", exporter_port)],
                resources=self._resources(),
                readiness=exporter_ready,
                liveness=exporter_ready.slower(),
            )
            containers.append(exporter)
        volumes = [
            Volume("config", ["configMap:", f"  name: {name}-config"]),
            Volume("tmp", ["emptyDir: {}"]),
        ]
        workload = Workload(
            kind="StatefulSet",
            name=name,
            namespace=namespace,
            app=app,
            component=component,
            team=team,
            version=version,
            replicas=rng.choice((3, 3, 5)),
            containers=containers,
            volumes=volumes,
            config_checksum=self._checksum(),
            service_name=f"{name}-headless",
        )
        storage_class = rng.choice(("gp3", "premium-rwo"))
        workload.claims = [("data", storage_class, f"{rng.choice((10, 20, 50, 100, 200))}Gi")]
        self._apply_defects(workload)
        docs = [
            self._config_map(workload, port),
            *self._external_secret(workload),
            self._service(workload, f"{name}-headless", [engine.port], headless=True),
            workload.render(),
        ]
        if rng.random() < 0.6:
            docs.append(self._service(workload, name, [engine.port]))
        if workload.replicas > 1:
            docs.append(self._pdb(workload))
        if rng.random() < 0.5:
            docs.append(self._allow_policy(workload, port))
        return docs

    def _daemonset_bundle(self, namespace: str) -> list[Document]:
        agent, component = self._identity(namespace, tuple(AGENTS), ("agent",))
        name = agent if component == "agent" else f"{agent}-{component}"
        image, port, health = AGENTS[agent]
        ready = Probe("http", health, "metrics")
        main = Container(
            name=agent,
            image=image,
            ports=[("metrics", port)],
            resources=self._resources(),
            readiness=ready,
            liveness=ready.slower(),
            env=[EnvVar("NODE_NAME", field_path="spec.nodeName")],
            mounts=[
                Mount("config", f"/etc/{agent}", True),
                Mount("varlog", "/var/log", True),
                Mount("proc", "/host/proc", True),
            ],
        )
        volumes = [
            Volume("config", ["configMap:", f"  name: {name}-config"]),
            Volume("varlog", ["hostPath:", "  path: /var/log"]),
            Volume("proc", ["hostPath:", "  path: /proc"]),
        ]
        workload = Workload(
            kind="DaemonSet",
            name=name,
            namespace=namespace,
            app=agent,
            component=component,
            team=namespace.split("-")[0],
            version=image.rsplit(":", 1)[1].lstrip("v"),
            replicas=1,
            containers=[main],
            volumes=volumes,
            config_checksum=self._checksum(),
        )
        self._apply_defects(workload)
        return [self._config_map(workload, port), workload.render()]


def generate_documents(count: int, seed: int = DEFAULT_SEED) -> Iterator[Document]:
    """The corpus's ``count`` documents, generated lazily."""
    return islice(CorpusBuilder(count, seed).documents(), count)


def write_corpus(
    count: int, out_dir: Path, seed: int = DEFAULT_SEED, per_file: int = DOCS_PER_FILE
) -> list[Path]:
    """Write ``count`` documents into ``out_dir``, removing corpus files left from earlier runs.

    Files are written as they are generated, so memory stays small at any size.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{FILE_PREFIX}*.yaml"):
        stale.unlink()
    docs = generate_documents(count, seed)
    paths: list[Path] = []
    while chunk := list(islice(docs, per_file)):
        path = out_dir / f"{FILE_PREFIX}{len(paths):05d}.yaml"
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write("---\n".join(doc.text for doc in chunk))
        paths.append(path)
    return paths


def summarize(docs: Iterable[Document]) -> str:
    kinds: Counter[str] = Counter()
    defects: Counter[str] = Counter()
    size = defective = 0
    for doc in docs:
        kinds[doc.kind] += 1
        defects.update(doc.defects)
        defective += bool(doc.defects)
        size += len(doc.text.encode())
    count = sum(kinds.values())
    workloads = sum(kinds[kind] for kind in NOT_APPLICABLE)
    return "\n".join(
        [
            f"documents: {count}, bytes: {size}, average: {size / count:.0f} B/document",
            "kinds: " + ", ".join(f"{kind}={n}" for kind, n in sorted(kinds.items())),
            f"workloads: {workloads}, with defects: {defective}",
            "defects: " + ", ".join(f"{name}={n}" for name, n in sorted(defects.items())),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a deterministic Kubernetes corpus.")
    parser.add_argument("--documents", "-n", type=int, required=True, help="number of documents")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    parser.add_argument("--per-file", type=int, default=DOCS_PER_FILE, help="default 10")
    parser.add_argument("--stats", action="store_true", help="print kinds and defect counts")
    args = parser.parse_args(argv)
    if args.documents < 1 or args.per_file < 1:
        parser.error("--documents and --per-file must be positive")
    paths = write_corpus(args.documents, args.out, args.seed, args.per_file)
    print(f"wrote {args.documents} documents in {len(paths)} files to {args.out}")
    if args.stats:
        print(summarize(generate_documents(args.documents, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
