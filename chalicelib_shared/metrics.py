"""CloudWatch metrics in embedded metric format, through Powertools for AWS Lambda.

Namespace ``DRACO``, one dimension ``service=draco``; the alarms bootstrap makes
expect exactly these names. Metrics are collected during an invocation and
written to the log (which CloudWatch turns into metrics) when it ends.

| metric | unit | when |
| --- | --- | --- |
| CopiesStarted, CopiesCompleted | Count | a transit or DR copy starts / becomes available |
| CopyDurationSeconds | Seconds | how long a copy took, start to available |
| JobsFailed | Count | a job gave up (the alarm fires on any) |
| JobsWaitingForSlot | Count | queued copies left waiting in a poll round |
| SnapshotsDeleted, SnapshotsWouldDelete | Count | lifecycle deletions / dry-run would-deletes |
| SnapshotQuotaUsedPercent | Percent | manual snapshot quota use (hourly) |
| SnapshotQuotaPlannedPercent | Percent | copies the lifecycles will keep at steady state, of the quota (hourly, DR) |
| RecoveryPointAgeHours | Count | the oldest "newest DR copy" over watched sources, never negative (hourly, DR) |
| SourcesLate | Count | watched sources whose newest DR copy is older than ``RPO_HOURS`` (hourly, DR) |
| SourcesGoneLate | Count | sources that passed ``RPO_HOURS`` in the last two hours (hourly, DR) |
| LifecycleChangesPending | Count | lifecycle changes waiting for approval in DR |
| KeysCapped | Count | copies waiting because their account reached ``KEY_CAP`` (and its budget) today |
| CopiesWaitingForRoom | Count | copies waiting for room in DR's snapshot quota (a share, or the quota) |
| RestoreSeconds | Seconds | a restore drill passed: its RTO, restore call to validated (DR) |
| DrillsFailed | Count | a restore drill failed, and what it made was deleted (DR) |
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "DRACO"
SERVICE = "draco"

metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def percent(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Percent, value=value)


def flush() -> None:
    """Write what this invocation measured, if anything."""
    if metrics.metric_set:
        metrics.flush_metrics()
