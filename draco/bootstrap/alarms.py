"""CloudWatch alarms on the apps' metrics and their pollers, as ``put_metric_alarm`` arguments.

The metrics are the apps' own (``chalicelib_shared.metrics``: namespace DRACO,
one dimension ``service=draco``, embedded metric format) and the AWS/Lambda
``Errors`` of the app's poller. Every alarm notifies the SNS topic DracoAlerts.
Alarm names carry the app and stage; the metrics carry no stage, so two stages
in one account share them. Both apps get their alarms by default.
"""

from __future__ import annotations

from typing import Any

from chalicelib_shared.kinds.base import Side
from chalicelib_shared.metrics import NAMESPACE, SERVICE
from draco.bootstrap.names import POLLER_FUNCTION, alarm_name, function_name

QUOTA_ALARM_PERCENT = 80.0
# The fields of DescribeAlarms that put_metric_alarm sets, compared to find a changed alarm.
ALARM_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


def alarm_definitions(side: Side, stage: str, topic_arn: str, rpo_hours: float | None) -> list[dict[str, Any]]:
    """One app's alarms; ``rpo_hours`` None leaves out the RPO alarm (production has no recovery point).

    * ``SourcesLate`` (DR only, alarm ``RecoveryPointAge``): Maximum per hour > 0 in 2 of 2 hours: a
      source's newest copy is older than ``RPO_HOURS`` (the consumer counts them, ``recovery``);
      missing data counts as breaching, so a DR poller that stops reporting alarms too.
    * ``SourcesGoneLate`` (DR only, alarm ``SourceWentLate``): Sum per hour > 0: a source went late in
      the last hour; it clears the hour after, so each source going late notifies, whatever stays late.
    * ``LifecycleChangesPending`` (DR only): Maximum over 5 minutes > 0 (a lifecycle waits for approval).
    * ``KeysCapped`` (DR only): Sum over 5 minutes > 0 (new DR keys past ``KEY_CAP``).
    * ``CopiesWaitingForRoom`` (DR only): Sum per hour > 0 (copies wait for room in DR's snapshot quota).
    * ``JobsFailed``: Sum over 5 minutes > 0 (any job that gave up).
    * ``SnapshotQuotaUsedPercent``: Maximum per hour > 80.
    * AWS/Lambda ``Errors`` of ``<app>-<stage>-poll_jobs``: errors in 3 consecutive 5-minute periods
      (the function has that name on both deployment paths, see ``names.function_name``).
    """
    metric = {"Namespace": NAMESPACE, "Dimensions": [{"Name": "service", "Value": SERVICE}]}
    poller = function_name(side, stage, POLLER_FUNCTION)
    alarms: list[dict[str, Any]] = []
    if rpo_hours is not None:
        alarms.append(
            {
                "AlarmName": alarm_name(side, stage, "RecoveryPointAge"),
                "AlarmDescription": f"DRACO: a source's newest DR copy is older than {rpo_hours:g} h, or the DR "
                "poller stopped reporting. Run python -m draco status; draco retire SOURCE if it is gone on purpose.",
                "MetricName": "SourcesLate",
                "Statistic": "Maximum",
                "Period": 3600,
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": 0.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "breaching",
                **metric,
            }
        )
        alarms.append(
            {
                "AlarmName": alarm_name(side, stage, "SourceWentLate"),
                "AlarmDescription": f"DRACO: a source's newest DR copy just passed {rpo_hours:g} h (one notification "
                "per source, even while another stays late). Run python -m draco status.",
                "MetricName": "SourcesGoneLate",
                "Statistic": "Sum",
                "Period": 3600,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "Threshold": 0.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                **metric,
            }
        )
        alarms += _retention_alarms(side, stage, metric)
    alarms += [
        {
            "AlarmName": alarm_name(side, stage, "JobsFailed"),
            "AlarmDescription": "DRACO: a copy job gave up. Run python -m draco jobs --failed, fix the cause, "
            "then python -m draco retry.",
            "MetricName": "JobsFailed",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(side, stage, "SnapshotQuota"),
            "AlarmDescription": f"DRACO: over {QUOTA_ALARM_PERCENT:g} % of the manual snapshot quota is used. "
            "Shorten a lifecycle, set NO_DRY_RUN, or ask AWS for a higher quota.",
            "MetricName": "SnapshotQuotaUsedPercent",
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": QUOTA_ALARM_PERCENT,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(side, stage, "PollerErrors"),
            "AlarmDescription": f"DRACO: the job poller fails run after run. Read its log group /aws/lambda/{poller}.",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": poller}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    ]
    common = {"ActionsEnabled": True, "AlarmActions": [topic_arn], "OKActions": [topic_arn]}
    return [{**alarm, **common} for alarm in alarms]


def _retention_alarms(side: Side, stage: str, metric: dict[str, Any]) -> list[dict[str, Any]]:
    """DR's own decisions: a shorter lifecycle waiting for approval, new DR keys past the day's cap."""
    once = {"Period": 300, "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "Threshold": 0.0}
    return [
        {
            "AlarmName": alarm_name(side, stage, "LifecycleChangesPending"),
            "AlarmDescription": "DRACO: production asked for a shorter lifecycle (or one keeping more than MAX_KEEP), "
            "which waits for approval in DR. Run python -m draco status; then, with DR credentials, "
            "python -m draco approve SOURCE --lifecycle TEXT or python -m draco reject SOURCE.",
            "MetricName": "LifecycleChangesPending",
            "Statistic": "Maximum",
            **once,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(side, stage, "SnapshotQuotaPlan"),
            "AlarmDescription": "DRACO: the copies DR's lifecycles will keep at steady state exceed the manual "
            "snapshot quota; copies will wait once it is full. Run python -m draco plan --quota; raise the "
            "quota or shorten a lifecycle.",
            "MetricName": "SnapshotQuotaPlannedPercent",
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 100.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(side, stage, "KeysCapped"),
            "AlarmDescription": "DRACO: a source account asked for more new DR keys today than KEY_CAP allows; "
            "its copies wait a day. Expected after adding many databases (python -m draco budget ACCOUNT "
            "--keys N); else investigate production.",
            "MetricName": "KeysCapped",
            "Statistic": "Sum",
            **once,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(side, stage, "CopiesWaitingForRoom"),
            "AlarmDescription": "DRACO: copies wait for room in DR's manual snapshot quota (a source's or an "
            "account's share, or the quota itself). Run python -m draco status; raise the quota, approve a "
            "longer lifecycle, or shorten one.",
            "MetricName": "CopiesWaitingForRoom",
            "Statistic": "Sum",
            **once,
            "Period": 3600,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
    ]


def alarm_differences(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The fields in which an existing alarm differs from the wanted one."""

    def norm(name: str, value: Any) -> Any:
        if name == "Dimensions":
            return sorted((d["Name"], d["Value"]) for d in value or [])
        if name in ("AlarmActions", "OKActions"):
            return sorted(value or [])
        if name == "Threshold":
            return float(value)
        if name == "DatapointsToAlarm" and value is None:
            return current.get("EvaluationPeriods")
        return value

    return [f for f in ALARM_FIELDS if norm(f, current.get(f)) != norm(f, wanted.get(f))]
