"""What a rule declares it reads (`Rule.reads`, `Rule.cross_resource`) decides what the
webhook keeps, watches and treats as cross-resource: no second list to keep in step."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from autobot_guard.config import AdmissionSettings
from autobot_guard.findings import Severity
from autobot_guard.resources import WORKLOADS
from autobot_guard.rules import ALL_RULES, cross_resource_ids, kinds_read
from autobot_guard.rules.base import Rule
from autobot_guard.rules.hpa_replicas import HpaReplicas
from autobot_guard.rules.min_replicas import MinReplicas
from autobot_guard.webhook.inventory_watch import NOT_WATCHED, WATCHED, watched_for
from autobot_guard.webhook.review import Reviewer
from autobot_guard.webhook.store import INVENTORY_KINDS, InventoryStore
from tests.util import pack_with


class ReadsServices(Rule):
    id = "reads-services"
    default_severity = Severity.ERROR
    summary = fix = failing_example = passing_example = ""
    reads: ClassVar[frozenset[str]] = frozenset({"Service"})
    cross_resource = True


def test_cross_resource_rules_are_those_that_say_so() -> None:
    declared = [rule.id for rule in ALL_RULES if rule.cross_resource]
    assert AdmissionSettings().crossResourceRuleIds == declared
    assert "network-policy" in declared and "min-replicas" not in declared
    assert cross_resource_ids([MinReplicas, ReadsServices]) == ("reads-services",)
    for rule in ALL_RULES:  # depending on other objects means reading some
        assert rule.reads or not rule.cross_resource, rule.id


def test_the_watch_lists_the_kinds_the_rules_read() -> None:
    read = kinds_read()
    watched = {w.kind for w in WATCHED}
    assert watched == read - NOT_WATCHED.keys()
    assert watched == kinds_read(r for r in ALL_RULES if r.cross_resource) - NOT_WATCHED.keys()
    # every kind a rule reads is listed, or left out for a reason; never forgotten
    listed = {w.kind for w in watched_for(frozenset(read | NOT_WATCHED.keys()))}
    assert read <= listed | NOT_WATCHED.keys()
    assert not listed & NOT_WATCHED.keys()
    # one rule's declaration is enough to watch a kind
    assert [w.resource for w in watched_for(kinds_read([ReadsServices]))] == ["services"]


def test_the_store_keeps_workloads_and_the_kinds_the_rules_read(tmp_path: Path) -> None:
    assert set(INVENTORY_KINDS) == kinds_read() - WORKLOADS
    (tmp_path / "objects.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: ns}\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns}\n"
        "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
        "metadata: {name: x, namespace: ns}\n"
    )
    store = InventoryStore()
    assert store.load_directory(str(tmp_path)) == []
    kept = {r.kind for r in store.namespace_inventory("ns").resources}
    assert kept == {"Service", "Deployment", "SealedSecret"}  # no rule reads Ingresses


def test_a_defaulted_replica_count_makes_the_hpa_readers_cross_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def extra() -> set[str]:
        reviewer = Reviewer(pack_with(admission={"rego": False}))
        return set(reviewer.cross_when_replicas_defaulted - reviewer.cross)

    assert extra() == {"min-replicas"}  # reads HPAs, not cross-resource otherwise
    monkeypatch.setattr(HpaReplicas, "reads", frozenset({"HorizontalPodAutoscaler"}))
    assert extra() == {"min-replicas", "hpa-replicas"}
    monkeypatch.setattr(MinReplicas, "reads", frozenset())
    assert extra() == {"hpa-replicas"}
