"""Label selectors behave exactly as Kubernetes' metav1.LabelSelector and Service selectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autobot_guard.selectors import Requirement, Selector, parse_label_selector, parse_map_selector

POD = {"app": "autobot-chat-agent", "component": "ai-agent", "agent-type": "chat"}


def label_selector(value: object) -> Selector:
    selector = parse_label_selector(value)
    assert selector is not None
    return selector


def expression(key: str, operator: str, *values: str) -> Selector:
    item: dict[str, object] = {"key": key, "operator": operator}
    if values:
        item["values"] = list(values)
    return label_selector({"matchExpressions": [item]})


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({"matchLabels": {"app": "autobot-chat-agent"}}, True),
        ({"matchLabels": {"app": "autobot-chat-agent", "component": "ai-agent"}}, True),
        ({"matchLabels": {"app": "autobot-chat-agent", "component": "api"}}, False),
        ({"matchLabels": {"tier": "backend"}}, False),
        ({"matchLabels": {"app": "autobot-chat-agent"}, "matchExpressions": []}, True),
    ],
)
def test_match_labels_are_anded_equalities(selector: dict[str, object], selected: bool) -> None:
    assert label_selector(selector).matches(POD) is selected


@pytest.mark.parametrize(
    ("key", "operator", "values", "selected"),
    [
        ("agent-type", "In", ("chat", "rag"), True),
        ("agent-type", "In", ("rag", "research"), False),
        ("missing", "In", ("chat",), False),  # In needs the key
        ("agent-type", "NotIn", ("rag", "research"), True),
        ("agent-type", "NotIn", ("chat",), False),
        ("missing", "NotIn", ("chat",), True),  # NotIn selects pods without the key
        ("component", "Exists", (), True),
        ("missing", "Exists", (), False),
        ("missing", "DoesNotExist", (), True),
        ("component", "DoesNotExist", (), False),
        ("component", "Equals", ("ai-agent",), False),  # unknown operator selects nothing
    ],
)
def test_match_expressions(
    key: str, operator: str, values: tuple[str, ...], selected: bool
) -> None:
    assert expression(key, operator, *values).matches(POD) is selected


def test_match_labels_and_expressions_are_anded() -> None:
    both = {
        "matchLabels": {"component": "ai-agent"},
        "matchExpressions": [{"key": "agent-type", "operator": "In", "values": ["rag"]}],
    }
    assert not label_selector(both).matches(POD)
    both["matchExpressions"] = [{"key": "agent-type", "operator": "In", "values": ["chat"]}]
    assert label_selector(both).matches(POD)


@pytest.mark.parametrize("value", [{}, {"matchLabels": {}}, {"matchLabels": None}])
def test_an_empty_label_selector_selects_everything(value: object) -> None:
    selector = label_selector(value)
    assert selector.is_empty
    assert selector.matches(POD) and selector.matches({})
    assert selector.describe() == "(everything)"


@pytest.mark.parametrize(
    "value",
    [
        None,  # a null selector selects nothing: the caller must not treat it as {}
        "app=autobot",
        {"matchLabels": ["app"]},
        {"matchExpressions": {"key": "app"}},
        {"matchExpressions": [{"operator": "Exists"}]},
    ],
)
def test_absent_or_malformed_label_selectors_parse_to_none(value: object) -> None:
    assert parse_label_selector(value) is None


def test_map_selector_as_a_service_uses_it() -> None:
    selector = parse_map_selector({"app": "autobot-chat-agent", "component": "ai-agent"})
    assert selector is not None and selector.matches(POD)
    assert not selector.matches({"app": "autobot-chat-agent"})
    assert parse_map_selector({}) is None  # a Service with an empty selector selects nothing
    assert parse_map_selector(None) is None


def test_describe_names_every_term() -> None:
    selector = label_selector(
        {
            "matchLabels": {"app": "autobot-rag-agent"},
            "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["cache", "batch"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert (
        selector.describe()
        == "app=autobot-rag-agent, tier NotIn (batch,cache), DoesNotExist canary"
    )


labels = st.dictionaries(
    st.sampled_from(["app", "component", "tier", "agent-type"]),
    st.sampled_from(["a", "b", "c"]),
)
values = st.frozensets(st.sampled_from(["a", "b", "c"]), min_size=1)
keys = st.sampled_from(["app", "component", "tier", "agent-type"])


@given(labels, keys, values)
def test_in_and_notin_are_complements(pod: dict[str, str], key: str, vals: frozenset[str]) -> None:
    assert Requirement(key, "In", vals).matches(pod) is not Requirement(key, "NotIn", vals).matches(
        pod
    )


@given(labels, keys)
def test_exists_and_doesnotexist_are_complements(pod: dict[str, str], key: str) -> None:
    exists = Requirement(key, "Exists", frozenset()).matches(pod)
    assert exists is not Requirement(key, "DoesNotExist", frozenset()).matches(pod)
    assert exists is (key in pod)


@given(labels, st.data())
def test_a_subset_of_the_labels_selects_the_pod(pod: dict[str, str], data: st.DataObject) -> None:
    subset = data.draw(st.sampled_from([{}, *({k: v} for k, v in pod.items()), pod]))
    assert label_selector({"matchLabels": subset}).matches(pod)
