"""`autobot-guard`: a thin command-line adapter around the engine.

Heavy modules (the engine, pydantic, YAML, schemas) are imported inside the commands
so that `--help` and `rules` start fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .audit import DEFAULT_REQUEST_TIMEOUT as AUDIT_REQUEST_TIMEOUT
from .findings import Severity
from .gate.baseline import DEFAULT_FILE as BASELINE_FILE
from .printable import visible
from .rego import ADMISSION_ENGINES, MODES, OPA_URL
from .rego import DEFAULT_TIMEOUT as REGO_TIMEOUT
from .reporters import FORMATS

if TYPE_CHECKING:
    from .findings import Report
    from .loader import LoadResult
    from .prefetch import Prefetch

FAIL_ON = (*(severity.value for severity in Severity), "never")


def _die(message: str) -> NoReturn:
    click.echo(f"autobot-guard: error: {message}", err=True)
    sys.exit(2)


_REGO_POLICIES = click.option(
    "--rego-policies",
    metavar="DIR",
    help="Directory of Rego policies (default: the bundled policies/rego).",
)


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    """--format, --output, --fail-on: for `check` and `audit` alike."""
    options = [
        click.option(
            "-f",
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="Output format.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, writable=True),
            help="Write the report to FILE instead of stdout.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(FAIL_ON),
            default="error",
            show_default=True,
            help="Exit 1 when a finding at or above this severity exists.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _rego_options(command: Callable[..., None]) -> Callable[..., None]:
    """--rego, --rego-policies, --rego-timeout: for `check` and `baseline` alike."""
    options = [
        click.option(
            "--rego",
            type=click.Choice(MODES),
            default="auto",
            show_default=True,
            help="Rego policies: conftest, embedded (in process), auto (conftest if on PATH) "
            "or off.",
        ),
        _REGO_POLICIES,
        click.option(
            "--rego-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=REGO_TIMEOUT,
            show_default=True,
            metavar="SECONDS",
            help="Time limit of the Rego step.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autobot-guard")
def main() -> None:
    """Policy-as-code compliance checker for the Kubernetes manifests of the AutoBot platform."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@_report_options
@click.option(
    "--kubernetes-version",
    metavar="X.Y",
    help="Validate against this Kubernetes version (default: the policy pack's).",
)
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False),
    help="Policy pack file (default: the bundled AutoBot policy pack).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Text format: only one line per finding, no summary."
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Check the whole tree, report only findings in files changed since git REF.",
)
@click.option(
    "--baseline",
    metavar="FILE",
    help="Report only findings not recorded in FILE (see `autobot-guard baseline`).",
)
@click.option(
    "--kustomize",
    metavar="DIR",
    help="Check what `kubectl kustomize DIR` renders, reported on the source files.",
)
@click.option(
    "--crds",
    "crds",
    multiple=True,
    metavar="DIR",
    help="Folder (or file) of CustomResourceDefinitions whose custom resources `schema` "
    "validates, besides those checked and the pack's `crds:` (repeatable).",
)
@click.option(
    "--suggest-fixes",
    is_flag=True,
    help="Attach the verified fixes (`autobot-guard fix`) to SARIF results and the Markdown "
    "summary.",
)
@click.option(
    "--review-comments",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the suggested fixes as pull request review comments (JSON) to FILE; "
    "implies --suggest-fixes.",
)
@_rego_options
def check(**options: Any) -> None:
    """Check manifests: files, directories (recursive) or - for stdin.

    With no PATH, checks the bundled AutoBot reference manifests.
    Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.
    """
    try:
        _check(**options)
    except KeyboardInterrupt:  # anywhere, even while importing: 130, never 1 ("findings")
        _interrupted()


def _check(
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    fail_on: str,
    kubernetes_version: str | None,
    config: str | None,
    quiet: bool,
    changed_since: str | None,
    baseline: str | None,
    kustomize: str | None,
    crds: tuple[str, ...],
    suggest_fixes: bool,
    review_comments: str | None,
    rego: str,
    rego_policies: str | None,
    rego_timeout: float,
) -> None:
    """The `check` command, interrupted or not."""
    import gc

    # A run builds millions of small dicts and frees them all at exit: the collector's
    # generational passes over that heap cost more than parsing, and manifests make no
    # reference cycles worth collecting in a short-lived process.
    gc.disable()
    prefetch = None
    if not kustomize:  # parse on the second core while the engine is being imported
        from .paths import bundled_manifests
        from .prefetch import Prefetch

        prefetch = Prefetch.start(list(paths) or [str(bundled_manifests())])
    from .check import CheckOptions, run_check
    from .errors import UsageError

    try:
        options = CheckOptions(
            paths,
            config,
            kubernetes_version,
            changed_since=changed_since,
            baseline=baseline,
            kustomize=kustomize,
            rego=rego,
            rego_policies=rego_policies,
            rego_timeout=rego_timeout,
            load_input=functools.partial(_parsed_by, prefetch) if prefetch else None,
            crds=crds,
            suggest_fixes=suggest_fixes or review_comments is not None,
        )
        report = run_check(options)
    except UsageError as exc:
        if prefetch is not None:
            prefetch.cancel()
        _die(str(exc))
    if review_comments:
        from .fix.suggest import write_review_comments

        try:
            write_review_comments(report, review_comments)
        except OSError as exc:
            _die(f"cannot write {review_comments}: {exc.strerror or exc}")
    code = _deliver(report, fmt, output, fail_on, quiet)
    if report.resources == 0 and not report.errors:  # `helm template ... | check -` failed?
        click.echo(
            "autobot-guard: note: nothing to check: no Kubernetes objects in the input", err=True
        )
    _exit(code)


def _deliver(report: Report, fmt: str, output: str | None, fail_on: str, quiet: bool) -> int:
    """Render `report` in `fmt` to `output` (default stdout), input errors also to stderr
    when the report is not text on a terminal; the exit status `--fail-on` gives."""
    from .reporters import render

    color = (
        fmt == "text" and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    threshold = None if fail_on == "never" else Severity(fail_on)
    text = render(report, "quiet" if fmt == "text" and quiet else fmt, color=color)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            _die(f"cannot write {output}: {exc.strerror or exc}")
    else:
        _write_stdout(text)
    for error in report.errors:
        if fmt != "text" or output:
            click.echo(f"autobot-guard: input error: {visible(error.display())}", err=True)
    return report.exit_code(threshold)


def _parsed_by(worker: Prefetch) -> LoadResult:
    """The input as the start-up worker and this process parsed it, loaded."""
    from .loader import load_parsed, parse_sources

    return load_parsed(worker.listing, worker.collect(parse_sources))


def _write_stdout(text: str) -> None:
    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`| head`): nothing more to say to it
        _quiet_exit(2)
    except OSError as exc:  # a full disk, a closed descriptor
        _die(f"cannot write the report to standard output: {exc.strerror or exc}")


def _quiet_exit(code: int) -> NoReturn:
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)  # stdout is unusable: flushing it again at exit would fail again


def _interrupted() -> NoReturn:
    click.echo("autobot-guard: interrupted", err=True)
    _quiet_exit(130)  # 128 + SIGINT, as shells report it; never 1 ("findings")


def _exit(code: int) -> NoReturn:
    """Exit; as the `autobot-guard` program, skip the interpreter's teardown.

    Freeing every parsed document one by one at exit costs a tenth of a second on a
    large tree, and nothing is left to flush but stdout and stderr. Called as a library
    (click's test runner, an embedding program) it is a plain SystemExit.
    """
    if os.path.basename(sys.argv[0]) in ("autobot-guard", "__main__.py"):
        try:
            sys.stdout.flush()
        except OSError:
            _quiet_exit(2)
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


@main.command()
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (default: in-cluster credentials, else $KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", metavar="NAME", help="Kubeconfig context (default: the current one).")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Audit only the objects of NS (repeatable; default: every namespace and "
    "the cluster-scoped objects).",
)
@_report_options
@click.option("--kubernetes-version", metavar="X.Y", help="As for `check`.")
@click.option("-c", "--config", type=click.Path(dir_okay=False), help="As for `check`.")
@click.option("-q", "--quiet", is_flag=True, help="As for `check`.")
@click.option(
    "--policy-reports",
    is_flag=True,
    help="Also write the results as wgpolicyk8s.io/v1alpha2 PolicyReports (one per "
    "namespace) and a ClusterPolicyReport, replacing those it wrote before.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(0.1, 3600),
    default=AUDIT_REQUEST_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the API server to answer a request.",
)
@click.option("--page-size", type=click.IntRange(1, 10000), default=500, hidden=True)
@_rego_options
def audit(**options: Any) -> None:
    """Audit the live cluster: list every kind the policy pack judges and judge it as
    `check` judges files (the listed objects are the cross-resource rules' inventory).

    Left alone, as by the webhook: skipped namespaces, namespaces labelled
    autobot-guard.io/ignore=true, Pods/ReplicaSets/Jobs a controller created; exemptions
    apply. Exit status: 0 clean, 1 findings at or above --fail-on, 2 when the cluster
    cannot be reached or a resource could not be listed (the rest is still reported).
    """
    try:
        _audit(**options)
    except KeyboardInterrupt:
        _interrupted()


def _audit(
    kubeconfig: str | None,
    context: str | None,
    namespaces: tuple[str, ...],
    fmt: str,
    output: str | None,
    fail_on: str,
    kubernetes_version: str | None,
    config: str | None,
    quiet: bool,
    policy_reports: bool,
    request_timeout: float,
    page_size: int,
    rego: str,
    rego_policies: str | None,
    rego_timeout: float,
) -> None:
    import gc

    gc.disable()  # as for `check`: many small objects, no cycles worth collecting
    from .audit.run import AuditOptions, run_audit
    from .errors import UsageError

    options = AuditOptions(
        kubeconfig=kubeconfig,
        context=context,
        namespaces=namespaces,
        config=config,
        kubernetes_version=kubernetes_version,
        rego=rego,
        rego_policies=rego_policies,
        rego_timeout=rego_timeout,
        page_size=page_size,
        request_timeout=request_timeout,
        policy_reports=policy_reports,
    )
    try:
        audited = run_audit(options)
    except UsageError as exc:
        _die(str(exc))
    report = audited.report
    if policy_reports and report.audit is not None:
        from .audit.listing import configuration
        from .audit.policy_reports import write

        try:
            written, deleted, errors = write(
                audited, configuration(kubeconfig, context), namespaces, request_timeout
            )
        except UsageError as exc:
            _die(str(exc))
        report.audit.policy_reports, report.audit.policy_reports_deleted = written, deleted
        report.errors += errors
    _exit(_deliver(report, fmt, output, fail_on, quiet))


@main.command("baseline")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    default=BASELINE_FILE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the baseline.",
)
@click.option("--kubernetes-version", metavar="X.Y", help="As for `check`.")
@click.option("-c", "--config", type=click.Path(dir_okay=False), help="As for `check`.")
@click.option("--kustomize", metavar="DIR", help="As for `check`.")
@_rego_options
def baseline_command(
    paths: tuple[str, ...],
    output: str,
    kubernetes_version: str | None,
    config: str | None,
    kustomize: str | None,
    rego: str,
    rego_policies: str | None,
    rego_timeout: float,
) -> None:
    """Record today's findings so that `check --baseline FILE` reports only new ones."""
    from .check import CheckOptions, run_check
    from .errors import UsageError
    from .gate.baseline import BaselineError, write

    try:
        options = CheckOptions(
            paths,
            config,
            kubernetes_version,
            kustomize=kustomize,
            rego=rego,
            rego_policies=rego_policies,
            rego_timeout=rego_timeout,
        )
        report = run_check(options)
        if report.errors:
            for error in report.errors:
                click.echo(f"autobot-guard: input error: {visible(error.display())}", err=True)
            _die("baseline not written: fix the input errors first")
        count = write(report, output)
    except (UsageError, BaselineError) as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    click.echo(f"wrote {count} finding{'s' if count != 1 else ''} to {output}")


@main.command("fix")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--rule",
    "rule_ids",
    multiple=True,
    metavar="ID",
    help="Fix only this rule's findings (repeat).",
)
@click.option("--diff", is_flag=True, help="Print the changes as a unified diff; change nothing.")
@click.option("--dry-run", is_flag=True, help="Say what would be fixed; change nothing.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding at or above this severity remains after the fixes.",
)
@click.option("--kubernetes-version", metavar="X.Y", help="As for `check`.")
@click.option("-c", "--config", type=click.Path(dir_okay=False), help="As for `check`.")
@_rego_options
def fix_command(
    paths: tuple[str, ...],
    rule_ids: tuple[str, ...],
    diff: bool,
    dry_run: bool,
    fail_on: str,
    kubernetes_version: str | None,
    config: str | None,
    rego: str,
    rego_policies: str | None,
    rego_timeout: float,
) -> None:
    """Fix the findings that have a mechanical remedy, in place (see docs/fix.md).

    Each fix is verified by checking again: its finding is gone and no new one appears.
    Comments, key order, quoting and indentation of everything else stay as written.
    Exit status: 0 nothing at or above --fail-on remains, 1 findings remain (they need a
    human), 2 usage or input error (an unparsable, read-only or concurrently changed file
    is left as it was).
    """
    from .errors import UsageError
    from .findings import Severity
    from .fix.command import FixOptions, run_fix, summary_lines
    from .reporters.sarif_report import workspace_path

    try:
        outcome = run_fix(
            FixOptions(
                paths,
                config,
                kubernetes_version,
                rule_ids,
                write=not (diff or dry_run),
                rego=rego,
                rego_policies=rego_policies,
                rego_timeout=rego_timeout,
            )
        )
    except UsageError as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    if diff:
        from .fix.suggest import FileChange

        for plan in outcome.plan.files:
            source = plan.source
            change = FileChange(
                source.file, source.shown(source.text), source.shown(plan.new_text), ()
            )
            _write_stdout(change.diff(workspace_path(source.file)))
    report = summary_lines(outcome, diff or dry_run, workspace_path)
    click.echo("\n".join(visible(line) for line in report), err=diff)
    for error in outcome.errors:
        click.echo(f"autobot-guard: input error: {visible(error.display())}", err=True)
    threshold = None if fail_on == "never" else Severity(fail_on)
    _exit(2 if outcome.errors else outcome.after.exit_code(threshold))


def _autofix_text(autofix: Any) -> str:
    """What `fix` does for a rule, and what it leaves to a human (rules/base.py)."""
    if autofix.does is None:
        return f"Changes nothing: the remedy needs a human. {autofix.leaves}".strip()
    return f"{autofix.does} {autofix.leaves}".strip()


def _rego_catalogue(directory: str | None) -> list[Any]:
    """The Rego rules of `directory` (default: bundled); UsageError if unreadable."""
    from .rego.catalogue import rego_rules
    from .rego.policies import load_policy_set
    from .rego.step import default_policy_dir

    return rego_rules(load_policy_set(directory or default_policy_dir()))


@main.command()
@_REGO_POLICIES
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(("text", "markdown")),
    default="text",
    show_default=True,
    help="markdown: the full reference page with examples (docs/rules.md).",
)
def rules(rego_policies: str | None, fmt: str) -> None:
    """List every rule: id, default severity and what it checks (built-in, then Rego)."""
    from .errors import UsageError
    from .rules import ALL_RULES

    try:
        rego = _rego_catalogue(rego_policies)
    except UsageError as exc:
        _die(str(exc))
    if fmt == "markdown":
        from .rules_doc import render_markdown

        source = f"`{rego_policies}`" if rego_policies else "the bundled `policies/rego/`"
        click.echo(render_markdown(ALL_RULES, rego, source), nl=False)
        return
    width = max(len(rule.id) for rule in [*ALL_RULES, *rego])
    for rule in ALL_RULES:
        click.echo(f"{rule.id:<{width}}  {rule.default_severity.value:<7}  {rule.summary}")
    if rego:
        click.echo(f"\nRego policies ({rego_policies or 'bundled policies/rego'}):")
        for entry in rego:
            click.echo(f"{entry.id:<{width}}  {entry.severity:<7}  {entry.summary}")


@main.command()
@click.argument("rule_id", metavar="RULE")
@_REGO_POLICIES
def explain(rule_id: str, rego_policies: str | None) -> None:
    """Explain a rule: what it checks, why, how to fix it, with examples."""
    from .errors import UsageError
    from .rules import RULES_BY_ID
    from .rules.exemption import EXEMPT

    rule = RULES_BY_ID.get(rule_id)
    if rule is None:
        try:
            rego = {entry.id: entry for entry in _rego_catalogue(rego_policies)}
        except UsageError as exc:
            _die(str(exc))
        if rule_id in rego:
            entry = rego[rule_id]
            click.echo(f"{entry.id} (Rego policy, default severity: {entry.severity})\n")
            click.echo(entry.documentation)
            click.echo(f"\nPolicy: {entry.file} (package {entry.package})")
            click.echo(
                "\nConfigure it in the policy pack like a built-in rule:\n"
                f"  rules:\n    {entry.id}:\n      enabled: true\n"
                f"      severity: {entry.severity}   # error | warning | info\n"
                f"Exempt an object with the {EXEMPT} annotation, as for\n"
                "built-in rules; `autobot-guard check --rego off` skips Rego policies."
            )
            return
        import difflib

        known = [*RULES_BY_ID, *rego]
        close = [k for k in known if k.startswith(rule_id)] or difflib.get_close_matches(
            rule_id, known, n=1
        )
        hint = f"; did you mean {close[0]!r}?" if close else "; `autobot-guard rules` lists them"
        _die(f"unknown rule {rule_id!r}{hint}")
    from .rules_doc import parameters

    click.echo(f"{rule.id} (default severity: {rule.default_severity.value})\n")
    click.echo(rule.documentation())
    click.echo(f"\nHow to fix:\n  {rule.fix}")
    click.echo(f"\nautobot-guard fix:\n  {_autofix_text(rule.autofix)}")
    params = parameters(rule)
    if params:
        click.echo("\nParameters (policy pack: rules." + rule.id + "):")
        for param in params:
            click.echo(f"  {param.name} (default {param.default!r}): {param.description}")
    click.echo("\nFailing example:\n" + _indent(rule.failing_example))
    click.echo("Passing example:\n" + _indent(rule.passing_example))


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))


@main.command("config-schema")
def config_schema() -> None:
    """Print the JSON Schema of the policy pack file, for editors."""
    import json

    from .config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))


@main.command()
@click.option("--tls-cert", required=True, type=click.Path(dir_okay=False), help="PEM cert.")
@click.option("--tls-key", required=True, type=click.Path(dir_okay=False), help="PEM key.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option("-c", "--config", type=click.Path(dir_okay=False), help="Policy pack file.")
@click.option("--kubernetes-version", metavar="X.Y", help="Schema version (default: pack's).")
@click.option(
    "--inventory",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Directory of manifests the cross-resource rules see (repeatable).",
)
@click.option(
    "--watch-cluster/--no-watch-cluster",
    default=None,
    help="List and watch the cluster for the inventory (default: when running in one).",
)
@click.option(
    "--watch-secrets/--no-watch-secrets",
    default=True,
    show_default=True,
    help="Watch Secret names (metadata only) for config-ref.",
)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig for the watch.")
@click.option(
    "--namespace",
    envvar="POD_NAMESPACE",
    help="The server's own namespace, never judged (default: $POD_NAMESPACE).",
)
@click.option("--cert-reload-interval", default=5.0, show_default=True, help="Seconds.")
@click.option(
    "--drain-delay",
    default=0.0,
    show_default=True,
    help="Seconds to keep serving after SIGTERM (unready) before closing the listener.",
)
@click.option("--shutdown-timeout", default=25.0, show_default=True, help="Seconds to drain.")
@click.option(
    "--rego-engine",
    type=click.Choice(ADMISSION_ENGINES),
    help="Rego at admission: a real OPA server beside the webhook (the pack's default) "
    "or rego-cpp in process; overrides admission.regoEngine.",
)
@click.option(
    "--opa-url",
    metavar="URL",
    help=f"The OPA server (http://HOST:PORT; default {OPA_URL}, the sidecar); "
    "overrides admission.opaUrl.",
)
@click.option("--watch-timeout", default=300, hidden=True, type=int)
def serve(
    tls_cert: str,
    tls_key: str,
    host: str,
    port: int,
    config: str | None,
    kubernetes_version: str | None,
    inventory: tuple[str, ...],
    watch_cluster: bool | None,
    watch_secrets: bool,
    kubeconfig: str | None,
    namespace: str | None,
    cert_reload_interval: float,
    drain_delay: float,
    shutdown_timeout: float,
    rego_engine: str | None,
    opa_url: str | None,
    watch_timeout: int,
) -> None:
    """Run the validating admission webhook (HTTPS): POST /validate, GET /healthz,
    /readyz, /metrics. Needs the `webhook` extra: pip install 'autobot-guard[webhook]'."""
    try:
        from .webhook.server import ServeOptions
        from .webhook.server import serve as run_server
    except ImportError as exc:
        _die(
            f"serve needs the webhook extra ({exc.name} is missing): "
            "pip install 'autobot-guard[webhook]'"
        )
    from .errors import UsageError

    options = ServeOptions(
        tls_cert=tls_cert,
        tls_key=tls_key,
        host=host,
        port=port,
        config=config,
        kubernetes_version=kubernetes_version,
        inventory=list(inventory),
        watch_cluster=watch_cluster,
        watch_secrets=watch_secrets,
        kubeconfig=kubeconfig,
        namespace=namespace,
        cert_reload_interval=cert_reload_interval,
        drain_delay=drain_delay,
        shutdown_timeout=shutdown_timeout,
        watch_timeout=watch_timeout,
        rego_engine=rego_engine,
        opa_url=opa_url,
    )
    try:
        sys.exit(run_server(options))
    except UsageError as exc:
        _die(str(exc))
    except (OSError, ValueError) as exc:  # unreadable or mismatched certificate, port in use
        _die(f"cannot serve: {exc}")
