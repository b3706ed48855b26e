"""The console command as a user runs it: a real subprocess through the entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autobot_guard.rules import ALL_RULES

BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat-agent
  namespace: autobot-system
spec:
  selector:
    matchLabels: {app: autobot-chat-agent}
  template:
    metadata:
      labels: {app: autobot-chat-agent}
    spec:
      containers:
      - name: chat-agent
        image: ghcr.io/mrveiss/autobot-chat-agent:1.4.0
        readinessProbe:
          httpGet: {path: /health, port: 8000}
"""


def cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobot_guard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_rules_lists_every_rule_with_severity() -> None:
    result = cli("rules")
    assert result.returncode == 0
    lines = result.stdout.split("\n\nRego policies")[0].strip().splitlines()
    assert len(lines) == len(ALL_RULES)
    assert lines[0].split()[:2] == ["schema", "error"]
    assert any(line.split()[:2] == ["liveness-probe", "error"] for line in lines)


def test_explain_prints_documentation_fix_and_examples() -> None:
    result = cli("explain", "liveness-probe")
    assert result.returncode == 0
    for heading in ("Why:", "How to fix:", "Failing example:", "Passing example:"):
        assert heading in result.stdout


def test_explain_unknown_rule_suggests_the_closest() -> None:
    result = cli("explain", "liveness-prob")
    assert result.returncode == 2
    assert "did you mean 'liveness-probe'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_schema_is_json_schema_naming_every_rule() -> None:
    result = cli("config-schema")
    schema = json.loads(result.stdout)
    rules_ref = schema["properties"]["rules"]
    assert rules_ref  # a $ref or inline object
    text = result.stdout
    assert all(f'"{rule.id}"' in text for rule in ALL_RULES)


def test_stdin_is_checked_and_findings_give_exit_1(tmp_path: Path) -> None:
    result = cli("check", "-", "--format", "json", stdin=BAD_DEPLOYMENT)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    liveness = [f for f in report["findings"] if f["rule"] == "liveness-probe"]
    assert liveness[0]["file"] == "<stdin>"
    assert liveness[0]["line"] == 14


def test_fail_on_never_exits_zero_and_quiet_prints_one_line_per_finding(tmp_path: Path) -> None:
    manifest = tmp_path / "chat.yaml"
    manifest.write_text(BAD_DEPLOYMENT)
    result = cli("check", str(manifest), "--fail-on", "never", "--quiet")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"{manifest}:") for line in lines)
    assert any("liveness-probe Deployment/autobot-system/chat-agent" in line for line in lines)


def test_input_errors_exit_2_but_other_files_are_still_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: [\n")
    (tmp_path / "chat.yaml").write_text(BAD_DEPLOYMENT)
    result = cli("check", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path / 'broken.yaml'}:2: invalid YAML" in result.stdout
    assert "liveness-probe" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_or_device_among_the_manifests_is_an_input_error_not_a_hang(
    tmp_path: Path,
) -> None:
    """A committed symbolic link to /dev/zero (read forever) or a named pipe (no writer)
    must not hang the CI gate or fill its memory: one error line each, the rest checked."""
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "chat.yaml").write_text(BAD_DEPLOYMENT)
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "check", "--rego", "off", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    for name in ("pipe.yaml", "zero.yaml"):
        assert f"input error: {tmp_path / name}: not a regular file" in result.stdout, name
    assert "liveness-probe" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_link_loop_or_dangling_link_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    (tmp_path / "gone.yaml").symlink_to("nowhere.yaml")
    result = cli("check", "--rego", "off", str(tmp_path / "a.yaml"), str(tmp_path / "gone.yaml"))
    assert result.returncode == 2
    assert f"input error: {tmp_path / 'a.yaml'}: symbolic link loop" in result.stdout
    assert f"input error: {tmp_path / 'gone.yaml'}: symbolic link to a missing file" in (
        result.stdout
    )


def test_a_helm_template_is_an_input_error_on_the_line_of_the_braces(tmp_path: Path) -> None:
    # `{{ .Values.image }}` unquoted is a flow mapping used as a key: YAML refuses it, and
    # the user must be sent to that line (line 8), not to the top of the document.
    chart = tmp_path / "deployment.yaml"
    chart.write_text(BAD_DEPLOYMENT.replace("{app: autobot-chat-agent}", "{{ .Values.app }}", 1))
    result = cli("check", "--rego", "off", str(chart))
    assert result.returncode == 2
    assert f"input error: {chart}:8: invalid YAML: a mapping key must be a scalar" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kubernetes-version", "2.0"), "not supported"),
        (("--kubernetes-version", "1.10"), "not supported"),
        (("--format", "yaml"), "Invalid value for '-f' / '--format'"),
        (("--fail-on", "sometimes"), "Invalid value for '--fail-on'"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...], message: str) -> None:
    result = cli("check", "-", *args, stdin=BAD_DEPLOYMENT)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n  min-replica:\n    minReplicas: 3\n",
            ":4: rules.min-replica: unknown key (unknown rule; did you mean 'min-replicas'?)",
        ),
        (
            "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n  schema:\n    strict: maybe\n",
            ":5: rules.schema.strict: Input should be a valid boolean",
        ),
        (
            "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nkubernetesVersion: latest\n",
            ":3: kubernetesVersion: String should match pattern",
        ),
        ("apiVersion: autobot-guard.io/v1\nkind: [\n", ":2: invalid YAML"),
        ("- a list\n", ":1: policy pack must be a mapping"),
    ],
)
def test_broken_config_is_one_line_naming_file_line_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    config = tmp_path / "pack.yaml"
    config.write_text(content)
    result = cli("check", "-", "--config", str(config), stdin=BAD_DEPLOYMENT)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"autobot-guard: error: {config}{message}")


def test_missing_config_file(tmp_path: Path) -> None:
    result = cli("check", "-", "--config", str(tmp_path / "nope.yaml"), stdin=BAD_DEPLOYMENT)
    assert result.returncode == 2
    assert "policy pack not found" in result.stderr


def test_config_changes_severity_and_disables_rules(tmp_path: Path) -> None:
    config = tmp_path / "pack.yaml"
    config.write_text(
        "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n"
        "  liveness-probe: {severity: warning}\n"
    )
    result = cli(
        "check",
        "-",
        "--config",
        str(config),
        "--format",
        "json",
        "--fail-on",
        "error",
        stdin=BAD_DEPLOYMENT,
    )
    findings = json.loads(result.stdout)["findings"]
    assert {f["severity"] for f in findings if f["rule"] == "liveness-probe"} == {"warning"}
    config.write_text(
        "apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nrules:\n  liveness-probe: {enabled: false}\n"
    )
    result = cli("check", "-", "--config", str(config), "--format", "json", stdin=BAD_DEPLOYMENT)
    assert not [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "liveness-probe"]


def test_version_flag() -> None:
    result = cli("--version")
    assert result.returncode == 0 and "autobot-guard" in result.stdout


def _unread_bytes(pipe: int) -> int:
    """Bytes written to a pipe that its reader has not read yet (FIONREAD, either end)."""
    import array
    import fcntl
    import termios

    count = array.array("i", [0])
    fcntl.ioctl(pipe, termios.FIONREAD, count)
    return count[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIONREAD on a pipe's write end")
def test_interrupt_exits_130_not_1() -> None:
    # Reading a stdin that never ends, the command is interrupted as Ctrl-C does it. It is
    # interrupted once it has read what it was sent: stdin is read inside the command, so
    # from then on it is past start-up (a signal there is Python's, not ours to handle).
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "autobot_guard", "check", "-", "--rego", "off"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("# more to come\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while _unread_bytes(proc.stdin.fileno()):
            assert proc.poll() is None, "the command ended before reading its input"
            assert time.monotonic() < deadline, "the command never read its input"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "autobot-guard: interrupted"
    assert "Traceback" not in stderr and stdout == ""


def test_a_report_that_cannot_be_written_to_stdout_is_a_one_line_error() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "autobot_guard", "check", "-", "--rego", "off"],
            input=BAD_DEPLOYMENT,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "autobot-guard: error: cannot write the report to standard output: No space left on device"
    )


def test_checking_nothing_says_so() -> None:
    done = cli("check", "-", "--rego", "off", stdin="# no objects\n")
    assert done.returncode == 0  # an empty input is not an error...
    assert done.stdout.splitlines()[-1].startswith("checked 0 resources in 1 file ")
    # ...but a pipeline whose producer failed should not pass unnoticed
    assert done.stderr.strip() == (
        "autobot-guard: note: nothing to check: no Kubernetes objects in the input"
    )


def test_an_unquoted_kubernetes_version_says_to_quote_it(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("apiVersion: autobot-guard.io/v1\nkind: PolicyPack\nkubernetesVersion: 1.30\n")
    done = cli("check", "-", "--config", str(pack), stdin=BAD_DEPLOYMENT)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"autobot-guard: error: {pack}:3: kubernetesVersion: a number (1.3): quote it, "
        'e.g. kubernetesVersion: "1.35"'
    )


def test_baseline_takes_the_same_rego_options_as_check(tmp_path: Path) -> None:
    manifest = tmp_path / "chat.yaml"
    manifest.write_text(BAD_DEPLOYMENT)
    baseline = tmp_path / "baseline.json"
    done = cli("baseline", str(manifest), "-o", str(baseline), "--rego", "off")
    assert done.returncode == 0, done.stderr
    rules = {entry["rule"] for entry in json.loads(baseline.read_text())["findings"]}
    assert "ownership-labels" not in rules  # a Rego policy: off means off
    check = cli("check", str(manifest), "--baseline", str(baseline), "--rego", "off",
                "--format", "json")  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["baseline"]["fixed"] == []


def test_rules_and_explain_know_the_rego_policies() -> None:
    listed = cli("rules")
    assert listed.returncode == 0
    rego = listed.stdout.split("Rego policies (bundled policies/rego):\n")[1].splitlines()
    ids = {line.split()[0]: line.split()[1] for line in rego}
    assert ids == {
        "no-hostpath": "error",
        "approved-registry": "error",
        "ingress-tls": "error",
        "ownership-labels": "error",
        "internal-load-balancer": "error",
    }
    explained = cli("explain", "no-hostpath")
    assert explained.returncode == 0
    assert explained.stdout.startswith(
        "no-hostpath (Rego policy, default severity: error)\n\nNo hostPath"
    )
    assert "  rules:\n    no-hostpath:\n      enabled: true\n" in explained.stdout
    assert "Policy: hostpath.rego (package main.hostpath)" in explained.stdout
    typo = cli("explain", "ownership-label")
    assert typo.returncode == 2
    assert "did you mean 'ownership-labels'?" in typo.stderr


def test_rules_lists_the_rego_policies_of_a_given_directory(tmp_path: Path) -> None:
    (tmp_path / "team.rego").write_text(
        "# Services carry a team label.\npackage main.team\n\nimport rego.v1\n\n"
        'warn contains {"msg": "no team", "rule": "service-team"} if input.kind == "Service"\n'
    )
    listed = cli("rules", "--rego-policies", str(tmp_path))
    assert listed.stdout.splitlines()[-1].split() == [
        "service-team", "warning", "Services", "carry", "a", "team", "label"
    ]  # fmt: skip


def test_explain_suggests_the_rule_a_prefix_names() -> None:
    done = cli("explain", "pvc")
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "autobot-guard: error: unknown rule 'pvc'; did you mean 'pvc-size'?"
    )


def test_config_schema_says_which_draft_it_is() -> None:
    schema = json.loads(cli("config-schema").stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_missing_rego_policy_directory_is_an_error_even_with_rego_off() -> None:
    done = cli("check", "-", "--rego", "off", "--rego-policies", "/nonexistent/rego",
               stdin=BAD_DEPLOYMENT)  # fmt: skip
    assert done.returncode == 2
    assert "Rego policy directory /nonexistent/rego does not exist" in done.stderr
