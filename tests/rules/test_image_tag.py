"""image-tag: images are pinned to a tag other than latest, or to a digest."""

from __future__ import annotations

import pytest

from tests.util import of_rule, run

DIGEST = "sha256:" + "0123456789abcdef" * 4

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: autobot-chat-agent, namespace: autobot-system}}
spec:
  selector: {{matchLabels: {{app: autobot-chat-agent}}}}
  template:
    metadata: {{labels: {{app: autobot-chat-agent}}}}
    spec:
      initContainers:
      - name: wait-for-redis
        image: "{init}"
      containers:
      - name: chat-agent
        image: "{image}"
"""


def findings(image: str, init: str = "busybox:1.36") -> list[tuple[int, str, str]]:
    report = run(POD.format(image=image, init=init))
    return [(f.line, f.path_text, f.message) for f in of_rule(report, "image-tag")]


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/mrveiss/autobot-chat-agent:1.4.0",
        "registry.local:5000/autobot-chat-agent:1.4.0",
        "localhost:5000/team/autobot-chat-agent:v1",
        f"ghcr.io/mrveiss/autobot-chat-agent@{DIGEST}",
        f"ghcr.io/mrveiss/autobot-chat-agent:latest@{DIGEST}",  # the digest decides
        f"registry.local:5000/autobot-chat-agent@{DIGEST}",
        "redis/redis-stack-server:7.4.0-v3",
    ],
)
def test_pinned_images_pass(image: str) -> None:
    assert findings(image) == []


def test_latest_tag() -> None:
    assert findings("ghcr.io/mrveiss/autobot-chat-agent:latest") == [
        (
            14,
            "spec.template.spec.containers[0].image",
            "container 'chat-agent' image ghcr.io/mrveiss/autobot-chat-agent:latest uses the tag "
            "latest",
        )
    ]


@pytest.mark.parametrize(
    "image", ["ghcr.io/mrveiss/autobot-chat-agent", "redis", "registry.local:5000/redis"]
)
def test_no_tag_means_latest(image: str) -> None:
    [(_, _, message)] = findings(image)
    assert message == f"container 'chat-agent' image {image} has no tag, so Kubernetes pulls latest"


def test_registry_port_is_not_a_tag() -> None:
    [(_, _, message)] = findings("registry.local:5000/autobot-chat-agent")
    assert "has no tag" in message


def test_malformed_digest() -> None:
    [(_, _, message)] = findings("ghcr.io/mrveiss/autobot-chat-agent@sha256:abc")
    assert message.endswith("has a malformed digest 'sha256:abc'")


def test_tag_is_case_sensitive() -> None:
    assert findings("ghcr.io/mrveiss/autobot-chat-agent:Latest") == []


def test_init_containers_are_checked() -> None:
    assert findings("ghcr.io/mrveiss/autobot-chat-agent:1.4.0", init="busybox") == [
        (
            11,
            "spec.template.spec.initContainers[0].image",
            "init container 'wait-for-redis' image busybox has no tag, so Kubernetes pulls latest",
        )
    ]


def test_missing_image() -> None:
    text = POD.format(image="x:1", init="busybox:1.36").replace('        image: "x:1"\n', "")
    [finding] = of_rule(run(text), "image-tag")
    assert (finding.line, finding.path_text, finding.message) == (
        13,
        "spec.template.spec.containers[0]",
        "container 'chat-agent' has no image",
    )


DEBUGGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web-debug, namespace: autobot-system}
spec:
  containers:
  - name: web
    image: ghcr.io/mrveiss/web:1.0
  ephemeralContainers:
  - name: debugger
    image: busybox
"""


def test_ephemeral_containers_kubectl_debug_adds_are_judged_too() -> None:
    report = run(DEBUGGED_POD)
    assert [(f.path_text, f.message) for f in of_rule(report, "image-tag")] == [
        (
            "spec.ephemeralContainers[0].image",
            "ephemeral container 'debugger' image busybox has no tag, so Kubernetes pulls latest",
        )
    ]
    # ...but not by the rules whose fields an ephemeral container cannot have
    for rule in ("liveness-probe", "readiness-probe", "resource-requests", "resource-limits"):
        assert all("debugger" not in f.message for f in of_rule(report, rule)), rule
