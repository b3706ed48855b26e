"""Mutations of the reference stack's custom resources that must fail `schema`: each one
is a mistake the API server would refuse, now caught before it reaches a cluster
(with the bundled pack's cert-manager and external-secrets CRDs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autobot_guard.paths import bundled_manifests
from tests.util import check_paths, of_rule

CERTIFICATES = bundled_manifests() / "webhook" / "certificates.yaml"
SECRETS = bundled_manifests() / "secrets.yaml"

# (file, text replaced once, replacement, field path, message substring)
MUTATIONS = {
    "certificate: wrong field type": (
        CERTIFICATES, "  isCA: true", '  isCA: "yes"', "spec.isCA", '"yes" is not of type boolean'
    ),
    "certificate: unknown field": (
        CERTIFICATES, "    rotationPolicy: Always", "    rotationPolicy: Always\n    rotate: true",
        "spec.privateKey.rotate", 'unknown field "spec.privateKey.rotate"',
    ),
    "certificate: missing required": (
        CERTIFICATES, "  secretName: autobot-guard-tls\n", "", "spec",
        '"secretName" is a required property',
    ),
    "certificate: value outside the enum": (
        CERTIFICATES, "    algorithm: ECDSA", "    algorithm: DSA", "spec.privateKey.algorithm",
        '"DSA" is not one of "RSA", "ECDSA", "Ed25519"',
    ),
    "certificate: issuerRef without a name": (
        CERTIFICATES, "    name: autobot-guard-ca\n", "", "spec.issuerRef",
        '"name" is a required property',
    ),
    "issuer: unknown issuer type": (
        CERTIFICATES, "  selfSigned: {}", "  selfsigned: {}", "spec.selfsigned",
        'unknown field "spec.selfsigned"',
    ),
    "externalsecret: wrong field type": (
        SECRETS, "  refreshInterval: 1h", "  refreshInterval: 3600", "spec.refreshInterval",
        "3600 is not of type string",
    ),
    "externalsecret: unknown field": (
        SECRETS, "    creationPolicy: Owner", "    creationPolicy: Owner\n    immutible: true",
        "spec.target.immutible", 'unknown field "spec.target.immutible"',
    ),
    "externalsecret: missing required": (
        SECRETS, "      remoteRef:\n        key: autobot/redis\n", "      remoteRef:\n",
        "spec.data[0].remoteRef", '"key" is a required property',
    ),
    "externalsecret: value outside the enum": (
        SECRETS, "    creationPolicy: Owner", "    creationPolicy: Sometimes",
        "spec.target.creationPolicy", '"Sometimes" is not one of "Owner", "Orphan", "Merge", "None"',
    ),
    "externalsecret: a version no longer served": (
        SECRETS, "apiVersion: external-secrets.io/v1\n", "apiVersion: external-secrets.io/v1beta1\n",
        "apiVersion", "external-secrets.io/v1beta1 ExternalSecret is not served by its "
        "CustomResourceDefinition (served: external-secrets.io/v1)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MUTATIONS), ids=list(MUTATIONS))
def test_a_mutated_custom_resource_fails_schema(tmp_path: Path, case: str) -> None:
    source, old, new, path, message = MUTATIONS[case]
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{case}: the reference manifest changed; update the mutation"
    mutated = text.replace(old, new, 1)
    target = tmp_path / source.name
    target.write_text(mutated, encoding="utf-8")
    assert of_rule(check_paths([source]), "schema") == []  # the original passes
    found = of_rule(check_paths([target]), "schema")
    assert [(f.path_text, f.severity.value) for f in found] == [(path, "error")], found
    assert message in found[0].message
    # the finding is on the line of the field (or of its nearest written parent)
    line = mutated.splitlines()[found[0].line - 1]
    written = path.split(".")[-1].split("[")[0]
    assert written in line or (path == "apiVersion" and line.startswith("apiVersion")), line
