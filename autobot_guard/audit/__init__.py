"""`autobot-guard audit`: the live cluster judged by the same engine and pack as `check`.

- `listing`: every kind the pack judges, listed page by page (limit/continue) through
  the `kubernetes` client the webhook's inventory watch uses; failures per resource.
- `scope`: what the webhook leaves alone (skipped and opted-out namespaces,
  controller-owned Pods/ReplicaSets/Jobs), left alone here too and counted.
- `run`: listing -> scope -> the check pipeline's judge step -> the same Report.
- `policy_reports`: the Report as wgpolicyk8s.io/v1alpha2 PolicyReports, written back.
"""

# The API server's own default request timeout: how long one list page (or PolicyReport
# write) is waited for (`audit --request-timeout`). Here, light, for the CLI's option.
DEFAULT_REQUEST_TIMEOUT = 60.0
