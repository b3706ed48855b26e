"""Kubernetes objects as the rules see them: identity, pod template, containers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .findings import FieldPath as FieldPath  # re-exported: rules say resources.FieldPath
from .findings import ResourceRef

if TYPE_CHECKING:
    from .loader import Document


CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole",
        "ClusterRoleBinding", "CustomResourceDefinition", "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "PriorityClass", "IngressClass", "APIService",
        "CSIDriver", "CSINode", "RuntimeClass", "VolumeAttachment", "ClusterIssuer",
        "ClusterSecretStore", "Kustomization",
    }
)  # fmt: skip
# Where each workload kind keeps its pod template (metadata + spec).
POD_TEMPLATE_PATH: dict[str, FieldPath] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
LONG_RUNNING = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}
)
WORKLOADS = frozenset(POD_TEMPLATE_PATH)
KUSTOMIZE_GROUPS = ("kustomize.config.k8s.io/",)


@dataclass(slots=True)
class Container:
    path: FieldPath  # of the container within the document
    data: dict[str, Any]
    init: bool
    ephemeral: bool = False  # added by `kubectl debug`: no probes, no resources

    @property
    def name(self) -> str:
        return str(self.data.get("name", "?"))


@dataclass(slots=True)
class Resource:
    document: Document
    data: dict[str, Any]
    base: FieldPath  # ("items", 3) for an item of a List, else ()
    api_version: str
    kind: str
    name: str
    namespace: str | None
    ref: ResourceRef
    group: str = ""
    is_workload: bool = False
    _containers: list[Container] | None = field(default=None, repr=False)
    # (template, labels, annotations, spec) of the pod template: rules ask for them often
    _pod: tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        self.group = self.api_version.rpartition("/")[0]
        self.is_workload = self.kind in WORKLOADS and self.group in ("", "apps", "batch")

    @property
    def builtin_group(self) -> bool:
        """Kubernetes' own API group (core, apps, *.k8s.io): a built-in schema describes
        its kinds; any other group's kinds need a CRD."""
        return "." not in self.group or self.group.endswith(".k8s.io")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        value = self.metadata.get("annotations")
        return value if isinstance(value, dict) else {}

    @property
    def template_path(self) -> FieldPath:
        return POD_TEMPLATE_PATH[self.kind]

    def _pod_parts(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        if self._pod is None:
            node: Any = self.data if self.kind in POD_TEMPLATE_PATH else None
            for part in POD_TEMPLATE_PATH.get(self.kind, ()):
                node = node.get(part) if isinstance(node, dict) else None
            template = node if isinstance(node, dict) else {}
            meta = template.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            labels, annotations = meta.get("labels"), meta.get("annotations")
            spec = template.get("spec")
            self._pod = (
                template,
                labels if isinstance(labels, dict) else {},
                annotations if isinstance(annotations, dict) else {},
                spec if isinstance(spec, dict) else {},
            )
        return self._pod

    @property
    def template(self) -> dict[str, Any]:
        """The pod template (or the Pod itself): {"metadata": ..., "spec": ...}."""
        return self._pod_parts()[0]

    @property
    def pod_labels(self) -> dict[str, Any]:
        return self._pod_parts()[1]

    @property
    def pod_annotations(self) -> dict[str, Any]:
        return self._pod_parts()[2]

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self._pod_parts()[3]

    @property
    def pod_spec_path(self) -> FieldPath:
        return (*self.template_path, "spec")

    def containers(self, init: bool = True, ephemeral: bool = False) -> list[Container]:
        """Containers (then init containers, then with `ephemeral` the debug containers) of
        a workload's pod spec, with their paths."""
        if self._containers is None:
            found: list[Container] = []
            spec = self.pod_spec
            for key, is_init in (("containers", False), ("initContainers", True)):
                items = spec.get(key)
                if isinstance(items, list):
                    for index, item in enumerate(items):
                        if isinstance(item, dict):
                            found.append(
                                Container((*self.pod_spec_path, key, index), item, is_init)
                            )
            self._containers = found
        found = self._containers if init else [c for c in self._containers if not c.init]
        return [*found, *self._ephemeral_containers()] if ephemeral else found

    def _ephemeral_containers(self) -> list[Container]:
        """Debug containers (spec.ephemeralContainers): what they run and with which
        privileges matters; probes and resources they cannot have."""
        items = self.pod_spec.get("ephemeralContainers")
        if not isinstance(items, list):
            return []
        base = (*self.pod_spec_path, "ephemeralContainers")
        return [
            Container((*base, index), item, False, True)
            for index, item in enumerate(items)
            if isinstance(item, dict)
        ]

    def get(self, *path: str | int) -> Any:
        """Value at `path` or None."""
        node: Any = self.data
        for part in path:
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                return None
        return node

    def line_of(self, path: FieldPath) -> int:
        return self.document.line_of(self.base + path)


def make_resource(
    document: Document, data: Any, base: FieldPath
) -> tuple[Resource | None, tuple[str, FieldPath] | None]:
    """A Resource, or (message, path where it went wrong) for a document no rule can judge."""
    if not isinstance(data, dict):
        return None, ("list item is not a mapping", ())
    api_version, kind, metadata = data.get("apiVersion"), data.get("kind"), data.get("metadata")
    if not isinstance(api_version, str) or not api_version:
        return None, ("missing apiVersion: every Kubernetes object needs one", ())
    if not isinstance(kind, str) or not kind:
        return None, ("missing kind: every Kubernetes object needs one", ())
    if api_version.startswith(KUSTOMIZE_GROUPS):
        name = "kustomization"  # a kustomize build file: nameless by design
        namespace = None
    else:
        if not isinstance(metadata, dict):
            return None, ("missing metadata: every Kubernetes object needs metadata.name", ())
        given = metadata.get("name") or metadata.get("generateName")
        if not isinstance(given, str) or not given:
            return None, ("missing metadata.name", ("metadata",))
        name = given
        namespace_value = metadata.get("namespace")
        if kind in CLUSTER_SCOPED:
            namespace = None
        elif isinstance(namespace_value, str) and namespace_value:
            namespace = namespace_value
        else:
            namespace = "default"  # where kubectl puts it without -n; matched as such
    ref = ResourceRef(api_version, kind, namespace, name)
    return Resource(document, data, base, api_version, kind, name, namespace, ref), None


def iter_pod_volumes(resource: Resource) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    volumes = resource.pod_spec.get("volumes")
    if isinstance(volumes, list):
        for index, volume in enumerate(volumes):
            if isinstance(volume, dict):
                yield (*resource.pod_spec_path, "volumes", index), volume
