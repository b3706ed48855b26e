from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..edits import AutoFix
from ..findings import Severity
from ..quantities import parse_quantity
from ..resources import FieldPath, Resource
from .base import Context, Rule, RuleSettings, Violation
from .common import existing_path, mapping_at

STORAGE = ("spec", "resources", "requests", "storage")


def _valid_quantity(value: str | None) -> str | None:
    if value is not None and parse_quantity(value) is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return value


class PvcMatch(BaseModel):
    """Which claims an override applies to: every given glob must match (case-sensitive)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(
        default=None, description="Owner kind: PersistentVolumeClaim or StatefulSet."
    )
    name: str | None = Field(
        default=None, description="Owner name: the PVC's name or the StatefulSet's name."
    )
    namespace: str | None = Field(default=None, description="Namespace of the owner.")
    claim: str | None = Field(
        default=None,
        description="Claim name: the PVC's name or the volumeClaimTemplate's metadata.name.",
    )

    def matches(self, kind: str, name: str, namespace: str | None, claim: str) -> bool:
        pairs = ((self.kind, kind), (self.name, name), (self.namespace, namespace or ""))
        return all(
            pattern is None or fnmatchcase(value, pattern)
            for pattern, value in (*pairs, (self.claim, claim))
        )


class PvcOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: PvcMatch = Field(description="Claims this override applies to.")
    min: str | None = Field(default=None, description="Minimum storage request for them.")
    max: str | None = Field(default=None, description="Maximum storage request for them.")

    @field_validator("min", "max")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        return _valid_quantity(value)


class PvcSizeSettings(RuleSettings):
    min: str = Field(default="1Gi", description="Smallest storage request allowed.")
    max: str = Field(default="1Ti", description="Largest storage request allowed.")
    overrides: list[PvcOverride] = Field(
        default_factory=list,
        description=(
            "Bounds for particular claims; every matching override applies in order, so a "
            "later one's min/max replaces an earlier one's."
        ),
    )

    @field_validator("min", "max")
    @classmethod
    def _quantity(cls, value: str) -> str:
        _valid_quantity(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PvcSizeSettings:
        low, high = parse_quantity(self.min), parse_quantity(self.max)
        if low is not None and high is not None and low > high:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class PvcSize(Rule):
    """Persistent volume claims request storage within the allowed bounds.

    Every PersistentVolumeClaim and every StatefulSet `volumeClaimTemplate` must set
    `spec.resources.requests.storage`, at least `min` (default 1Gi) and at most `max`
    (default 1Ti), compared as quantities (10Gi = 10240Mi; 10G is less than 10Gi).
    `overrides` set other bounds for claims matched by kind, name and namespace of the
    owning PVC or StatefulSet and by claim name (glob patterns); the AutoBot pack uses one
    to require at least 10Gi per Elasticsearch node. A value that is not a valid quantity
    is left to the `schema` rule.

    Why: a claim's size is hard to change later (many storage classes cannot expand
    volumes), and a tiny volume fills up quietly: Elasticsearch turns its indices
    read-only at the flood-stage watermark and the whole log pipeline stops.
    """

    id = "pvc-size"
    default_severity = Severity.ERROR
    summary = "PersistentVolumeClaims and claim templates request storage within bounds"
    fix = (
        "Set `spec.resources.requests.storage` to a size within the bounds, with room for "
        "growth (e.g. 20Gi for an Elasticsearch node)."
    )
    kinds = frozenset({"PersistentVolumeClaim", "StatefulSet"})
    Settings = PvcSizeSettings
    autofix = AutoFix(None, "How much storage a claim needs is a sizing decision: never guessed.")
    failing_example = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: autobot-elasticsearch, namespace: autobot-logging}
spec:
  serviceName: autobot-elasticsearch
  replicas: 3
  selector: {matchLabels: {app: autobot-elasticsearch}}
  template:
    metadata: {labels: {app: autobot-elasticsearch}}
    spec:
      containers:
      - name: elasticsearch
        image: docker.elastic.co/elasticsearch/elasticsearch:8.15.3
        volumeMounts: [{name: data, mountPath: /usr/share/elasticsearch/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 5Gi}}
"""
    passing_example = failing_example.replace("storage: 5Gi", "storage: 30Gi")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if resource.kind == "PersistentVolumeClaim":
            what = f"PersistentVolumeClaim {resource.name!r}"
            yield from self._claim(resource, (), resource.data, resource.name, what)
            return
        templates = resource.get("spec", "volumeClaimTemplates")
        for index, template in enumerate(templates if isinstance(templates, list) else []):
            if not isinstance(template, dict):
                continue
            claim = str(mapping_at(template, "metadata").get("name", "?"))
            what = f"claim template {claim!r} of StatefulSet {resource.name!r}"
            yield from self._claim(
                resource, ("spec", "volumeClaimTemplates", index), template, claim, what
            )

    def _claim(
        self, resource: Resource, base: FieldPath, claim: dict[str, Any], name: str, what: str
    ) -> Iterator[Violation]:
        path = (*base, *STORAGE)
        raw = mapping_at(claim, "spec", "resources", "requests").get("storage")
        if raw is None:
            yield Violation(existing_path(resource, path), f"{what} requests no storage")
            return
        size = parse_quantity(raw)
        if size is None:
            return
        (low, low_from), (high, high_from) = self._bounds(resource, name)
        if size < _quantity(low):
            yield Violation(
                path, f"{what} requests {raw} of storage, below the minimum {low} ({low_from})"
            )
        elif size > _quantity(high):
            yield Violation(
                path, f"{what} requests {raw} of storage, above the maximum {high} ({high_from})"
            )

    def _bounds(self, resource: Resource, claim: str) -> tuple[tuple[str, str], tuple[str, str]]:
        """((min, where it comes from), (max, where it comes from)) for one claim."""
        settings: PvcSizeSettings = self.settings
        low, high = (settings.min, "min"), (settings.max, "max")
        for index, override in enumerate(settings.overrides):
            if override.match.matches(resource.kind, resource.name, resource.namespace, claim):
                if override.min is not None:
                    low = (override.min, f"overrides[{index}]")
                if override.max is not None:
                    high = (override.max, f"overrides[{index}]")
        return low, high


def _quantity(text: str) -> Decimal:
    value = parse_quantity(text)
    assert value is not None  # validated when the policy pack was loaded
    return value
