"""The `check` pipeline every entry point shares: policy pack -> load -> evaluate -> Report.

Features that change what is checked or reported (Rego policies, changed-only, baselines,
kustomize rendering) plug in here as steps, so the CLI and the CI gate stay adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import ConfigError, PolicyPack, load_policy_pack
from .engine import evaluate
from .errors import UsageError
from .findings import Report
from .loader import load_paths
from .paths import bundled_manifests, bundled_policy_pack
from .rego import DEFAULT_TIMEOUT as REGO_TIMEOUT

if TYPE_CHECKING:
    from .crds import CrdCatalogue
    from .findings import InputError
    from .gate.baseline import Entry as BaselineEntry
    from .loader import LoadResult
    from .rego.step import RegoStep
    from .resources import Resource
    from .rules.base import Rule

BUNDLED_TARGET = "the bundled AutoBot reference manifests"


@dataclass
class CheckOptions:
    paths: Sequence[str] = ()
    config: str | None = None
    kubernetes_version: str | None = None
    changed_since: str | None = None  # git ref: report only findings in files changed since it
    baseline: str | None = None  # baseline file: report only findings it does not know
    kustomize: str | None = None  # directory: check what `kubectl kustomize` renders from it
    rego: str = "auto"  # Rego policies: auto (conftest if on PATH, else embedded), conftest,
    rego_policies: str | None = None  # embedded or off; their directory (default: bundled)
    rego_timeout: float = REGO_TIMEOUT  # seconds for the whole Rego step
    # Loads `paths` in place of load_paths: the CLI's, from what its start-up worker parsed.
    load_input: Callable[[], LoadResult] | None = None
    crds: Sequence[str] = ()  # folders of CRDs, before the pack's `crds:` (see crds/)
    suggest_fixes: bool = False  # attach verified fixes to the findings (see fix/suggest.py)


def load_pack(config: str | None, kubernetes_version: str | None = None) -> PolicyPack:
    """The policy pack from `config` (default: bundled), with the version override applied."""
    from .rules.schema import schema_directory, supported_versions

    try:
        pack = load_policy_pack(config or str(bundled_policy_pack()))
    except ConfigError as exc:
        raise UsageError(exc.error.display()) from None
    if kubernetes_version:
        updated = pack.model.model_copy(update={"kubernetesVersion": kubernetes_version})
        pack = PolicyPack(updated, pack.source, pack.text)
    try:
        schema_directory(pack.kubernetes_version, True)
    except ValueError:
        versions = supported_versions()
        raise UsageError(
            f"Kubernetes version {pack.kubernetes_version!r} is not supported "
            f"(supported: {versions[0]} to {versions[-1]}, as X.Y)"
        ) from None
    return pack


def run_check(options: CheckOptions) -> Report:
    pack = load_pack(options.config, options.kubernetes_version)
    changed, known = _changed_files(options), _baseline_entries(options)  # fail before loading
    rego = prepare_rego(pack, options.rego, options.rego_policies, options.rego_timeout)
    paths, target = list(options.paths), ""
    if not paths:
        paths, target = [str(bundled_manifests())], BUNDLED_TARGET
    if options.kustomize:
        loaded, target = _kustomize(options), f"kustomize build of {options.kustomize}"
    else:
        loaded = options.load_input() if options.load_input else load_paths(paths)
    report = judge(loaded.resources, pack, rego, crd_folders=options.crds)
    report.errors = [*loaded.errors, *report.errors]  # unreadable input, then the rest
    report.files = loaded.files
    report.target = target
    full = list(report.findings)  # what fixes are verified against, before narrowing
    if known is not None and options.baseline:  # on the whole tree, so fixed entries are true
        from .gate.baseline import apply

        report.baseline = apply(report, known, options.baseline)
    if changed is not None and options.changed_since:
        from .gate.changed import restrict_to

        restrict_to(report, changed, options.changed_since)
    if options.suggest_fixes and not options.kustomize:
        from .fix.suggest import attach

        attach(report, full, options, pack, rego)
    return report


def judge(
    resources: Sequence[Resource],
    pack: PolicyPack,
    rego: RegoStep,
    rules: Sequence[Rule] | None = None,
    crd_folders: Sequence[str] = (),
) -> Report:
    """The judging step `check` and `audit` share: the built-in rules (`rules`, default
    the pack's) and the Rego policies on `resources`, into one Report (broken CRDs, then
    rule failures, then Rego failures as its input errors)."""
    # conftest judges on the other core while the built-in rules run here.
    rego_run = rego.start(resources, pack.skip_namespaces, pack.rego_settings)
    catalogue, crd_errors = _crd_catalogue(resources, pack, crd_folders)
    report = evaluate(resources, pack, rules, extra_rule_ids=rego.rule_ids, crds=catalogue)
    report.errors = [*crd_errors, *report.errors]
    rego_run.finish(report)  # into the same report
    return report


def _crd_catalogue(
    resources: Sequence[Resource], pack: PolicyPack, folders: Sequence[str]
) -> tuple[CrdCatalogue | None, list[InputError]]:
    """The CRDs of the checked files, then of `--crds` folders, then of the pack's (read
    only when a custom resource is checked: most runs have none)."""
    from .crds import build_catalogue, crd_folders_resources, is_crd
    from .rules.schema import Schema

    schema_settings = pack.settings(Schema)
    assert isinstance(schema_settings, Schema.Settings)
    if not schema_settings.enabled:
        return None, []
    needed = {(r.group, r.kind) for r in resources if not r.builtin_group}
    given, errors = crd_folders_resources(list(folders))
    bundled, more = crd_folders_resources(pack.crd_folders, {kind for _, kind in needed})
    checked = [resource for resource in resources if is_crd(resource)]
    catalogue, broken = build_catalogue(
        [checked, given, bundled], schema_settings.strict, pack.kubernetes_version, needed
    )
    return catalogue, [*errors, *more, *broken]


def prepare_rego(pack: PolicyPack, mode: str, directory: str | None, timeout: float) -> RegoStep:
    """The Rego step (`--rego`, `--rego-policies`, `--rego-timeout`), its rule ids checked
    against the pack, which may set their severity or switch them off."""
    from .rego.step import RegoStep

    rego = RegoStep.prepare(mode, directory, timeout)
    try:
        pack.check_rule_ids(rego.rule_ids)
    except ConfigError as exc:
        raise UsageError(exc.error.display()) from None
    return rego


def _changed_files(options: CheckOptions) -> frozenset[str] | None:
    if options.changed_since is None:
        return None
    from .gate.changed import ChangedFilesError, changed_files

    checked = [options.kustomize] if options.kustomize else list(options.paths)
    try:  # git runs where the checked files are, not in the current directory
        return changed_files(options.changed_since, checked or [str(bundled_manifests())])
    except ChangedFilesError as exc:
        raise UsageError(str(exc)) from None


def _baseline_entries(options: CheckOptions) -> list[BaselineEntry] | None:
    if options.baseline is None:
        return None
    from .gate.baseline import BaselineError, load

    try:
        return load(options.baseline)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None


def _kustomize(options: CheckOptions) -> LoadResult:
    from .gate.kustomize import KustomizeError, load

    if options.paths:
        raise UsageError("--kustomize DIR renders its own input: give no PATH with it")
    try:
        return load(options.kustomize or ".")
    except KustomizeError as exc:
        raise UsageError(str(exc)) from None
