"""`autobot-guard baseline` and `check --baseline` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autobot_guard.findings import Report
from autobot_guard.gate.baseline import Entry, apply
from tests.gate_util import LEGACY_WORKER, cli
from tests.test_reporters import manual_finding

BASELINE = "baseline.json"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "worker.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    return tmp_path


def write_baseline(work: Path, *paths: str) -> dict[str, object]:
    result = cli("baseline", *(paths or ("deploy",)), "--output", BASELINE, cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote ") and BASELINE in result.stdout
    return dict(json.loads((work / BASELINE).read_text(encoding="utf-8")))


def test_baseline_file_is_versioned_with_fingerprints_and_human_fields(work: Path) -> None:
    document = write_baseline(work)
    assert document["version"] == 1
    entries = document["findings"]
    assert isinstance(entries, list) and entries
    liveness = next(e for e in entries if e["rule"] == "liveness-probe")
    assert liveness == {
        "fingerprint": "liveness-probe|Deployment/autobot-system/legacy-worker|"
        "spec.template.spec.containers[0]",
        "rule": "liveness-probe",
        "resource": "Deployment/autobot-system/legacy-worker",
        "file": "deploy/worker.yaml",
        "path": "spec.template.spec.containers[0]",
        "message": "container 'worker' has no livenessProbe",
    }
    assert (
        f"wrote {len(entries)} findings"
        in cli("baseline", "deploy", "-o", BASELINE, cwd=work).stdout
    )


def test_check_with_baseline_reports_only_new_findings(work: Path) -> None:
    write_baseline(work)
    clean = cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work)
    assert clean.returncode == 0, clean.stdout  # the old errors no longer fail
    document = json.loads(clean.stdout)
    assert document["findings"] == []
    assert document["baseline"]["file"] == BASELINE
    assert document["baseline"]["suppressed"] > 0 and document["baseline"]["fixed"] == []
    # A new object with the same problems is new: its resource differs.
    (work / "deploy" / "other.yaml").write_text(
        LEGACY_WORKER.replace("legacy-worker", "other"), encoding="utf-8"
    )
    new = cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work)
    assert new.returncode == 1
    assert {f["resource"]["name"] for f in json.loads(new.stdout)["findings"]} == {"other"}


def test_line_shifts_keep_findings_known_and_fixed_ones_are_listed(work: Path) -> None:
    write_baseline(work)
    worker = work / "deploy" / "worker.yaml"
    fixed = LEGACY_WORKER.replace(
        "        image: ghcr.io/mrveiss/legacy-worker:0.9.1\n",
        "        image: ghcr.io/mrveiss/legacy-worker:0.9.1\n"
        "        livenessProbe: {exec: {command: [/bin/true]}}\n",
    )
    worker.write_text("# a\n# b\n# c\n" + fixed, encoding="utf-8")
    result = cli("check", "deploy", "--baseline", BASELINE, cwd=work)
    assert result.returncode == 0, result.stdout
    assert "fixed since baseline (1):" in result.stdout
    assert (
        "  liveness-probe Deployment/autobot-system/legacy-worker "
        "spec.template.spec.containers[0] (deploy/worker.yaml)" in result.stdout
    )
    document = json.loads(
        cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work).stdout
    )
    (gone,) = document["baseline"]["fixed"]
    assert gone["rule"] == "liveness-probe" and gone["fingerprint"].startswith("liveness-probe|")


def test_identical_fingerprints_need_one_entry_each(work: Path) -> None:
    """The same object in two files: two findings with one fingerprint, one entry known."""
    write_baseline(work)
    (work / "deploy" / "copy.yaml").write_text(LEGACY_WORKER, encoding="utf-8")
    result = cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work)
    document = json.loads(result.stdout)
    new = [f for f in document["findings"] if f["rule"] == "liveness-probe"]
    assert len(new) == 1, document["findings"]


def test_apply_counts_duplicates_and_lists_the_unmatched() -> None:
    one, two = manual_finding(), manual_finding(line=40)
    other = manual_finding(rule="readiness-probe")
    entries = [Entry.of(one), Entry.of(other), Entry.of(other)]
    report = Report(findings=[one, two, other])
    outcome = apply(report, entries, "b.json")
    assert report.findings == [two]
    assert outcome.suppressed == 2
    assert [e.rule for e in outcome.fixed] == ["readiness-probe"]


def test_exit_status_still_follows_fail_on(work: Path) -> None:
    write_baseline(work)
    (work / "deploy" / "other.yaml").write_text(
        LEGACY_WORKER.replace("legacy-worker", "other"), encoding="utf-8"
    )
    result = cli("check", "deploy", "--baseline", BASELINE, "--fail-on", "never", cwd=work)
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ("[]", "not an autobot-guard baseline"),
        ('{"version": 7, "findings": []}', "unsupported version 7"),
        ('{"version": 1, "findings": {}}', "'findings' must be a list"),
        ('{"version": 1, "findings": [{"rule": "x"}]}', "findings[0] has no fingerprint"),
    ],
)
def test_missing_or_malformed_baseline_is_a_one_line_error(
    work: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (work / BASELINE).write_text(content, encoding="utf-8")
    result = cli("check", "deploy", "--baseline", BASELINE, cwd=work)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and BASELINE in result.stderr


def test_baseline_is_not_written_over_input_errors(work: Path) -> None:
    (work / "deploy" / "broken.yaml").write_text("kind: [\n", encoding="utf-8")
    result = cli("baseline", "deploy", "-o", BASELINE, cwd=work)
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr and "not written" in result.stderr
    assert not (work / BASELINE).exists()


# --- findings on one field are told apart by their message --------------------------------

REQUESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: r, namespace: autobot-system}
spec:
  replicas: 2
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r, component: worker, logging: centralized}}
    spec:
      containers:
      - name: r
        image: ghcr.io/mrveiss/r:1.0.0
        resources:
          requests: {memory: 1Gi}
"""


def test_a_new_finding_on_a_baselined_field_is_reported(tmp_path: Path) -> None:
    """cpu and memory requests are reported on one path: fixing one, breaking the other."""
    manifest = tmp_path / "r.yaml"
    manifest.write_text(REQUESTS, encoding="utf-8")
    write_baseline(tmp_path, "r.yaml")
    manifest.write_text(REQUESTS.replace("{memory: 1Gi}", "{cpu: 100m}"), encoding="utf-8")
    result = cli(
        "check", "r.yaml", "--baseline", BASELINE, "--rego", "off", "-f", "json", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout
    document = json.loads(result.stdout)
    assert [(f["rule"], f["message"]) for f in document["findings"]] == [
        ("resource-requests", "container 'r' has no memory request")
    ]
    fixed = [e for e in document["baseline"]["fixed"] if e["rule"] == "resource-requests"]
    assert [e["message"] for e in fixed] == ["container 'r' has no cpu request"]


@pytest.mark.parametrize(
    ("rule", "path", "baselined", "found"),
    [
        (
            "security-context",
            ("spec", "template", "spec", "containers", 0),
            "container 'web' does not set runAsNonRoot: true (container or pod securityContext)",
            "container 'web' runs privileged (securityContext.privileged)",
        ),
        (
            "logging-labels",
            ("spec", "template", "metadata", "labels"),
            "pod template has no label 'component'",
            "pod template has no label 'logging' (required: 'centralized')",
        ),
    ],
)
def test_apply_tells_apart_findings_on_one_field(
    rule: str, path: tuple[str | int, ...], baselined: str, found: str
) -> None:
    old = manual_finding(rule=rule, path=path, message=baselined)
    new = manual_finding(rule=rule, path=path, message=found)
    assert old.fingerprint() == new.fingerprint()
    report = Report(findings=[new])
    outcome = apply(report, [Entry.of(old)], "b.json")
    assert report.findings == [new] and outcome.suppressed == 0
    assert [e.message for e in outcome.fixed] == [baselined]


@pytest.mark.parametrize(
    ("baselined", "found"),
    [
        # A number or quantity in the message changed, not the problem.
        (
            "PersistentVolumeClaim 'data' requests 1Gi of storage, below the minimum 5Gi (storage.min)",
            "PersistentVolumeClaim 'data' requests 2Gi of storage, below the minimum 10Gi (overrides[0])",
        ),
        (
            "no schema for cert-manager.io/v1 Certificate in Kubernetes 1.31 (a custom resource?): not validated",
            "no schema for cert-manager.io/v1 Certificate in Kubernetes 1.35 (a custom resource?): not validated",
        ),
        # A parenthesised detail changed: the labels shown, the replica count.
        (
            "no PodDisruptionBudget selects the pods of Deployment ns/web (2 replicas; labels app=web)",
            "no PodDisruptionBudget selects the pods of Deployment ns/web (3 replicas; labels app=web, tier=x)",
        ),
    ],
)
def test_volatile_details_of_a_message_keep_it_known(baselined: str, found: str) -> None:
    old, new = manual_finding(message=baselined, line=3), manual_finding(message=found, line=9)
    report = Report(findings=[new])
    outcome = apply(report, [Entry.of(old)], "b.json")
    assert report.findings == [] and outcome.suppressed == 1 and outcome.fixed == []


def test_exact_messages_are_paired_before_similar_ones() -> None:
    """Two findings alike but for a number: the one the baseline names is the known one."""
    known = manual_finding(message="container 'web' exposes port 80")
    other = manual_finding(message="container 'web' exposes port 8080")
    report = Report(findings=[other, known])
    outcome = apply(report, [Entry.of(known)], "b.json")
    assert report.findings == [other] and outcome.suppressed == 1


def test_adding_a_label_or_moving_lines_keeps_findings_known(work: Path) -> None:
    """Messages listing the pod labels (network-policy, pdb) still match their entry."""
    write_baseline(work)
    worker = work / "deploy" / "worker.yaml"
    text = LEGACY_WORKER.replace("logging: centralized}", "logging: centralized, tier: batch}")
    worker.write_text("# moved\n# down\n" + text, encoding="utf-8")
    result = cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work)
    document = json.loads(result.stdout)
    assert result.returncode == 0, document["findings"]
    assert document["findings"] == [] and document["baseline"]["fixed"] == []


def test_entries_without_a_message_match_on_the_fingerprint_alone(work: Path) -> None:
    """A hand-written or trimmed baseline: fingerprints only, as before messages counted."""
    document = write_baseline(work)
    findings = document["findings"]
    assert isinstance(findings, list)
    for entry in findings:
        del entry["message"]
    (work / BASELINE).write_text(json.dumps(document), encoding="utf-8")
    result = cli("check", "deploy", "--baseline", BASELINE, "-f", "json", cwd=work)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["baseline"]["suppressed"] == len(findings)
    # An entry with a message is preferred; the message-less one covers what is left.
    finding = manual_finding()
    other = manual_finding(message="container 'web' has no startupProbe")
    bare = Entry(finding.fingerprint(), rule=finding.rule)
    report = Report(findings=[other, finding])
    outcome = apply(report, [bare, Entry.of(finding)], "b.json")
    assert report.findings == [] and outcome.suppressed == 2 and outcome.fixed == []
