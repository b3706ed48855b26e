from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from pydantic import Field, field_validator

from ..edits import AutoFix, SetField
from ..findings import Severity
from ..quantities import parse_quantity
from ..resources import WORKLOADS, Container, FieldPath, Resource
from .base import Context, Rule, RuleSettings, Violation
from .common import container_label, existing_path, mapping_at


class ResourceLimitsSettings(RuleSettings):
    requireCpuLimit: bool = Field(
        default=False,
        description="Also require a cpu limit (off by default: cpu limits throttle bursts).",
    )
    minMemory: str | None = Field(
        default=None, description="Smallest memory limit allowed, as a quantity (e.g. 64Mi)."
    )
    maxMemory: str | None = Field(
        default=None, description="Largest memory limit allowed, as a quantity (e.g. 32Gi)."
    )
    maxCpu: str | None = Field(
        default=None, description="Largest cpu limit allowed, as a quantity (e.g. 4 or 4000m)."
    )
    defaultMemory: str | None = Field(
        default=None,
        description=(
            "The memory limit `autobot-guard fix` writes where a container has none (and its "
            "memory request is not larger); without it, fix writes none."
        ),
    )

    @field_validator("minMemory", "maxMemory", "maxCpu", "defaultMemory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and parse_quantity(value) is None:
            raise ValueError(f"{value!r} is not a Kubernetes quantity")
        return value


class ResourceLimits(Rule):
    """Every container of a workload has a memory limit no lower than its request.

    Containers and init containers need a memory limit, and a cpu limit only with
    `requireCpuLimit: true`. Every limit that has a request (cpu, memory,
    ephemeral-storage, extended resources) must be at least that request, compared as
    quantities (so 1Gi equals 1024Mi). With
    `minMemory` / `maxMemory` / `maxCpu` set, memory and cpu limits must also lie within
    those bounds. A value that is not a valid quantity is left to the `schema` rule.

    Why: without a memory limit one leaking agent or a large Ollama model grows until the
    node runs out of memory and the kernel kills whatever it picks, often Redis or the
    backend. A limit below the request is rejected by the API server.
    """

    id = "resource-limits"
    default_severity = Severity.ERROR
    summary = "Every container has a memory limit at least as large as its request"
    fix = (
        "Set `resources.limits.memory` (usually equal to or somewhat above the memory "
        "request) and keep every limit at or above its request."
    )
    autofix = AutoFix(
        "Sets a missing `resources.limits.memory` to the pack's `defaultMemory`, when the pack "
        "sets one and the container's memory request is not larger.",
        "Without `defaultMemory`, a request above it, a cpu limit, a limit below its request "
        "or outside the bounds: the right size is the workload owner's call.",
    )
    kinds = WORKLOADS
    Settings = ResourceLimitsSettings
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        resources:
          requests: {cpu: 250m, memory: 1Gi}
          limits: {memory: 512Mi}
"""
    passing_example = failing_example.replace("{memory: 512Mi}", "{memory: 2Gi}")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        required = ("memory", "cpu") if self.settings.requireCpuLimit else ("memory",)
        for container in resource.containers():
            limits = mapping_at(container.data, "resources", "limits")
            for name in required:
                if limits.get(name) is None:
                    path = (*container.path, "resources", "limits", name)
                    yield Violation(
                        existing_path(resource, path),
                        f"{container_label(container)} has no {name} limit",
                        edits=self._default_limit(container, path) if name == "memory" else (),
                    )
            yield from self._against_requests(container, limits)
            yield from self._within_bounds(container, limits)

    def _default_limit(self, container: Container, path: FieldPath) -> tuple[SetField, ...]:
        """The pack's defaultMemory as the limit, unless the request asks for more."""
        default: str | None = self.settings.defaultMemory
        if default is None:
            return ()
        request = parse_quantity(mapping_at(container.data, "resources", "requests").get("memory"))
        allowed = parse_quantity(default)
        if allowed is None or (request is not None and request > allowed):
            return ()
        return (SetField(path, default),)

    def _against_requests(
        self, container: Container, limits: dict[str, object]
    ) -> Iterator[Violation]:
        requests = mapping_at(container.data, "resources", "requests")
        for name, limit in limits.items():
            request = requests.get(name)
            limit_value, request_value = parse_quantity(limit), parse_quantity(request)
            if limit_value is None or request_value is None or limit_value >= request_value:
                continue
            yield Violation(
                (*container.path, "resources", "limits", name),
                f"{container_label(container)} {name} limit {limit} is below its request {request}",
            )

    def _within_bounds(
        self, container: Container, limits: dict[str, object]
    ) -> Iterator[Violation]:
        bounds = (
            ("memory", "minMemory", self.settings.minMemory, True),
            ("memory", "maxMemory", self.settings.maxMemory, False),
            ("cpu", "maxCpu", self.settings.maxCpu, False),
        )
        for name, param, bound, is_minimum in bounds:
            if bound is None:
                continue
            value = parse_quantity(limits.get(name))
            if value is None:
                continue
            limit: Decimal = value
            allowed = parse_quantity(bound)
            assert allowed is not None  # checked when the policy pack was loaded
            if (limit < allowed) if is_minimum else (limit > allowed):
                side = "below the minimum" if is_minimum else "above the maximum"
                yield Violation(
                    (*container.path, "resources", "limits", name),
                    f"{container_label(container)} {name} limit {limits[name]} is {side} "
                    f"{bound} ({param})",
                )
