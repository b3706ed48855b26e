"""PyYAML configured to read what go-yaml v2 (Kubernetes) reads: the YAML 1.1 path.

Imported only when a document needs it (YAML 1.1 scalars, merge keys, a line lookup
the fast locator cannot answer), so most runs never load PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .yamlparse import MAX_DEPTH, YamlError

_PREFIXED_INT = re.compile(r"[-+]?0[0-9_]+")


def _go_yaml_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return node.value in _TRUE


_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_GO_YAML_BOOLS = (
    "y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE"
)


class KubernetesLoader(yaml.CSafeLoader):
    """PyYAML configured to read what go-yaml v2 reads."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = (type(key), key) in seen  # True == 1 in Python, not in YAML
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add((type(key), key))
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = node.value.replace("_", "")
        sign = -1 if value.startswith("-") else 1
        digits = value.lstrip("+-")
        if _PREFIXED_INT.fullmatch(value) and len(digits) > 1:
            try:
                return sign * int(digits, 8)  # go: strconv.ParseInt(s, 0, 64) reads 0755 as octal
            except ValueError:
                return sign * float(digits)  # type: ignore[return-value]  # go-yaml: "09" is a float
        return super().construct_yaml_int(node)


# Rebuild the implicit resolvers: go-yaml's booleans, no timestamps, no sexagesimal numbers.
KubernetesLoader.yaml_implicit_resolvers = {}
for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    kept = [
        (tag, regexp)
        for tag, regexp in _resolvers
        if tag
        not in (
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:timestamp",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:value",
        )
    ]
    if kept:
        KubernetesLoader.yaml_implicit_resolvers[_first] = kept
KubernetesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(rf"^(?:{_GO_YAML_BOOLS})$"), list("yYnNtTfFoO")
)
KubernetesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-9_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
KubernetesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


# Explicit tags, read into what go-yaml v2 and the JSON conversion make of them: a set
# is a mapping to nulls, an ordered map a list of one-key mappings, a timestamp and
# binary data stay strings (the API server sees RFC 3339 text and base64).
def _set(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, None]:
    return dict.fromkeys(loader.construct_mapping(node, deep=True))


def _pairs(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> list[Any]:
    return [loader.construct_object(item, deep=True) for item in node.value]


def _text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _binary(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return "".join(str(loader.construct_scalar(node)).split())


KubernetesLoader.add_constructor("tag:yaml.org,2002:set", _set)
KubernetesLoader.add_constructor("tag:yaml.org,2002:omap", _pairs)
KubernetesLoader.add_constructor("tag:yaml.org,2002:pairs", _pairs)
KubernetesLoader.add_constructor("tag:yaml.org,2002:timestamp", _text)
KubernetesLoader.add_constructor("tag:yaml.org,2002:binary", _binary)
KubernetesLoader.add_constructor("tag:yaml.org,2002:bool", _go_yaml_bool)
KubernetesLoader.add_constructor("tag:yaml.org,2002:int", KubernetesLoader.construct_yaml_int)


def parse_yaml11(text: str) -> Any:
    try:
        return yaml.load(text, Loader=KubernetesLoader)  # a safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
        raise YamlError(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
