"""Quota planning (``draco.quota_plan``): copies at steady state per kind against the account's quota, in
``status`` (and its exit code) and ``draco plan --quota``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from chalicelib_shared.job_table import table_definition
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds.base import Quota
from chalicelib_shared.retention import apply_policy, parse_policy
from draco import ops, quota_plan
from draco.cli import main

DAY = timedelta(days=1)


@pytest.mark.parametrize("name", ["Test", "Standard", "Weekly", "Fortnightly", "Biweekly", "SemiMonthly", "Monthly"])
def test_steady_state_is_the_most_a_long_history_keeps_across_a_year(name: str) -> None:
    policy = parse_policy(name)
    planned = quota_plan.steady_state(policy)
    end = datetime(2040, 1, 1, tzinfo=timezone.utc)
    history = [(str(i), end - i * DAY) for i in range(12 * 366)]  # longer than any of these keeps anything
    moments = [end - k * 30 * DAY for k in range(13)]
    seen = [len(apply_policy(policy, [s for s in history if s[1] <= now], now).keep) for now in moments]
    assert planned > 0 and abs(planned - max(seen)) <= 1  # sampled at other moments of the year


def test_a_count_rule_keeps_its_count_and_spacing_matters_only_for_time_windows() -> None:
    assert quota_plan.steady_state(parse_policy("Weekly")) == 7  # daily=7
    assert quota_plan.steady_state(parse_policy("Weekly"), timedelta(hours=6)) == 7
    assert quota_plan.steady_state(parse_policy("within=5d"), timedelta(hours=6)) == 20
    assert quota_plan.steady_state(parse_policy("Ignore")) == 0


def test_spacing_is_the_median_gap_and_a_day_when_unknown() -> None:
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert quota_plan.spacing([t, t + 6 * timedelta(hours=1), t + timedelta(hours=12), t + timedelta(hours=18)]) == (
        timedelta(hours=6)
    )
    assert quota_plan.spacing([t]) == DAY


def test_the_plan_sums_per_kind_and_says_when_it_is_over_the_quota() -> None:
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    daily = [t - n * DAY for n in range(5)]
    standard = parse_policy("Standard")
    sources = [("RDS", f"a#RDS#db{n}", standard, daily) for n in range(4)] + [("EBS", "a#EBS#v", standard, daily)]
    plans = {
        p.kind: p for p in quota_plan.plan(sources, {"RDS": Quota(12, 100), "RDS Cluster": Quota(0, 100), "EBS": None})
    }
    per_source = quota_plan.steady_state(standard)
    assert (plans["RDS"].planned, plans["RDS"].over) == (4 * per_source, 4 * per_source > 100)
    assert plans["RDS"].over  # four daily Standard sources don't fit AWS's default 100
    assert (plans["RDS Cluster"].planned, plans["RDS Cluster"].over) == (0, False)
    assert (plans["EBS"].quota, plans["EBS"].over) == (None, False)
    doc = quota_plan.to_json(plans.values())
    assert {d["kind"]: d["over_quota"] for d in doc} == {"RDS": True, "RDS Cluster": False, "EBS": False}


@pytest.fixture
def dr_table(mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    app_dir = tmp_path / "consumer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    env = {"SOURCE_ACCTS": "111111111111", "JOB_TABLE": "Jobs"}
    (app_dir / ".chalice" / "config.json").write_text(
        json.dumps({"version": "2.0", "stages": {"dev": {"environment_variables": env}}})
    )
    monkeypatch.setitem(ops.APP_DIRS, "consumer", app_dir)
    return boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("Jobs"))


def daily_jobs(table: object, sources: int, lifecycle: str) -> None:
    now = datetime.now(timezone.utc)
    for n in range(sources):
        for day in range(3):
            when = now - timedelta(days=day, hours=1)
            job = Job(
                job_id=f"draco-111111111111-db{n}-{day}",
                state=State.DONE,
                kind="RDS",
                source_acct="111111111111",
                source_arn=f"arn:aws:rds:us-east-1:111111111111:snapshot:db{n}-{day}",
                source_id=f"db{n}-{day}",
                source_name=f"db{n}",
                source_time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                tags={"Draco_Lifecycle": lifecycle},
            )
            table.put_item(Item=job.to_item())  # type: ignore[attr-defined]


def test_status_warns_and_exits_1_when_the_plan_passes_the_accounts_quota(dr_table, capsys) -> None:
    daily_jobs(dr_table, 4, "Standard")
    assert main(["status", "--json"]) == 1
    captured = capsys.readouterr()
    plan = {row["kind"]: row for row in json.loads(captured.out)["quota_plan"]}
    assert plan["RDS"]["quota"] == 100 and plan["RDS"]["planned_copies"] > 100 and plan["RDS"]["over_quota"]
    assert "warning: RDS snapshots:" in captured.err and "OVER the quota" in captured.err


def test_plan_quota_prints_the_plan_alone(dr_table, capsys) -> None:
    daily_jobs(dr_table, 2, "Weekly")
    assert main(["plan", "--quota"]) == 0
    out = capsys.readouterr().out
    assert "RDS snapshots: 14 copies at steady state from 2 source(s), quota 100" in out and "within the quota" in out


def test_bootstrap_says_what_the_quota_holds_and_warns_when_the_plan_passes_it(
    mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from draco.bootstrap import cli

    app_dir = tmp_path / "consumer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    (app_dir / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "stages": {}}))
    monkeypatch.setattr(cli, "CONSUMER_APP_DIR", app_dir)
    argv = ["bootstrap", "consumer", "--source-accounts", "111111111111", "--region", "us-east-1", "--no-alarms"]
    assert main(argv) == 0
    per_source = quota_plan.steady_state(parse_policy("Standard"))
    out = capsys.readouterr().out
    assert f"room for {100 // per_source} daily Standard sources ({per_source} copies each)" in out
    assert "warning: snapshot quota" not in out
    daily_jobs(boto3.resource("dynamodb", region_name="us-east-1").Table("DracoConsumerJobs"), 4, "Standard")
    assert main(argv) == 0
    assert "warning: snapshot quota: RDS snapshots:" in capsys.readouterr().out
