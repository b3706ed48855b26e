"""The fast line locator agrees with PyYAML's node positions wherever it answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from autobot_guard.loader import _split_documents
from autobot_guard.locate import TextLocator, compose, node_line
from autobot_guard.yaml11 import KubernetesLoader
from autobot_guard.yamlparse import parse_document

ROOT = Path(__file__).resolve().parent.parent


def all_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(all_paths(value, (*prefix, str(key))))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(all_paths(value, (*prefix, index)))
    return out


def assert_agrees(text: str) -> int:
    data = parse_document(text)
    tree = compose(text, KubernetesLoader)
    locator = TextLocator(text)
    answered = 0
    for path in all_paths(data):
        line, found = locator.locate(path)
        if found == len(path):
            assert line == node_line(tree, path), (path, text)
            answered += 1
    return answered


def test_agrees_on_every_field_of_the_reference_manifests() -> None:
    answered = 0
    for file in sorted((ROOT / "manifests").rglob("*.yaml")):
        for _, chunk in _split_documents(file.read_text()):
            if chunk.strip() and parse_document(chunk) is not None:
                answered += assert_agrees(chunk)
    assert answered > 2000  # block style: the locator answers nearly everything itself


keys = st.sampled_from(["name", "image", "spec", "ports", "a", "on-x", "app.kubernetes.io/name"])
leaves = st.one_of(st.integers(0, 9999), st.sampled_from(["x", "1Gi", "", "a b", "- c", "k: v"]))
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(keys, children, min_size=1, max_size=3),
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(
    tree=st.dictionaries(keys, trees, min_size=1, max_size=3),
    indent=st.sampled_from([2, 4]),
    flow=st.booleans(),
)
def test_agrees_on_generated_block_yaml(tree: dict[str, Any], indent: int, flow: bool) -> None:
    text = yaml.safe_dump(
        tree, indent=indent, default_flow_style=None if flow else False, sort_keys=False
    )
    assert_agrees(text)
