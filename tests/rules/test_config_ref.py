"""config-ref: referenced ConfigMaps, Secrets and keys exist (or a Secret is provided)."""

from __future__ import annotations

import pytest

from tests.util import of_rule, pack_with, run

AGENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        env:
        - name: LOG_LEVEL
          valueFrom:
            configMapKeyRef: {name: autobot-config, key: log-level}
        - name: REDIS_PASSWORD
          valueFrom:
            secretKeyRef: {name: redis-auth, key: password}
---
"""
ENV0 = "spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef"
ENV1 = "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef"
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: autobot-config, namespace: autobot-system}
data: {log-level: INFO}
---
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: redis-auth, namespace: autobot-system}
stringData: {password: change-me}
---
"""
NO_CONFIG = (
    "ConfigMap autobot-system/autobot-config (env LOG_LEVEL of container 'chat-agent') "
    "is not in the checked set"
)
NO_SECRET = (
    "Secret autobot-system/redis-auth (env REDIS_PASSWORD of container 'chat-agent') is neither "
    "in the checked set nor provided by an ExternalSecret, SealedSecret or Certificate"
)


def findings(text: str, **settings: object) -> list[tuple[int, str, str]]:
    pack = pack_with(rules={"config-ref": settings}) if settings else None
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text, pack), "config-ref")]


def test_present_objects_and_keys_pass() -> None:
    assert findings(AGENT + CONFIG + SECRET) == []


def test_missing_objects_are_reported_at_the_name_field() -> None:
    assert findings(AGENT) == [
        (15, f"{ENV0}.name", NO_CONFIG),
        (18, f"{ENV1}.name", NO_SECRET),
    ]
    assert {f.severity.value for f in of_rule(run(AGENT), "config-ref")} == {"warning"}


def test_missing_keys_are_reported_at_the_key_field() -> None:
    config = CONFIG.replace("{log-level: INFO}", "{log_level: INFO}")
    secret = SECRET.replace("stringData: {password: change-me}", "data: {pass: Y2hhbmdlLW1l}")
    assert findings(AGENT + config + secret) == [
        (
            15,
            f"{ENV0}.key",
            "ConfigMap autobot-system/autobot-config has no key 'log-level' "
            "(env LOG_LEVEL of container 'chat-agent')",
        ),
        (
            18,
            f"{ENV1}.key",
            "Secret autobot-system/redis-auth has no key 'password' "
            "(env REDIS_PASSWORD of container 'chat-agent')",
        ),
    ]


def test_binary_data_keys_count_and_token_secrets_are_not_key_checked() -> None:
    config = CONFIG.replace("data: {log-level: INFO}", "binaryData: {log-level: SU5GTw==}")
    token = SECRET.replace(
        "stringData: {password: change-me}", "type: kubernetes.io/service-account-token"
    )
    assert findings(AGENT + config + token) == []


def test_optional_references_are_skipped() -> None:
    text = AGENT.replace("key: log-level}", "key: log-level, optional: true}").replace(
        "key: password}", "key: password, optional: true}"
    )
    assert findings(text) == []
    config = CONFIG.replace("{log-level: INFO}", "{other: x}")
    assert findings(text + config) == []


def test_objects_of_another_namespace_do_not_count() -> None:
    elsewhere = (CONFIG + SECRET).replace("autobot-system", "autobot-data")
    assert [m for _, _, m in findings(AGENT + elsewhere)] == [NO_CONFIG, NO_SECRET]


@pytest.mark.parametrize(
    "provider",
    [
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\n"
        "metadata: {name: redis-auth, namespace: autobot-system}\n"
        "spec: {secretStoreRef: {name: vault, kind: ClusterSecretStore}}\n",
        "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\n"
        "metadata: {name: redis, namespace: autobot-system}\n"
        "spec: {target: {name: redis-auth}}\n",
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
        "metadata: {name: redis-auth, namespace: autobot-system}\n"
        "spec: {encryptedData: {password: AgBy3i4OJSWK}}\n",
        "apiVersion: cert-manager.io/v1\nkind: Certificate\n"
        "metadata: {name: redis-tls, namespace: autobot-system}\n"
        "spec: {secretName: redis-auth, issuerRef: {name: ca, kind: ClusterIssuer}}\n",
    ],
)
def test_provided_secrets_count_and_their_keys_are_not_checked(provider: str) -> None:
    assert findings(AGENT + CONFIG + provider) == []
    elsewhere = provider.replace("autobot-system", "autobot-data")
    assert [m for _, _, m in findings(AGENT + CONFIG + elsewhere)] == [NO_SECRET]


def test_an_external_secret_target_name_replaces_its_own_name() -> None:
    provider = (
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\n"
        "metadata: {name: redis-auth, namespace: autobot-system}\n"
        "spec: {target: {name: redis-credentials}}\n"
    )
    assert [m for _, _, m in findings(AGENT + CONFIG + provider)] == [NO_SECRET]


WORKER = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: npu-worker, namespace: autobot-system}
spec:
  serviceName: npu-worker
  selector: {matchLabels: {app: autobot-npu-worker}}
  template:
    metadata: {labels: {app: autobot-npu-worker}}
    spec:
      initContainers:
      - name: fetch-model
        image: ghcr.io/mrveiss/autobot-npu-worker:1.4.0
        envFrom:
        - configMapRef: {name: model-config}
        - secretRef: {name: hub-token}
      containers:
      - {name: worker, image: "ghcr.io/mrveiss/autobot-npu-worker:1.4.0"}
      volumes:
      - name: config
        configMap:
          name: autobot-config
          items: [{key: log-level, path: log-level}, {key: workers, path: workers}]
      - name: tls
        secret: {secretName: npu-tls}
      - name: bundle
        projected:
          sources:
          - configMap: {name: kube-root-ca.crt}
          - secret: {name: registry, items: [{key: token, path: token}]}
"""
POD_SPEC = "spec.template.spec"


def test_init_containers_env_from_and_volumes_are_checked() -> None:
    registry = SECRET.replace("redis-auth", "registry").replace("password", "auth")
    text = WORKER + "---\n" + CONFIG + registry
    assert findings(text) == [
        (
            14,
            f"{POD_SPEC}.initContainers[0].envFrom[0].configMapRef.name",
            "ConfigMap autobot-system/model-config (envFrom of init container 'fetch-model') "
            "is not in the checked set",
        ),
        (
            15,
            f"{POD_SPEC}.initContainers[0].envFrom[1].secretRef.name",
            "Secret autobot-system/hub-token (envFrom of init container 'fetch-model') is neither "
            "in the checked set nor provided by an ExternalSecret, SealedSecret or Certificate",
        ),
        (
            22,
            f"{POD_SPEC}.volumes[0].configMap.items[1].key",
            "ConfigMap autobot-system/autobot-config has no key 'workers' (volume 'config')",
        ),
        (
            24,
            f"{POD_SPEC}.volumes[1].secret.secretName",
            "Secret autobot-system/npu-tls (volume 'tls') is neither in the checked set nor "
            "provided by an ExternalSecret, SealedSecret or Certificate",
        ),
        (
            29,
            f"{POD_SPEC}.volumes[2].projected.sources[1].secret.items[0].key",
            "Secret autobot-system/registry has no key 'token' (projected volume 'bundle')",
        ),
    ]


def test_ignore_lists_skip_names() -> None:
    text = WORKER + "---\n" + CONFIG
    ignored = findings(
        text,
        ignoreSecrets=["hub-token", "npu-tls", "registry"],
        ignoreConfigMaps=["model-config", "autobot-config", "kube-root-ca.crt"],
    )
    assert ignored == []
    # kube-root-ca.crt is ignored by default only: replacing the list drops it
    names = [m.split(" (")[0] for _, _, m in findings(text, ignoreConfigMaps=[])]
    assert "ConfigMap autobot-system/kube-root-ca.crt" in names


def test_resources_without_namespace_are_in_default() -> None:
    text = (AGENT + CONFIG + SECRET).replace(", namespace: autobot-system}", "}")
    assert findings(text) == []
    assert [m for _, _, m in findings(AGENT.replace(", namespace: autobot-system}", "}"))] == [
        NO_CONFIG.replace("autobot-system/", "default/"),
        NO_SECRET.replace("autobot-system/", "default/"),
    ]
