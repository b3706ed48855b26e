"""The shipped AutoBot Rego policies (policies/rego), evaluated in process on pass and
fail fixtures (tests/data/rego/cases), and on the reference manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from autobot_guard.paths import bundled_manifests
from autobot_guard.rego.policies import load_policy_set
from tests.rego.helpers import CASES, SHIPPED, check, rego_findings, summary

# policy file -> its rule id and the findings of its fail case: (line, resource, message part)
EXPECTED = {
    "images": (
        "approved-registry",
        [
            (
                19,
                "Deployment/autobot-system/autobot-backend",
                "'docker.io/mrveiss/autobot-backend:1.4.0' from docker.io/mrveiss/autobot-backend",
            ),
            (
                21,
                "Deployment/autobot-system/autobot-backend",
                "'busybox:1.36' from docker.io/library/busybox",
            ),
        ],
    ),
    "hostpath": (
        "no-hostpath",
        [
            (
                22,
                "Deployment/autobot-system/autobot-browser-worker",
                "hostPath /var/run/docker.sock: only the log collector",
            ),
            (
                46,
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
def test_fail_case(name: str) -> None:
    rule, expected = EXPECTED[name]
    findings = [f for f in rego_findings(check([CASES / f"{name}-fail.yaml"])) if f.rule == rule]
    assert [(f.line, f.resource.display()) for f in findings] == [
        (line, res) for line, res, _ in expected
    ]
    for finding, (_, _, part) in zip(findings, expected, strict=True):
        assert part in finding.message
        assert finding.severity.value == "error"
        assert finding.fix


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pass_case(name: str) -> None:
    assert summary(rego_findings(check([CASES / f"{name}-pass.yaml"]))) == []


def test_every_fail_case_fails_only_its_own_policy() -> None:
    for name, (rule, _) in EXPECTED.items():
        rules = {f.rule for f in rego_findings(check([CASES / f"{name}-fail.yaml"]))}
        assert rules == {rule}, (name, rules)


def test_ownership_labels_are_enforced_by_default(tmp_path: Path) -> None:
    """A workload that passes every other policy is denied once it loses its labels."""
    passing = (CASES / "images-pass.yaml").read_text(encoding="utf-8")
    owners = "  labels:\n    team: platform\n    owner: alice\n"
    assert passing.count(owners) == 2
    unowned = tmp_path / "unowned.yaml"
    unowned.write_text(passing.replace(owners, "", 1), encoding="utf-8")
    findings = rego_findings(check([unowned]))
    assert [(f.rule, f.line, f.resource.display(), f.path_text) for f in findings] == [
        ("ownership-labels", 4, "Deployment/autobot-system/autobot-backend", "metadata.labels")
    ]
    [finding] = findings
    assert "has no owner or team label" in finding.message
    assert finding.severity.value == "error"


def test_reference_manifests_pass_the_shipped_policies() -> None:
    report = check([bundled_manifests()])
    assert rego_findings(report) == []
    assert rego_findings(report, exempted=True) == []  # nothing passes by exemption


def test_reference_manifests_are_checked_for_ownership_labels(tmp_path: Path) -> None:
    """manifests/ passes because its workloads carry the labels, not because the policy
    skips them: without its team label, the backend Deployment is denied."""
    backend = (bundled_manifests() / "app" / "backend.yaml").read_text(encoding="utf-8")
    assert backend.count("    team: autobot-app\n") == 1
    copy = tmp_path / "backend.yaml"
    copy.write_text(backend.replace("    team: autobot-app\n", ""), encoding="utf-8")
    findings = rego_findings(check([copy]))
    assert [(f.rule, f.resource.display(), f.path_text) for f in findings] == [
        ("ownership-labels", "Deployment/autobot-system/autobot-backend", "metadata.labels")
    ]
    assert "has no team label" in findings[0].message
