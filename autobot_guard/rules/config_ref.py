from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from pydantic import Field

from ..findings import Severity
from ..inventory import Inventory
from ..resources import WORKLOADS, FieldPath, Resource, iter_pod_volumes
from .base import Context, Rule, RuleSettings, Violation
from .common import container_label

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"  # keys filled in by Kubernetes
# Set by the admission webhook on Secrets it knows by metadata only (never their values).
KEYS_UNKNOWN_ANNOTATION = "autobot-guard.io/keys-unknown"
PROVIDER_KINDS = frozenset({"ExternalSecret", "SealedSecret", "Certificate"})


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # "ConfigMap" or "Secret"
    name: str
    path: FieldPath  # of the field naming the object
    where: str  # e.g. "env LOG_LEVEL of container 'chat-agent'"
    keys: tuple[tuple[str, FieldPath], ...]  # keys it reads, with the path of each key field


def _source(
    kind: str, source: Any, base: FieldPath, name_key: str, where: str
) -> Iterator[Reference]:
    """A volume's (or projected source's) configMap / secret, unless optional."""
    if not isinstance(source, dict) or source.get("optional") is True:
        return
    name = source.get(name_key)
    if not isinstance(name, str) or not name:
        return
    items = source.get("items")
    keys = tuple(
        (item["key"], (*base, "items", index, "key"))
        for index, item in enumerate(items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    )
    yield Reference(kind, name, (*base, name_key), where, keys)


def references(resource: Resource) -> Iterator[Reference]:
    """Non-optional ConfigMap and Secret references of a workload's containers and volumes."""
    for container in resource.containers():
        label = container_label(container)
        env = container.data.get("env")
        for index, item in enumerate(env if isinstance(env, list) else []):
            value_from = item.get("valueFrom") if isinstance(item, dict) else None
            if not isinstance(value_from, dict):
                continue
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(field)
                if not isinstance(ref, dict) or ref.get("optional") is True:
                    continue
                name, key = ref.get("name"), ref.get("key")
                if isinstance(name, str) and name:
                    base = (*container.path, "env", index, "valueFrom", field)
                    keys = ((key, (*base, "key")),) if isinstance(key, str) else ()
                    where = f"env {item.get('name')} of {label}"
                    yield Reference(kind, name, (*base, "name"), where, keys)
        env_from = container.data.get("envFrom")
        for index, item in enumerate(env_from if isinstance(env_from, list) else []):
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                base = (*container.path, "envFrom", index, field)
                source = item.get(field) if isinstance(item, dict) else None
                yield from _source(kind, source, base, "name", f"envFrom of {label}")
    for path, volume in iter_pod_volumes(resource):
        where = f"volume {volume.get('name')!r}"
        yield from _source(
            "ConfigMap", volume.get("configMap"), (*path, "configMap"), "name", where
        )
        yield from _source("Secret", volume.get("secret"), (*path, "secret"), "secretName", where)
        projected = volume.get("projected")
        sources = projected.get("sources") if isinstance(projected, dict) else None
        for index, source in enumerate(sources if isinstance(sources, list) else []):
            if not isinstance(source, dict):
                continue
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                base = (*path, "projected", "sources", index, field)
                yield from _source(kind, source.get(field), base, "name", f"projected {where}")


def provided_secrets(inventory: Inventory) -> set[tuple[str | None, str]]:
    """(namespace, name) of the Secrets an ExternalSecret, SealedSecret or cert-manager
    Certificate of the checked set creates."""

    def build() -> set[tuple[str | None, str]]:
        provided: set[tuple[str | None, str]] = set()
        for resource in inventory.resources:
            name: Any = None
            if resource.kind == "ExternalSecret" and resource.group.endswith("external-secrets.io"):
                name = resource.get("spec", "target", "name") or resource.name
            elif resource.kind == "SealedSecret" and resource.group == "bitnami.com":
                name = resource.name
            elif resource.kind == "Certificate" and resource.group == "cert-manager.io":
                name = resource.get("spec", "secretName")
            if isinstance(name, str) and name:
                provided.add((resource.namespace, name))
        return provided

    return inventory.memo("config-ref:provided-secrets", build, PROVIDER_KINDS)


def _keys(target: Resource) -> set[str] | None:
    """Keys a ConfigMap / Secret of the set holds; None when Kubernetes fills them in."""
    if target.kind == "Secret" and (
        target.get("type") == SA_TOKEN_TYPE or KEYS_UNKNOWN_ANNOTATION in target.annotations
    ):
        return None
    fields = ("data", "binaryData") if target.kind == "ConfigMap" else ("data", "stringData")
    keys: set[str] = set()
    for field in fields:
        value = target.get(field)
        if isinstance(value, dict):
            keys.update(str(key) for key in value)
    return keys


def _cached_keys(target: Resource, inventory: Inventory) -> set[str] | None:
    """`_keys` once per ConfigMap / Secret of the set (shared by sets that differ in other
    kinds of objects, see Inventory.memo)."""
    cache: dict[int, set[str] | None] = inventory.memo(
        "config-ref:keys", dict, frozenset({"ConfigMap", "Secret"})
    )
    found = cache.get(id(target), _UNSET)
    if found is _UNSET:
        found = cache[id(target)] = _keys(target)
    return cast("set[str] | None", found)


_UNSET: Any = object()


class ConfigRefSettings(RuleSettings):
    ignore_secrets: list[str] = Field(
        default_factory=list,
        alias="ignoreSecrets",
        description="Secret names not checked (created outside the manifests, e.g. by operators).",
    )
    ignore_config_maps: list[str] = Field(
        default_factory=lambda: ["kube-root-ca.crt"],
        alias="ignoreConfigMaps",
        description=(
            "ConfigMap names not checked. Keep kube-root-ca.crt when overriding: Kubernetes "
            "creates it in every namespace."
        ),
    )


class ConfigRef(Rule):
    """ConfigMaps and Secrets a workload references exist, with the keys it reads.

    Checks the references of containers and init containers (`env[].valueFrom`
    configMapKeyRef / secretKeyRef, `envFrom[]` configMapRef / secretRef) and of volumes
    (`configMap`, `secret`, `projected.sources[]`): the object must be in the checked set,
    in the workload's namespace. A Secret also counts as present when an ExternalSecret
    (its `spec.target.name`, else its name), a SealedSecret or a cert-manager Certificate
    (`spec.secretName`) of that namespace creates it. For ConfigMaps and Secrets in the
    set, each key read (`key`, volume `items[].key`) must be in `data` / `binaryData`
    (ConfigMap) or `data` / `stringData` (Secret). References marked `optional: true` and
    names listed in `ignoreConfigMaps` / `ignoreSecrets` are skipped.

    Why: a missing ConfigMap or key keeps the pod in CreateContainerConfigError (or its
    volume unmounted) and the rollout stalls; the AutoBot agents read LOG_LEVEL from
    `autobot-config`, which the migration plan references but never defines.
    """

    id = "config-ref"
    default_severity = Severity.WARNING
    summary = "Referenced ConfigMaps, Secrets and their keys exist in the checked set"
    fix = (
        "Add the ConfigMap / Secret (or the ExternalSecret, SealedSecret or Certificate that "
        "creates it) in the workload's namespace with the key, fix the name or key, or mark the "
        "reference `optional: true` if the workload copes without it."
    )
    kinds = WORKLOADS
    reads = frozenset({"ConfigMap", "Secret"}) | PROVIDER_KINDS
    cross_resource = True
    Settings = ConfigRefSettings
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        env:
        - name: LOG_LEVEL
          valueFrom: {configMapKeyRef: {name: autobot-config, key: log-level}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: autobot-config, namespace: autobot-system}
data: {log_level: INFO}
"""
    passing_example = failing_example.replace("{log_level: INFO}", "{log-level: INFO}")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        ignored = {
            "ConfigMap": set(self.settings.ignore_config_maps),
            "Secret": set(self.settings.ignore_secrets),
        }
        namespace = resource.namespace
        for ref in references(resource):
            if ref.name in ignored[ref.kind]:
                continue
            label = f"{ref.kind} {namespace}/{ref.name}"
            target = context.inventory.find(ref.kind, namespace, ref.name)
            if target is None:
                if ref.kind == "ConfigMap":
                    yield Violation(ref.path, f"{label} ({ref.where}) is not in the checked set")
                elif (namespace, ref.name) not in provided_secrets(context.inventory):
                    yield Violation(
                        ref.path,
                        f"{label} ({ref.where}) is neither in the checked set nor provided by "
                        "an ExternalSecret, SealedSecret or Certificate",
                    )
                continue
            keys = _cached_keys(target, context.inventory)
            if keys is None:
                continue
            for key, path in ref.keys:
                if key not in keys:
                    yield Violation(path, f"{label} has no key {key!r} ({ref.where})")
