"""`--kustomize DIR`: check what `kubectl kustomize DIR` renders, reported on the source files.

DIR is rendered through a temporary kustomization that includes it as its only resource
and sets `buildMetadata: [originAnnotations]`, so every rendered object carries
`config.kubernetes.io/origin` naming the file it came from. The annotation is removed
before anything is judged; each object is then located in its source file (by kind and
metadata.name; a name changed by namePrefix/nameSuffix still contains the source name), so
findings name that file and the line of the same field path there. Objects made by a
generator point at the generator entry of the kustomization that configured them. What
cannot be located (a remote base, an unknown origin) is reported on `<kustomize DIR>`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

from ..findings import InputError
from ..loader import Document, LoadResult, load_paths
from ..resources import Resource

ORIGIN = "config.kubernetes.io/origin"
KUSTOMIZE_TIMEOUT = 120  # seconds
_GENERATORS = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}
_KLOG_ERROR = re.compile(r'err="((?:[^"\\]|\\.)*)"')
_WRAPPER_LAYER = re.compile(
    r"^accumulating resources: .*?recursed accumulation of path '[^']*': (.+)$"
)


class KustomizeError(Exception):
    """kubectl is missing or kustomize failed: one line for the user."""


def render(directory: str, timeout: float = KUSTOMIZE_TIMEOUT) -> tuple[str, str]:
    """(rendered YAML, the wrapper kustomization's directory that origin paths are relative to)."""
    if not os.path.isdir(directory):
        raise KustomizeError(f"--kustomize {directory}: not a directory")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise KustomizeError("--kustomize needs kubectl (kubectl kustomize), which is not on PATH")
    with tempfile.TemporaryDirectory(prefix="autobot-guard-kustomize-") as temporary:
        wrapper = os.path.realpath(temporary)
        target = os.path.relpath(os.path.realpath(directory), wrapper)  # kustomize wants relative
        with open(os.path.join(wrapper, "kustomization.yaml"), "w", encoding="utf-8") as handle:
            handle.write(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                f"resources:\n- {json.dumps(target)}\nbuildMetadata: [originAnnotations]\n"
            )
        try:
            result = subprocess.run(
                [kubectl, "kustomize", wrapper],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise KustomizeError(
                f"--kustomize {directory}: kubectl kustomize took over {timeout:g}s"
            ) from None
        except OSError as exc:
            raise KustomizeError(f"--kustomize: cannot run {kubectl}: {exc}") from None
    if result.returncode != 0:
        raise KustomizeError(
            f"--kustomize {directory}: kustomize failed: {first_error(result.stderr)}"
        )
    return result.stdout, wrapper


def first_error(stderr: str) -> str:
    """kustomize's own first error line, from kubectl's `error: ...` or klog's `err="..."`."""
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _KLOG_ERROR.search(line)
        if match:
            line = match.group(1).replace('\\"', '"')
        line = line.removeprefix("error: ")
        # Drop the layer of the temporary wrapper kustomization: it is ours, not the user's.
        inner = _WRAPPER_LAYER.search(line)
        return inner.group(1) if inner else line
    return "no error message"


def load(directory: str, timeout: float = KUSTOMIZE_TIMEOUT) -> LoadResult:
    """The rendered objects of DIR, origin annotations removed, located in their sources."""
    text, wrapper = render(directory, timeout)
    display = f"<kustomize {directory}>"
    handle, rendered = tempfile.mkstemp(prefix="autobot-guard-rendered-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        loaded = load_paths([rendered])
    finally:
        os.unlink(rendered)
    loaded.errors = [
        InputError(display if e.file == rendered else e.file, e.line, e.message)
        for e in loaded.errors
    ]
    sources = _Sources(directory, wrapper)
    for resource in loaded.resources:
        origin = _pop_origin(resource)
        located = sources.locate(resource, origin) if origin else None
        if located is None:
            resource.document.file = display
        else:
            resource.document, resource.base = located
    loaded.files = len({resource.document.file for resource in loaded.resources})
    return loaded


def _pop_origin(resource: Resource) -> dict[str, Any] | None:
    """Remove the origin annotation (and an annotations map it leaves empty); its value."""
    import yaml

    metadata = resource.data.get("metadata")
    if not isinstance(metadata, dict):
        return None
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or ORIGIN not in annotations:
        return None
    value = annotations.pop(ORIGIN)
    if not annotations:
        del metadata["annotations"]
    try:
        origin = yaml.safe_load(value) if isinstance(value, str) else None
    except yaml.YAMLError:
        return None
    return origin if isinstance(origin, dict) else None


class _Sources:
    """Source files named by origin annotations, loaded once each."""

    def __init__(self, directory: str, wrapper: str) -> None:
        self.directory = directory
        self.root = os.path.realpath(directory)
        self.wrapper = wrapper
        self.objects: dict[str, list[Resource]] = {}
        self.kustomizations: dict[str, Document | None] = {}

    def locate(
        self, resource: Resource, origin: dict[str, Any]
    ) -> tuple[Document, tuple[str | int, ...]] | None:
        if origin.get("repo"):  # a remote base: no local file to point at
            return None
        path, configured_in = origin.get("path"), origin.get("configuredIn")
        if isinstance(path, str) and path:
            found = _same_object(resource, self._objects(self._file(path)))
            return (found.document, found.base) if found else None
        if isinstance(configured_in, str) and configured_in:
            return self._generator(resource, self._file(configured_in), origin)
        return None

    def _file(self, origin_path: str) -> str:
        """An origin path (relative to the wrapper) as a path under DIR as the user wrote it."""
        absolute = os.path.normpath(os.path.join(self.wrapper, origin_path))
        return os.path.normpath(os.path.join(self.directory, os.path.relpath(absolute, self.root)))

    def _objects(self, file: str) -> list[Resource]:
        if file not in self.objects:
            self.objects[file] = load_paths([file]).resources if os.path.isfile(file) else []
        return self.objects[file]

    def _generator(
        self, resource: Resource, file: str, origin: dict[str, Any]
    ) -> tuple[Document, tuple[str | int, ...]] | None:
        document = self._kustomization(file)
        by = origin.get("configuredBy")
        key = _GENERATORS.get(by.get("kind", "")) if isinstance(by, dict) else None
        if document is None:
            return None
        entries = document.data.get(key) if key and isinstance(document.data, dict) else None
        if not isinstance(entries, list):
            return document, ()
        names = [(i, e.get("name")) for i, e in enumerate(entries) if isinstance(e, dict)]
        matching = [(len(n), i) for i, n in names if isinstance(n, str) and n in resource.name]
        return (document, (key, max(matching)[1])) if matching and key else (document, ())

    def _kustomization(self, file: str) -> Document | None:
        if file not in self.kustomizations:
            from ..yamlparse import YamlError, parse_document

            try:
                with open(file, encoding="utf-8") as handle:
                    text = handle.read()
                self.kustomizations[file] = Document(file, 1, text, parse_document(text))
            except (OSError, UnicodeDecodeError, YamlError):
                self.kustomizations[file] = None
        return self.kustomizations[file]


def _same_object(rendered: Resource, candidates: list[Resource]) -> Resource | None:
    """The source object of `rendered`: same kind and name, else the kind's object whose name
    the rendered name contains (namePrefix/nameSuffix), else the file's only object of the kind.
    """
    of_kind = [c for c in candidates if c.kind == rendered.kind]
    exact = [c for c in of_kind if c.name == rendered.name]
    if exact:  # the same namespace first: a namespace transformer may have changed it
        return next((c for c in exact if c.namespace == rendered.namespace), exact[0])
    contained = [c for c in of_kind if c.name in rendered.name]
    if contained:
        return max(contained, key=lambda c: len(c.name))
    return of_kind[0] if len(of_kind) == 1 else None
