"""A CRD version's openAPIV3Schema -> the JSON Schema that jsonschema-rs validates with.

Kubernetes' structural-schema semantics, as the API server applies them to a custom
resource it decodes:

- an object's fields are the ones its `properties` name; any other field is unknown (an
  error in strict field validation, pruned otherwise), unless the object has
  `additionalProperties` (a map) or `x-kubernetes-preserve-unknown-fields: true`;
- `x-kubernetes-int-or-string: true`: an integer or a string;
- `x-kubernetes-embedded-resource: true`: an object with apiVersion, kind and metadata,
  metadata validated as ObjectMeta;
- `nullable: true` keeps a null; a null in a field that is not nullable is pruned, so it
  is as good as absent (unless the field is required);
- `default` is not applied: what the file says is what is judged, but a required field
  that has a default is not reported missing (the API server would fill it in);
- the root's metadata is validated against ObjectMeta like a built-in kind's.

The schema is checked on the way (unknown or forbidden keywords, a missing type, arrays
without items): a CRD the API server would refuse raises `CrdError`.
"""

from __future__ import annotations

from typing import Any

from ..resources import FieldPath

OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
# JSONSchemaProps fields apiextensions.k8s.io/v1 accepts in a CRD's schema.
KEYWORDS = frozenset(
    {
        "type", "format", "title", "description", "default", "maximum", "exclusiveMaximum",
        "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
        "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
        "required", "items", "allOf", "oneOf", "anyOf", "not", "properties",
        "additionalProperties", "nullable", "example", "externalDocs",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
        "x-kubernetes-map-type", "x-kubernetes-validations",
    }
)  # fmt: skip
# Fields of JSONSchemaProps that a v1 CRD must not use.
FORBIDDEN = frozenset(
    {"$schema", "$ref", "id", "definitions", "dependencies", "additionalItems", "patternProperties"}
)
# Plain value checks, copied as they are (after the type checks above).
_VALUE_KEYWORDS = (
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "multipleOf", "maxProperties",
    "minProperties",
)  # fmt: skip
# Formats the API server checks whose meaning is plain (others are accepted as given).
CHECKED_FORMATS = frozenset({"byte", "date-time"})


class CrdError(Exception):
    """What makes a CRD unusable, at a field path within the CRD document."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _field(path: FieldPath) -> str:
    from ..findings import render_path

    return render_path(path)


def check_and_convert(schema: Any, path: FieldPath, strict: bool) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a custom resource, from its openAPIV3Schema."""
    if not isinstance(schema, dict):
        raise CrdError(path, "openAPIV3Schema must be a mapping")
    if schema.get("type") != "object":
        raise CrdError((*path, "type"), "the root of openAPIV3Schema must be of type object")
    out = _convert(schema, path, strict, junctor=False)
    properties = out.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = _metadata(properties.get("metadata"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}


def _metadata(given: dict[str, Any] | None) -> dict[str, Any]:
    """ObjectMeta, plus whatever the CRD says of metadata (only name restrictions count)."""
    meta: dict[str, Any] = {"$ref": OBJECT_META}
    if given:
        narrowed = {k: v for k, v in given.items() if k not in ("type", "additionalProperties")}
        narrowed.pop("properties", None)
        name = (given.get("properties") or {}).get("name")
        if name:
            narrowed["properties"] = {"name": name}
        if narrowed:
            return {"allOf": [meta, narrowed]}
    return meta


def _convert(node: Any, path: FieldPath, strict: bool, junctor: bool) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise CrdError(path, "a schema must be a mapping")
    for key in node:
        if key in FORBIDDEN:
            raise CrdError((*path, key), f"{key!r} is not allowed in a CRD schema")
        if key not in KEYWORDS:
            raise CrdError((*path, key), f"unknown schema keyword {key!r}")
    kind = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = node.get("x-kubernetes-embedded-resource") is True
    if "x-kubernetes-preserve-unknown-fields" in node and not preserve:
        raise CrdError((*path, "x-kubernetes-preserve-unknown-fields"), "must be true or not set")
    if kind is not None and kind not in TYPES:
        raise CrdError(
            (*path, "type"), f"unknown type {kind!r} (one of {', '.join(sorted(TYPES))})"
        )
    if int_or_string and kind is not None:
        raise CrdError((*path, "type"), "must be empty with x-kubernetes-int-or-string")
    if not junctor and kind is None and not int_or_string and not preserve:
        raise CrdError(
            path, "type is required (or x-kubernetes-int-or-string / -preserve-unknown-fields)"
        )
    if embedded and kind != "object":
        raise CrdError((*path, "type"), "x-kubernetes-embedded-resource needs type: object")
    if kind == "array" and "items" not in node and not junctor:
        raise CrdError(path, "an array needs items")
    if "properties" in node and isinstance(node.get("additionalProperties"), dict):
        raise CrdError(
            (*path, "additionalProperties"), "properties and additionalProperties are exclusive"
        )
    if node.get("additionalProperties") is False:
        raise CrdError((*path, "additionalProperties"), "cannot be false in a CRD schema")
    if node.get("uniqueItems") is True:
        raise CrdError((*path, "uniqueItems"), "cannot be true in a CRD schema")

    out: dict[str, Any] = {}
    if int_or_string:
        out["type"] = ["integer", "string"]
    elif kind is not None:
        out["type"] = [kind]
    for key in _VALUE_KEYWORDS:
        if key in node:
            out[key] = node[key]
    _bounds(node, out, path)
    if "enum" in node:
        if not isinstance(node["enum"], list):
            raise CrdError((*path, "enum"), "enum must be a list")
        out["enum"] = list(node["enum"])
    fmt = node.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise CrdError((*path, "format"), "format must be a string")
    if fmt in CHECKED_FORMATS and kind == "string":
        out["format"] = fmt
    if node.get("x-kubernetes-list-type") == "set" and not junctor:
        out["uniqueItems"] = True  # the API server reports the duplicate
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            if not isinstance(node[key], list):
                raise CrdError((*path, key), f"{key} must be a list")
            out[key] = [
                _convert(sub, (*path, key, i), strict, True) for i, sub in enumerate(node[key])
            ]
    if "not" in node:
        out["not"] = _convert(node["not"], (*path, "not"), strict, True)
    if "items" in node:
        if not isinstance(node["items"], dict):
            raise CrdError((*path, "items"), "items must be one schema (a mapping)")
        out["items"] = _nullable(
            _convert(node["items"], (*path, "items"), strict, junctor), node["items"], False
        )
    required = node.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise CrdError((*path, "required"), "required must be a list of field names")
    properties = node.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise CrdError((*path, "properties"), "properties must be a mapping")
    converted: dict[str, Any] = {}
    for name, sub in (properties or {}).items():
        child = _convert(sub, (*path, "properties", name), strict, junctor)
        converted[name] = _nullable(child, sub, name in required and "default" not in sub)
    if embedded:
        converted.setdefault("apiVersion", {"type": "string"})
        converted.setdefault("kind", {"type": "string"})
        converted["metadata"] = _metadata(converted.get("metadata"))
        required = [*required, *(k for k in ("apiVersion", "kind") if k not in required)]
    if converted:
        out["properties"] = converted
    # Required fields with a default are filled in by the API server before validation.
    defaulted = {
        n for n, sub in (properties or {}).items() if isinstance(sub, dict) and "default" in sub
    }
    if [r for r in required if r not in defaulted]:
        out["required"] = [r for r in required if r not in defaulted]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        value = _convert(extra, (*path, "additionalProperties"), strict, junctor)
        out["additionalProperties"] = _nullable(value, extra, False)
    elif (
        strict
        and not junctor
        and not preserve
        and extra is not True
        and (kind == "object" or embedded)
    ):
        out["additionalProperties"] = False
    return out


def _bounds(node: dict[str, Any], out: dict[str, Any], path: FieldPath) -> None:
    """OpenAPI v3's boolean exclusiveMaximum/Minimum -> JSON Schema's numeric ones."""
    for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
        flag = node.get(exclusive)
        if flag is not None and not isinstance(flag, bool):
            raise CrdError((*path, exclusive), f"{exclusive} must be true or false")
        if bound in node:
            if not isinstance(node[bound], int | float) or isinstance(node[bound], bool):
                raise CrdError((*path, bound), f"{bound} must be a number")
            out[exclusive if flag else bound] = node[bound]


def _nullable(child: dict[str, Any], source: Any, required: bool) -> dict[str, Any]:
    """Let a null through where the API server keeps it (nullable) or prunes it (a field
    that is not required); a required, non-nullable field must not be null."""
    nullable = isinstance(source, dict) and source.get("nullable") is True
    if required and not nullable:
        return child
    types = child.get("type")
    if types is None:
        return child  # no type: anything, null included
    if any(k in child for k in ("allOf", "anyOf", "oneOf", "not")):
        return {"if": {"type": "null"}, "else": child}
    child = {**child, "type": [*types, "null"]}
    if "enum" in child and None not in child["enum"]:
        child["enum"] = [*child["enum"], None]
    return child


__all__ = ["CHECKED_FORMATS", "OBJECT_META", "CrdError", "check_and_convert"]
