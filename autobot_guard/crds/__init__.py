"""CustomResourceDefinitions -> the schemas of their custom resources.

CRDs come from the checked files, from the folders `check --crds DIR` names and from the
policy pack's `crds:` list (in that order of precedence). Each served version's
openAPIV3Schema becomes a jsonschema-rs validator (structural.py) and a plan of its CEL
rules (cel.py), compiled once per distinct schema: the cache is keyed by the schema's
content, so the same CRD given twice, or checked again in the same process, costs nothing.

A CRD the API server would refuse (no group or kind, an invalid schema, a CEL rule that
does not compile) is an input error for its file, and its custom resources are reported
as having no schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..findings import InputError
from ..resources import FieldPath, Resource
from .structural import CrdError

CRD_API_VERSION = "apiextensions.k8s.io/v1"


@dataclass(slots=True)
class CompiledSchema:
    validator: Any  # jsonschema-rs
    plan: Any  # cel.PlanNode or None


@dataclass(slots=True)
class CrdVersion:
    crd: str  # metadata.name, e.g. certificates.cert-manager.io
    api_version: str
    kind: str
    served: bool
    compiled: CompiledSchema | None  # None when not served

    def problems(self, data: dict[str, Any]) -> Iterator[tuple[FieldPath, str, bool]]:
        """(field path, message, is a note) of what the API server would refuse."""
        assert self.compiled is not None
        seen: set[tuple[FieldPath, str]] = set()
        for error in self.compiled.validator.iter_errors(data):
            path = tuple(error.instance_path)
            unexpected = getattr(error.kind, "unexpected", None)
            if unexpected:
                for name in unexpected:
                    where = (*path, name)
                    item = (where, f'unknown field "{_dotted(where)}"')  # as the API server
                    if item not in seen:
                        seen.add(item)
                        yield where, item[1], False
                continue
            message = _message(error)
            if (path, message) not in seen:
                seen.add((path, message))
                yield path, message, False
        if self.compiled.plan is not None:
            from .cel import evaluate

            for problem in evaluate(self.compiled.plan, data):
                yield problem.path, problem.message, problem.note


def _message(error: Any) -> str:
    """jsonschema-rs's message, without the null that structural.py lets through (a null
    a field is pruned of, not a value to suggest)."""
    kind = type(error.kind).__name__
    if kind == "Type":
        if error.instance is None:
            return "null is not allowed: the field is required and not nullable"
        types = [t for t in error.kind.types if t != "null"]
        return f"{_json(error.instance)} is not of type {' or '.join(types)}"
    if kind == "Enum":
        options = [o for o in error.kind.options if o is not None]
        return f"{_json(error.instance)} is not one of {', '.join(_json(o) for o in options)}"
    return str(error.message)


def _json(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _dotted(path: FieldPath) -> str:
    from ..findings import render_path

    return render_path(path)


@dataclass
class CrdCatalogue:
    """(group, kind) -> version name -> CrdVersion."""

    kinds: dict[tuple[str, str], dict[str, CrdVersion]] = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)  # where each was defined

    def lookup(self, api_version: str, kind: str) -> CrdVersion | list[str] | None:
        """The version's schema; the served versions if this one is not served; None if no
        CRD defines the group and kind."""
        group, _, version = api_version.rpartition("/")
        versions = self.kinds.get((group, kind))
        if versions is None:
            return None
        found = versions.get(version)
        if found is not None and found.served:
            return found
        return sorted(f"{group}/{name}" for name, v in versions.items() if v.served)

    def __len__(self) -> int:
        return len(self.kinds)


def is_crd(resource: Resource) -> bool:
    return resource.kind == "CustomResourceDefinition" and resource.group == "apiextensions.k8s.io"


def build_catalogue(
    tiers: Sequence[Iterable[Resource]],
    strict: bool,
    kubernetes_version: str,
    needed: Container[tuple[str, str]] | None = None,
) -> tuple[CrdCatalogue, list[InputError]]:
    """The catalogue of every CRD in `tiers` (checked files first, then the folders'); a
    group and kind defined in an earlier tier is not redefined by a later one.

    `needed`: the (group, kind) of the custom resources to validate. The CRDs of the
    first tier (the checked files) are all compiled, since they are checked too; those
    of the later tiers (folders of CRDs to validate with) only when needed, as compiling
    a schema costs tens of milliseconds. None: all."""
    catalogue, errors = CrdCatalogue(), []
    for position, tier in enumerate(tiers):
        defined_here: set[tuple[str, str]] = set()
        for resource in tier:
            if not is_crd(resource):
                continue
            if resource.api_version != CRD_API_VERSION:
                continue  # apiextensions.k8s.io/v1beta1: the schema rule says it is not served
            declared = _declared_key(resource)
            if position and needed is not None and declared and declared not in needed:
                continue
            try:
                key, versions = _compile_crd(resource, strict, kubernetes_version)
            except CrdError as exc:
                errors.append(
                    InputError(
                        resource.document.file,
                        resource.line_of(exc.path),
                        f"CustomResourceDefinition {resource.name}: "
                        f"{_where(exc.path)}{exc.message}",
                    )
                )
                continue
            where = f"{resource.document.file}:{resource.line_of(())}"
            if key in defined_here:
                errors.append(
                    InputError(
                        resource.document.file,
                        resource.line_of(()),
                        f"CustomResourceDefinition {resource.name} is defined twice "
                        f"(first at {catalogue.origin[key]}): remove one",
                    )
                )
                continue
            if key in catalogue.kinds:
                continue  # the checked files' (or an earlier folder's) definition wins
            defined_here.add(key)
            catalogue.kinds[key] = versions
            catalogue.origin[key] = where
    return catalogue, errors


def _declared_key(resource: Resource) -> tuple[str, str] | None:
    """The (group, kind) a CRD says it defines, if it says so plainly."""
    spec = resource.get("spec")
    names = spec.get("names") if isinstance(spec, dict) else None
    group = spec.get("group") if isinstance(spec, dict) else None
    kind = names.get("kind") if isinstance(names, dict) else None
    return (group, kind) if isinstance(group, str) and isinstance(kind, str) else None


def _where(path: FieldPath) -> str:
    return f"{_dotted(path)}: " if path else ""


def _compile_crd(
    resource: Resource, strict: bool, kubernetes_version: str
) -> tuple[tuple[str, str], dict[str, CrdVersion]]:
    spec = resource.get("spec")
    if not isinstance(spec, dict):
        raise CrdError(("spec",), "a CRD needs a spec")
    group, names = spec.get("group"), spec.get("names")
    if not isinstance(group, str) or not group:
        raise CrdError(("spec",), "spec.group is required")
    if "." not in group:
        # As the API server: a CRD's group is a domain, so no CRD redefines a built-in
        # group's kinds (apps, batch, core's "").
        raise CrdError(("spec", "group"), f"{group!r} should be a domain with at least one dot")
    if not isinstance(names, dict) or not isinstance(names.get("kind"), str) or not names["kind"]:
        raise CrdError(("spec",), "spec.names.kind is required")
    plural = names.get("plural")
    if not isinstance(plural, str) or not plural:
        raise CrdError(("spec", "names"), "spec.names.plural is required")
    if resource.name != f"{plural}.{group}":
        raise CrdError(
            ("metadata", "name"), f"must be spec.names.plural.spec.group: {plural}.{group}"
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        raise CrdError(("spec",), "spec.versions must list at least one version")
    out: dict[str, CrdVersion] = {}
    storage = 0
    for index, entry in enumerate(versions):
        at: FieldPath = ("spec", "versions", index)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise CrdError(at, "a version needs a name")
        name = entry["name"]
        if name in out:
            raise CrdError((*at, "name"), f"version {name!r} is listed twice")
        served, stored = entry.get("served"), entry.get("storage")
        if not isinstance(served, bool) or not isinstance(stored, bool):
            raise CrdError(at, "served and storage must be true or false")
        storage += stored
        schema = (
            (entry.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(entry.get("schema"), dict)
            else None
        )
        if schema is None:
            raise CrdError(at, "schema.openAPIV3Schema is required")
        compiled = _compiled(schema, (*at, "schema", "openAPIV3Schema"), strict, kubernetes_version)
        out[name] = CrdVersion(resource.name, f"{group}/{name}", names["kind"], served, compiled)
    if storage != 1:
        raise CrdError(
            ("spec", "versions"), f"exactly one version must have storage: true ({storage} have)"
        )
    return (group, names["kind"]), out


_CACHE: dict[tuple[str, bool, str], CompiledSchema | CrdError] = {}


def _compiled(
    schema: Any, path: FieldPath, strict: bool, kubernetes_version: str
) -> CompiledSchema:
    """A version's validator and CEL plan, compiled once per distinct schema content."""
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()
    key = (digest, strict, kubernetes_version)
    cached = _CACHE.get(key)
    if cached is None:
        try:
            cached = _compile(schema, strict, kubernetes_version)
        except CrdError as exc:
            cached = exc  # its path is relative to the schema: re-rooted below
        _CACHE[key] = cached
    if isinstance(cached, CrdError):
        raise CrdError((*path, *cached.path), cached.message)
    return cached


def _compile(schema: Any, strict: bool, kubernetes_version: str) -> CompiledSchema:
    import jsonschema_rs

    from ..rules.schema import _registry, schema_directory
    from .cel import build_plan
    from .structural import check_and_convert

    converted = check_and_convert(schema, (), strict)
    plan = build_plan(schema, ())
    try:
        validator = jsonschema_rs.validator_for(
            converted,
            registry=_registry(schema_directory(kubernetes_version, True)),
            validate_formats=True,
            formats={"byte": _is_base64},
        )
    except jsonschema_rs.ValidationError as exc:  # e.g. minLength: "x", pattern: "("
        where = tuple(getattr(exc, "instance_path", ()) or ())
        first = str(exc).strip().splitlines()[0]
        raise CrdError(where, f"invalid openAPIV3Schema: {first}") from None
    except ValueError as exc:
        raise CrdError((), f"invalid openAPIV3Schema: {str(exc).splitlines()[0]}") from None
    return CompiledSchema(validator, plan)


def _is_base64(value: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_ESCAPE = re.compile(rb"\\[xuU]|\\\r?\n")  # what could spell a kind in other letters


def crd_folders_resources(
    folders: Sequence[str], kinds: Collection[str] | None = None
) -> tuple[list[Resource], list[InputError]]:
    """The CRDs of `folders` (files or directories); anything else there is an error.

    `kinds`: parse only the files that may define one of these kinds, as parsing a
    large CRD costs milliseconds. A file defines a kind only by spelling it out, or by
    writing a letter of it as a \\x, \\u or \\U escape or breaking it with an escaped
    line break (YAML and JSON have no other way): a file with neither defines none of
    them. None: every file."""
    from ..loader import MAX_FILE_BYTES, load_parsed, parse_sources
    from ..sources import Refused, list_sources, read_file

    if not folders:
        return [], []
    listing = list_sources(folders)
    if kinds is not None:
        wanted = [kind.encode() for kind in kinds]
        kept = []
        for name, raw, force_json in listing.sources:
            try:
                raw, _ = read_file(name, MAX_FILE_BYTES)
            except (Refused, OSError):  # parse_sources tries again and says why it cannot
                kept.append((name, raw, force_json))
                continue
            if _ESCAPE.search(raw) or any(kind in raw for kind in wanted):
                kept.append((name, raw, force_json))
        listing.sources = kept
    loaded = load_parsed(listing, [parse_sources(listing.sources)])
    errors = list(loaded.errors)
    crds = []
    for resource in loaded.resources:
        if is_crd(resource):
            crds.append(resource)
        else:
            errors.append(
                InputError(
                    resource.document.file,
                    resource.line_of(()),
                    f"{resource.kind} {resource.name}: a CRD folder holds only "
                    "CustomResourceDefinitions",
                )
            )
    return crds, errors
