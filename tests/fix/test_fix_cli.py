"""`autobot-guard fix` as a user runs it: exit codes, what it prints, and bad input left
byte-identical (unparsable, read-only, changed while fixing), written safely otherwise."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from autobot_guard.cli import main
from autobot_guard.fix import command

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "manifests" / "app" / "frontend.yaml"
NEIGHBOURS = [
    ROOT / "manifests" / "namespaces.yaml",
    ROOT / "manifests" / "network-policies-default.yaml",
]
LABEL = '        logging: "centralized"\n'
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: autobot-worker, namespace: autobot-system}
spec:
  replicas: 2
  selector: {matchLabels: {app: autobot-worker}}
  template:
    metadata:
      labels: {app: autobot-worker, component: worker}
    spec:
      containers:
      - {name: worker, image: "ghcr.io/mrveiss/autobot-worker:1.4.0"}
"""


def fix(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["fix", *args, "--rego", "off"])
    return result.exit_code, result.stdout, result.stderr


def frontend_without_label(tmp: Path) -> Path:
    text = FRONTEND.read_text(encoding="utf-8")
    assert text.count(LABEL) == 1
    path = tmp / "frontend.yaml"
    path.write_text(text.replace(LABEL, ""), encoding="utf-8")
    return path


def test_exit_0_when_nothing_is_left_and_only_the_label_line_is_new(tmp_path: Path) -> None:
    path = frontend_without_label(tmp_path)
    code, out, err = fix(str(path), *map(str, NEIGHBOURS))
    assert (code, err) == (0, ""), out
    assert "fixed 1 finding in 1 file; 0 findings remain" in out
    # The reference manifest again, but for the quotes the fix does not know were wanted.
    expected = FRONTEND.read_text(encoding="utf-8").replace(LABEL, "        logging: centralized\n")
    assert path.read_text(encoding="utf-8") == expected


def test_exit_1_when_findings_need_a_human(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    code, out, _ = fix(str(path))
    assert code == 1
    assert "logging-labels Deployment/autobot-system/autobot-worker: set " in out
    assert "remain" in out
    code, _, _ = fix(str(path), "--fail-on", "never")
    assert code == 0


def test_unparsable_file_is_one_error_line_and_untouched(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(DEPLOYMENT, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEPLOYMENT + "---\nkind: [unclosed\n", encoding="utf-8")
    before = bad.read_bytes()
    code, out, err = fix(str(tmp_path))
    assert code == 2
    errors = [line for line in err.splitlines() if str(bad) in line]
    assert len(errors) == 1 and errors[0].startswith(f"autobot-guard: input error: {bad}:14:")
    assert str(bad) not in out  # nothing else said about it
    assert bad.read_bytes() == before
    assert "logging: centralized" in good.read_text(encoding="utf-8")  # the others are fixed


def test_read_only_file_is_one_error_line_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    path.chmod(0o444)
    code, _, err = fix(str(path))
    assert code == 2
    assert err.strip() == f"autobot-guard: input error: {path}: read-only file: not fixed"
    assert path.read_text(encoding="utf-8") == DEPLOYMENT
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_file_changed_while_fixing_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer between the read and the write: a fault injected after planning."""
    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    theirs = DEPLOYMENT.replace("replicas: 2", "replicas: 3")
    real_plan = command.plan

    def plan_then_someone_writes(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_plan(*args, **kwargs)
        path.write_text(theirs, encoding="utf-8")
        return result

    monkeypatch.setattr(command, "plan", plan_then_someone_writes)
    code, _, err = fix(str(path))
    assert code == 2
    assert err.strip() == (
        f"autobot-guard: input error: {path}: the file changed while fixing: not written"
    )
    assert path.read_text(encoding="utf-8") == theirs


def test_same_size_same_content_rewrite_is_caught_by_mtime(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    (source,), _ = command.read_sources([(str(path), False)])
    os.utime(path, ns=(source.mtime_ns + 10**9, source.mtime_ns + 10**9))
    assert command.write_if_unchanged(source, b"x") == "the file changed while fixing: not written"
    assert path.read_text(encoding="utf-8") == DEPLOYMENT


def test_written_through_a_temporary_file_keeping_mode_and_links(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text(DEPLOYMENT, encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(target.name)
    inode = target.stat().st_ino
    fix(str(link))
    assert link.is_symlink()
    assert "logging: centralized" in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # a new file renamed over the old: never half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "real.yaml"]


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_bytes(DEPLOYMENT.replace("\n", "\r\n").encode())
    fix(str(path))
    raw = path.read_bytes()
    assert b"logging: centralized" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")


def test_json_is_reported_not_edited(tmp_path: Path) -> None:
    import json

    import yaml

    path = tmp_path / "worker.json"
    path.write_text(json.dumps(yaml.safe_load(DEPLOYMENT)), encoding="utf-8")
    before = path.read_bytes()
    code, out, _ = fix(str(path))
    assert code == 1
    assert "not fixed: logging-labels" in out and "JSON files are not edited" in out
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the files or directories to fix"),
        (("-",), "it cannot fix standard input"),
        (("x.yaml", "--rule", "nope"), "--rule nope: no such rule"),
        (("x.yaml", "--rule", "image-tag"), "--rule image-tag: this rule has no automatic fix"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    code, _, err = fix(*args)
    assert code == 2
    assert message in err


def test_rule_option_limits_the_fixes(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    code, out, _ = fix(str(path), "--rule", "security-context")
    assert code == 1
    assert "logging-labels" not in out.split("remain")[0]
    assert "allowPrivilegeEscalation: false" in path.read_text(encoding="utf-8")
    assert "logging" not in path.read_text(encoding="utf-8")


def test_explain_says_what_fix_does_or_why_not() -> None:
    out = CliRunner().invoke(main, ["explain", "pdb"]).output
    assert "autobot-guard fix:\n  Writes a policy/v1 PodDisruptionBudget" in out
    out = CliRunner().invoke(main, ["explain", "liveness-probe"]).output
    assert "autobot-guard fix:\n  Changes nothing: the remedy needs a human." in out


def test_the_installed_command(tmp_path: Path) -> None:
    """Through the real entry point (its own exit path), not the test runner."""
    path = frontend_without_label(tmp_path)
    for neighbour in NEIGHBOURS:
        shutil.copy(neighbour, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "fix", str(tmp_path), "--rego", "off", "--diff"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"--- a{path}\n+++ b{path}\n@@ ")
    assert [line for line in result.stdout.splitlines() if line.startswith(("+ ", "- "))] == [
        "+        logging: centralized"
    ]
    assert "would fix 1 finding" in result.stderr


def test_a_file_it_could_not_read_is_not_counted_as_clean(tmp_path: Path) -> None:
    """No "0 findings remain" about a file that was never checked (missing, too large)."""
    good = tmp_path / "worker.yaml"
    good.write_text(DEPLOYMENT, encoding="utf-8")
    missing = tmp_path / "gone.yaml"
    code, out, err = fix(str(missing))
    assert code == 2
    assert err.strip() == f"autobot-guard: input error: {missing}: no such file or directory"
    assert out.strip() == "autobot-guard fix: nothing to fix"
    code, out, err = fix(str(good), str(missing))
    assert code == 2
    assert "remain" not in out
    assert "logging: centralized" in good.read_text(encoding="utf-8")  # the others are fixed


def test_a_pipe_or_device_is_an_input_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    good = tmp_path / "worker.yaml"
    good.write_text(DEPLOYMENT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "fix", str(tmp_path), "--rego", "off"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = sorted(line for line in result.stderr.splitlines() if "input error" in line)
    assert errors == [
        f"autobot-guard: input error: {tmp_path / 'pipe.yaml'}: "
        "not a regular file (a named pipe): not read",
        f"autobot-guard: input error: {tmp_path / 'zero.yaml'}: "
        "not a regular file (a device): not read",
    ]
    assert "logging: centralized" in good.read_text(encoding="utf-8")  # the others are fixed


def test_a_file_replaced_by_a_pipe_while_fixing_is_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    path = tmp_path / "worker.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    real_plan = command.plan

    def plan_then_a_pipe_takes_its_place(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_plan(*args, **kwargs)
        path.unlink()
        os.mkfifo(path)
        return result

    def hung(*_: object) -> None:
        raise AssertionError("fix waited for a writer of the pipe")

    monkeypatch.setattr(command, "plan", plan_then_a_pipe_takes_its_place)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        code, _, err = fix(str(path))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 2
    assert err.strip() == (
        f"autobot-guard: input error: {path}: cannot read it again before writing: "
        "not a regular file (a named pipe): not read; not written"
    )
    assert stat.S_ISFIFO(path.stat().st_mode)


def test_a_document_ruamel_cannot_read_is_one_line_per_finding_with_its_line(
    tmp_path: Path,
) -> None:
    """A tab before a comment is YAML that `check` reads and ruamel.yaml refuses: the
    reason is one line naming the file's line, not ruamel.yaml's five-line dump."""
    path = tmp_path / "worker.yaml"
    text = "# the worker\n---\n" + DEPLOYMENT.replace(
        "      - {name: worker,", "      # the only container\n      - {name: worker,"
    ).replace('1.4.0"}', '1.4.0"}\t# pinned')
    path.write_text(text, encoding="utf-8")
    code, out, _ = fix(str(path), "--rule", "logging-labels")
    assert code == 1
    assert path.read_text(encoding="utf-8") == text
    (line,) = [line for line in out.splitlines() if "not fixed" in line]
    assert line == (
        "  11: not fixed: logging-labels Deployment/autobot-system/autobot-worker: cannot edit "
        "this document: ruamel.yaml cannot read it: found character '\\t' that cannot start "
        "any token (line 15)"
    )


def test_control_characters_in_a_name_cannot_reach_the_terminal(tmp_path: Path) -> None:
    """A name with a newline could print a line of its own (`::error ...::` is a GitHub
    Actions command in a CI log); ESC sequences would drive the terminal. `fix` and `check`
    show them as escapes, one line per finding."""
    path = tmp_path / "worker.yaml"
    name = "autobot-worker\\n::error file=x,line=1::injected\\u001b]0;pwned\\u0007"
    path.write_text(
        DEPLOYMENT.replace("{name: autobot-worker,", f'{{name: "{name}",'), encoding="utf-8"
    )
    shown = "autobot-worker\\u000a::error file=x,line=1::injected\\u001b]0;pwned\\u0007"
    _, out, err = fix(str(path), "--dry-run")
    check = CliRunner().invoke(main, ["check", str(path), "--rego", "off"]).output
    quiet = CliRunner().invoke(main, ["check", str(path), "--rego", "off", "-q"]).output
    for text in (out + err, check, quiet):
        assert "\x1b" not in text and "\x07" not in text
        assert not [line for line in text.splitlines() if line.startswith("::")], text
        assert f"Deployment/autobot-system/{shown}" in text


def test_a_diff_of_a_file_named_with_a_newline_applies_to_that_file(tmp_path: Path) -> None:
    """`--diff | git apply`: a file name is quoted as git quotes it, so a newline in it
    cannot forge a `+++ b/other` header and send the change to another file."""
    name = "worker\n+++ b/other.yaml"  # other.yaml in a directory named "worker\n+++ b"
    (tmp_path / name).parent.mkdir()
    (tmp_path / name).write_text(DEPLOYMENT, encoding="utf-8")
    (tmp_path / "other.yaml").write_text(DEPLOYMENT, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = subprocess.run(
        [sys.executable, "-m", "autobot_guard", "fix", "--rego", "off", "--diff", name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith('--- "a/worker\\n+++ b/other.yaml"\n')
    subprocess.run(
        ["git", "apply", "-p1"], cwd=tmp_path, input=result.stdout, text=True, check=True
    )
    assert "logging: centralized" in (tmp_path / name).read_text(encoding="utf-8")
    assert (tmp_path / "other.yaml").read_text(encoding="utf-8") == DEPLOYMENT
