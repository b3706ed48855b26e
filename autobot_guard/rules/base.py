"""What a rule is: a small named check with documentation, parameters and examples.

A rule module defines one subclass of `Rule`; its docstring is the documentation that
`autobot-guard explain` prints. Severity is a default that the policy pack overrides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ..findings import Severity

if TYPE_CHECKING:
    from ..crds import CrdCatalogue
    from ..inventory import Inventory
    from ..resources import FieldPath, Resource


class RuleSettings(BaseModel):
    """Settings every rule has in the policy pack."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    enabled: bool = True
    severity: Severity | None = Field(
        default=None, description="Overrides the rule's default severity."
    )


class Violation(NamedTuple):
    path: FieldPath
    message: str
    fix: str | None = None  # overrides the rule's generic fix when a specific one helps more
    severity_cap: Severity | None = None  # e.g. `schema` reports unknown kinds as info at most


@dataclass(slots=True)
class Context:
    """What a rule can see besides the resource it judges."""

    inventory: Inventory
    kubernetes_version: str
    extra_rule_ids: frozenset[str] = frozenset()  # e.g. Rego policy ids exemptions may name
    crds: CrdCatalogue | None = None  # schemas of custom resources (`check` only)


class Rule:
    id: ClassVar[str]
    default_severity: ClassVar[Severity]
    summary: ClassVar[str]  # one line for `autobot-guard rules`
    fix: ClassVar[str]
    kinds: ClassVar[frozenset[str] | None] = None  # None: called for every resource
    # Kinds it looks up in the inventory besides the resource it judges: what `serve`
    # keeps from --inventory and watches in the cluster (rules/__init__.py derives them).
    reads: ClassVar[frozenset[str]] = frozenset()
    # Its findings depend on those objects, which at admission may arrive later: they
    # warn by default and wait for the inventory to sync (admission.crossResourceRuleIds).
    cross_resource: ClassVar[bool] = False
    Settings: ClassVar[type[RuleSettings]] = RuleSettings
    failing_example: ClassVar[str]
    passing_example: ClassVar[str]

    def __init__(self, settings: RuleSettings | None = None) -> None:
        self.settings: Any = settings if settings is not None else self.Settings()

    @property
    def severity(self) -> Severity:
        return self.settings.severity or self.default_severity

    def check(self, resource: Resource, context: Context) -> Iterable[Violation]:
        raise NotImplementedError

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or cls.summary)
