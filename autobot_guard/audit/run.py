"""The audit pipeline: list the cluster, leave alone what the webhook leaves alone, judge
the rest with `check`'s judge step (built-in rules and Rego, the listed objects as the
inventory), and file what could not be listed as input errors (exit status 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..check import judge, load_pack, prepare_rego
from ..errors import UsageError
from ..findings import LIVE_PREFIX, InputError, Report
from ..rego import DEFAULT_TIMEOUT as REGO_TIMEOUT
from ..rules.base import Rule
from . import DEFAULT_REQUEST_TIMEOUT
from .listing import (
    DEFAULT_PAGE_SIZE,
    LISTED,
    Fatal,
    Lister,
    configuration,
)
from .outcome import AuditOutcome
from .scope import LiveObject, live_object, scope


@dataclass
class AuditOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: Sequence[str] = ()
    config: str | None = None
    kubernetes_version: str | None = None
    rego: str = "auto"
    rego_policies: str | None = None
    rego_timeout: float = REGO_TIMEOUT
    page_size: int = DEFAULT_PAGE_SIZE
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    policy_reports: bool = False


@dataclass
class Audit:
    """The Report and what the PolicyReports are made of."""

    report: Report
    judged: list[LiveObject] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)  # the built-in rules that ran
    rego_rule_ids: frozenset[str] = frozenset()


def run_audit(options: AuditOptions) -> Audit:
    pack = load_pack(options.config, options.kubernetes_version)
    rego = prepare_rego(pack, options.rego, options.rego_policies, options.rego_timeout)
    config = configuration(options.kubeconfig, options.context)
    lister = Lister(
        config, live_object, options.namespaces, options.page_size, options.request_timeout
    )
    # With --namespace only namespaced objects are judged: the Namespace objects are still
    # listed (their opt-out label), but the cluster-scoped view is not this audit's.
    try:
        listing = lister.list_all(LISTED)
    except Fatal as exc:
        raise UsageError(str(exc)) from None
    finally:
        lister.close()
    chosen = scope(pack, [o for items in listing.objects.values() for o in items])
    if options.namespaces:
        chosen.judged = [o for o in chosen.judged if o.resource.namespace is not None]
    rules = pack.enabled_rules()
    outcome = AuditOutcome(
        server=lister.server,
        context=options.context,
        namespaces=sorted(set(options.namespaces)),
        listed={name: len(items) for name, items in listing.objects.items()},
        missing=sorted(f.resource for f in listing.failures),
        skipped_namespaces=chosen.skipped_namespaces,
        ignored_namespaces=chosen.ignored_namespaces,
        controlled=chosen.controlled,
    )
    if listing.failures:
        # With objects missing, rules that look at other objects would report what is
        # only missing from the listing: as the webhook before its inventory syncs,
        # they do not run.
        outcome.cross_resource_skipped = sorted(r.id for r in rules if r.cross_resource)
        rules = [r for r in rules if not r.cross_resource]
    resources = [o.resource for o in chosen.judged]
    report = judge(resources, pack, rego, rules)
    report.errors = [
        *(InputError(LIVE_PREFIX + f.resource, None, f.message) for f in listing.failures),
        *_absent_namespaces(options.namespaces, listing.objects.get("namespaces")),
        *report.errors,
    ]
    report.target = outcome.where()
    report.audit = outcome
    return Audit(report, chosen.judged, rules, rego.rule_ids)


def _absent_namespaces(given: Sequence[str], listed: list[LiveObject] | None) -> list[InputError]:
    """A namespace named with -n that the cluster does not have (a typo, another
    cluster): an input error, so that auditing nothing there never reads as clean. Not
    known when the Namespaces could not be listed (that failure is reported)."""
    if listed is None:
        return []
    present = {o.resource.name for o in listed}
    return [
        InputError(
            f"{LIVE_PREFIX}Namespace/{name}",
            None,
            "no such namespace (given with -n): nothing there was audited",
        )
        for name in sorted(set(given) - present)
    ]
