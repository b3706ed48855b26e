"""Prometheus metrics of the webhook, in a registry of its own (several servers may run
in one test process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Review latency is sub-millisecond: fine buckets there, coarse ones for the tail.
ENGINE_BUCKETS = (
    0.00005, 0.0001, 0.00015, 0.0002, 0.00025, 0.0003, 0.0004, 0.0005, 0.00075,
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
REQUEST_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip  # up to the webhook's timeoutSeconds (5) and beyond: timeouts are countable


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, rego_engine: str = "embedded engine, rego-cpp") -> None:
        self.registry = CollectorRegistry()
        prefix = "autobot_guard_admission"
        self.requests = Counter(
            f"{prefix}_requests",
            "AdmissionReviews answered, by operation, kind and decision.",
            ["operation", "kind", "decision"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            f"{prefix}_request_duration_seconds",
            "Time from the request's first byte read to the response, in seconds.",
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.engine_seconds = Histogram(
            f"{prefix}_engine_duration_seconds",
            "Time in the engine (engine.evaluate: the rules) per judged review, both "
            "objects of an UPDATE, in seconds.",
            buckets=ENGINE_BUCKETS,
            registry=self.registry,
        )
        self.rego_seconds = Histogram(
            f"{prefix}_rego_duration_seconds",
            f"Time in the Rego policies ({rego_engine}) per judged review, both objects of "
            "an UPDATE, in seconds.",
            buckets=ENGINE_BUCKETS,
            registry=self.registry,
        )
        self.review_seconds = Histogram(
            f"{prefix}_review_duration_seconds",
            "The whole decision per judged review (preparing the object, its inventory, "
            "the engine, classifying findings), in seconds.",
            buckets=ENGINE_BUCKETS,
            registry=self.registry,
        )
        self.findings = Counter(
            f"{prefix}_findings",
            "Findings at admission, by rule and what they did (deny, warn, audit).",
            ["rule", "action"],
            registry=self.registry,
        )
        self.bad_requests = Counter(
            f"{prefix}_bad_requests",
            "Requests refused before review (4xx), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.inventory_objects = Gauge(
            "autobot_guard_inventory_objects",
            "Objects in the cross-resource inventory.",
            registry=self.registry,
        )
        self.inventory_synced = Gauge(
            "autobot_guard_inventory_synced",
            "1 when every inventory source has listed once.",
            registry=self.registry,
        )
        self.inventory_events = Counter(
            "autobot_guard_inventory_events",
            "Watch events applied to the inventory, by resource and type.",
            ["resource", "type"],
            registry=self.registry,
        )
        self.rego_ready = Gauge(
            "autobot_guard_rego_ready",
            f"1 when the Rego policies can be evaluated ({rego_engine}): for OPA, once the "
            "webhook has pushed them (again after OPA restarted).",
            registry=self.registry,
        )
        self.certificate_reloads = Counter(
            "autobot_guard_tls_certificate_reloads",
            "Serving certificate loads after a change on disk, by result.",
            ["result"],
            registry=self.registry,
        )

    def watch_inventory(self, count: Callable[[], int], synced: Callable[[], bool]) -> None:
        self.inventory_objects.set_function(lambda: float(count()))
        self.inventory_synced.set_function(lambda: 1.0 if synced() else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
