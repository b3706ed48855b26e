"""The admission decision (review.py), in process: what denies, what warns, what is skipped."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autobot_guard.config import PolicyPack
from autobot_guard.webhook.models import AdmissionReview
from autobot_guard.webhook.review import Decision, Reviewer, replicas_defaulted
from autobot_guard.webhook.store import InventoryStore
from tests.util import pack_with
from tests.webhook.helpers import (
    MANIFESTS,
    REPLICASET_CONTROLLER,
    admitted,
    chat_agent,
    kubectl_deployment,
    manifest,
    review,
)


@pytest.fixture(scope="module")
def store() -> InventoryStore:
    inventory = InventoryStore()
    assert inventory.load_directory(str(MANIFESTS)) == []
    return inventory


def decide(
    reviewer: Reviewer,
    operation: str,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Decision:
    payload = review(operation, obj, old, **kwargs)
    return reviewer.review(AdmissionReview.model_validate(payload).request)


def reviewer_for(store: InventoryStore | None, **admission: Any) -> Reviewer:
    """The bundled pack with Rego in the embedded engine (no OPA needed: these tests are
    about the decision; test_webhook_opa.py runs the shipped engine, OPA)."""
    pack = pack_with(admission={"regoEngine": "embedded", **admission})
    return Reviewer(pack, store, own_namespace="autobot-guard")


def test_a_compliant_deployment_is_allowed_without_warnings(store: InventoryStore) -> None:
    decision = decide(reviewer_for(store), "CREATE", admitted(chat_agent()))
    assert (decision.allowed, decision.action, decision.warnings) == (True, "allow", [])
    assert decision.reason == "judged" and decision.code is None


def test_errors_deny_with_rule_ids_and_lower_findings_warn(store: InventoryStore) -> None:
    decision = decide(reviewer_for(store), "CREATE", admitted(kubectl_deployment()))
    assert not decision.allowed and decision.code == 403
    assert decision.message is not None
    assert decision.message.startswith("autobot-guard: Deployment autobot-system/web violates")
    for rule in ("liveness-probe", "readiness-probe", "resource-requests", "logging-labels"):
        assert rule in {f.rule for f in decision.denied}
    assert "[liveness-probe]" in decision.message
    assert "more (autobot-guard check lists them all)" in decision.message
    assert len(decision.message) < 1500
    # security-context is a warning in the bundled pack, pdb a cross-resource warning.
    assert any(w.startswith("security-context: ") for w in decision.warnings)
    assert any(w.startswith("pdb: ") for w in decision.warnings)
    assert all(len(w) <= 120 for w in decision.warnings)
    assert {f.rule for f in decision.warned} >= {"security-context", "pdb"}


def test_update_does_not_block_what_was_already_wrong(store: InventoryStore) -> None:
    old = admitted(kubectl_deployment())
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    decision = decide(reviewer_for(store), "UPDATE", scaled, old)
    assert decision.allowed and decision.action == "warn"
    assert any(w.startswith("(already present) liveness-probe") for w in decision.warnings)
    assert not decision.denied


def test_update_denies_only_what_it_introduces(store: InventoryStore) -> None:
    old = admitted(kubectl_deployment())
    worse = copy.deepcopy(old)
    worse["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest"
    decision = decide(reviewer_for(store), "UPDATE", worse, old)
    assert not decision.allowed
    # a new bad value in the image field: new findings (the registry is judged on it too)
    assert {f.rule for f in decision.denied} == {"image-tag", "approved-registry"}
    assert decision.message and "[image-tag]" in decision.message
    assert "[liveness-probe]" not in decision.message


def test_update_another_bad_value_in_an_old_bad_field_is_new(store: InventoryStore) -> None:
    # Same rule, path and message but for the numbers: the field's value tells them apart.
    old = admitted(kubectl_deployment())
    container = old["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}

    def denied(new: dict[str, Any]) -> set[str]:
        return {f.rule for f in decide(reviewer_for(store), "UPDATE", new, old).denied}

    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    assert "resource-limits" not in denied(scaled)
    lower = copy.deepcopy(old)
    lower["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "256Mi"
    assert "resource-limits" in denied(lower)


def test_update_compares_rule_and_path_not_lines(store: InventoryStore) -> None:
    # Same finding at the same path, after fields before it moved: still pre-existing.
    old = admitted(kubectl_deployment())
    moved = copy.deepcopy(old)
    moved["metadata"]["labels"]["tier"] = "web"
    moved["spec"]["template"]["metadata"]["annotations"] = {"note": "x\n" * 20}
    assert decide(reviewer_for(store), "UPDATE", moved, old).allowed


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed(store: InventoryStore, operation: str) -> None:
    obj = admitted(kubectl_deployment())
    decision = decide(reviewer_for(store), operation, None, obj)
    assert (decision.allowed, decision.action, decision.reason) == (True, "skip", "operation")


def test_dry_run_is_judged_the_same(store: InventoryStore) -> None:
    obj = admitted(kubectl_deployment())
    wet = decide(reviewer_for(store), "CREATE", obj)
    dry = decide(reviewer_for(store), "CREATE", obj, dry_run=True)
    assert (dry.allowed, dry.code, dry.message, dry.warnings) == (
        wet.allowed,
        wet.code,
        wet.message,
        wet.warnings,
    )


def pod_of(controller: bool | None) -> dict[str, Any]:
    template = kubectl_deployment()["spec"]["template"]
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-7d4b9c8f6-",
            "namespace": "autobot-system",
            "labels": template["metadata"]["labels"],
        },
        "spec": copy.deepcopy(template["spec"]),
    }
    if controller is not None:
        pod["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c8f6",
                "uid": "0b1c2d3e-0000-4000-8000-000000000001",
                "controller": controller,
                "blockOwnerDeletion": True,
            }
        ]
    return pod


def test_pods_a_controller_created_are_not_judged_again(store: InventoryStore) -> None:
    by_controller = {"username": REPLICASET_CONTROLLER}
    decision = decide(reviewer_for(store), "CREATE", pod_of(True), **by_controller)
    assert (decision.allowed, decision.reason) == (True, "controlled")
    assert decide(
        reviewer_for(store), "CREATE", pod_of(True), username="system:kube-controller-manager"
    ).allowed
    # A non-controller owner does not count; neither does no owner.
    assert not decide(reviewer_for(store), "CREATE", pod_of(False), **by_controller).allowed
    assert not decide(reviewer_for(store), "CREATE", pod_of(None), **by_controller).allowed


@pytest.mark.parametrize(
    "username",
    ["kubernetes-admin", "system:serviceaccount:apps:deployer", "system:kube-scheduler"],
)
def test_an_owner_reference_written_by_a_user_does_not_skip_judging(
    store: InventoryStore, username: str
) -> None:
    # Anyone can claim a controller owner (a ConfigMap of their own, say): only the
    # controller manager is trusted to have judged what it creates.
    decision = decide(reviewer_for(store), "CREATE", pod_of(True), username=username)
    assert not decision.allowed and decision.reason == "judged"


def test_judging_controlled_pods_is_configurable(store: InventoryStore) -> None:
    decision = decide(
        reviewer_for(store, judgeControlledPods=True),
        "CREATE",
        pod_of(True),
        username=REPLICASET_CONTROLLER,
    )
    assert not decision.allowed and decision.reason == "judged"


@pytest.mark.parametrize("namespace", ["kube-system", "autobot-guard"])
def test_skipped_namespaces(store: InventoryStore, namespace: str) -> None:
    obj = admitted(kubectl_deployment(namespace=namespace))
    decision = decide(reviewer_for(store), "CREATE", obj)
    assert (decision.allowed, decision.reason) == (True, "namespace")


def test_skipped_namespaces_come_from_the_pack(store: InventoryStore) -> None:
    reviewer = reviewer_for(store, skipNamespaces=["sandbox"])
    assert decide(reviewer, "CREATE", admitted(kubectl_deployment(namespace="sandbox"))).allowed
    # The pack's top-level skipNamespaces (kube-system) apply too, as they do to `check`.
    assert decide(reviewer, "CREATE", admitted(kubectl_deployment(namespace="kube-system"))).allowed
    other = admitted(kubectl_deployment(namespace="team-a"))
    assert not decide(reviewer, "CREATE", other).allowed


def test_warn_mode_never_denies(store: InventoryStore) -> None:
    decision = decide(reviewer_for(store, mode="warn"), "CREATE", admitted(kubectl_deployment()))
    assert decision.allowed and decision.action == "warn"
    assert any(w.startswith("liveness-probe: ") for w in decision.warnings)
    assert not decision.denied


def test_audit_mode_only_counts(store: InventoryStore) -> None:
    decision = decide(reviewer_for(store, mode="audit"), "CREATE", admitted(kubectl_deployment()))
    assert (decision.allowed, decision.action, decision.warnings) == (True, "allow", [])
    assert {"liveness-probe", "security-context"} <= {f.rule for f in decision.audited}


def test_enforce_severity_is_configurable(store: InventoryStore) -> None:
    reviewer = reviewer_for(store, enforceSeverity="warning")
    obj = admitted(chat_agent())
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {}
    decision = decide(reviewer, "CREATE", obj)
    assert not decision.allowed and {f.rule for f in decision.denied} == {"security-context"}


def lonely_deployment() -> dict[str, Any]:
    """Compliant on its own, but in a namespace with no NetworkPolicy or PDB."""
    obj = copy.deepcopy(chat_agent())
    obj["metadata"]["namespace"] = "team-a"
    obj["spec"]["replicas"] = 2
    return admitted(obj)


def test_cross_resource_findings_warn_by_default(store: InventoryStore) -> None:
    decision = decide(reviewer_for(store), "CREATE", lonely_deployment())
    assert decision.allowed, decision.message
    rules = {f.rule for f in decision.warned}
    assert {"network-policy", "pdb", "config-ref"} <= rules
    assert any(w.startswith("network-policy: ") for w in decision.warnings)


def test_cross_resource_findings_can_deny(store: InventoryStore) -> None:
    decision = decide(
        reviewer_for(store, crossResourceRules="enforce"), "CREATE", lonely_deployment()
    )
    assert not decision.allowed
    assert "network-policy" in {f.rule for f in decision.denied}


def test_cross_resource_rules_wait_for_the_inventory() -> None:
    unsynced = InventoryStore()
    unsynced.expect("networkpolicies")
    decision = decide(
        reviewer_for(unsynced, crossResourceRules="enforce"), "CREATE", lonely_deployment()
    )
    assert decision.allowed and decision.cross_resource_skipped
    assert not {"network-policy", "pdb", "config-ref"} & set(decision.rule_ids)
    unsynced.replace_source("networkpolicies", [])
    after = decide(
        reviewer_for(unsynced, crossResourceRules="enforce"), "CREATE", lonely_deployment()
    )
    assert not after.allowed and not after.cross_resource_skipped


def test_a_replica_count_left_to_the_hpa_is_not_held_against_the_workload(
    store: InventoryStore,
) -> None:
    # kubectl apply of the chat agent (no spec.replicas): the API server defaults it to 1.
    obj = admitted(chat_agent())
    assert obj["spec"]["replicas"] == 1
    assert replicas_defaulted(obj)
    assert decide(reviewer_for(store), "CREATE", obj).allowed
    # Without its HPA (another namespace) min-replicas depends on an object that may
    # come later: a warning, like the cross-resource rules.
    elsewhere = copy.deepcopy(chat_agent())
    elsewhere["metadata"]["namespace"] = "team-b"
    decision = decide(reviewer_for(store), "CREATE", admitted(elsewhere))
    assert decision.allowed
    assert "min-replicas" in {f.rule for f in decision.warned}
    # Written explicitly, a single replica denies.
    explicit = copy.deepcopy(elsewhere)
    explicit["spec"]["replicas"] = 1
    denied = decide(reviewer_for(store), "CREATE", admitted(explicit))
    assert not denied.allowed and "min-replicas" in {f.rule for f in denied.denied}


def test_server_side_apply_without_replicas_counts_as_defaulted() -> None:
    obj = admitted(chat_agent(), applied=False)
    assert not replicas_defaulted(obj)  # kubectl create: the manager owns what it sent
    obj["metadata"]["managedFields"] = [
        {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {}}}}
    ]
    assert replicas_defaulted(obj)
    obj["metadata"]["managedFields"].append(
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "subresource": "scale",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    )
    assert not replicas_defaulted(obj)


def test_exemptions_are_honoured(store: InventoryStore) -> None:
    obj = admitted(chat_agent())
    obj["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe")
    assert not decide(reviewer_for(store), "CREATE", obj).allowed
    obj["metadata"]["annotations"]["autobot-guard.io/exempt"] = "liveness-probe"
    unreasoned = decide(reviewer_for(store), "CREATE", copy.deepcopy(obj))
    assert {f.rule for f in unreasoned.denied} >= {"exemption", "liveness-probe"}
    obj["metadata"]["annotations"]["autobot-guard.io/exempt-reason"] = "sidecar-less probe"
    decision = decide(reviewer_for(store), "CREATE", obj)
    assert decision.allowed and decision.exempted == 1


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ({"metadata": {"name": "x"}}, "missing apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "missing kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "missing metadata"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "missing metadata.name"),
    ],
)
def test_an_object_that_is_not_a_kubernetes_object_is_a_clear_denial(
    store: InventoryStore, obj: dict[str, Any], fragment: str
) -> None:
    payload = review("CREATE", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}})
    payload["request"]["object"] = obj
    decision = Reviewer(pack_with(admission={"regoEngine": "embedded"}), store).review(
        AdmissionReview.model_validate(payload).request
    )
    assert (decision.allowed, decision.code) == (False, 400)
    assert decision.message and fragment in decision.message


@pytest.mark.parametrize("obj", [None, [], "text", 3])
def test_a_missing_or_scalar_object_is_a_clear_denial(store: InventoryStore, obj: Any) -> None:
    payload = review("CREATE", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}})
    payload["request"]["object"] = obj
    decision = reviewer_for(store).review(AdmissionReview.model_validate(payload).request)
    assert (decision.allowed, decision.code) == (False, 400)
    assert decision.message and "not a JSON object" in decision.message


def test_the_request_namespace_fills_in_a_missing_one(store: InventoryStore) -> None:
    obj = admitted(kubectl_deployment(namespace="kube-system"))
    del obj["metadata"]["namespace"]
    decision = decide(reviewer_for(store), "CREATE", obj, namespace="kube-system")
    assert decision.reason == "namespace"


# -- the scoped inventory gives the findings the whole namespace gives -------------------


def workloads_and_others() -> list[dict[str, Any]]:
    import yaml

    out = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") != "Kustomization":
                out.append(document)
    return out


def test_workload_inventory_gives_the_findings_of_the_whole_namespace(
    store: InventoryStore,
) -> None:
    from autobot_guard.engine import evaluate
    from autobot_guard.webhook.store import resource_from

    pack = PolicyPack.default()
    rules = pack.enabled_rules()
    checked = 0
    for obj in workloads_and_others():
        variants = [obj]
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            # and a version that breaks cross-resource relations (labels nobody selects)
            broken = copy.deepcopy(obj)
            broken["spec"]["template"]["metadata"]["labels"]["app"] = "renamed"
            broken["spec"]["selector"] = {"matchLabels": {"app": "renamed"}}
            variants.append(broken)
        for variant in variants:
            resource, _ = resource_from(copy.deepcopy(variant))
            assert resource is not None
            whole = store.namespace_inventory(resource.namespace).replaced(resource)
            scoped = (
                store.workload_inventory(resource)
                if resource.is_workload
                else store.namespace_inventory(resource.namespace).replaced(resource)
            )
            expected = evaluate([resource], pack, rules, whole, [resource])
            got = evaluate([resource], pack, rules, scoped, [resource])
            key = lambda report: sorted((f.rule, f.path_text, f.message) for f in report.findings)  # noqa: E731
            assert key(got) == key(expected), variant["metadata"]["name"]
            checked += 1
    assert checked > 100


def test_compliant_manifests_of_the_stack_are_all_admitted(store: InventoryStore) -> None:
    reviewer = reviewer_for(store)
    for obj in workloads_and_others():
        if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            continue
        decision = decide(reviewer, "CREATE", admitted(obj))
        assert decision.allowed, (obj["kind"], obj["metadata"]["name"], decision.message)
        assert decision.warnings == [], (obj["metadata"]["name"], decision.warnings)


def test_a_networkpolicy_is_judged_against_the_workloads(store: InventoryStore) -> None:
    policy = copy.deepcopy(
        manifest("NetworkPolicy", "autobot-agent-policy", "agents/agent-network-policy.yaml")
    )
    policy["spec"]["podSelector"] = {"matchLabels": {"app": "nobody"}}
    decision = decide(reviewer_for(store), "CREATE", admitted(policy))
    assert decision.allowed
    assert any(w.startswith("network-policy-target: ") for w in decision.warnings)


def test_schema_is_left_to_the_api_server_by_default(store: InventoryStore) -> None:
    # A field the pack's Kubernetes version does not know (a newer cluster's): the API
    # server accepted it, so the webhook does not deny it ...
    obj = admitted(chat_agent())
    obj["spec"]["template"]["spec"]["containers"][0]["newFieldOfANewerRelease"] = True
    assert decide(reviewer_for(store), "CREATE", copy.deepcopy(obj)).allowed
    # ... unless the pack asks for `schema` at admission too.
    decision = decide(reviewer_for(store, skipRules=[]), "CREATE", obj)
    assert not decision.allowed and {f.rule for f in decision.denied} == {"schema"}


def test_a_rego_deny_rule_denies_at_admission(store: InventoryStore) -> None:
    """The Rego layer runs in process at admission: an image from an unapproved registry
    (policies/rego/images.rego) denies, with the Rego rule id in the message."""
    obj = chat_agent()
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/chat:1.4.0"
    decision = decide(reviewer_for(store), "CREATE", admitted(obj))
    assert not decision.allowed and decision.code == 403
    assert [f.rule for f in decision.denied] == ["approved-registry"]
    assert decision.message is not None and "approved-registry" in decision.message
    assert decision.rego_seconds > 0


def test_rego_at_admission_can_be_switched_off(store: InventoryStore) -> None:
    obj = chat_agent()
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/chat:1.4.0"
    decision = decide(reviewer_for(store, rego=False), "CREATE", admitted(obj))
    assert decision.allowed and decision.rego_seconds == 0


def test_a_rule_that_fails_is_an_internal_error_never_a_silent_allow(
    store: InventoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autobot_guard.rules.min_replicas import MinReplicas

    def broken(self: MinReplicas, resource: Any, context: Any) -> Any:
        raise TypeError("boom")

    monkeypatch.setattr(MinReplicas, "check", broken)
    with pytest.raises(RuntimeError, match="rule min-replicas could not judge Deployment"):
        decide(reviewer_for(store), "CREATE", admitted(chat_agent()))  # the app answers it


def _two_containers() -> dict[str, Any]:
    obj = admitted(kubectl_deployment())
    legacy = copy.deepcopy(obj["spec"]["template"]["spec"]["containers"][0])
    legacy["name"] = "legacy"
    obj["spec"]["template"]["spec"]["containers"].append(legacy)
    return obj


def test_update_removing_a_container_does_not_deny_the_others_old_findings(
    store: InventoryStore,
) -> None:
    old = _two_containers()
    new = copy.deepcopy(old)
    del new["spec"]["template"]["spec"]["containers"][0]  # legacy moves to index 0
    decision = decide(reviewer_for(store), "UPDATE", new, old)
    assert decision.allowed, decision.message
    findings = [w for w in decision.warnings if not w.startswith("... ")]
    assert findings and all(w.startswith("(already present)") for w in findings)


def test_update_adding_a_container_in_front_is_judged_on_the_new_one_only(
    store: InventoryStore,
) -> None:
    old = admitted(kubectl_deployment())
    new = copy.deepcopy(old)
    added = copy.deepcopy(new["spec"]["template"]["spec"]["containers"][0])
    added["name"] = "sidecar"
    new["spec"]["template"]["spec"]["containers"].insert(0, added)
    decision = decide(reviewer_for(store), "UPDATE", new, old)
    assert not decision.allowed
    assert decision.message and "'sidecar'" in decision.message
    assert all("'web'" not in f.message for f in decision.denied)


def test_a_pod_template_with_too_many_containers_is_denied_unjudged(
    store: InventoryStore,
) -> None:
    obj = admitted(chat_agent())
    containers = obj["spec"]["template"]["spec"]["containers"]
    obj["spec"]["template"]["spec"]["containers"] = [
        {**containers[0], "name": f"c{i}"} for i in range(65)
    ]
    decision = decide(reviewer_for(store), "CREATE", obj)
    assert (decision.allowed, decision.reason, decision.code) == (False, "too-large", 403)
    assert decision.message and "has 65 containers, more than the 64" in decision.message
    warn = decide(reviewer_for(store, mode="warn"), "CREATE", obj)
    assert warn.allowed and warn.warnings and "65 containers" in warn.warnings[0]


def test_max_warnings_counts_the_more_line(store: InventoryStore) -> None:
    reviewer = reviewer_for(store, mode="warn", maxWarnings=3)
    decision = decide(reviewer, "CREATE", admitted(kubectl_deployment()))
    assert len(decision.warnings) == 3  # two findings and a line saying how many more
    more = len(decision.warned) - 2
    assert decision.warnings[-1] == f"... {more} more; `autobot-guard check` lists them all"


def test_a_subresource_update_of_a_controlled_pod_is_judged(store: InventoryStore) -> None:
    # `kubectl debug` adds an ephemeral container through pods/ephemeralcontainers.
    payload = review("UPDATE", pod_of(True), pod_of(True), username=REPLICASET_CONTROLLER)
    payload["request"]["subResource"] = "ephemeralcontainers"
    decision = Reviewer(pack_with(admission={"regoEngine": "embedded"}), store).review(
        AdmissionReview.model_validate(payload).request
    )
    assert decision.reason == "judged"


def test_update_swapping_one_missing_request_for_another_is_new(store: InventoryStore) -> None:
    # Two findings of one rule on one field: a cpu request added and the memory request
    # removed is a new finding, not the old one.
    old = admitted(chat_agent())
    resources = old["spec"]["template"]["spec"]["containers"][0]["resources"]
    del resources["requests"]["cpu"]
    new = copy.deepcopy(old)
    requests = new["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    requests["cpu"] = "100m"
    del requests["memory"]
    decision = decide(reviewer_for(store), "UPDATE", new, old)
    assert not decision.allowed
    assert [f.message for f in decision.denied if f.rule == "resource-requests"] == [
        "container 'chat-agent' has no memory request"
    ]
