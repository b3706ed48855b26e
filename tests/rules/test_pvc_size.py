"""pvc-size: claims request storage within bounds; overrides for particular claims."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.util import of_rule, pack_with, run

PVC = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}, namespace: autobot-data}}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: {size}
"""
STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: {name}, namespace: autobot-logging}}
spec:
  serviceName: {name}
  replicas: 3
  selector: {{matchLabels: {{app: autobot-elasticsearch}}}}
  template:
    metadata: {{labels: {{app: autobot-elasticsearch}}}}
    spec:
      containers:
      - name: elasticsearch
        image: docker.elastic.co/elasticsearch/elasticsearch:8.15.3
        volumeMounts: [{{name: data, mountPath: /usr/share/elasticsearch/data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: {size}}}}}
"""


def findings(text: str, **params: Any) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"pvc-size": params}) if params else None
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text, pack), "pvc-size")]


def pvc(size: str, name: str = "autobot-postgres-data") -> str:
    return PVC.format(name=name, size=size)


def statefulset(size: str, name: str = "autobot-elasticsearch") -> str:
    return STATEFULSET.format(name=name, size=size)


@pytest.mark.parametrize("size", ["1Gi", "1024Mi", "20Gi", "1Ti", "1.5Gi"])
def test_sizes_within_default_bounds_pass(size: str) -> None:
    assert findings(pvc(size)) == []


def test_below_default_minimum() -> None:
    assert findings(pvc("512Mi")) == [
        (
            8,
            "spec.resources.requests.storage",
            "PersistentVolumeClaim 'autobot-postgres-data' requests 512Mi of storage, below the "
            "minimum 1Gi (min)",
        )
    ]


def test_decimal_gigabyte_is_below_a_gibibyte() -> None:
    [(_, _, message)] = findings(pvc("1G"))
    assert "requests 1G of storage, below the minimum 1Gi" in message


def test_above_default_maximum() -> None:
    [(_, _, message)] = findings(pvc("2Ti"))
    assert message.endswith("requests 2Ti of storage, above the maximum 1Ti (max)")


def test_missing_storage_request_points_at_the_parent() -> None:
    text = pvc("1Gi").replace("    requests:\n      storage: 1Gi\n", "    limits: {storage: 2Gi}\n")
    assert findings(text) == [
        (6, "spec.resources", "PersistentVolumeClaim 'autobot-postgres-data' requests no storage")
    ]


def test_bundled_pack_requires_10gi_for_elasticsearch() -> None:
    assert findings(statefulset("5Gi")) == [
        (
            19,
            "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
            "claim template 'data' of StatefulSet 'autobot-elasticsearch' requests 5Gi of "
            "storage, below the minimum 10Gi (overrides[0])",
        )
    ]
    assert findings(statefulset("10Gi")) == []
    assert findings(statefulset("10240Mi")) == []
    assert len(findings(statefulset("10G"))) == 1  # 10^10 bytes < 10 * 2^30
    assert findings(statefulset("5Gi", name="autobot-chromadb")) == []  # 1Gi minimum elsewhere


def test_bundled_override_also_covers_elasticsearch_pvcs() -> None:
    assert len(findings(pvc("5Gi", name="data-autobot-elasticsearch-0"))) == 1


def test_missing_claim_template_storage() -> None:
    text = statefulset("5Gi").replace("      resources: {requests: {storage: 5Gi}}\n", "")
    assert findings(text) == [
        (
            17,
            "spec.volumeClaimTemplates[0].spec",
            "claim template 'data' of StatefulSet 'autobot-elasticsearch' requests no storage",
        )
    ]


def test_override_match_fields() -> None:
    text = pvc("30Gi") + "---\n" + statefulset("30Gi")

    def over(match: dict[str, str]) -> list[str]:
        overrides = [{"match": match, "min": "50Gi"}]
        return [m.split(" requests")[0] for _, _, m in findings(text, overrides=overrides)]

    both = [
        "PersistentVolumeClaim 'autobot-postgres-data'",
        "claim template 'data' of StatefulSet 'autobot-elasticsearch'",
    ]
    assert over({"name": "autobot-*"}) == both
    assert over({"kind": "StatefulSet"}) == both[1:]
    assert over({"kind": "PersistentVolumeClaim"}) == both[:1]
    assert over({"namespace": "autobot-data"}) == both[:1]
    assert over({"claim": "data"}) == both[1:]
    assert over({"kind": "StatefulSet", "claim": "logs"}) == []
    assert over({"name": "Autobot-*"}) == []  # case-sensitive


def test_later_overrides_replace_earlier_bounds() -> None:
    overrides = [
        {"match": {"name": "*elasticsearch*"}, "min": "10Gi", "max": "100Gi"},
        {"match": {"namespace": "autobot-logging"}, "max": "20Gi"},
    ]
    assert findings(statefulset("15Gi"), overrides=overrides) == []
    [(_, _, message)] = findings(statefulset("30Gi"), overrides=overrides)
    assert message.endswith("above the maximum 20Gi (overrides[1])")
    [(_, _, message)] = findings(statefulset("5Gi"), overrides=overrides)
    assert message.endswith("below the minimum 10Gi (overrides[0])")


def test_default_bounds_are_parameters() -> None:
    assert findings(pvc("512Mi"), min="256Mi") == []
    assert len(findings(pvc("100Gi"), max="50Gi")) == 1


def test_unparsable_request_is_left_to_schema() -> None:
    assert findings(pvc("lots")) == []


@pytest.mark.parametrize(
    "settings",
    [
        {"min": "ten gigs"},
        {"min": "2Ti", "max": "1Ti"},
        {"overrides": [{"match": {"name": "x"}, "min": "big"}]},
        {"overrides": [{"match": {"nmae": "x"}, "min": "1Gi"}]},
    ],
)
def test_invalid_settings_are_rejected(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        pack_with(rules={"pvc-size": settings})
