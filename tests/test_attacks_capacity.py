"""Attacks on DR's capacity, approvals and alarms, in the local world, with production's powers only.

Production acts here only through what it holds: its databases and their tags, the
snapshots it takes, its own account. DR's operator acts through the decisions of
``draco.approvals``, with DR's job table. Each test is a row of the README's threat
model, and fails when its protection is removed (the README's mutation table).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import State
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.retention import apply_policy, parse_policy
from draco import approvals
from draco.status import to_json
from draco.world.core import DR, PROD, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

ADMIN = "arn:aws:iam::222222222222:user/dr-admin"


def dr_copies(world: LocalWorld, name: str) -> list[str]:
    return [job.job_id for job in world.jobs(DR) if job.source_name == name and job.state is State.DONE]


def standard_keeps(world: LocalWorld) -> set[str]:
    """What Standard alone would keep of every DR copy ever made, as of now."""
    made = [(job.job_id, job.source_created) for job in world.jobs(DR) if job.state in (State.DONE, State.EXPIRED)]
    return set(apply_policy(parse_policy("Standard"), made, clock.now()).keep)


def table(world: LocalWorld) -> JobTable:
    return JobTable(world.job_table(DR), inventory=True)


def retag(world: LocalWorld, name: str, lifecycle: str) -> None:
    rds = world.client("rds", PROD)
    arn = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Draco_Lifecycle", "Value": lifecycle}])


def metric_values(log: io.StringIO, name: str) -> list[float]:
    """What the apps published for one metric, in order (embedded metric format in the log)."""
    values: list[float] = []
    for line in log.getvalue().splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            doc = json.loads(line)
            if "_aws" in doc and name in doc:
                value = doc[name]
                values += value if isinstance(value, list) else [value]
    return values


def day(world: LocalWorld, n: int, *names: str, per_day: int = 1) -> None:
    """Day ``n``: each source snapshotted ``per_day`` times from 03:00, an hour apart, then a day's runs."""
    for shot in range(per_day):
        world.move_to(world.start + timedelta(days=n, hours=3 + shot))
        for name in names:
            world.take_snapshot(name)
        world.advance(timedelta(minutes=50))
    world.move_to(world.start + timedelta(days=n + 1))


# --------------------------------------------------------------------------- capacity


def made(world: LocalWorld, name: str) -> int:
    """DR copies ever made of a source (kept or since deleted by its lifecycle)."""
    return sum(job.source_name == name and job.state in (State.DONE, State.EXPIRED) for job in world.jobs(DR))


def test_a_new_database_tagged_last_1000_cannot_fill_dr_s_quota_and_starve_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "60")
    log = io.StringIO()
    with LocalWorld(log_stream=log, live=True, app_env={"consumer": {"MAX_KEEP": "3"}}) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "daily=3"})
        world.add_instance("hog", {"Draco_Lifecycle": "last=1000"})  # keeps 1000: more than MAX_KEEP
        for n in range(3):
            world.move_to(world.start + timedelta(days=n, hours=3))
            world.take_snapshot("orders")
            for shot in range(3):  # production snapshots the hog as often as it likes
                world.move_to(world.start + timedelta(days=n, hours=3, minutes=10 * shot))
                world.take_snapshot("hog")
            world.advance(timedelta(hours=3))
        assert made(world, "hog") == 3 + 2  # its share: MAX_KEEP and the slack, no more
        assert made(world, "orders") == 3  # every copy of the other source came
        assert not [job for job in world.jobs(DR) if job.state is State.FAILED]
        waiting = [job for job in world.jobs(DR) if job.state is State.COPY_QUEUED]
        assert len(waiting) == 4 and all("hog holds its share" in job.reason for job in waiting)
        records = {record.source_name: record for record in table(world).sources()}
        assert (records["hog"].lifecycle, records["hog"].pending) == ("", "last=1000")  # waits for approval
        rows = {row["source_name"]: row for row in to_json(world.status())["sources"]}
        assert rows["hog"]["lifecycle_pending"] == "last=1000" and "hog holds its share" in rows["hog"]["waiting"][0]
        assert rows["orders"]["health"] == "ok"
        assert sum(metric_values(log, "CopiesWaitingForRoom")) > 0  # the alarm's metric
        approvals.approve(table(world), world_lifecycles(world), "hog", ADMIN, "last=1000")
        world.take_snapshot("hog")  # its next copy's pass puts the approval in force
        world.advance(timedelta(hours=3))
        assert made(world, "hog") > 5  # approved in DR: its share is what it keeps


def test_copies_wait_while_dr_s_quota_is_full_and_resume_when_room_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "12")
    with LocalWorld(live=True) as world:
        rds = world.client("rds", DR)
        rds.create_db_instance(DBInstanceIdentifier="dr-own", DBInstanceClass="db.t3.micro", Engine="postgres")
        for n in range(11):  # DR's own snapshots fill its quota (moto counts the instance's automated one too)
            rds.create_db_snapshot(DBInstanceIdentifier="dr-own", DBSnapshotIdentifier=f"dr-own-{n}")
        world.add_instance("orders", {"Draco_Lifecycle": "Weekly"})
        for n in range(3):  # days past the attempts that used to fail the copies
            day(world, n, "orders")
        jobs = [job for job in world.jobs(DR) if job.source_name == "orders"]
        assert {(job.state, job.attempts) for job in jobs} == {(State.COPY_QUEUED, 0)}  # never counted, never failed
        assert all("quota" in job.reason.lower() for job in jobs)
        for n in range(3):
            rds.delete_db_snapshot(DBSnapshotIdentifier=f"dr-own-{n}")
        world.advance(timedelta(hours=3))
        assert len(dr_copies(world, "orders")) == 3 and not [j for j in world.jobs(DR) if j.state is State.FAILED]


def test_onboarding_many_databases_within_a_day_with_a_key_budget_and_no_higher_key_cap() -> None:
    names = [f"db{n:03d}" for n in range(30)]
    with LocalWorld() as world:
        approvals.budget(table(world), [PROD], PROD, len(names) - 10, 24, ADMIN)  # KEY_CAP stays 10
        for name in names:
            world.add_instance(name, {"Draco_Lifecycle": "Weekly"})
        world.move_to(world.start + timedelta(hours=3))
        for name in names:
            world.take_snapshot(name)
        assert world.run_until_quiet(limit=timedelta(hours=24))
        assert sum(len(dr_copies(world, name)) for name in names) == len(names)
        assert world.env["consumer"]["KEY_CAP"] == "10"


# --------------------------------------------------------------------------- approvals


def test_the_approve_swap_fails_and_a_rejected_change_stays_quiet_until_production_asks_again() -> None:
    log = io.StringIO()
    with LocalWorld(log_stream=log, live=True) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Standard"})
        for n in range(8):
            day(world, n, "orders")
        retag(world, "orders", "Weekly")
        day(world, 8, "orders")
        assert table(world).source(f"{PROD}#RDS#orders").pending == "Weekly"  # type: ignore[union-attr]
        retag(world, "orders", "last=1")  # production swaps what waits before the operator approves Weekly
        day(world, 9, "orders")
        with pytest.raises(approvals.DecisionError, match="the change waiting for approval is 'last=1'"):
            approvals.approve(table(world), world_lifecycles(world), "orders", ADMIN, "Weekly")
        record = table(world).source(f"{PROD}#RDS#orders")
        assert record is not None and (record.lifecycle, record.pending) == ("Standard", "last=1")
        day(world, 10, "orders")
        assert set(dr_copies(world, "orders")) == standard_keeps(world)  # only what Standard alone deletes went
        approvals.reject(table(world), "orders", ADMIN, "last=1")
        alerts = len([line for line in log.getvalue().splitlines() if "waits for approval in DR" in line])
        for n in range(11, 13):
            day(world, n, "orders")
        assert len([line for line in log.getvalue().splitlines() if "waits for approval in DR" in line]) == alerts
        record = table(world).source(f"{PROD}#RDS#orders")
        assert record is not None and (record.lifecycle, record.pending, record.rejected) == ("Standard", "", "last=1")
        history = [(d.action, d.what, d.was) for d in to_status_decisions(world)]
        assert history == [("reject", "last=1", "Standard")]
        retag(world, "orders", "Test")  # production asks for something else: it waits again
        day(world, 13, "orders")
        record = table(world).source(f"{PROD}#RDS#orders")
        assert record is not None and (record.pending, record.rejected) == ("Test", "")


# --------------------------------------------------------------------------- the recovery point


def test_a_stale_throwaway_source_does_not_mask_a_real_source_going_stale_later() -> None:
    log = io.StringIO()
    with LocalWorld(log_stream=log, every_poll=True) as world:  # every hourly wake-up runs: it reports the RPO
        world.add_instance("throwaway", {"Draco_Lifecycle": "Test"})
        world.add_instance("orders", {"Draco_Lifecycle": "Weekly"})
        day(world, 0, "throwaway", "orders")
        for n in range(1, 4):
            day(world, n, "orders")
        world.advance(timedelta(hours=1))
        assert max(metric_values(log, "SourcesLate")) == 1  # throwaway, late since day 1
        before = len(metric_values(log, "SourcesGoneLate"))
        world.client("rds", PROD).delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
        world.advance(timedelta(days=2))  # production stopped: orders goes late too
        gone = metric_values(log, "SourcesGoneLate")[before:]
        assert sum(gone) > 0  # SourceWentLate fires for orders, though throwaway kept the other alarm on
        assert metric_values(log, "SourcesLate")[-1] == 2
        approvals.retire(table(world), "throwaway", ADMIN)
        world.advance(timedelta(hours=2))
        assert metric_values(log, "SourcesLate")[-1] == 1  # retired: no longer watched
        rows = {row["source_name"]: row for row in to_json(world.status())["sources"]}
        assert rows["throwaway"]["health"] == "retired" and rows["orders"]["health"] == "late"
        assert rows["throwaway"]["decisions"][0]["action"] == "retire"


def world_lifecycles(world: LocalWorld) -> Lifecycles:
    return ConsumerConfig.from_env(world.env["consumer"]).lifecycles


def to_status_decisions(world: LocalWorld) -> list[approvals.Decision]:
    return list(world.status().decisions)
