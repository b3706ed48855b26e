"""The policy pack: which rules run, at what severity, with which parameters.

Validated by pydantic at the edge; a wrong key or value is one line naming the file,
the line and the field path.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from .findings import InputError, Severity
from .paths import bundled_policy_pack
from .rego import OPA_TIMEOUT, OPA_URL, AdmissionEngine
from .rules import ALL_RULES, cross_resource_ids
from .rules.base import Rule, RuleSettings
from .yamlparse import YamlError, parse_document

DEFAULT_KUBERNETES_VERSION = "1.35"


class ConfigError(Exception):
    def __init__(self, error: InputError) -> None:
        super().__init__(error.display())
        self.error = error


class _RulesBase(BaseModel):
    """Built-in rules are fields; any other key is a Rego policy's rule id with the
    settings every rule has (enabled, severity), checked against the Rego catalogue once
    the policies are read (`PolicyPack.check_rule_ids`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=False)
    __pydantic_extra__: dict[str, RuleSettings] = Field(init=False)


@cache
def rules_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        _field_name(rule.id): (rule.Settings, Field(default_factory=rule.Settings, alias=rule.id))
        for rule in ALL_RULES
    }
    return create_model("Rules", __base__=_RulesBase, **fields)


def _field_name(rule_id: str) -> str:
    return "rule_" + rule_id.replace("-", "_")  # prefixed: `schema` would shadow BaseModel


class AdmissionSettings(BaseModel):
    """How `autobot-guard serve` (the validating admission webhook) applies the pack."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["enforce", "warn", "audit"] = Field(
        default="enforce",
        description=(
            "enforce: deny findings at enforceSeverity; warn: never deny, return them as "
            "warnings; audit: never deny nor warn, only log and count them."
        ),
    )
    enforceSeverity: Severity = Field(
        default=Severity.ERROR, description="Findings at or above this severity deny."
    )
    warnSeverity: Severity = Field(
        default=Severity.WARNING,
        description="Findings below enforceSeverity but at or above this are warnings.",
    )
    crossResourceRules: Literal["enforce", "warn"] = Field(
        default="warn",
        description=(
            "Findings of rules that need other objects only warn by default: with "
            "`kubectl apply -f dir/` a Deployment may arrive before its NetworkPolicy."
        ),
    )
    crossResourceRuleIds: list[str] = Field(
        default_factory=lambda: list(cross_resource_ids()),
        description="The rules crossResourceRules applies to (skipped until the inventory syncs).",
    )
    skipNamespaces: list[str] = Field(
        default_factory=lambda: ["kube-system"],
        description="Namespaces not judged at admission, besides the server's own namespace.",
    )
    skipRules: list[str] = Field(
        default_factory=lambda: ["schema"],
        description=(
            "Rules not run at admission. `schema` by default: before validating webhooks "
            "run, the API server has decoded the object (unknown fields rejected or "
            "dropped) and validated it against its own version's schema; judging it again "
            "against kubernetesVersion could only deny valid objects of a newer cluster."
        ),
    )
    judgeControlledPods: bool = Field(
        default=False,
        description=(
            "Also judge Pods, ReplicaSets and Jobs that a controller created (a controller "
            "ownerReference, sent by the kube-controller-manager: a user who adds an "
            "ownerReference is judged all the same)."
        ),
    )
    maxBodyBytes: int = Field(
        # an UPDATE carries the object twice (object and oldObject), each up to etcd's
        # 1.5 MiB, plus managedFields: controller-runtime allows 7 MiB for the same reason
        default=7 * 1024 * 1024,
        ge=1024,
        description="Larger AdmissionReview bodies are refused with 413.",
    )
    maxContainers: int = Field(
        default=64,
        ge=1,
        description=(
            "A pod template with more containers (all kinds together) is not judged: the "
            "request is denied in enforce mode (warned in warn mode). Judging cost grows "
            "with the containers; this bounds a review far below the webhook's timeout."
        ),
    )
    rego: bool = Field(
        default=True,
        description="Also judge objects with the Rego policies (with the regoEngine).",
    )
    regoPolicies: str | None = Field(
        default=None, description="Directory of the Rego policies (default: the bundled ones)."
    )
    regoEngine: AdmissionEngine = Field(
        default="opa",
        description=(
            "opa: a real OPA server beside the webhook (the sidecar of the shipped "
            "Deployment, at opaUrl), to which the webhook pushes the policies at start-up: "
            "exactly conftest's semantics; embedded: rego-cpp in process (no sidecar)."
        ),
    )
    opaUrl: str = Field(
        default=OPA_URL,
        pattern=r"^http://[^/?#\s]+(/[^?#\s]*)?$",
        description="The OPA server (regoEngine opa): http://HOST:PORT, on loopback.",
    )
    opaTimeoutSeconds: float = Field(
        default=OPA_TIMEOUT,
        gt=0,
        le=30,
        description=(
            "Seconds a request to OPA may take; beyond it (or OPA not reachable) the review "
            "is an internal error (denied when enforcing). Below the webhook's timeoutSeconds."
        ),
    )
    maxWarnings: int = Field(default=10, ge=0, description="Warnings returned per review.")
    maxMessageFindings: int = Field(
        default=5, ge=1, description="Findings listed in a denial message."
    )

    @field_validator("crossResourceRuleIds", "skipRules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        known = {rule.id for rule in ALL_RULES}
        unknown = [rule_id for rule_id in value if rule_id not in known]
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}")
        return value


@cache
def policy_pack_model() -> type[BaseModel]:
    rules_type: Any = rules_model()

    class PolicyPack(BaseModel):
        """autobot-guard policy pack (policies/autobot-guard.yaml)."""

        model_config = ConfigDict(extra="forbid")

        apiVersion: Literal["autobot-guard.io/v1"]
        kind: Literal["PolicyPack"]
        kubernetesVersion: str = Field(
            default=DEFAULT_KUBERNETES_VERSION,
            pattern=r"^1\.\d+$",
            description="Kubernetes version (X.Y) whose OpenAPI schema `schema` validates against.",
        )
        skipNamespaces: list[str] = Field(
            default_factory=list, description="Resources in these namespaces are not judged."
        )
        crds: list[str] = Field(
            default_factory=list,
            description=(
                "Folders (or files) of CustomResourceDefinitions whose custom resources "
                "`schema` validates, relative to this file."
            ),
        )
        rules: rules_type = Field(default_factory=rules_type)
        admission: AdmissionSettings = Field(
            default_factory=AdmissionSettings,
            description="How `autobot-guard serve` (the admission webhook) applies this pack.",
        )

        @field_validator("kubernetesVersion", mode="before")
        @classmethod
        def _quoted_version(cls, value: Any) -> Any:
            if isinstance(value, int | float) and not isinstance(value, bool):
                raise ValueError(  # YAML reads 1.30 as the number 1.3
                    f'a number ({value}): quote it, e.g. kubernetesVersion: "1.35"'
                )
            return value

    return PolicyPack


class PolicyPack:
    """A loaded, validated policy pack and the rule instances it configures."""

    def __init__(self, model: BaseModel, source: str, text: str | None = None) -> None:
        self.model = model
        self.source = source
        self.text = text  # the file as read, to name lines in later errors

    @property
    def kubernetes_version(self) -> str:
        return str(self.model.kubernetesVersion)  # type: ignore[attr-defined]

    @property
    def skip_namespaces(self) -> frozenset[str]:
        return frozenset(self.model.skipNamespaces)  # type: ignore[attr-defined]

    @property
    def crd_folders(self) -> list[str]:
        return list(self.model.crds)  # type: ignore[attr-defined]

    @property
    def admission(self) -> AdmissionSettings:
        return self.model.admission  # type: ignore[attr-defined, no-any-return]

    def settings(self, rule: type[Rule]) -> RuleSettings:
        return getattr(self.model.rules, _field_name(rule.id))  # type: ignore[attr-defined, no-any-return]

    @property
    def rego_settings(self) -> dict[str, RuleSettings]:
        """What the pack says about Rego policies' rules: id -> enabled, severity."""
        return dict(self.model.rules.__pydantic_extra__ or {})  # type: ignore[attr-defined]

    def check_rule_ids(self, rego_rule_ids: frozenset[str]) -> None:
        """ConfigError for a `rules:` key that is neither a built-in nor a Rego rule."""
        unknown = [key for key in self.rego_settings if key not in rego_rule_ids]
        if not unknown:
            return
        line = None
        if self.text is not None:
            from .loader import Document

            data = parse_document(self.text)
            line = Document(self.source, 1, self.text, data).line_of(("rules", unknown[0]))
        known = [rule.id for rule in ALL_RULES] + sorted(rego_rule_ids)
        message = f"rules.{unknown[0]}: unknown key{_unknown_rule(unknown[0], known)}"
        if len(unknown) > 1:
            more = len(unknown) - 1
            message += f" (and {more} more problem{'s' if more > 1 else ''} after this one)"
        raise ConfigError(InputError(self.source, line, message))

    def enabled_rules(self) -> list[Rule]:
        out = []
        for rule_class in ALL_RULES:
            settings = self.settings(rule_class)
            if settings.enabled:
                out.append(rule_class(settings))
        return out

    @classmethod
    def default(cls) -> PolicyPack:
        return load_policy_pack(str(bundled_policy_pack()))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> PolicyPack:
        return cls(policy_pack_model().model_validate(data), source)


def load_policy_pack(path: str) -> PolicyPack:
    from .loader import Document

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(InputError(path, None, "policy pack not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(InputError(path, None, f"cannot read policy pack: {exc}")) from None
    try:
        data = parse_document(text)
    except YamlError as exc:
        raise ConfigError(InputError(path, exc.line, exc.message)) from None
    if not isinstance(data, dict):
        raise ConfigError(
            InputError(path, 1, "policy pack must be a mapping (apiVersion, kind, rules)")
        )
    try:
        model = policy_pack_model().model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = tuple(first["loc"])
        document = Document(path, 1, text, data)
        message = _plain(first["msg"])
        if first["type"] == "extra_forbidden":
            message = f"unknown key{_suggest(location, data)}"
        builtin = [rule.id for rule in ALL_RULES]
        if len(location) > 2 and location[0] == "rules" and location[1] not in builtin:
            # not a built-in rule: a misspelt one, or a Rego rule given a parameter
            hint = _unknown_rule(str(location[1]), builtin)
            if "did you mean" in hint:
                location, message = location[:2], f"unknown key{hint}"
            else:
                message += " (rules of Rego policies take only enabled and severity)"
        field = ".".join(str(part) for part in location) or "(top level)"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''} after this one)"
        raise ConfigError(
            InputError(path, document.line_of(location), f"{field}: {message}")
        ) from None
    if model.crds:  # type: ignore[attr-defined]
        here = Path(path).parent  # the pack names its CRD folders relative to itself
        folders = [str(here / folder) for folder in model.crds]  # type: ignore[attr-defined]
        model = model.model_copy(update={"crds": folders})
    return PolicyPack(model, path, text)


def _plain(message: str) -> str:
    """pydantic's message without its internals: no "Value error, ", no class names."""
    message = message.removeprefix("Value error, ")
    return re.sub(r" or instance of \w+", "", message)


def _suggest(location: tuple[Any, ...], data: dict[str, Any]) -> str:
    if len(location) == 2 and location[0] == "rules":
        return _unknown_rule(str(location[1]), [rule.id for rule in ALL_RULES])
    return ""


def _unknown_rule(rule_id: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(rule_id, known, n=1)
    return f" (unknown rule; did you mean {close[0]!r}?)" if close else " (unknown rule)"


def config_json_schema() -> dict[str, Any]:
    schema = policy_pack_model().model_json_schema(by_alias=True)
    # pydantic writes draft 2020-12; saying so lets editors pick the right validator
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
