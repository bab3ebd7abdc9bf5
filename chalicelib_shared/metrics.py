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
| RecoveryPointAgeHours | Count | the oldest "newest DR copy" over all sources (hourly, DR) |
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
