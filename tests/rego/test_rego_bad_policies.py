"""Bad policies: one line naming the file and line and what is wrong, exit status 2, never
a traceback, never a silent pass.

- Rego v0 rule heads, which rego-cpp accepts with another meaning (`deny[msg] { ... }`
  is an object there, so the policy passes everything) and conftest 0.60+ rejects;
- evaluations that fail on a document (conflicting values of a complete rule or of a
  function, recursion): the document, the rule and where it is defined;
- constructs on which rego-cpp aborts the whole process while it compiles: compiled in a
  forked child first (policies other than the bundled ones), the abort becomes an error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autobot_guard.errors import UsageError
from autobot_guard.findings import Report
from autobot_guard.loader import load_paths
from autobot_guard.rego import embedded, evaluate_resources
from autobot_guard.rego.embedded import EmbeddedEngine
from autobot_guard.rego.policies import check_rego_v1, load_policy_set, statements
from tests.rego.helpers import DATA, REPO, SHIPPED, check, install_fake_conftest
from tests.tools import tool

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/mrveiss/web:1.0
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifests" / "web.yaml"
    path.parent.mkdir()
    path.write_text(DEPLOYMENT, encoding="utf-8")
    return path


def policy_dir(tmp_path: Path, files: dict[str, str], name: str = "policies") -> Path:
    directory = tmp_path / name
    for file, source in files.items():
        (directory / file).parent.mkdir(parents=True, exist_ok=True)
        (directory / file).write_text(textwrap.dedent(source), encoding="utf-8")
    return directory


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def evaluation_error(report: Report) -> str:
    """The one input error of a check whose Rego evaluation failed on one object."""
    [error] = report.errors
    return error.display()


# -- Rego v0 ---------------------------------------------------------------------------

V0 = [
    (  # the classic conftest policy of before 0.60
        'package main\n\ndeny[msg] {\n  input.kind == "Deployment"\n  msg := "old style"\n}\n',
        3,
        "Rego v0 syntax (deny[msg] { ... }): write 'deny contains msg if { ... }' "
        "(Rego v1; conftest 0.60+ requires it too)",
    ),
    (
        'package main\n\nwarn[x] {\n  x := "w"\n}\n',
        3,
        "Rego v0 syntax (warn[x] { ... }): write 'warn contains x if { ... }'",
    ),
    (
        'package main\n\nviolation[{"msg": m}] {\n  m := "v"\n}\n',
        3,
        """Rego v0 syntax (violation[{"msg": m}] { ... }): write 'violation contains {"msg": m} if""",
    ),
    (
        'package main\n\nexception[rules] {\n  rules := ["x"]\n}\n',
        3,
        "Rego v0 syntax (exception[rules] { ... }): write 'exception contains rules if { ... }'",
    ),
    (  # import rego.v1 does not make v0 heads valid: OPA rejects them there too
        "package main\n\nimport rego.v1\n\ndeny_latest[msg] {\n  msg := input.x\n}\n",
        5,
        "Rego v0 syntax (deny_latest[msg] { ... }): write 'deny_latest contains msg if",
    ),
    (  # v0 with the future keywords: contains, but no if
        "package main\n\nimport future.keywords.contains\n\ndeny contains msg {\n"
        "  msg := input.x\n}\n",
        5,
        "Rego v0 syntax (deny contains msg { ... }): write 'deny contains msg if { ... }'",
    ),
    (
        'package main\n\ndeny["always"]\n',
        3,
        """Rego v0 syntax (deny["always"]): write 'deny contains "always"'""",
    ),
    (  # a helper rule without if, after valid v1 rules
        'package main\n\nimport rego.v1\n\ndeny contains "x" if is_pod\n\nis_pod {\n'
        '  input.kind == "Pod"\n}\n',
        7,
        "Rego v0 syntax (is_pod { ... }): write 'is_pod if { ... }'",
    ),
    (
        "package lib.x\n\nname(obj) = n {\n  n := obj.metadata.name\n}\n",
        3,
        "Rego v0 syntax (name(obj) = n { ... }): write 'name(obj) = n if { ... }'",
    ),
    (
        "package main\n\nlabels := l {\n  l := input.metadata.labels\n}\n",
        3,
        "Rego v0 syntax (labels := l { ... }): write 'labels := l if { ... }'",
    ),
    (
        'package main\n\nkind = "x" {\n  input.a\n} else = "y" {\n  input.b\n}\n',
        3,
        """Rego v0 syntax (kind = "x" { ... }): write 'kind = "x" if { ... }'""",
    ),
    (  # valid v1, but an object {msg: true}: conftest and the embedded engine ignore it
        'package main\n\nimport rego.v1\n\ndeny[msg] if {\n  msg := "half migrated"\n}\n',
        5,
        "'deny[msg] if' defines an object (deny[msg] = true), not a set of results: "
        "conftest and the embedded engine ignore it; write 'deny contains msg if ...'",
    ),
]


@pytest.mark.parametrize(("source", "line", "message"), V0)
def test_rego_v0_heads_name_file_and_line(
    tmp_path: Path, source: str, line: int, message: str
) -> None:
    directory = policy_dir(tmp_path, {"x.rego": source})
    with pytest.raises(UsageError) as raised:
        load_policy_set(directory)
    assert str(raised.value).startswith(f"{directory / 'x.rego'}:{line}: ")
    assert message in str(raised.value)


def test_several_v0_heads_are_counted(tmp_path: Path) -> None:
    source = 'package main\n\ndeny[m] {\n  m := "a"\n}\n\nwarn[m] {\n  m := "b"\n}\n\nok { true }\n'
    directory = policy_dir(tmp_path, {"x.rego": source})
    with pytest.raises(
        UsageError, match=r"x\.rego:3: .*deny contains m if .*; 2 more in this file$"
    ):
        load_policy_set(directory)


def test_v0_test_files_are_reported_too(tmp_path: Path) -> None:
    directory = policy_dir(
        tmp_path,
        {
            "p.rego": 'package main\n\nimport rego.v1\n\ndeny contains "x" if input.a\n',
            "p_test.rego": "package main\n\ntest_denied {\n  count(deny) == 1 with input.a as true\n}\n",
        },
    )
    with pytest.raises(UsageError, match=re.escape("p_test.rego:3: Rego v0 syntax (test_denied {")):
        load_policy_set(directory)


V1 = """\
# METADATA: a comment with deny[msg] { and allow {
package main.valid

import data.lib.kubernetes as k8s
import rego.v1

default allow := false

default level(_) := "none"

deny contains msg if {
	input.kind == "Deployment"
	msg := "a set rule"
}

deny contains {"msg": "an object", "rule": "x"} if input.kind == "Pod"

deny contains "unconditional"

warn contains msg if some msg in input.messages

violation contains result if {
	every c in input.containers { c.name != "" }
	result := {
		"msg": concat("", ["braces { in a string } ", input.kind]),
		"field": ["spec"],
	}
}

exception contains ["latest"] if input.metadata.labels.legacy == "yes"

allow if {
	input.a
} else := false if {
	input.b
}

level(x) := "high" if x > 10

level(x) := "low" if {
	x <= 10
}

by_name[name] := c if {
	some c in input.containers
	name := c.name
}

names[n] if {
	some n in input.names
}

a.b.c if input.x

a.d[k] contains v if {
	some k, v in input.pairs
}

table := {
	"a": 1,
	"b": [1, 2],
}

images := {img |
	some c in input.containers
	img := c.image
}

multiline := concat(
	"",
	["a", "b"],
)

raw := `deny[msg] {
	not a rule: a raw string
}`

bodies if { input.a } { input.b }

template := $"kind {input.kind}"
"""


def test_rego_v1_forms_are_not_flagged(tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, {"valid.rego": V1})
    load_policy_set(directory)  # no UsageError
    names = [s.rule_name for s in statements(V1)]
    assert names[:5] == [None, None, None, None, None]  # package, imports, defaults
    assert "by_name" in names and "a.b.c" in names and "a.d" in names and "multiline" in names
    heads = [(s.line, s.rule_name, s.is_function, s.start, s.end) for s in statements(V1)]
    assert heads == [  # the same statements, only tokens outside brackets kept
        (s.line, s.rule_name, s.is_function, s.start, s.end) for s in statements(V1, inner=False)
    ]


def test_no_false_positive_on_the_shipped_policies_and_fixtures() -> None:
    files = sorted(SHIPPED.rglob("*.rego")) + sorted(DATA.rglob("*.rego"))
    assert len(files) >= 12
    for path in files:
        if path.parent.name == "syntax-error":
            continue
        check_rego_v1(path, path.read_text(encoding="utf-8"))
    assert any(m.is_test for m in load_policy_set(SHIPPED).files)


def test_v0_policy_fails_check_with_the_embedded_engine(manifest: Path, tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, {"x.rego": V0[0][0]})
    result = cli(str(manifest), "--rego", "embedded", "--rego-policies", str(directory))
    assert_one_line_error(result, f"{directory / 'x.rego'}:3: Rego v0 syntax (deny[msg] {{ ... }})")


def test_v0_policy_fails_check_with_auto_and_conftest(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = policy_dir(tmp_path, {"x.rego": V0[0][0]})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}  # auto: no conftest, so embedded
    result = cli(str(manifest), "--rego", "auto", "--rego-policies", str(directory), env=env)
    assert_one_line_error(result, "x.rego:3: Rego v0 syntax")
    log = install_fake_conftest(tmp_path, monkeypatch, "crash")
    with pytest.raises(UsageError, match=r"x\.rego:3: Rego v0 syntax"):
        check([manifest], rego="conftest", policies=directory)
    assert not log.exists(), "the policies are rejected before conftest runs"


def test_v0_policy_fails_the_in_process_api(manifest: Path, tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, {"x.rego": V0[0][0]})
    resources = load_paths([str(manifest)]).resources
    with pytest.raises(UsageError, match=r"x\.rego:3: Rego v0 syntax"):
        evaluate_resources(resources, directory)


# -- evaluations that fail on a document -----------------------------------------------

CONFLICTS = [
    (
        """\
        package main

        import rego.v1

        allowed := true if input.kind == "Deployment"

        allowed := false if input.metadata.name == "web"

        deny contains "not allowed" if not allowed
        """,
        "conflicting values for data.main.allowed ({dir}/x.rego:5, {dir}/x.rego:7; "
        "rego-cpp: complete rules must not produce multiple outputs), evaluating data.main.deny",
    ),
    (
        """\
        package main.functions

        import rego.v1

        tier(n) := "small" if n < 10

        tier(n) := "medium" if n > 1

        warn contains "small" if tier(count(input.metadata.name)) == "small"
        """,
        "conflicting outputs for data.main.functions.tier ({dir}/x.rego:5, {dir}/x.rego:7; "
        "rego-cpp: functions must not produce multiple outputs for same inputs), "
        "evaluating data.main.functions.warn",
    ),
    (
        """\
        package main.objects

        import rego.v1

        limits[name] := 1 if name := input.metadata.name

        limits[name] := 2 if name := input.metadata.name

        deny contains "limited" if limits.web
        """,
        "conflicting values for data.main.objects.limits ({dir}/x.rego:5, {dir}/x.rego:7; "
        "rego-cpp: object keys must be unique), evaluating data.main.objects.deny",
    ),
    (  # a helper of another package, as the shipped policies use lib.kubernetes
        """\
        package lib.helpers

        import rego.v1

        owner := input.metadata.name

        owner := "nobody"
        """,
        "conflicting values for data.lib.helpers.owner ({dir}/x.rego:5, {dir}/x.rego:7; "
        "rego-cpp: complete rules must not produce multiple outputs), evaluating data.main.deny",
    ),
]
USES_HELPER = """\
package main

import data.lib.helpers
import rego.v1

deny contains "no owner" if helpers.owner == "nobody"
"""


@pytest.mark.parametrize(("source", "message"), CONFLICTS)
def test_conflicting_values_name_document_rule_and_definitions(
    manifest: Path, tmp_path: Path, source: str, message: str
) -> None:
    files = {"x.rego": source}
    if "lib.helpers" in source:
        files["uses.rego"] = USES_HELPER
    directory = policy_dir(tmp_path, files)
    expected = f"{manifest}:1: Rego evaluation failed on Deployment/shop/web: " + message.format(
        dir=directory
    )
    assert evaluation_error(check([manifest], policies=directory)) == expected


def test_conflict_is_one_line_from_the_cli(manifest: Path, tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, {"x.rego": CONFLICTS[0][0]})
    result = cli(str(manifest), "--rego", "embedded", "--rego-policies", str(directory))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("input error")]
    assert line.startswith(
        f"input error: {manifest}:1: Rego evaluation failed on Deployment/shop/web: "
        "conflicting values for data.main.allowed"
    )
    assert "min-replicas" in result.stdout  # the built-in rules still judged the object


def test_conflict_names_the_document_among_many(tmp_path: Path) -> None:
    """The failing document is the last of 151 (the second half runs in a forked child)."""
    path = tmp_path / "many.yaml"
    configmaps = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: ns}}\n"
        for i in range(150)
    )
    path.write_text(configmaps + "---\n" + DEPLOYMENT, encoding="utf-8")
    directory = policy_dir(tmp_path, {"x.rego": CONFLICTS[0][0]})
    error = evaluation_error(check([path], policies=directory))
    assert error.startswith(f"{path}:602: Rego evaluation failed on Deployment/shop/web: ")


def test_conflict_in_a_combined_policy(manifest: Path, tmp_path: Path) -> None:
    source = """\
        package main.combine.teams

        import rego.v1

        first := doc.path if some doc in input

        warn contains {"msg": "x", "document": first} if first
        """
    directory = policy_dir(tmp_path, {"c.rego": source})
    other = manifest.with_name("other.yaml")
    other.write_text(DEPLOYMENT.replace("name: web", "name: api"), encoding="utf-8")
    error = evaluation_error(check([manifest, other], policies=directory))
    assert error.startswith(
        f"{manifest}:1: Rego evaluation failed on the combined input (conftest --combine): "
    )
    assert "conflicting values for data.main.combine.teams.first" in error


def test_conflict_through_conftest_is_an_error_too(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool("conftest")
    directory = policy_dir(tmp_path, {"x.rego": CONFLICTS[0][0]})
    error = evaluation_error(check([manifest], rego="conftest", policies=directory))
    assert error == (
        f"{manifest}:1: Rego evaluation failed on Deployment/shop/web: {directory / 'x.rego'}:7: "
        "eval_conflict_error: complete rules must not produce multiple outputs"
    )


def test_conflict_in_the_in_process_api(manifest: Path, tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, {"x.rego": CONFLICTS[0][0]})
    resources = load_paths([str(manifest)]).resources
    with pytest.raises(
        UsageError, match=r"web\.yaml:1: Rego evaluation failed on Deployment/shop/web: conf"
    ):
        evaluate_resources(resources, directory)


def test_recursion_is_an_evaluation_error_not_malformed_output(
    manifest: Path, tmp_path: Path
) -> None:
    source = "package main\n\nimport rego.v1\n\ndeny contains m if {\n\tsome m in deny\n}\n"
    directory = policy_dir(tmp_path, {"x.rego": source})
    assert evaluation_error(check([manifest], policies=directory)) == (
        f"{manifest}:1: Rego evaluation failed on Deployment/shop/web: data.main.deny "
        f"({directory}/x.rego:5): Recursion detected in rule body: data.main.deny"
    )


def test_documents_on_which_evaluation_works_are_unaffected(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec: {}\n")
    directory = policy_dir(tmp_path, {"x.rego": CONFLICTS[0][0]})
    report = check([pod], policies=directory)  # allowed is undefined there: no conflict
    assert [f.message for f in report.findings if f.rule == "conftest:main"] == ["not allowed"]


# -- rego-cpp aborts while compiling: a forked child compiles first ---------------------

ABORTS = [
    (  # `with input as <rule>`: rego-cpp's std::terminate, exit 134 in process
        {
            "main.rego": 'package main\n\nimport rego.v1\n\ndeny contains "x" if input.kind == "Pod"\n',
            "other.rego": """\
                package main.other

                import rego.v1

                fixture := {"kind": "Pod"}

                warn contains "pods are denied" if {
                \tcount(data.main.deny) == 1 with input as fixture
                }
                """,
        },
        "other.rego:8: the embedded Rego engine (rego-cpp) aborts compiling this policy "
        "(shape `rego-with` has no field `rego-ref`): it cannot compile `with input as <rule, "
        "data or input reference>`",
    ),
    (  # `with input as {...}` over a rule whose value is computed
        {
            "lib.rego": "package lib.count\n\nimport rego.v1\n\nitems := count(input.items)\n",
            "main.rego": """\
                package main

                import rego.v1

                warn contains "one item" if {
                \tdata.lib.count.items == 1 with input as {"items": [1]}
                }
                """,
        },
        "main.rego:6: the embedded Rego engine (rego-cpp) aborts compiling this policy "
        "(shape `rego-localref` has no field `rego-refhead`): it cannot compile `with input as "
        "{...}` around a rule whose value is computed",
    ),
]


@pytest.mark.parametrize(("files", "message"), ABORTS)
def test_an_abort_of_rego_cpp_is_an_error_naming_the_file(
    manifest: Path, tmp_path: Path, files: dict[str, str], message: str
) -> None:
    directory = policy_dir(tmp_path, files)
    with pytest.raises(UsageError) as raised:
        EmbeddedEngine(load_policy_set(directory))
    assert str(raised.value).startswith(f"{directory}/{message}")
    result = cli(str(manifest), "--rego", "embedded", "--rego-policies", str(directory))
    assert_one_line_error(result, message)


def test_unit_tests_that_abort_rego_cpp_are_an_error(tmp_path: Path) -> None:
    directory = policy_dir(
        tmp_path,
        {
            "p.rego": 'package main\n\nimport rego.v1\n\ndeny contains "x" if input.a\n',
            "p_test.rego": 'package main\n\nimport rego.v1\n\nfixture := {"a": true}\n\n'
            "test_denied if {\n\tcount(deny) == 1 with input as fixture\n}\n",
        },
    )
    engine = EmbeddedEngine(load_policy_set(directory))  # p_test.rego is not compiled here
    with pytest.raises(UsageError, match=re.escape("p_test.rego:8: the embedded Rego engine")):
        engine.run_unit_tests()


def test_bundled_policies_are_not_compiled_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the bundled policies are compiled in a child")

    monkeypatch.setattr(embedded, "compile_in_child", refuse)
    assert embedded.is_bundled(SHIPPED)
    EmbeddedEngine(load_policy_set(SHIPPED))


def test_other_policies_are_compiled_in_a_child_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    original = embedded.compile_in_child
    monkeypatch.setattr(
        embedded, "compile_in_child", lambda p, s, q: calls.append(list(s)) or original(p, s, q)
    )
    directory = policy_dir(tmp_path, {"x.rego": 'package main\n\ndeny contains "x" if input.a\n'})
    EmbeddedEngine(load_policy_set(directory))
    assert calls == [["x.rego"]]
