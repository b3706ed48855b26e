from __future__ import annotations

from ..edits import AutoFix
from ..findings import Severity
from .liveness_probe import LivenessProbe


class ReadinessProbe(LivenessProbe):
    """Every container of a long-running workload has a readinessProbe.

    Same scope as `liveness-probe`: Jobs, CronJobs and init containers are exempt.

    Why: without a readiness probe a pod receives Service traffic the moment its
    process starts, long before the backend has connected to Redis or an agent has
    loaded its model; during a rolling update the old pods are removed while the new
    ones still answer with errors.
    """

    id = "readiness-probe"
    default_severity = Severity.ERROR
    summary = "Every container of a long-running workload has a readinessProbe"
    fix = (
        "Add a readinessProbe that succeeds only when the container can serve: an httpGet on "
        "a readiness endpoint that checks its dependencies, or an exec command such as "
        "`redis-cli ping` / `pg_isready`."
    )
    probe_field = "readinessProbe"
    autofix = AutoFix(
        None,
        "A probe's endpoint, port and timings must be ones the application serves: never guessed.",
    )
    failing_example = LivenessProbe.passing_example.replace(
        "        readinessProbe: {httpGet: {path: /health, port: 8000}}\n", ""
    )
    passing_example = LivenessProbe.passing_example
