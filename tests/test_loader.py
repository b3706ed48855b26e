"""Loading: Kubernetes' YAML semantics, documents and lines, and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autobot_guard.loader import load_paths
from autobot_guard.yamlparse import YamlError, parse_document

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
  namespace: autobot-system
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: backend
        image: ghcr.io/mrveiss/autobot-backend:1.4.0
        resources:
          limits:
            memory: 2Gi
      - name: sidecar
        image: busybox:1.36
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


# --- What a manifest means: the same as to Kubernetes (go-yaml v2, YAML 1.1) ---------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: yes", True),
        ("a: on", True),
        ("a: Y", True),
        ("a: off", False),
        ("a: NO", False),
        ("a: true", True),
        ("a: 'yes'", "yes"),
        ("a: 0755", 493),  # octal, as in a volume's defaultMode
        ("a: 0o17", 15),
        ("a: 0x1F", 31),
        ("a: 1_000", 1000),
        ("a: 2024-01-01", "2024-01-01"),  # timestamps stay strings
        ("a: 12:30:00", "12:30:00"),  # no sexagesimal numbers
        ("a: ~", None),
        ("a: 1e3", 1000.0),
        ("a: '0755'", "0755"),
        ('a: "on"', "on"),  # quoted: a string in YAML 1.1 too
        ("a: [on, 'off', n]", [True, "off", False]),  # in a flow sequence
        ("a:\n- yes\n- 'no'\n", [True, "no"]),  # in a block sequence
        ("a: {b: {c: [[off]]}}", {"b": {"c": [[False]]}}),  # deep, in nested sequences
        ("a: ok  # says no in a comment", "ok"),
        ("a: |\n  yes\n  on\n", "yes\non\n"),  # prose in a block scalar stays prose
    ],
)
def test_scalars_resolve_like_kubernetes(text: str, expected: object) -> None:
    value = parse_document(text)["a"]
    assert value == expected
    assert type(value) is type(expected)


def test_merge_keys_are_merged() -> None:
    data = parse_document("base: &b {cpu: 100m}\nlimits:\n  <<: *b\n  memory: 1Gi\n")
    assert data["limits"] == {"cpu": "100m", "memory": "1Gi"}


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "a: yes\nb: 1\nb: 2\n"])
def test_duplicate_keys_are_rejected_with_their_line(text: str) -> None:
    with pytest.raises(YamlError) as caught:
        parse_document(text)
    assert "duplicate" in caught.value.message
    assert caught.value.line == text.count("\n")


def test_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    with pytest.raises(YamlError, match="alias"):
        parse_document("\n".join(lines) + "\n")


def test_alias_bomb_on_the_yaml11_path_is_refused() -> None:
    lines = ["flag: yes", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    with pytest.raises(YamlError, match="alias"):
        parse_document("\n".join(lines) + "\n")


def test_deep_nesting_is_refused() -> None:
    text = "".join("  " * depth + f"k{depth}:\n" for depth in range(150)) + "  " * 150 + "v\n"
    with pytest.raises(YamlError, match="nesting deeper"):
        parse_document(text)


def test_oversized_document_is_refused() -> None:
    with pytest.raises(YamlError, match="larger than"):
        parse_document("a: " + "x" * (4 * 1024 * 1024))


# --- Documents, lists and lines ---------------------------------------------------------


def test_multi_document_file_gives_every_resource_its_own_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "stack.yaml",
        f"# leading comment\n---\n{DEPLOYMENT}---\n{DEPLOYMENT.replace('backend', 'frontend')}",
    )
    result = load_paths([path])
    assert not result.errors
    first, second = result.resources
    assert (first.name, second.name) == ("backend", "frontend")
    container = ("spec", "template", "spec", "containers", 1)
    assert first.line_of(container) == 18
    assert second.line_of(container) == 18 + 18
    # A missing field points at its nearest existing parent.
    assert first.line_of((*container, "resources")) == 18
    assert (
        first.line_of(
            ("spec", "template", "spec", "containers", 0, "resources", "limits", "memory")
        )
        == 17
    )


def test_flow_style_falls_back_to_exact_lines(tmp_path: Path) -> None:
    text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [\n  {name: a, image: "x:1"},\n  {name: b,\n   image: "y:1"}]}\n'
    resource = load_paths([write(tmp_path, "pod.yaml", text)]).resources[0]
    assert resource.line_of(("spec", "containers", 1, "image")) == 7


def test_kind_list_expands_items_with_their_lines(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: one\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: two\n    namespace: autobot-system\n"
    )
    result = load_paths([write(tmp_path, "list.yaml", text)])
    assert [(r.name, r.namespace) for r in result.resources] == [
        ("one", "default"),
        ("two", "autobot-system"),
    ]
    assert result.resources[1].line_of(("metadata", "namespace")) == 12


def test_json_documents_and_their_lines(tmp_path: Path) -> None:
    text = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "cfg"\n  },\n  "data": {"on": "yes"}\n}\n'
    resource = load_paths([write(tmp_path, "cm.json", text)]).resources[0]
    assert resource.data["data"] == {"on": "yes"}  # JSON strings stay strings
    assert resource.line_of(("metadata", "name")) == 5


def test_directories_are_walked_recursively_and_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b/two.yml", DEPLOYMENT.replace("backend", "two"))
    write(tmp_path, "a/one.yaml", DEPLOYMENT.replace("backend", "one"))
    write(tmp_path, "a/notes.txt", "not a manifest")
    write(tmp_path, ".git/config.yaml", "ignored: true")
    result = load_paths([str(tmp_path)])
    assert [r.name for r in result.resources] == ["one", "two"]
    assert result.files == 2


def test_empty_files_and_documents_are_not_errors(tmp_path: Path) -> None:
    result = load_paths(
        [write(tmp_path, "empty.yaml", ""), write(tmp_path, "only.yaml", "---\n# nothing\n---\n")]
    )
    assert result.errors == [] and result.resources == []


# --- Bad input: one clear error naming file and line, the rest still loaded -------------


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n", 3, "invalid YAML"),
        ("- just\n- a list\n", 1, "document is a list, not a mapping"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", 1, "missing apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", 1, "missing kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
            3,
            "missing metadata.name",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: 1, a: 2}\n",
            4,
            "duplicate key",
        ),
        (b"apiVersion: v1\nkind: \xff\xfe\n", 2, "not UTF-8"),
        (b"\x00\x01binary", None, "binary file"),
    ],
)
def test_bad_documents_are_reported_and_others_still_load(
    tmp_path: Path, content: str | bytes, line: int | None, message: str
) -> None:
    bad = write(tmp_path, "bad.yaml", content)
    good = write(tmp_path, "good.yaml", DEPLOYMENT)
    result = load_paths([bad, good])
    assert [r.name for r in result.resources] == ["backend"]
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.file, error.line) == (bad, line)
    assert message in error.message


def test_bad_document_in_the_middle_of_a_stream_keeps_the_others(tmp_path: Path) -> None:
    text = DEPLOYMENT + "---\nkey: [unclosed\n---\n" + DEPLOYMENT.replace("backend", "frontend")
    result = load_paths([write(tmp_path, "mixed.yaml", text)])
    assert [r.name for r in result.resources] == ["backend", "frontend"]
    assert result.errors[0].line == 19


def test_missing_path_and_unreadable_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    result = load_paths([missing])
    assert result.errors[0].display() == f"{missing}: no such file or directory"
    if os.geteuid() != 0:  # root reads anything
        locked = write(tmp_path, "locked.yaml", DEPLOYMENT)
        os.chmod(locked, 0)
        assert "cannot read" in load_paths([locked]).errors[0].message


def test_directory_without_manifests_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no .yaml" in load_paths([str(tmp_path / "empty")]).errors[0].message


def test_windows_line_endings_and_bom(tmp_path: Path) -> None:
    raw = ("\ufeff" + DEPLOYMENT.replace("\n", "\r\n")).encode("utf-8")
    resource = load_paths([write(tmp_path, "crlf.yaml", raw)]).resources[0]
    assert resource.name == "backend"
    assert resource.line_of(("spec", "replicas")) == 7


def test_documents_share_their_key_strings_without_changing_values() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, labels: {app: a}}\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x:1\n"
        "        ports: [{containerPort: 80, name: http}]\n"
        "        args: [[nested, list], {k: v}]\n"
    )
    first, second = parse_document(text), parse_document(text)
    assert first == second  # same values, built separately
    assert first is not second
    containers = [doc["spec"]["template"]["spec"]["containers"][0] for doc in (first, second)]
    shared = {key for key in containers[0] if any(key is other for other in containers[1])}
    assert shared == set(containers[0])  # one "image", one "ports"... for every document
    assert containers[0]["ports"][0] == {"containerPort": 80, "name": "http"}
    assert containers[0]["args"] == [["nested", "list"], {"k": "v"}]


def _manifest(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n")


def test_an_unreadable_directory_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _manifest(tmp_path / "ok" / "a.yaml", "a")
    locked = tmp_path / "locked"
    _manifest(locked / "b.yaml", "b")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]  # as for a directory mode 000
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    loaded = load_paths([str(tmp_path)])
    assert [r.name for r in loaded.resources] == ["a"]
    assert [(e.file, e.message) for e in loaded.errors] == [
        (str(locked), "cannot read directory: Permission denied")
    ]


def test_symlinked_directories_are_followed_once(tmp_path: Path) -> None:
    _manifest(tmp_path / "shared" / "a.yaml", "a")
    app = tmp_path / "app"
    app.mkdir()
    (app / "shared").symlink_to(tmp_path / "shared")
    (app / "loop").symlink_to(app)  # a link back up: walked once, no endless loop
    loaded = load_paths([str(app)])
    assert [r.name for r in loaded.resources] == ["a"]
    assert loaded.errors == []


def test_a_file_named_twice_is_checked_once(tmp_path: Path) -> None:
    _manifest(tmp_path / "a.yaml", "a")
    loaded = load_paths([str(tmp_path), str(tmp_path / "a.yaml"), str(tmp_path / "." / "a.yaml")])
    assert [r.name for r in loaded.resources] == ["a"]
    assert loaded.files == 1


def test_suffixes_match_in_any_case_and_dot_directories_are_not_entered(tmp_path: Path) -> None:
    _manifest(tmp_path / "A.YAML", "upper")
    _manifest(tmp_path / "b.Yml", "mixed")
    _manifest(tmp_path / ".git" / "c.yaml", "hidden")
    loaded = load_paths([str(tmp_path)])
    assert sorted(r.name for r in loaded.resources) == ["mixed", "upper"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!set {x, z}\n", {"a": {"x": None, "z": None}}),  # go-yaml: a map to nulls
        ("a: !!timestamp 2026-01-01T00:00:00Z\n", {"a": "2026-01-01T00:00:00Z"}),
        ("a: !!binary |\n  aGVs\n  bG8=\n", {"a": "aGVsbG8="}),
        ("a: !!omap [{x: 1}, {b: 2}]\n", {"a": [{"x": 1}, {"b": 2}]}),
        ("a: !!str 0755\n", {"a": "0755"}),
    ],
)
def test_explicit_tags_read_as_kubernetes_reads_them(text: str, expected: object) -> None:
    assert parse_document(text) == expected


@pytest.mark.parametrize("text", ["? [a, b]\n: c\n", "a: {[1, 2]: 3}\n", "? {k: v}\n: c\n"])
def test_collection_keys_are_refused(text: str) -> None:
    with pytest.raises(YamlError, match="mapping key must be a scalar"):
        parse_document(text)


def test_an_explicit_tag_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: !!python/object:os.system x\n"
    )
    loaded = load_paths([str(path)])
    assert [(e.line, e.message.split(":")[0]) for e in loaded.errors] == [(6, "invalid YAML")]


def test_several_json_objects_in_one_file_are_several_documents(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}\n'
        '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {"name": "b"}\n}\n'
    )
    loaded = load_paths([str(path)])
    assert loaded.errors == []
    assert [(r.name, r.line_of(("metadata", "name"))) for r in loaded.resources] == [
        ("a", 1), ("b", 5)
    ]  # fmt: skip


def test_json_objects_on_one_line_each_get_their_own_document(tmp_path: Path) -> None:
    path = tmp_path / "line.json"
    path.write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}} '
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}\n'
        '{"apiVersion": "v1", "kind": ConfigMap}\n'
    )
    loaded = load_paths([str(path)])
    assert [(r.name, r.line_of(("metadata", "name"))) for r in loaded.resources] == [
        ("a", 1), ("b", 1)
    ]  # fmt: skip
    assert [(e.line, e.message.split(":")[0]) for e in loaded.errors] == [(2, "invalid JSON")]


def test_a_merged_field_points_at_the_mapping_that_writes_it(tmp_path: Path) -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: merged, namespace: default}
spec:
  selector: {matchLabels: {app: m}}
  template:
    metadata: {labels: {app: m}}
    spec:
      containers:
      - &base
        name: a
        image: ghcr.io/x/a:1.0
      - <<: *base
        name: b
      - name: c
        image: ghcr.io/x/c:latest
"""
    resource = load_paths([write(tmp_path, "merge.yaml", text)]).resources[0]
    containers = ("spec", "template", "spec", "containers")
    assert resource.line_of((*containers, 1, "image")) == 12  # inherited from a, line 12
    assert resource.line_of((*containers, 1, "name")) == 14  # b's own name wins
    assert resource.line_of((*containers, 2, "image")) == 16  # c's, not confused with b's


def test_a_kustomization_file_without_kind_is_a_kustomize_build_file(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n- app.yaml\n")
    (tmp_path / "other.yaml").write_text("resources:\n- app.yaml\n")  # no such defaulting
    loaded = load_paths([str(tmp_path)])
    assert [(r.kind, r.api_version) for r in loaded.resources] == [
        ("Kustomization", "kustomize.config.k8s.io/v1beta1")
    ]
    assert [os.path.basename(e.file) for e in loaded.errors] == ["other.yaml"]


def test_deep_flow_nesting_says_how_deep() -> None:
    with pytest.raises(YamlError, match="nesting deeper than 100 levels"):
        parse_document("a: " + "[" * 300 + "]" * 300 + "\n")


def test_keys_yaml11_reads_as_booleans() -> None:
    # go-yaml reads them as booleans; the JSON the API server stores makes them strings
    assert parse_document("on: 1\nn: 2\n") == {"true": 1, "false": 2}
    assert parse_document("'on': 1\n") == {"on": 1}


def test_deep_nesting_in_sequences_is_refused() -> None:
    text = "a: " + "[" * 120 + "1" + "]" * 120 + "\n"
    with pytest.raises(YamlError, match="nesting deeper than 100 levels"):
        parse_document(text)


def test_comments_and_heredocs_do_not_take_the_slow_line_lookup(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: run}\n"
        "data:\n  script: |\n    cat <<EOF\n    done!!\n    EOF\n  mode: fast\n"
    )
    resource = load_paths([write(tmp_path, "cm.yaml", text)]).resources[0]
    assert resource.data["data"]["script"] == "cat <<EOF\ndone!!\nEOF\n"
    assert resource.line_of(("data", "mode")) == 9
    assert resource.document._node is None  # answered by the text locator, no PyYAML tree


def test_numeric_and_boolean_keys_are_json_text_on_every_path() -> None:
    # With or without a YAML 1.1 scalar elsewhere, the keys come out the same.
    assert parse_document("80: a\ntrue: b\n") == {"80": "a", "true": "b"}
    assert parse_document("80: a\ntrue: b\nmode: 0644\n") == {"80": "a", "true": "b", "mode": 420}
