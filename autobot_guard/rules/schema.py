from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ..edits import AutoFix
from ..findings import Severity
from ..resources import Resource
from .base import Context, Rule, RuleSettings, Violation

if TYPE_CHECKING:
    from ..crds import CrdVersion

_GROUP_PREFIX = re.compile(r"^([^./]*)(?:\.[^/]*)?/")
# The serialization grammar of resource.Quantity; the published schema only says "string".
QUANTITY_PATTERN = (
    r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$"
)
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


class SchemaSettings(RuleSettings):
    strict: bool = Field(
        default=True,
        description="Reject fields the Kubernetes schema does not know (typos: `livenessprobe`).",
    )


class Schema(Rule):
    """The document validates against the Kubernetes OpenAPI schema of the target version,
    or against its CustomResourceDefinition.

    Uses the JSON schemas bundled by the `kubernetes-validate` package for the Kubernetes
    version of `--kubernetes-version` (or `kubernetesVersion` in the policy pack). In strict
    mode (the default) an unknown field is an error, as `kubectl apply` with server-side
    field validation would say. A built-in apiVersion that the version no longer serves
    (e.g. `autoscaling/v2beta2`) is an error.

    A custom resource is validated against the served version of its CRD, found among the
    checked files, in the folders of `check --crds DIR` or in the policy pack's `crds:`
    list (the bundled pack brings cert-manager's and external-secrets' CRDs): structural
    schema semantics, metadata as ObjectMeta, and the CRD's `x-kubernetes-validations`
    CEL rules (docs/crds.md). A version its CRD does not serve is an error; a kind that
    neither Kubernetes nor a CRD defines is reported as `info`, never silently passed.

    Why: a misspelt or misplaced field is silently dropped by older clients, so the probe,
    limit or selector you think you set does not exist in the cluster.
    """

    id = "schema"
    default_severity = Severity.ERROR
    summary = "The document validates against the Kubernetes OpenAPI schema"
    fix = (
        "Correct the field name, type or value the schema names; "
        "`kubectl explain KIND.FIELD` shows the schema."
    )
    Settings = SchemaSettings
    autofix = AutoFix(None, "What a malformed field was meant to say needs a human.")
    failing_example = """\
apiVersion: v1
kind: Service
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {app: autobot-backend}
  ports:
  - port: "8001"
    targetPort: http
"""
    passing_example = """\
apiVersion: v1
kind: Service
metadata: {name: autobot-backend, namespace: autobot-system}
spec:
  selector: {app: autobot-backend}
  ports:
  - port: 8001
    targetPort: http
"""

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        version_dir = schema_directory(context.kubernetes_version, self.settings.strict)
        group, builtin = resource.group, resource.builtin_group
        validator = (
            _validator(version_dir, schema_file_name(resource.api_version, resource.kind))
            if builtin
            else None
        )
        if validator is None:
            custom = (
                context.crds.lookup(resource.api_version, resource.kind)
                if context.crds is not None
                else None
            )
            if custom is not None:
                yield from _custom_resource(resource, custom)
                return
            if builtin and resource.kind in _known_kinds(version_dir):
                served = ", ".join(sorted(_known_kinds(version_dir)[resource.kind]))
                yield Violation(
                    ("apiVersion",),
                    f"{resource.api_version} {resource.kind} is not served by Kubernetes "
                    f"{context.kubernetes_version} (removed or never existed)",
                    fix=f"Use a served apiVersion: {served}.",
                )
                return
            if group.startswith("kustomize.config.k8s.io"):
                yield Violation(
                    ("kind",),
                    "a kustomize build file, not a Kubernetes object: not validated",
                    fix="Nothing to do; `check --kustomize DIR` checks what it renders.",
                    severity_cap=Severity.INFO,
                )
                return
            yield Violation(
                ("apiVersion",),
                f"no schema for {resource.api_version} {resource.kind} in Kubernetes "
                f"{context.kubernetes_version} and no CRD for it (a custom resource? give its "
                "CRD among the files, with `--crds DIR` or in the pack's `crds:`): not validated",
                fix=(
                    "For a custom resource, give its CustomResourceDefinition (`--crds DIR` "
                    "or the pack's `crds:`); else check apiVersion and kind."
                ),
                severity_cap=Severity.INFO,
            )
            return
        seen: set[tuple[tuple[str | int, ...], str]] = set()
        try:
            errors = list(validator.iter_errors(resource.data))
        except ValueError:  # a non-string key (`1: x` in YAML): JSON would make it "1"
            from ..yamlparse import string_keys

            errors = list(validator.iter_errors(string_keys(resource.data)))
        for error in errors:
            path = tuple(error.instance_path)
            message = error.message
            unexpected = getattr(error.kind, "unexpected", None)
            if unexpected:
                for name in unexpected:
                    item = ((*path, name), f"unknown field {name!r}")
                    if item not in seen:
                        seen.add(item)
                        yield Violation(item[0], item[1])
                continue
            if _is_bad_quantity(error):
                message = f"{error.instance!r} is not a valid Kubernetes quantity (e.g. 500m, 2Gi)"
            if (path, message) in seen:
                continue
            seen.add((path, message))
            yield Violation(path, message)


def _custom_resource(resource: Resource, custom: CrdVersion | list[str]) -> Iterator[Violation]:
    if isinstance(custom, list):
        served = ", ".join(custom) or "none"
        yield Violation(
            ("apiVersion",),
            f"{resource.api_version} {resource.kind} is not served by its "
            f"CustomResourceDefinition (served: {served})",
            fix=f"Use a served apiVersion: {served}." if custom else "Serve a version in the CRD.",
        )
        return
    try:
        problems = list(custom.problems(resource.data))
    except ValueError:  # a non-string key, as for the built-in kinds
        from ..yamlparse import string_keys

        problems = list(custom.problems(string_keys(resource.data)))
    for path, message, note in problems:
        yield Violation(path, message, severity_cap=Severity.INFO if note else None)


def _is_bad_quantity(error: Any) -> bool:
    return (
        type(error.kind).__name__ == "OneOfNotValid"
        and isinstance(error.instance, str)
        and not re.match(QUANTITY_PATTERN, error.instance)
    )


@cache
def schema_file_name(api_version: str, kind: str) -> str:
    # rbac.authorization.k8s.io/v1 -> rbac-v1; apps/v1 -> apps-v1; v1 -> v1
    return kind.lower() + "-" + _GROUP_PREFIX.sub(r"\1-", api_version) + ".json"


def _schema_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@cache
def supported_versions() -> list[str]:
    """Kubernetes minor versions (X.Y) with bundled schemas, oldest first."""
    found = set()
    for entry in _schema_root().iterdir():
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local$", entry.name)
        if match:
            found.add((int(match.group(1)), int(match.group(2))))
    return [f"{a}.{b}" for a, b in sorted(found)]


@cache
def schema_directory(version: str, strict: bool) -> Path:
    for entry in _schema_root().iterdir():
        if re.match(rf"^v{re.escape(version)}\.\d+-local$", entry.name):
            return entry.with_name(entry.name + ("-strict" if strict else ""))
    raise ValueError(
        f"Kubernetes {version} is not supported; supported: {', '.join(supported_versions())}"
    )


@cache
def _definitions(version_dir: Path) -> dict[str, Any]:
    return json.loads((version_dir / "_definitions.json").read_text())  # type: ignore[no-any-return]


@cache
def _registry(version_dir: Path) -> Any:
    import jsonschema_rs

    definitions = _definitions(version_dir)
    quantity = definitions.get("$defs", {}).get(_QUANTITY)
    if quantity and "oneOf" in quantity:  # the API server rejects "lots" or "2 GB": so do we
        definitions["$defs"][_QUANTITY] = {
            "oneOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": ["number", "null"]}]
        }
    return jsonschema_rs.Registry([(definitions["$id"], definitions)])


@cache
def _validator(version_dir: Path, file_name: str) -> Any:
    import jsonschema_rs

    path = version_dir / file_name
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema_rs.validator_for(schema, registry=_registry(version_dir))


@cache
def _known_kinds(version_dir: Path) -> dict[str, set[str]]:
    """Kind -> apiVersions served, read from the schema file names' x-kubernetes-gvk."""
    kinds: dict[str, set[str]] = {}
    for definition in _definitions(version_dir).get("$defs", {}).values():
        for gvk in definition.get("x-kubernetes-group-version-kind", []) or []:
            group, version, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
            if kind.endswith("List") or kind in (
                "WatchEvent",
                "DeleteOptions",
                "Status",
                "APIResourceList",
            ):
                continue
            kinds.setdefault(kind, set()).add(f"{group}/{version}" if group else version)
    return kinds
