"""The shipped AutoBot Rego policies (policies/rego), evaluated in process on pass and
fail fixtures (tests/data/rego/cases), and on the reference manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from autobot_guard.paths import bundled_manifests
from autobot_guard.rego.policies import load_policy_set
from tests.rego.helpers import CASES, SHIPPED, check, enforced_copy, rego_findings, summary

# policy file -> its rule id and the findings of its fail case: (line, resource, message part)
EXPECTED = {
    "images": (
        "approved-registry",
        [
            (
                16,
                "Deployment/autobot-system/autobot-backend",
                "'docker.io/mrveiss/autobot-backend:1.4.0' from docker.io/mrveiss/autobot-backend",
            ),
            (
                18,
                "Deployment/autobot-system/autobot-backend",
                "'busybox:1.36' from docker.io/library/busybox",
            ),
        ],
    ),
    "hostpath": (
        "no-hostpath",
        [
            (
                19,
                "Deployment/autobot-system/autobot-browser-worker",
                "hostPath /var/run/docker.sock: only the log collector",
            ),
            (
                40,
                "DaemonSet/autobot-logging/autobot-log-collector",
                "hostPath /etc: the log collector may mount only",
            ),
        ],
    ),
    "loadbalancer": (
        "internal-load-balancer",
        [
            (
                10,
                "Service/autobot-system/autobot-frontend-lb",
                "LoadBalancer without an internal-load-balancer annotation",
            )
        ],
    ),
    "ingress": (
        "ingress-tls",
        [
            (7, "Ingress/autobot-system/autobot-plain", "has no tls section"),
            (
                33,
                "Ingress/autobot-system/autobot-partial",
                "serves host kibana.tools.example.com without TLS",
            ),
        ],
    ),
    "labels": (
        "ownership-labels",
        [
            (7, "Deployment/autobot-system/autobot-frontend", "has no owner label"),
            (25, "Job/autobot-system/autobot-migrate", "has no team label"),
        ],
    ),
}


def policy_names() -> list[str]:
    return sorted(
        m.path.stem for m in load_policy_set(SHIPPED).modules if m.package.startswith("main")
    )


def test_every_shipped_policy_has_cases_and_unit_tests() -> None:
    assert policy_names() == sorted(EXPECTED)
    for name in EXPECTED:
        assert (CASES / f"{name}-pass.yaml").is_file(), name
        assert (CASES / f"{name}-fail.yaml").is_file(), name
        assert (SHIPPED / f"{name}_test.rego").is_file(), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fail_case(name: str, tmp_path: Path) -> None:
    rule, expected = EXPECTED[name]
    policies = enforced_copy(tmp_path) if name == "labels" else None
    findings = [
        f
        for f in rego_findings(check([CASES / f"{name}-fail.yaml"], policies=policies))
        if f.rule == rule
    ]
    assert [(f.line, f.resource.display()) for f in findings] == [
        (line, res) for line, res, _ in expected
    ]
    for finding, (_, _, part) in zip(findings, expected, strict=True):
        assert part in finding.message
        assert finding.severity.value == "error"
        assert finding.fix


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pass_case(name: str, tmp_path: Path) -> None:
    policies = enforced_copy(tmp_path) if name == "labels" else None
    assert summary(rego_findings(check([CASES / f"{name}-pass.yaml"], policies=policies))) == []


def test_every_fail_case_fails_only_its_own_policy(tmp_path: Path) -> None:
    policies = enforced_copy(tmp_path)
    for name, (rule, _) in EXPECTED.items():
        rules = {
            f.rule for f in rego_findings(check([CASES / f"{name}-fail.yaml"], policies=policies))
        }
        assert rules <= {rule, "ownership-labels"}, (name, rules)  # fixtures carry no owners


def test_ownership_labels_are_not_enforced_yet() -> None:
    report = check([CASES / "labels-fail.yaml"])
    assert [f for f in rego_findings(report) if f.rule == "ownership-labels"] == []


def test_reference_manifests_pass_the_shipped_policies() -> None:
    report = check([bundled_manifests()])
    assert rego_findings(report) == []
    assert rego_findings(report, exempted=True) == []


def test_reference_manifests_lack_only_ownership_labels_when_enforced(tmp_path: Path) -> None:
    """What switching ownership-labels on will report until manifests/ carry the labels."""
    report = check([bundled_manifests()], policies=enforced_copy(tmp_path))
    findings = rego_findings(report)
    assert {f.rule for f in findings} <= {"ownership-labels"}
    for finding in findings:
        assert finding.resource.kind in {
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "Pod",
        }
        assert finding.path == "metadata.labels"
