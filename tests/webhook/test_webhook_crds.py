"""At admission the API server has validated a custom resource against the cluster's own
CRD: the webhook does not validate it again (as for built-in kinds), not even against
the CRDs the policy pack names for `check`."""

from __future__ import annotations

from typing import Any

from autobot_guard.webhook.models import AdmissionReview
from autobot_guard.webhook.review import Reviewer
from tests.util import pack_with
from tests.webhook.helpers import review

CERTIFICATE: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "tls", "namespace": "autobot-system", "uid": "1"},
    # `check` would say: issuerRef is required, isCA is a boolean (the bundled CRD)
    "spec": {"secretName": "tls", "isCA": "yes"},
}


def decide(**admission: Any) -> Any:
    pack = pack_with(admission={"regoEngine": "embedded", "rego": False, **admission})
    reviewer = Reviewer(pack, None, own_namespace="autobot-guard")
    request = AdmissionReview.model_validate(review("CREATE", CERTIFICATE)).request
    return reviewer.review(request)


def test_a_custom_resource_is_not_revalidated_at_admission() -> None:
    decision = decide()
    assert decision.allowed
    assert "schema" not in {f.rule for f in [*decision.denied, *decision.warned]}


def test_even_with_schema_at_admission_the_packs_crds_are_for_check_only() -> None:
    # The cluster's CRD may be another version than the pack's: only the API server knows.
    decision = decide(skipRules=[])
    assert decision.allowed
    assert "schema" not in {f.rule for f in decision.denied}
