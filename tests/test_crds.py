"""CustomResourceDefinitions as a user gives them: among the checked files, in `--crds DIR`
folders, in the pack's `crds:` list; broken ones are input errors (exit 2, one line).

The structural-schema features and CEL rules have their fixtures side by side in
tests/rules/schema/ (pass-crd-*.yaml, fail-crd-*.yaml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autobot_guard.crds import build_catalogue, crd_folders_resources
from autobot_guard.findings import Severity
from autobot_guard.paths import bundled_policies
from tests.util import check_paths, of_rule, pack_with, write_pack

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.example.com}}
spec:
  group: example.com
  names: {{kind: Widget, plural: widgets}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
{properties}
"""
GOOD = CRD.format(properties="              size: {type: string}")
WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: autobot-system}
spec: {size: 3}
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", "--rego", "off", "-q", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_a_crd_among_the_checked_files_validates_its_custom_resources(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(GOOD)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert (
        f"{tmp_path}/widget.yaml:4: error schema Widget/autobot-system/w: 3 is not of type string"
        in done.stdout
    )


def test_without_its_crd_a_custom_resource_is_info_naming_where_crds_go(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "info schema Widget/autobot-system/w: no schema for example.com/v1 Widget" in done.stdout
    assert "`--crds DIR`" in done.stdout and "`crds:`" in done.stdout


def test_crds_flag_names_a_folder_whose_crds_are_not_checked_themselves(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.yaml").write_text(GOOD)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "crds"))
    assert done.returncode == 1, done.stderr
    assert (
        "widget.yaml:4: error schema Widget/autobot-system/w: 3 is not of type string"
        in done.stdout
    )
    summary = cli(str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "crds"), "-f", "json")
    assert '"resources": 1,' in summary.stdout  # the CRD gave a schema, it was not judged


def test_the_packs_crds_list_is_relative_to_the_pack_file(tmp_path: Path) -> None:
    (tmp_path / "pack" / "my-crds").mkdir(parents=True)
    (tmp_path / "pack" / "my-crds" / "widgets.yaml").write_text(GOOD)
    pack = write_pack(pack_with(crds=[]), tmp_path / "pack" / "pack.yaml")
    text = Path(pack).read_text().replace("crds: []", "crds: [my-crds]")
    Path(pack).write_text(text)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli("-c", pack, "widget.yaml", cwd=tmp_path)  # another directory than the pack's
    assert done.returncode == 1, done.stderr
    assert (
        "widget.yaml:4: error schema Widget/autobot-system/w: 3 is not of type string"
        in done.stdout
    )


def test_a_folders_crds_are_compiled_only_for_the_custom_resources_checked(
    tmp_path: Path,
) -> None:
    gadgets = GOOD.replace("widgets", "gadgets").replace("Widget", "Gadget")
    (tmp_path / "pack" / "my-crds").mkdir(parents=True)
    (tmp_path / "pack" / "my-crds" / "widgets.yaml").write_text(GOOD)
    broken = gadgets.replace("storage: true", "storage: false")
    (tmp_path / "pack" / "my-crds" / "gadgets.yaml").write_text(broken)
    pack = write_pack(pack_with(crds=[]), tmp_path / "pack" / "pack.yaml")
    Path(pack).write_text(Path(pack).read_text().replace("crds: []", "crds: [my-crds]"))
    (tmp_path / "widget.yaml").write_text(WIDGET)
    (tmp_path / "gadget.yaml").write_text(WIDGET.replace("Widget", "Gadget"))

    widget = cli("-c", pack, "widget.yaml", cwd=tmp_path)
    assert widget.returncode == 1, widget.stdout + widget.stderr  # judged by its CRD
    assert "3 is not of type string" in widget.stdout
    assert "gadgets.yaml" not in widget.stdout  # no Gadget checked: its CRD is not compiled
    gadget = cli("-c", pack, "gadget.yaml", cwd=tmp_path)
    assert gadget.returncode == 2, gadget.stdout + gadget.stderr
    assert "gadgets.yaml:8: CustomResourceDefinition gadgets.example.com: " in gadget.stdout
    assert "exactly one version must have storage: true" in gadget.stdout


def test_the_packs_crd_files_are_not_parsed_for_kinds_they_do_not_name() -> None:
    from autobot_guard.check import load_pack

    folders = load_pack(None).crd_folders
    everything, _ = crd_folders_resources(folders)
    assert len(everything) == 4
    found, errors = crd_folders_resources(folders, {"ExternalSecret"})
    assert [crd.name for crd in found] == ["externalsecrets.external-secrets.io"] and not errors
    assert crd_folders_resources(folders, set()) == ([], [])
    # a file that spells the name elsewhere (ClusterIssuer, issuerRef) is read too: a bound
    found, _ = crd_folders_resources(folders, {"Issuer"})
    names = {crd.name for crd in found}
    assert "issuers.cert-manager.io" in names and "clusterissuers.cert-manager.io" in names
    assert "externalsecrets.external-secrets.io" not in names


def test_a_crd_file_that_escapes_letters_is_read_whatever_it_spells(tmp_path: Path) -> None:
    escaped = GOOD.replace("{kind: Widget,", '{kind: "Wid\\x67et",')
    assert "Widget" not in escaped
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.yaml").write_text(escaped)
    found, errors = crd_folders_resources([str(tmp_path / "crds")], {"Widget"})
    assert [crd.get("spec", "names", "kind") for crd in found] == ["Widget"] and not errors


def test_the_checked_files_crd_wins_over_a_folders(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.yaml").write_text(GOOD)  # size: string
    (tmp_path / "crd.yaml").write_text(CRD.format(properties="              size: {type: integer}"))
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(
        str(tmp_path / "crd.yaml"), str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "crds")
    )
    assert done.returncode == 0, done.stdout + done.stderr


BROKEN = {
    "an unknown type": (
        CRD.format(properties="              size: {type: strin}"),
        19,
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.type: "
        "unknown type 'strin'",
    ),
    "a keyword of the wrong type": (
        CRD.format(properties="              size: {type: string, minLength: many}"),
        19,
        'invalid openAPIV3Schema: "many" is not of type "integer"',
    ),
    "a $ref": (
        CRD.format(properties="              size: {$ref: '#/definitions/x'}"),
        19,
        "'$ref' is not allowed in a CRD schema",
    ),
    "a field without a type": (
        CRD.format(properties="              size: {minLength: 1}"),
        19,
        "type is required",
    ),
    "a CEL rule that does not parse": (
        CRD.format(properties="              size: {type: string}").replace(
            "            type: object\n            properties:",
            "            type: object\n            x-kubernetes-validations:\n"
            "            - rule: self.size ==\n            properties:",
        ),
        19,
        "CEL rule does not compile",
    ),
    "a CEL function no Kubernetes has": (
        CRD.format(properties="              size: {type: string}").replace(
            "            type: object\n            properties:",
            "            type: object\n            x-kubernetes-validations:\n"
            "            - rule: sizeOf(self.size) > 1\n            properties:",
        ),
        19,
        "undeclared reference to 'sizeOf'",
    ),
    "a CEL rule reading a variable that is not declared": (
        CRD.format(properties="              size: {type: string}").replace(
            "            type: object\n            properties:",
            "            type: object\n            x-kubernetes-validations:\n"
            "            - rule: self.size == size\n            properties:",
        ),
        19,
        "undeclared reference to 'size'",
    ),
    "a CEL rule nested deeper than the parser allows (hostile input)": (
        CRD.format(properties="              size: {type: string}").replace(
            "            type: object\n            properties:",
            "            type: object\n            x-kubernetes-validations:\n"
            f"            - rule: {'(' * 100}true{')' * 100}\n            properties:",
        ),
        19,
        "Recursion limit of 96 exceeded",
    ),
    "a group that is not a domain (a built-in group: apps)": (
        GOOD.replace("group: example.com", "group: apps"),
        5,
        "spec.group: 'apps' should be a domain with at least one dot",
    ),
    "a version without a schema": (
        GOOD.split("    schema:")[0],
        9,
        "schema.openAPIV3Schema is required",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_crd_is_one_input_error_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, line, message = BROKEN[case]
    (tmp_path / "crd.yaml").write_text(text)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    # (the CRD object itself is also judged, like any checked object: findings, not errors)
    errors = [e for e in done.stdout.splitlines() if "crd.yaml" in e and " schema " not in e]
    assert len(errors) == 1, done.stdout
    assert f"crd.yaml:{line}: CustomResourceDefinition widgets.example.com: " in errors[0]
    assert message in errors[0]
    assert "Traceback" not in done.stderr
    # its custom resources are reported as having no schema, not judged against half of it
    assert "info schema Widget/autobot-system/w: no schema" in done.stdout


def test_bad_yaml_in_a_crd_folder_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.yaml").write_text(
        GOOD.replace("  group: example.com", "  group: [example.com")
    )
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "crds"))
    assert done.returncode == 2
    assert f"{tmp_path}/crds/widgets.yaml:6: invalid YAML" in done.stdout


def test_a_crd_folder_holds_crds_only(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.yaml").write_text(GOOD + "---\n" + WIDGET)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "crds"))
    assert done.returncode == 2
    assert (
        "widgets.yaml:21: Widget w: a CRD folder holds only CustomResourceDefinitions"
        in done.stdout
    )


def test_a_missing_crd_folder_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET)
    done = cli(str(tmp_path / "widget.yaml"), "--crds", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert f"{tmp_path}/nowhere: no such file or directory" in done.stdout


def test_non_strict_mode_prunes_unknown_fields_of_custom_resources(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(GOOD)
    (tmp_path / "widget.yaml").write_text(
        WIDGET.replace("spec: {size: 3}", "spec: {size: s, colour: red}")
    )
    strict = of_rule(check_paths([tmp_path]), "schema")
    assert [(f.path_text, f.message) for f in strict] == [
        ("spec.colour", 'unknown field "spec.colour"')
    ]
    lenient = check_paths([tmp_path], pack_with(rules={"schema": {"strict": False}}))
    assert of_rule(lenient, "schema") == []


def test_a_crds_validator_is_compiled_once_per_schema_content() -> None:
    # Two builds of the same folder, and two CRDs with the same schema, share validators.
    crds, errors = crd_folders_resources([str(bundled_policies() / "crds")])
    assert errors == []
    first, _ = build_catalogue([crds], True, "1.35")
    again, _ = build_catalogue([crds], True, "1.35")
    for key, versions in first.kinds.items():
        for name, version in versions.items():
            assert again.kinds[key][name].compiled is version.compiled
    issuer = first.kinds[("cert-manager.io", "Issuer")]["v1"].compiled
    cluster_issuer = first.kinds[("cert-manager.io", "ClusterIssuer")]["v1"].compiled
    assert issuer is cluster_issuer  # the same openAPIV3Schema: one validator


def test_the_bundled_crds_say_where_they_come_from() -> None:
    for path in sorted((bundled_policies() / "crds").glob("*.yaml")):
        header = path.read_text().splitlines()[0]
        assert " from github.com/" in header and "@v" in header and ".yaml" in header, path


def test_the_bundled_pack_validates_every_custom_resource_of_the_reference_stack() -> None:
    report = check_paths([])  # the bundled manifests with the bundled pack
    schema = of_rule(report, "schema")
    # only the kustomization file is not validated: every Certificate, Issuer and
    # ExternalSecret has its CRD
    assert [(f.resource.kind, f.severity) for f in schema] == [("Kustomization", Severity.INFO)]
    kinds = {r.kind for _, r in report.checked}
    assert {"Certificate", "Issuer", "ExternalSecret"} <= kinds


CEL_CRD = CRD.format(properties="              code: {type: string}").replace(
    "            type: object\n            properties:",
    "            type: object\n            x-kubernetes-validations:\n"
    "            - rule: self.code.substring(0, 4) == 'AB-1'\n"
    "            - rule: self.owner == 'ops'\n"
    "            properties:",
)


def test_cel_rules_that_fail_to_evaluate_are_findings_with_nothing_on_stderr(
    tmp_path: Path,
) -> None:
    # The engine prints the exceptions of the functions it calls back: ours never raise
    # into it, so an out-of-range substring() is a finding, not stderr noise.
    (tmp_path / "crd.yaml").write_text(CEL_CRD)
    (tmp_path / "widget.yaml").write_text(WIDGET.replace("spec: {size: 3}", "spec: {code: AB}"))
    done = cli(str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    assert (
        "error schema Widget/autobot-system/w: index out of range: 0..4 of a string of 2 "
        "evaluating rule: self.code.substring(0, 4) == 'AB-1'" in done.stdout
    )
    assert (
        "error schema Widget/autobot-system/w: no such key: owner evaluating rule: "
        "self.owner == 'ops'" in done.stdout
    )


def test_evaluating_cel_rules_does_not_import_the_engines_interactive_shell(
    tmp_path: Path,
) -> None:
    # `import cel` also imports its REPL (typer, rich, prompt_toolkit): a start-up cost
    # that check does not pay.
    (tmp_path / "crd.yaml").write_text(CEL_CRD)
    (tmp_path / "widget.yaml").write_text(WIDGET.replace("spec: {size: 3}", "spec: {code: AB-1}"))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.util import check_paths, of_rule\n"
        f"report = check_paths([Path({str(tmp_path)!r})])\n"
        "print([f.message for f in of_rule(report, 'schema')])\n"
        "print(sorted(m for m in ('cel', 'cel.cel', 'typer', 'rich', 'prompt_toolkit')"
        " if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=False
    )
    assert done.returncode == 0, done.stderr
    findings, modules = done.stdout.splitlines()
    assert "no such key: owner evaluating rule: self.owner == 'ops'" in findings
    assert modules == "['cel.cel']"


NESTED_CEL = CRD.format(
    properties="              items: {type: array, items: {type: integer}}"
).replace(
    "            type: object\n            properties:",
    "            type: object\n            x-kubernetes-validations:\n"
    "            - rule: self.items.all(a, self.items.all(b, self.items.all(c, a + b + c > 0)))\n"
    "            properties:",
)


def test_a_cel_rule_too_costly_for_its_value_is_a_note_not_a_hang(tmp_path: Path) -> None:
    """Hostile input: a nested comprehension over a big list would run for minutes
    (1,000 items: 10^9 steps). As the API server bounds a rule's cost per call, a rule
    whose steps could exceed that bound is not evaluated, and says so; on a small value
    the same rule is evaluated."""
    (tmp_path / "crd.yaml").write_text(NESTED_CEL)
    small = WIDGET.replace("spec: {size: 3}", "spec: {items: [-5, 1, 2]}")
    big = WIDGET.replace("name: w,", "name: big,").replace(
        "spec: {size: 3}", "spec: {items: [" + ", ".join(["1"] * 1000) + "]}"
    )
    (tmp_path / "widgets.yaml").write_text(small + "---\n" + big)
    done = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", "--rego", "off", "-q", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "Widget/" in line]
    assert any("error schema Widget/autobot-system/w: failed rule" in line for line in lines)
    (note,) = [line for line in lines if "Widget/autobot-system/big" in line]
    assert "info schema" in note and "not evaluated" in note, note
    assert "cost limit" in note and "maxItems" in note, note
