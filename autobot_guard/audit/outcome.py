"""What an audit adds to the Report: which cluster, what was listed, what was left alone
and why, what could not be listed, and the PolicyReports written. Every format shows it
(text and Markdown as lines, JSON as the `audit` object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AuditOutcome:
    server: str
    context: str | None = None
    namespaces: list[str] = field(default_factory=list)  # --namespace (empty: all)
    listed: dict[str, int] = field(default_factory=dict)  # resource -> objects listed
    missing: list[str] = field(default_factory=list)  # resources that could not be listed
    # objects not judged, by reason: "namespace <name>" / "controlled"
    skipped_namespaces: dict[str, int] = field(default_factory=dict)  # namespace -> objects
    ignored_namespaces: list[str] = field(default_factory=list)  # labelled ignore=true
    controlled: dict[str, int] = field(default_factory=dict)  # kind -> controller-owned
    cross_resource_skipped: list[str] = field(default_factory=list)  # rule ids not run
    policy_reports: list[str] = field(default_factory=list)  # written: "ns/name"
    policy_reports_deleted: list[str] = field(default_factory=list)

    @property
    def not_judged(self) -> int:
        return sum(self.skipped_namespaces.values()) + sum(self.controlled.values())

    def lines(self) -> list[str]:
        """The audit's part of the text summary, one fact a line."""
        listed = sum(self.listed.values())
        lines = [f"listed {listed} objects of {len(self.listed)} resources from {self.where()}"]
        if self.missing:
            lines.append(f"not listed (their objects are not judged): {', '.join(self.missing)}")
        if self.cross_resource_skipped:
            lines.append(
                "cross-resource rules not run (the listing is incomplete): "
                + ", ".join(self.cross_resource_skipped)
            )
        if self.skipped_namespaces:
            counted = ", ".join(f"{ns} ({n})" for ns, n in sorted(self.skipped_namespaces.items()))
            lines.append(f"not judged, namespace skipped: {counted}")
        if self.ignored_namespaces:
            names = ", ".join(self.ignored_namespaces)
            lines.append(f"namespaces opted out (autobot-guard.io/ignore=true): {names}")
        if self.controlled:
            counted = ", ".join(f"{n} {kind}" for kind, n in sorted(self.controlled.items()))
            lines.append(f"not judged, created by a controller for a judged owner: {counted}")
        if self.policy_reports or self.policy_reports_deleted:
            lines.append(
                f"policy reports: {len(self.policy_reports)} written, "
                f"{len(self.policy_reports_deleted)} stale deleted"
            )
        return lines

    def where(self) -> str:
        text = f"cluster {self.server}"
        if self.context:
            text += f" (context {self.context})"
        if self.namespaces:
            text += f", namespace{'s' if len(self.namespaces) > 1 else ''} "
            text += ", ".join(self.namespaces)
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "context": self.context,
            "namespaces": self.namespaces,
            "listed": dict(sorted(self.listed.items())),
            "notListed": self.missing,
            "crossResourceRulesSkipped": self.cross_resource_skipped,
            "notJudged": {
                "namespaces": dict(sorted(self.skipped_namespaces.items())),
                "ignoredNamespaces": self.ignored_namespaces,
                "controlled": dict(sorted(self.controlled.items())),
                "total": self.not_judged,
            },
            "policyReports": {
                "written": self.policy_reports,
                "deleted": self.policy_reports_deleted,
            },
        }
