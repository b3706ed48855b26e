"""exemption: exemption annotations name known rules and carry a reason, or are not honoured."""

from __future__ import annotations

from autobot_guard.findings import Finding, Report
from tests.util import of_rule, run

EXEMPT = "autobot-guard.io/exempt"
REASON = "autobot-guard.io/exempt-reason"


def daemonset(object_notes: str = "", pod_notes: str = "") -> str:
    """A DaemonSet whose container is unpinned (image-tag) and not hardened
    (security-context), with the given annotation lines on the object / pod template."""

    def block(notes: str, indent: str) -> str:
        if not notes:
            return ""
        lines = "".join(f"{indent}  {line}\n" for line in notes.splitlines())
        return f"{indent}annotations:\n{lines}"

    return (
        "apiVersion: apps/v1\nkind: DaemonSet\n"
        "metadata:\n  name: fluentd\n  namespace: autobot-logging\n"
        + block(object_notes, "  ")
        + "spec:\n  selector: {matchLabels: {app: fluentd}}\n  template:\n"
        "    metadata:\n      labels: {app: fluentd}\n"
        + block(pod_notes, "      ")
        + "    spec:\n      containers: [{name: fluentd, image: 'fluent/fluentd:latest'}]\n"
    )


def rules_of(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def exempted(report: Report) -> set[str]:
    return rules_of(report.exempted)


def test_an_exemption_with_a_reason_moves_the_findings_to_exempted() -> None:
    report = run(daemonset(f'{EXEMPT}: "image-tag, security-context"\n{REASON}: "host logs"'))
    assert of_rule(report, "exemption") == []
    assert exempted(report) == {"image-tag", "security-context"}
    assert {"image-tag", "security-context"}.isdisjoint(rules_of(report.findings))
    assert {f.exempt_reason for f in report.exempted} == {"host logs"}


def test_an_exemption_without_a_reason_is_reported_and_not_honoured() -> None:
    text = daemonset(f"{EXEMPT}: image-tag")
    report = run(text)
    (finding,) = of_rule(report, "exemption")
    assert finding.message == f"exemption from 'image-tag' has no {REASON}: it is not honoured"
    assert finding.path_text == f"metadata.annotations.{EXEMPT}"
    assert text.splitlines()[finding.line - 1].strip() == f"{EXEMPT}: image-tag"
    assert report.exempted == [] and "image-tag" in rules_of(report.findings)


def test_a_blank_reason_is_no_reason() -> None:
    report = run(daemonset(f'{EXEMPT}: image-tag\n{REASON}: "   "'))
    assert [f.message for f in of_rule(report, "exemption")] == [
        f"exemption from 'image-tag' has no {REASON}: it is not honoured"
    ]
    assert report.exempted == []


def test_the_pod_template_may_carry_the_exemption_or_the_reason() -> None:
    on_pod = run(daemonset(pod_notes=f'{EXEMPT}: image-tag\n{REASON}: "pinned by digest in CD"'))
    assert of_rule(on_pod, "exemption") == [] and exempted(on_pod) == {"image-tag"}
    split = run(daemonset(f'{REASON}: "pinned by digest in CD"', f"{EXEMPT}: image-tag"))
    assert of_rule(split, "exemption") == [] and exempted(split) == {"image-tag"}


def test_a_reason_alone_is_not_an_exemption() -> None:
    report = run(daemonset(f'{REASON}: "nothing to exempt"'))
    assert of_rule(report, "exemption") == [] and report.exempted == []


def test_an_unknown_rule_id_is_reported_and_the_known_ones_still_honoured() -> None:
    report = run(daemonset(f'{EXEMPT}: "image-tag,security-contexts,"\n{REASON}: "legacy"'))
    assert [f.message for f in of_rule(report, "exemption")] == [
        "exemption names unknown rule 'security-contexts'"
    ]  # the trailing comma names no rule
    assert exempted(report) == {"image-tag"}
    assert "security-context" in rules_of(report.findings)


def test_a_rego_policy_id_is_a_known_rule() -> None:
    # The Rego policies' ids are known even with --rego off (the helper's mode).
    report = run(daemonset(f'{EXEMPT}: approved-registry\n{REASON}: "upstream image"'))
    assert of_rule(report, "exemption") == []


def test_an_exemption_that_is_not_a_string_is_reported() -> None:
    report = run(daemonset(f"{EXEMPT}: [image-tag]\n{REASON}: legacy"))
    (finding,) = of_rule(report, "exemption")
    assert finding.message == f"{EXEMPT} must be a string of comma-separated rule ids"
    assert report.exempted == []
