"""The alarms on restore drills (DR only): a drill failed, or a drill's RTO passed the operator's target.

* ``DrillsFailed``: Sum over 5 minutes > 0: a drill failed (restore refused,
  not available in time, a check or the validator said no); what it made was
  deleted, and the reason is in the drill's record (``draco status``).
* ``RestoreSeconds``: Maximum over 5 minutes > ``RTO_TARGET_MINUTES`` x 60: a
  source took longer than the target from the restore call to validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from chalicelib_shared.kinds.base import Side
from chalicelib_shared.metrics import NAMESPACE, SERVICE
from draco.bootstrap.names import alarm_name

DRILL_FAILED = "DrillFailed"
RTO_MISSED = "RtoTargetMissed"


def drill_alarm_definitions(side: Side, stage: str, topic_arn: str, rto_target: timedelta) -> list[dict[str, Any]]:
    """``put_metric_alarm`` arguments of the drill alarms (none for production)."""
    if side is not Side.CONSUMER:
        return []
    common = {
        "Namespace": NAMESPACE,
        "Dimensions": [{"Name": "service", "Value": SERVICE}],
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
    }
    minutes = rto_target.total_seconds() / 60
    return [
        {
            "AlarmName": alarm_name(side, stage, DRILL_FAILED),
            "AlarmDescription": "DRACO: a restore drill failed (its restore was deleted). Run python -m draco status "
            "for the reason, then python -m draco drill --source SOURCE.",
            "MetricName": "DrillsFailed",
            "Statistic": "Sum",
            "Threshold": 0.0,
            **common,
        },
        {
            "AlarmName": alarm_name(side, stage, RTO_MISSED),
            "AlarmDescription": f"DRACO: a restore drill took longer than the RTO target of {minutes:g} minutes "
            "(RTO_TARGET_MINUTES). Run python -m draco status.",
            "MetricName": "RestoreSeconds",
            "Statistic": "Maximum",
            "Threshold": float(rto_target.total_seconds()),
            **common,
        },
    ]


def fired(emitted: Mapping[str, Sequence[float]], rto_target: timedelta) -> list[str]:
    """The drill alarms that ``emitted`` metric values (by name) raise, by the definitions' own thresholds."""
    alarms = {d["MetricName"]: d for d in drill_alarm_definitions(Side.CONSUMER, "x", "arn", rto_target)}
    raised = []
    for name, values in emitted.items():
        definition = alarms.get(name)
        if definition is None or not values:
            continue
        value = sum(values) if definition["Statistic"] == "Sum" else max(values)
        if value > definition["Threshold"]:
            raised.append(DRILL_FAILED if name == "DrillsFailed" else RTO_MISSED)
    return sorted(raised)
