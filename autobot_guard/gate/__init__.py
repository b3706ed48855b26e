"""The CI gate's steps of the check pipeline: changed-only, baselines, kustomize rendering.

Each module raises its own one-line error; `check.run_check` turns them into UsageError.
"""
