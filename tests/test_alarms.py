"""Bootstrap's alerting: the DracoAlerts topic, an e-mail subscription, CloudWatch alarms; a rerun plans nothing.

Both apps get their alarms by default (``alarms=None``, or ``--no-alarms``, for none)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from draco import bootstrap
from draco.bootstrap import cli
from draco.cli import main
from draco.world import moto_gaps

pytestmark = pytest.mark.e2e  # whole accounts bootstrapped in moto: run with -m e2e (see the README)

PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{DR}:DracoAlerts"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": DR,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        moto_gaps.install()  # the local world's AWS: gaps filled (the quota bootstrap reads), limits enforced
        try:
            yield boto3.Session(region_name=REGION)
        finally:
            moto_gaps.uninstall()


def alarms(session: boto3.Session) -> dict[str, dict]:
    found = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def alert_steps(plan: list[bootstrap.Step]) -> list[str]:
    return [str(step) for step in plan if "DracoAlerts" in str(step) or "alarm" in str(step)]


def test_consumer_alarms_are_planned_created_and_a_rerun_plans_nothing(session: boto3.Session) -> None:
    wanted = bootstrap.Alarms(email="ops@example.com", rpo_hours=30)
    planned = alert_steps(bootstrap.plan_consumer(session, [PROD], stage="prod", alarms=wanted))
    assert planned == [
        "create SNS topic DracoAlerts (alarm notifications)",
        "subscribe ops@example.com to DracoAlerts (AWS e-mails a confirmation link)",
        "create CloudWatch alarm draco-consumer-prod-RecoveryPointAge (DRACO SourcesLate Maximum > 0)",
        "create CloudWatch alarm draco-consumer-prod-SourceWentLate (DRACO SourcesGoneLate Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-LifecycleChangesPending "
        "(DRACO LifecycleChangesPending Maximum > 0)",
        "create CloudWatch alarm draco-consumer-prod-SnapshotQuotaPlan "
        "(DRACO SnapshotQuotaPlannedPercent Maximum > 100)",
        "create CloudWatch alarm draco-consumer-prod-KeysCapped (DRACO KeysCapped Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-CopiesWaitingForRoom (DRACO CopiesWaitingForRoom Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-JobsFailed (DRACO JobsFailed Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-SnapshotQuota (DRACO SnapshotQuotaUsedPercent Maximum > 80)",
        "create CloudWatch alarm draco-consumer-prod-PollerErrors (AWS/Lambda Errors Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-DrillFailed (DRACO DrillsFailed Sum > 0)",
        "create CloudWatch alarm draco-consumer-prod-RtoTargetMissed (DRACO RestoreSeconds Maximum > 3600)",
    ]
    bootstrap.consumer(session, [PROD], stage="prod", alarms=wanted)

    made = alarms(session)
    service = [{"Name": "service", "Value": "draco"}]
    rpo = made["draco-consumer-prod-RecoveryPointAge"]
    assert (rpo["Namespace"], rpo["MetricName"], rpo["Dimensions"], rpo["Statistic"]) == (
        "DRACO",
        "SourcesLate",
        service,
        "Maximum",
    )
    assert (rpo["Threshold"], rpo["ComparisonOperator"], rpo["TreatMissingData"]) == (
        0.0,
        "GreaterThanThreshold",
        "breaching",
    )
    assert "30 h" in rpo["AlarmDescription"] and "draco retire" in rpo["AlarmDescription"]
    went = made["draco-consumer-prod-SourceWentLate"]
    assert (went["MetricName"], went["Statistic"], went["Period"], went["TreatMissingData"]) == (
        "SourcesGoneLate",
        "Sum",
        3600,
        "notBreaching",
    )
    named = (("LifecycleChangesPending",) * 2, ("KeysCapped",) * 2, ("CopiesWaitingForRoom",) * 2)
    for name, metric in named:
        alarm = made[f"draco-consumer-prod-{name}"]
        assert (alarm["MetricName"], alarm["Dimensions"], alarm["Threshold"]) == (metric, service, 0.0)
        assert "approve" in made["draco-consumer-prod-LifecycleChangesPending"]["AlarmDescription"]
    failed = made["draco-consumer-prod-JobsFailed"]
    assert (failed["MetricName"], failed["Dimensions"], failed["Statistic"], failed["Threshold"]) == (
        "JobsFailed",
        service,
        "Sum",
        0.0,
    )
    quota = made["draco-consumer-prod-SnapshotQuota"]
    assert (quota["MetricName"], quota["Statistic"], quota["Threshold"]) == (
        "SnapshotQuotaUsedPercent",
        "Maximum",
        80.0,
    )
    poller = made["draco-consumer-prod-PollerErrors"]
    assert (poller["Namespace"], poller["MetricName"], poller["Dimensions"]) == (
        "AWS/Lambda",
        "Errors",
        [{"Name": "FunctionName", "Value": "draco-consumer-prod-poll_jobs"}],
    )
    assert all(alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC] for alarm in made.values())
    subscriptions = session.client("sns").list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]

    assert bootstrap.plan_consumer(session, [PROD], stage="prod", alarms=wanted) == []


def test_a_changed_threshold_updates_only_that_alarm(session: boto3.Session) -> None:
    bootstrap.consumer(session, [PROD], alarms=bootstrap.Alarms())
    plan = bootstrap.plan_consumer(session, [PROD], alarms=bootstrap.Alarms(rpo_hours=50))
    assert [str(step) for step in plan] == [
        "update CloudWatch alarm draco-consumer-dev-RecoveryPointAge "
        "(DRACO SourcesLate Maximum > 0; was different: AlarmDescription)",
        "update CloudWatch alarm draco-consumer-dev-SourceWentLate "
        "(DRACO SourcesGoneLate Sum > 0; was different: AlarmDescription)",
    ]
    bootstrap.consumer(session, [PROD], alarms=bootstrap.Alarms(rpo_hours=50))
    assert "50 h" in alarms(session)["draco-consumer-dev-RecoveryPointAge"]["AlarmDescription"]
    assert bootstrap.plan_consumer(session, [PROD], alarms=bootstrap.Alarms(rpo_hours=50)) == []


def test_producer_alarms_have_no_rpo_alarm_and_are_on_by_default(session: boto3.Session, monkeypatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD)
    assert alert_steps(bootstrap.plan_producer(session, DR, alarms=None)) == []
    bootstrap.producer(session, DR)
    assert sorted(alarms(session)) == [
        "draco-producer-dev-JobsFailed",
        "draco-producer-dev-PollerErrors",
        "draco-producer-dev-SnapshotQuota",
    ]
    assert bootstrap.plan_producer(session, DR) == []


def test_a_bad_email_is_refused_before_any_change(session: boto3.Session) -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        bootstrap.consumer(session, [PROD], alarms=bootstrap.Alarms(email="not-an-address"))
    assert session.client("sns").list_topics()["Topics"] == []


def test_cli_makes_dr_alarms_by_default_and_reruns_clean(session, tmp_path: Path, monkeypatch, capsys) -> None:
    app_dir = tmp_path / "consumer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    (app_dir / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "stages": {}}))
    monkeypatch.setattr(cli, "CONSUMER_APP_DIR", app_dir)
    argv = ["bootstrap", "consumer", "--source-accounts", PROD, "--region", REGION, "--alert-email", "ops@example.com"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "  - create CloudWatch alarm draco-consumer-dev-RecoveryPointAge" in out
    assert len(alarms(session)) == 9 + 2  # and the restore drills' two
    assert main(argv) == 0
    assert f"account {DR} in {REGION}: nothing to change" in capsys.readouterr().out
