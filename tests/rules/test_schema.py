"""schema: documents validate against the Kubernetes OpenAPI schema of the target version."""

from __future__ import annotations

import pytest

from autobot_guard.config import PolicyPack
from autobot_guard.findings import Finding, Severity
from tests.util import of_rule, pack_with, run

HPA = """\
apiVersion: autoscaling/{version}
kind: HorizontalPodAutoscaler
metadata: {{name: chat-agent, namespace: autobot-system}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: chat-agent}}
  minReplicas: 2
  maxReplicas: 5
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  containers:
  - name: chat-agent
    image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
    livenessprobe: {httpGet: {path: /health, port: 8000}}
    resources: {requests: {memory: LOTS}}
"""


def schema(
    text: str,
    pack: PolicyPack | None = None,
    name: str = "manifest.yaml",
    kubernetes_version: str | None = None,
) -> list[Finding]:
    return of_rule(run(text, pack, name, kubernetes_version=kubernetes_version), "schema")


def test_an_api_version_no_longer_served_is_an_error_naming_the_served_ones() -> None:
    (finding,) = schema(HPA.format(version="v2beta2"))
    assert (finding.line, finding.path_text, finding.severity) == (1, "apiVersion", Severity.ERROR)
    assert finding.message == (
        "autoscaling/v2beta2 HorizontalPodAutoscaler is not served by Kubernetes 1.35 "
        "(removed or never existed)"
    )
    assert finding.fix == "Use a served apiVersion: autoscaling/v1, autoscaling/v2."


def test_whether_an_api_version_is_served_depends_on_the_kubernetes_version() -> None:
    # autoscaling/v2beta2 was removed in 1.26: 1.25 still validates it like any object.
    assert schema(HPA.format(version="v2beta2"), kubernetes_version="1.25") == []
    (finding,) = schema(HPA.format(version="v2beta2"), kubernetes_version="1.26")
    assert "not served by Kubernetes 1.26" in finding.message
    assert schema(HPA.format(version="v2")) == []


def test_an_api_version_that_never_existed_for_a_kind_is_an_error_too() -> None:
    text = HPA.format(version="v3")
    (finding,) = schema(text)
    assert finding.severity is Severity.ERROR
    assert finding.message.startswith("autoscaling/v3 HorizontalPodAutoscaler is not served")


def test_custom_resources_without_their_crd_are_info_not_silently_passed() -> None:
    text = (
        "apiVersion: example.com/v1\nkind: Gadget\n"
        "metadata: {name: g, namespace: autobot-system}\nspec: {size: 3}\n"
    )
    (finding,) = schema(text)
    assert finding.severity is Severity.INFO and finding.path_text == "apiVersion"
    assert "(a custom resource? give its CRD" in finding.message


def test_a_custom_resource_with_a_bundled_crd_is_judged_like_a_builtin_kind() -> None:
    text = (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\n"
        "metadata: {name: tls, namespace: autobot-system}\nspec: {secretName: tls}\n"
    )
    (finding,) = schema(text)
    assert (finding.severity, finding.line, finding.path_text) == (Severity.ERROR, 4, "spec")
    assert finding.message == '"issuerRef" is a required property'


def test_an_unknown_builtin_kind_is_info_like_a_custom_resource() -> None:
    (finding,) = schema("apiVersion: v1\nkind: Gadget\nmetadata: {name: g}\n")
    assert finding.severity is Severity.INFO
    assert finding.message.startswith("no schema for v1 Gadget in Kubernetes 1.35")


def test_unknown_fields_and_bad_quantities_are_reported_at_their_line() -> None:
    found = {(f.line, f.path_text, f.message) for f in schema(POD)}
    assert found == {
        (8, "spec.containers[0].livenessprobe", "unknown field 'livenessprobe'"),
        (
            9,
            "spec.containers[0].resources.requests.memory",
            "'LOTS' is not a valid Kubernetes quantity (e.g. 500m, 2Gi)",
        ),
    }


def test_non_strict_mode_accepts_unknown_fields_but_still_checks_values() -> None:
    found = schema(POD, pack=pack_with(rules={"schema": {"strict": False}}))
    assert [f.path_text for f in found] == ["spec.containers[0].resources.requests.memory"]


def test_a_required_field_that_is_missing_is_reported_on_its_parent() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: d}\n"
        "spec:\n  template:\n    metadata: {labels: {app: x}}\n"
        "    spec: {containers: [{name: c, image: 'x:1'}]}\n"
    )
    (finding,) = schema(text)
    assert (finding.line, finding.path_text) == (4, "spec")
    assert finding.message == '"selector" is a required property'


def test_a_kustomization_is_info_and_says_how_to_check_what_it_renders() -> None:
    text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"
    (finding,) = schema(text, name="kustomization.yaml")
    assert (finding.severity, finding.path_text) == (Severity.INFO, "kind")
    assert "check --kustomize DIR" in finding.fix


@pytest.mark.parametrize("key", ["1", "true", "null"])
def test_a_non_string_key_is_judged_not_a_crash(key: str) -> None:
    # YAML reads these keys as int/bool/None, which JSON Schema validation refuses; the
    # loader turns them into the strings JSON would carry (and the schema rule falls back
    # to the same if handed raw data): either way the document is judged, no rule fails.
    text = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x, namespace: d}}\ndata:\n  {key}: v\n"
    )
    assert schema(text) == []  # `run` fails the test if the rule raised
