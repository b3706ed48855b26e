"""volume-mount: every volumeMount names a volume or claim template of the pod."""

from __future__ import annotations

from tests.util import of_rule, run

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: autobot-redis, namespace: autobot-data}
spec:
  serviceName: autobot-redis
  selector: {matchLabels: {app: autobot-redis}}
  template:
    metadata: {labels: {app: autobot-redis}}
    spec:
      initContainers:
      - name: fix-permissions
        image: busybox:1.36
        volumeMounts:
        - {name: redis-data, mountPath: /data}
      containers:
      - name: redis
        image: redis/redis-stack-server:7.4.0-v3
        volumeMounts:
        - {name: redis-data, mountPath: /data}
        - {name: config, mountPath: /etc/redis}
      volumes:
      - name: config
        configMap: {name: autobot-redis-config}
"""
CLAIMS = """\
  volumeClaimTemplates:
  - metadata: {name: redis-data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 20Gi}}
"""


def findings(text: str) -> list[tuple[int, str, str]]:
    return [(f.line, f.path_text, f.message) for f in of_rule(run(text), "volume-mount")]


def test_volumes_and_claim_templates_satisfy_mounts() -> None:
    assert findings(STATEFULSET + CLAIMS) == []


def test_plan_redis_without_claim_template() -> None:
    assert findings(STATEFULSET) == [
        (
            14,
            "spec.template.spec.initContainers[0].volumeMounts[0].name",
            "init container 'fix-permissions' mounts volume 'redis-data', which the pod does not "
            "declare (declared: config)",
        ),
        (
            19,
            "spec.template.spec.containers[0].volumeMounts[0].name",
            "container 'redis' mounts volume 'redis-data', which the pod does not declare "
            "(declared: config)",
        ),
    ]


def test_misspelt_volume() -> None:
    text = (STATEFULSET + CLAIMS).replace("{name: config, mountPath", "{name: conf, mountPath")
    assert findings(text) == [
        (
            20,
            "spec.template.spec.containers[0].volumeMounts[1].name",
            "container 'redis' mounts volume 'conf', which the pod does not declare "
            "(declared: config, redis-data)",
        )
    ]


def test_claim_templates_count_only_for_statefulsets() -> None:
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chromadb, namespace: autobot-data}
spec:
  selector: {matchLabels: {app: autobot-chromadb}}
  template:
    metadata: {labels: {app: autobot-chromadb}}
    spec:
      containers:
      - name: chromadb
        image: chromadb/chroma:0.5.20
        volumeMounts: [{name: data, mountPath: /chroma}]
"""
    [(line, _, message)] = findings(deployment)
    assert line == 12
    assert message.endswith("(declared: none)")
    with_volume = (
        deployment + "      volumes: [{name: data, persistentVolumeClaim: {claimName: chroma}}]\n"
    )
    assert findings(with_volume) == []


def test_volume_devices_are_checked() -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata: {name: block-reader, namespace: autobot-data}
spec:
  containers:
  - name: reader
    image: busybox:1.36
    volumeDevices: [{name: raw, devicePath: /dev/xvda}]
"""
    [(_, path, _)] = findings(pod)
    assert path == "spec.containers[0].volumeDevices[0].name"
