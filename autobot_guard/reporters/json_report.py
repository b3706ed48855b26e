"""`--format json`: one object, a stable contract.

Documented in docs/output-formats.md; docs/report.schema.json is its JSON Schema, which
tests/test_report_schema.py holds this output to.
"""

from __future__ import annotations

import json

from .. import __version__
from ..findings import Report


def render(report: Report, *, color: bool = False) -> str:
    document = {
        "version": __version__,
        "kubernetesVersion": report.kubernetes_version,
        "policyPack": report.policy_pack,
        "target": report.target or None,  # set when the bundled reference manifests were checked
        "summary": report.summary(),
        "findings": [finding.to_json() for finding in report.findings],
        "exempted": [finding.to_json() for finding in report.exempted],
        "inputErrors": [error.to_json() for error in report.errors],
    }
    if report.baseline is not None:  # only with `check --baseline FILE`
        document["baseline"] = report.baseline.to_json()
    if report.audit is not None:  # only from `audit`
        document["audit"] = report.audit.to_json()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
