from __future__ import annotations

import re
from collections.abc import Iterator

from ..edits import AutoFix
from ..findings import Severity
from ..resources import WORKLOADS, Resource
from .base import Context, Rule, Violation
from .common import container_label

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def image_problem(image: str) -> str | None:
    """What is wrong with an image reference's version pinning, or None if it is pinned.

    `registry:5000/img` has a registry port, not a tag: the tag is the part after the
    last ':' of the last path component only.
    """
    name, at, digest = image.partition("@")
    if at:
        return None if _DIGEST.fullmatch(digest) else f"has a malformed digest {digest!r}"
    last = name.rpartition("/")[2]
    if ":" not in last:
        return "has no tag, so Kubernetes pulls latest"
    tag = last.rpartition(":")[2]
    if tag == "latest":
        return "uses the tag latest"
    if not tag:
        return "has an empty tag"
    return None


class ImageTag(Rule):
    """Every container image is pinned: an explicit tag other than `latest`, or a digest.

    Checks containers and init containers of every workload. `image@sha256:<hex>` is
    accepted with or without a tag. A missing tag means `latest`. A registry port is not
    a tag: `registry.local:5000/autobot-backend` has none.

    Why: `latest` (or no tag) changes under you. Two nodes run different code after a
    push, a rollback to "the previous version" pulls the new one again, and nobody can
    tell from the manifest which chat agent is running.
    """

    id = "image-tag"
    default_severity = Severity.ERROR
    summary = "Container images have an explicit tag other than latest, or a digest"
    fix = (
        "Pin the image to a release tag (e.g. `ghcr.io/mrveiss/autobot-chat-agent:1.4.0`) "
        "or a digest (`...@sha256:<digest>`)."
    )
    kinds = WORKLOADS
    autofix = AutoFix(
        None,
        "The image to run is a release decision: a tag or digest is never guessed.",
    )
    failing_example = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-chat-agent, namespace: autobot-system}
spec:
  selector: {matchLabels: {app: autobot-chat-agent}}
  template:
    metadata: {labels: {app: autobot-chat-agent}}
    spec:
      containers:
      - {name: chat-agent, image: "ghcr.io/mrveiss/autobot-chat-agent:latest"}
"""
    passing_example = failing_example.replace(":latest", ":1.4.0")

    def check(self, resource: Resource, context: Context) -> Iterator[Violation]:
        if not resource.is_workload:
            return
        for container in resource.containers(ephemeral=True):
            image = container.data.get("image")
            if not isinstance(image, str) or not image.strip():
                yield Violation(container.path, f"{container_label(container)} has no image")
                continue
            problem = image_problem(image.strip())
            if problem:
                yield Violation(
                    (*container.path, "image"),
                    f"{container_label(container)} image {image} {problem}",
                )
