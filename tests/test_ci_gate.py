"""The CI gate as GitHub would run it: workflows, the composite action, the pre-commit hook.

GitHub Actions is not available here, so the workflow files are validated statically and
the action's own `run:` script is executed, unchanged, on fixture git repositories.

Workflow validation: the real actionlint (`scripts/install-tools` builds the pinned
version with Go), plus the JSON schemas of GitHub workflows and actions that
check-jsonschema vendors (SchemaStore's) and the structural checks below.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from autobot_guard.gate.baseline import DEFAULT_FILE
from tests.gate_util import (
    ROOT,
    break_backend_liveness_probe,
    cli,
    commit_all,
    git,
    make_repo,
)
from tests.tools import tool

WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
INSTALL_CONFTEST = ROOT / ".github" / "actions" / "install-conftest" / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
INPUTS = {
    "paths",
    "fail-on",
    "config",
    "sarif-file",
    "kubernetes-version",
    "changed-since",
    "baseline",
    "python-version",
}


def load_yaml(path: Path) -> Any:
    # BaseLoader: GitHub reads `on:` as a key, not YAML 1.1's boolean True.
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


# --- static validity ------------------------------------------------------------------


def test_workflows_pass_actionlint() -> None:
    binary = tool("actionlint")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [binary, "-no-color", *files], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "paths"),
    [
        ("vendor.github-workflows", ["ci.yml", "gate.yml", "rego.yml"]),
        ("vendor.github-actions", ["../../action.yml", "../actions/install-conftest/action.yml"]),
    ],
)
def test_workflows_and_action_match_the_github_schemas(schema: str, paths: list[str]) -> None:
    files = [str((WORKFLOWS / p).resolve()) for p in paths]
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_declares_its_inputs_and_sarif_output() -> None:
    action = load_yaml(ACTION)
    assert set(action["inputs"]) == INPUTS
    assert action["runs"]["using"] == "composite"
    assert "steps.check.outputs.sarif-file" in action["outputs"]["sarif-file"]["value"]
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = next(s for s in steps if s.get("id") == "install")
    assert '"$GITHUB_ACTION_PATH"' in install["run"]  # installs from the action's own checkout
    check = next(s for s in steps if s.get("id") == "check")
    for fmt in ("github", "markdown", "sarif"):
        assert f"--format {fmt}" in check["run"]
    assert "$GITHUB_STEP_SUMMARY" in check["run"]
    # Inputs reach the scripts as environment variables only (no script injection).
    for step in steps:
        assert "${{" not in step.get("run", "")


def test_ci_workflow_lints_and_tests_on_three_pythons() -> None:
    ci = load_yaml(WORKFLOWS / "ci.yml")
    runs = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
    assert "ruff check ." in runs and "ruff format --check ." in runs
    assert "mypy" in runs  # strict, as [tool.mypy] in pyproject.toml says
    assert any("pip install -e '.[test]'" in r for r in runs)
    # The README's test command: the pinned Go tools, then pytest (CI=true on GitHub).
    assert "scripts/test" in runs
    assert any(
        s.get("uses", "").startswith("actions/setup-go@") for s in ci["jobs"]["test"]["steps"]
    )
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]


def test_the_test_command_checks_types_before_the_tests() -> None:
    lines = (ROOT / "scripts" / "test").read_text(encoding="utf-8").splitlines()
    commands = [line.split()[0] for line in lines if line.startswith(".venv/bin/")]
    assert commands[-2:] == [".venv/bin/mypy", ".venv/bin/pytest"]
    assert "set -euo pipefail" in lines  # so a type error ends the run, failed


def test_gate_workflow() -> None:
    gate = load_yaml(WORKFLOWS / "gate.yml")
    assert gate["on"]["pull_request"]["paths"] == ["manifests/**", "policies/**"]
    job = gate["jobs"]["gate"]
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    assert steps[0]["with"]["fetch-depth"] == "0"  # --changed-since needs the history
    install = next(s for s in steps if "conftest" in s.get("name", "").lower())
    assert install["uses"] == "./.github/actions/install-conftest"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "conftest verify --policy policies/rego/" in runs
    check = next(s for s in steps if s.get("id") == "gate")
    assert check["uses"] == "./"
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/"))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["if"].startswith("always()")
    assert upload["with"]["sarif_file"] == check["with"]["sarif-file"]


def test_third_party_actions_are_pinned_to_a_sha_or_a_major_tag_with_a_note() -> None:
    for path in [*WORKFLOWS.glob("*.yml"), ACTION, INSTALL_CONFTEST]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"uses:\s*([^\s#]+)", text):
            ref = match.group(1)
            if ref.startswith("./"):
                continue
            version = ref.partition("@")[2]
            assert re.fullmatch(r"[0-9a-f]{40}|v\d+", version), f"{path.name}: {ref}"
        if re.search(r"uses:\s*[^\s.][^\s]*@v\d+", text):
            assert "SHA" in text and ("not verified" in text or "could not be verified" in text)


def test_pre_commit_hook() -> None:
    (hook,) = load_yaml(HOOKS)
    assert hook["id"] == "autobot-guard"
    assert hook["language"] == "python"
    assert hook["entry"] == "autobot-guard check"
    assert hook["pass_filenames"] == "true"
    pattern = re.compile(hook["files"])
    for name in ("a.yaml", "dir/b.yml", "c.json"):
        assert pattern.search(name), name
    assert not pattern.search("README.md")


# --- the action's script, run as GitHub runs it ------------------------------------------


def gate_inputs(repo: Path, event: str = "pull_request") -> dict[str, str]:
    """The inputs gate.yml gives the action, its expressions evaluated for `event`."""
    steps = load_yaml(WORKFLOWS / "gate.yml")["jobs"]["gate"]["steps"]
    given = dict(next(s for s in steps if s.get("id") == "gate")["with"])
    assert given["changed-since"] == (
        "${{ github.event_name == 'pull_request' && format('origin/{0}', github.base_ref) || '' }}"
    )
    given["changed-since"] = "origin/main" if event == "pull_request" else ""
    baseline = DEFAULT_FILE  # gate.yml names the file `autobot-guard baseline` writes
    assert baseline in given["baseline"] and "hashFiles" in given["baseline"]
    given["baseline"] = baseline if (repo / baseline).exists() else ""
    return given


def run_action(repo: Path, inputs: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Run action.yml's check step, unchanged, with `inputs` (defaults as action.yml says)."""
    action = load_yaml(ACTION)
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update(inputs)
    wrapper = tmp / "bin" / "autobot-guard"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m autobot_guard "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ)
    for name, expression in step["env"].items():
        inner = re.fullmatch(r"\$\{\{\s*(\S+)\s*\}\}", expression)
        assert inner, expression
        key = inner.group(1)
        if key == "steps.install.outputs.command":
            env[name] = str(wrapper)
        else:
            assert key.startswith("inputs."), key
            env[name] = values[key.removeprefix("inputs.")]
    summary, output = tmp / "summary.md", tmp / "output.txt"
    summary.write_text("", encoding="utf-8")
    output.write_text("", encoding="utf-8")
    env.update(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output))
    script = tmp / "check-step.sh"
    script.write_text(step["run"], encoding="utf-8")
    result = subprocess.run(  # how GitHub runs `shell: bash`
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return {
        "status": result.returncode,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "summary": summary.read_text(encoding="utf-8"),
        "outputs": outputs,
    }


def annotations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::")]


def test_pull_request_that_breaks_a_probe_fails_with_an_annotation_on_that_line(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    line = break_backend_liveness_probe(repo)
    commit_all(repo, "point the probe at a port that does not exist")
    run = run_action(repo, gate_inputs(repo), tmp_path)
    assert run["status"] == 1, run["stderr"]
    errors = [a for a in annotations(run["stdout"]) if a.startswith("::error ")]
    assert any(
        error.startswith(
            f"::error file=manifests/app/backend.yaml,line={line},"
            "title=probe-port Deployment/autobot-system/autobot-backend::"
        )
        for error in errors
    ), run["stdout"]
    # Only the changed file is annotated: the legacy file's errors are not.
    assert all(a.startswith("::error file=manifests/app/backend.yaml,") for a in errors)
    assert "legacy" not in run["stdout"]
    assert "probe-port" in run["summary"] and "manifests/app/backend.yaml" in run["summary"]
    assert run["outputs"]["sarif-file"] == "autobot-guard.sarif"
    sarif = json.loads((repo / "autobot-guard.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(sarif)
    results = sarif["runs"][0]["results"]
    probe = next(r for r in results if r["ruleId"] == "probe-port")
    location = probe["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "manifests/app/backend.yaml"
    assert location["region"]["startLine"] == line
    assert all(r["partialFingerprints"]["autobotGuard/v2"] for r in results)
    # The SARIF covers the whole tree (code scanning compares it with the base branch).
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert "manifests/legacy/worker.yaml" in uris


def test_change_elsewhere_passes_with_changed_since(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "README.md").write_text("# fixture\n\nMore words.\n", encoding="utf-8")
    frontend = repo / "manifests" / "app" / "frontend.yaml"
    frontend.write_text("# reviewed\n" + frontend.read_text(encoding="utf-8"), encoding="utf-8")
    commit_all(repo, "docs and a clean manifest")
    run = run_action(repo, gate_inputs(repo), tmp_path)
    assert run["status"] == 0, run["stdout"] + run["stderr"]
    assert not [a for a in annotations(run["stdout"]) if a.startswith("::error")]
    assert "No findings." in run["summary"]
    # The same tree without --changed-since fails on the legacy file it did not touch.
    whole = run_action(repo, gate_inputs(repo, event="push"), tmp_path)
    assert whole["status"] == 1
    assert "manifests/legacy/worker.yaml" in whole["stdout"]


def test_baseline_hides_old_findings_not_new_ones_and_lists_fixed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "main")
    made = cli("baseline", "manifests/", "--output", ".autobot-guard-baseline.json", cwd=repo)
    assert made.returncode == 0, made.stderr
    commit_all(repo, "adopt autobot-guard with a baseline")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "-B", "feature")
    # Fix one old finding (and shift every line of the legacy file), break something new.
    legacy = repo / "manifests" / "legacy" / "worker.yaml"
    text = legacy.read_text(encoding="utf-8").replace(
        "        image: ghcr.io/mrveiss/legacy-worker:0.9.1\n",
        "        image: ghcr.io/mrveiss/legacy-worker:0.9.1\n"
        "        livenessProbe: {exec: {command: [/bin/true]}}\n",
    )
    legacy.write_text("# owned by the legacy team\n" + text, encoding="utf-8")
    line = break_backend_liveness_probe(repo)
    commit_all(repo, "one fix, one regression")
    inputs = gate_inputs(repo, event="push")  # the whole tree: only the baseline filters
    assert inputs["baseline"] == ".autobot-guard-baseline.json"
    run = run_action(repo, inputs, tmp_path)
    assert run["status"] == 1, run["stderr"]
    errors = [a for a in annotations(run["stdout"]) if a.startswith("::error ")]
    assert len(errors) == 1 and f"backend.yaml,line={line}," in errors[0], run["stdout"]
    assert "legacy" not in "\n".join(annotations(run["stdout"]))
    assert "fixed: liveness-probe Deployment/autobot-system/legacy-worker" in run["summary"]
    text_report = cli("check", "manifests/", "--baseline", ".autobot-guard-baseline.json", cwd=repo)
    assert "fixed since baseline (1):" in text_report.stdout
    assert "liveness-probe Deployment/autobot-system/legacy-worker" in text_report.stdout


def test_input_errors_fail_the_gate_with_exit_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "manifests" / "broken.yaml").write_text("kind: [\n", encoding="utf-8")
    commit_all(repo)
    run = run_action(repo, gate_inputs(repo), tmp_path)
    assert run["status"] == 2
    assert "::error file=manifests/broken.yaml" in run["stdout"]


def test_usage_error_fails_the_gate_without_a_sarif_output(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    inputs = gate_inputs(repo)
    inputs["kubernetes-version"] = "0.1"
    run = run_action(repo, inputs, tmp_path)
    assert run["status"] == 2
    assert "Kubernetes version '0.1' is not supported" in run["stderr"]
    assert run["stderr"].count("\n") == 1  # said once, by the gating run
    assert "sarif-file" not in run["outputs"]
    # A bad ref stops the gate; the SARIF report (whole tree) is still written.
    inputs = gate_inputs(repo)
    inputs["changed-since"] = "origin/no-such-branch"
    run = run_action(repo, inputs, tmp_path)
    assert run["status"] == 2
    assert "unknown git ref 'origin/no-such-branch'" in run["stderr"]
    assert run["outputs"]["sarif-file"] == "autobot-guard.sarif"


# --- conftest for the workflows: one pinned release, verified before use ------------------


def test_every_workflow_that_needs_conftest_installs_it_the_same_way() -> None:
    users = [
        path.name
        for path in WORKFLOWS.glob("*.yml")
        if "conftest" in path.read_text(encoding="utf-8")
        and any(
            step.get("uses") == "./.github/actions/install-conftest"
            for job in load_yaml(path)["jobs"].values()
            for step in job["steps"]
        )
    ]
    assert sorted(users) == ["gate.yml", "rego.yml"]
    for path in WORKFLOWS.glob("*.yml"):
        assert "releases/download" not in path.read_text(encoding="utf-8"), path.name


def _fake_release(tmp: Path, version: str, corrupt: bool = False) -> dict[str, str]:
    """A fake `curl` serving a conftest release from `tmp`, and the step's environment."""
    import hashlib
    import tarfile

    release = tmp / "release"
    release.mkdir()
    binary = tmp / "conftest"
    binary.write_text(f'#!/bin/sh\necho "Conftest: {version}"\n')
    binary.chmod(0o755)
    asset = release / f"conftest_{version}_Linux_x86_64.tar.gz"
    with tarfile.open(asset, "w:gz") as tar:
        tar.add(binary, arcname="conftest")
    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    if corrupt:
        digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    (release / "checksums.txt").write_text(
        f"{'a' * 64}  conftest_{version}_Darwin_x86_64.tar.gz\n{digest}  {asset.name}\n"
    )
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "curl").write_text(  # curl -fsSL --retry 3 -o FILE URL: copy from the fake release
        f'#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\ncp "{release}/$(basename "$3")" "$2"\n'
    )
    (shim / "curl").chmod(0o755)
    home = tmp / "home"
    home.mkdir()
    github_path = tmp / "github_path"
    github_path.write_text("")
    return {
        **os.environ,
        "PATH": f"{shim}:{os.environ['PATH']}",
        "HOME": str(home),
        "GITHUB_PATH": str(github_path),
    }


def _run_install(tmp: Path, env: dict[str, str], version: str, sha256: str = "") -> Any:
    step = load_yaml(INSTALL_CONFTEST)["runs"]["steps"][0]
    assert step["env"] == {
        "CONFTEST_VERSION": "${{ inputs.version }}",
        "CONFTEST_SHA256": "${{ inputs.sha256 }}",
    }
    script = tmp / "install.sh"
    script.write_text(step["run"], encoding="utf-8")
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env={**env, "CONFTEST_VERSION": version, "CONFTEST_SHA256": sha256},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_install_conftest_puts_the_verified_release_on_path(tmp_path: Path) -> None:
    version = load_yaml(INSTALL_CONFTEST)["inputs"]["version"]["default"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    env = _fake_release(tmp_path, version)
    run = _run_install(tmp_path, env, version)
    assert run.returncode == 0, run.stderr
    assert f"Conftest: {version}" in run.stdout
    added = Path(env["GITHUB_PATH"]).read_text().strip()
    assert (Path(added) / "conftest").exists()


def test_install_conftest_refuses_a_tarball_that_does_not_match_the_release_checksums(
    tmp_path: Path,
) -> None:
    env = _fake_release(tmp_path, "0.71.1", corrupt=True)
    run = _run_install(tmp_path, env, "0.71.1")
    assert run.returncode != 0
    assert "FAILED" in run.stdout + run.stderr
    assert Path(env["GITHUB_PATH"]).read_text() == ""  # nothing unverified reaches PATH


def test_install_conftest_checks_an_own_pin_too(tmp_path: Path) -> None:
    env = _fake_release(tmp_path, "0.71.1")
    run = _run_install(tmp_path, env, "0.71.1", sha256="f" * 64)
    assert run.returncode != 0
    assert Path(env["GITHUB_PATH"]).read_text() == ""


def test_install_conftest_rejects_a_malformed_version(tmp_path: Path) -> None:
    env = _fake_release(tmp_path, "0.71.1")
    run = _run_install(tmp_path, env, "0.71.1; rm -rf /")
    assert run.returncode == 2
    assert "::error::conftest version must be X.Y.Z" in run.stdout


def test_one_conftest_version_for_the_tests_and_the_workflows() -> None:
    """scripts/install-tools (the tests) and the install-conftest action (the gate and
    Rego workflows) pin the same conftest release."""
    pinned = re.search(
        r"github\.com/open-policy-agent/conftest@v(\S+)\"",
        (ROOT / "scripts" / "install-tools").read_text(encoding="utf-8"),
    )
    action = load_yaml(ROOT / ".github" / "actions" / "install-conftest" / "action.yml")
    assert pinned is not None
    assert action["inputs"]["version"]["default"] == pinned.group(1)
