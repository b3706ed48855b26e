"""security-context: non-root, no privilege escalation, not privileged, drop ALL, seccomp."""

from __future__ import annotations

from autobot_guard.findings import Severity
from tests.util import of_rule, run

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: autobot-research-agent, namespace: autobot-system}}
spec:
  selector: {{matchLabels: {{app: autobot-research-agent}}}}
  template:
    metadata: {{labels: {{app: autobot-research-agent}}}}
    spec:
{pod}      containers:
      - name: research-agent
        image: ghcr.io/mrveiss/autobot-research-agent:1.4.0
{container}"""
POD_CONTEXT = """\
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
"""
CONTAINER_CONTEXT = """\
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: [ALL]
"""
FULL_CONTAINER_CONTEXT = """\
        securityContext:
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
          seccompProfile: {type: Localhost, localhostProfile: profiles/agent.json}
"""
MAIN = "spec.template.spec.containers[0]"
AGENT = "container 'research-agent'"
NON_ROOT = "does not set runAsNonRoot: true (container or pod securityContext)"
ESCALATION = "does not set securityContext.allowPrivilegeEscalation: false"
DROP_ALL = "does not drop ALL capabilities (securityContext.capabilities.drop)"


def findings(
    pod: str = POD_CONTEXT, container: str = CONTAINER_CONTEXT
) -> list[tuple[int, str, str]]:
    report = run(POD.format(pod=pod, container=container))
    found = of_rule(report, "security-context")
    assert all(f.severity is Severity.WARNING for f in found)
    return [(f.line, f.path_text, f.message) for f in found]


def test_restricted_settings_on_pod_and_container_pass() -> None:
    assert findings() == []


def test_everything_on_the_container_passes() -> None:
    assert findings(pod="", container=FULL_CONTAINER_CONTEXT) == []


def test_no_security_context_at_all_reports_each_item_at_the_container() -> None:
    assert findings(pod="", container="") == [
        (
            10,
            MAIN,
            f"{AGENT} {NON_ROOT}",
        ),
        (
            10,
            MAIN,
            f"{AGENT} {ESCALATION}",
        ),
        (
            10,
            MAIN,
            f"{AGENT} {DROP_ALL}",
        ),
        (
            10,
            MAIN,
            "container 'research-agent' has no seccompProfile; RuntimeDefault or Localhost is "
            "required (container or pod securityContext)",
        ),
    ]


def test_missing_items_point_at_the_container_security_context() -> None:
    container = "        securityContext:\n          readOnlyRootFilesystem: true\n"
    assert [(line, path) for line, path, _ in findings(container=container)] == [
        (15, f"{MAIN}.securityContext"),
        (15, f"{MAIN}.securityContext"),
    ]


def test_container_value_wins_over_the_pod() -> None:
    container = (
        CONTAINER_CONTEXT
        + "          runAsNonRoot: false\n          seccompProfile: {type: Unconfined}\n"
    )
    assert findings(container=container) == [
        (
            19,
            f"{MAIN}.securityContext.runAsNonRoot",
            f"{AGENT} {NON_ROOT}",
        ),
        (
            20,
            f"{MAIN}.securityContext.seccompProfile.type",
            "container 'research-agent' has seccompProfile type Unconfined; RuntimeDefault or "
            "Localhost is required (container or pod securityContext)",
        ),
    ]


def test_container_can_fix_an_unset_pod() -> None:
    container = (
        CONTAINER_CONTEXT
        + "          runAsNonRoot: true\n          seccompProfile: {type: RuntimeDefault}\n"
    )
    assert findings(pod="", container=container) == []


def test_privileged_and_escalation() -> None:
    container = CONTAINER_CONTEXT.replace("false", "true") + "          privileged: true\n"
    assert findings(container=container) == [
        (
            16,
            f"{MAIN}.securityContext.allowPrivilegeEscalation",
            f"{AGENT} {ESCALATION}",
        ),
        (
            19,
            f"{MAIN}.securityContext.privileged",
            "container 'research-agent' runs privileged (securityContext.privileged)",
        ),
    ]


def test_dropping_some_capabilities_is_not_enough() -> None:
    container = CONTAINER_CONTEXT.replace("[ALL]", "[NET_RAW, SYS_ADMIN]")
    assert findings(container=container) == [
        (
            18,
            f"{MAIN}.securityContext.capabilities.drop",
            f"{AGENT} {DROP_ALL}",
        )
    ]


def test_init_containers_are_checked() -> None:
    pod = (
        POD_CONTEXT
        + "      initContainers:\n      - {name: fix-permissions, image: 'busybox:1.36'}\n"
    )
    messages = [m for _, _, m in findings(pod=pod)]
    assert messages == [
        f"init container 'fix-permissions' {ESCALATION}",
        f"init container 'fix-permissions' {DROP_ALL}",
    ]


def test_exemption_with_reason_moves_findings_to_exempted() -> None:
    text = POD.format(pod="", container="").replace(
        "    metadata: {labels: {app: autobot-research-agent}}\n",
        "    metadata:\n"
        "      labels: {app: autobot-research-agent}\n"
        "      annotations:\n"
        "        autobot-guard.io/exempt: security-context\n"
        '        autobot-guard.io/exempt-reason: "Chromium sandbox needs SYS_ADMIN"\n',
    )
    report = run(text)
    assert of_rule(report, "security-context") == []
    assert len([f for f in report.exempted if f.rule == "security-context"]) == 4


def test_a_privileged_debug_container_is_reported() -> None:
    from tests.util import of_rule, run

    report = run(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: autobot-system}\n"
        "spec:\n  containers: [{name: web, image: 'ghcr.io/mrveiss/web:1.0'}]\n"
        "  ephemeralContainers:\n  - name: debugger\n    image: busybox:1.36\n"
        "    securityContext: {privileged: true}\n"
    )
    messages = [f.message for f in of_rule(report, "security-context")]
    assert "ephemeral container 'debugger' runs privileged (securityContext.privileged)" in messages
