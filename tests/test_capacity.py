"""DR's capacity on fakes and as pure functions: what a lifecycle keeps at most, shares of DR's
snapshot quota per source and per source account, copies waiting (never failing) for room, key
budgets for onboarding, and the recovery point counting late sources."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib_shared import clock, metrics
from chalicelib_shared.capacity import SLACK, Holding, keep_bound, needs_approval, room, source_share
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds.base import Quota
from chalicelib_shared.lifecycles import Lifecycles, plan_pass
from chalicelib_shared.naming import dr_copy_id
from chalicelib_shared.outcomes import Outcome
from chalicelib_shared.recovery import recovery_point
from chalicelib_shared.retention import LIFECYCLES, parse_policy
from chalicelib_shared.room import key_budget
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import PROD, copy_request
from tests.rigs import build_consumer

pytestmark = pytest.mark.usefixtures("travel")
OTHER = "333333333333"


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


@pytest.mark.parametrize(
    ("text", "bound"),
    [("last=1000", 1000), ("Standard", 31), ("Test", 8), ("Monthly", 32), ("within_daily=1m", 32), ("hourly=5", 5)],
)
def test_what_a_lifecycle_keeps_at_most_at_one_snapshot_a_day(text: str, bound: int) -> None:
    assert keep_bound(parse_policy(text)) == bound


def test_every_built_in_lifecycle_fits_under_the_default_max_keep() -> None:
    settings = Lifecycles({})
    assert all(not needs_approval(settings.max_keep, parse_policy(name), None) for name in LIFECYCLES)
    assert needs_approval(settings.max_keep, parse_policy("last=1000"), None)
    assert not needs_approval(0, parse_policy("last=1000"), None)  # MAX_KEEP=0: off


def test_a_first_lifecycle_past_max_keep_waits_for_approval_and_deletes_nothing() -> None:
    copies = [(f"c{n}", T0 - timedelta(hours=n)) for n in range(50)]
    decided = plan_pass(Lifecycles({}), None, "last=1000", copies, T0)
    assert (decided.in_force, decided.pending, decided.newly_pending, decided.delete) == ("", "last=1000", True, ())
    approved = SourceRecord("k", lifecycle="last=1000")  # draco approve put it in force
    assert plan_pass(Lifecycles({}), approved, "last=1000", copies, T0).pending == ""


def test_a_lengthening_past_max_keep_waits_while_the_lifecycle_in_force_goes_on() -> None:
    copies = [(f"c{n}", T0 - timedelta(days=n)) for n in range(12)]
    decided = plan_pass(Lifecycles({}), SourceRecord("k", lifecycle="Weekly"), "last=1000", copies, T0)
    assert (decided.in_force, decided.pending) == ("Weekly", "last=1000")
    assert decided.delete == ()  # only what both delete: last=1000 deletes none of twelve
    unlocked = Lifecycles({}, lock=False)  # RETENTION_LOCK off gives up shortening, not capacity
    assert plan_pass(unlocked, SourceRecord("k", lifecycle="Weekly"), "last=1000", copies, T0).pending == "last=1000"


def test_shares_of_the_quota_per_source_and_per_account() -> None:
    holdings = [Holding(PROD, "RDS", "orders", 30), Holding(PROD, "RDS", "hog", 42), Holding(OTHER, "RDS", "x", 10)]

    used = Quota(82, 100)

    def why(name: str, acct: str = PROD, quota: Quota | None = used, flying: int = 0) -> str:
        return room(
            kind="RDS",
            source_acct=acct,
            source_name=name,
            quota=quota,
            holdings=holdings,
            account_in_flight=flying,
            source_in_flight=0,
            source_limit=source_share(40, None),
        )

    assert source_share(40, None) == 40 + SLACK == 42
    assert why("hog").startswith("hog holds its share of DR's RDS snapshots (42 of 42")
    assert why("orders", flying=0) == "account 111111111111 holds its share of DR's RDS snapshot quota (72 of 50)"
    assert why("x", acct=OTHER) == ""  # the other account's share is its own
    assert why("x", acct=OTHER, quota=Quota(100, 100)) == "DR's manual snapshot quota for RDS is full (100 of 100)"
    assert why("x", acct=OTHER, quota=None) == ""  # EBS: no quota reported, the source's share only
    # A third account's first copy: the quota is shared among the three that then hold copies, however
    # many accounts DR trusts (200 listed, or an Organization).
    assert why("new", acct="444444444444", quota=Quota(82, 100)) == ""
    holdings.append(Holding("444444444444", "RDS", "new", 33))
    assert why("new", acct="444444444444", quota=Quota(82, 100)) == (
        "account 444444444444 holds its share of DR's RDS snapshot quota (33 of 33)"
    )


def test_a_copy_past_its_source_s_share_waits_in_its_queue_and_resumes_when_room_frees(travel, log) -> None:
    rig = build_consumer(MAX_KEEP="1")
    key = f"{PROD}#RDS#db1"
    rig.table.save_source(SourceRecord(key, newest_time=clock.iso(T0), lifecycle="Test", held=10))  # Test keeps 8
    snapshot = rig.source("snap-b", name="db1")
    rig.on(copy_request(snapshot))
    result = rig.on(rig.shared(snapshot))
    assert result.outcome is Outcome.QUEUED and "db1 holds its share" in result.detail
    job_id = dr_copy_id(PROD, "snap-b")
    waiting = rig.table.get(job_id)
    assert waiting is not None and waiting.state is State.COPY_QUEUED and "(10 of 10" in waiting.reason
    assert job_id not in rig.table.holders("RDS") and metric("CopiesWaitingForRoom") == [1.0]
    for _ in range(30):  # a day and more of waiting: never failed for it
        travel.shift(timedelta(hours=1))
        rig.app.poll()
    assert rig.table.state(job_id) is State.COPY_QUEUED
    record = rig.table.source(key)
    assert record is not None
    rig.table.save_source(
        SourceRecord(key, newest_time=clock.iso(T0), lifecycle="Test", held=8, version=record.version)
    )
    travel.shift(timedelta(hours=1))
    assert rig.app.poll()[Outcome.STARTED] == 1


def test_a_copy_waits_while_dr_s_quota_is_full_and_aws_refusing_it_never_fails_it(travel) -> None:
    rig = build_consumer()
    rig.snaps().quota_max = 1
    rig.snaps().add("draco-other", snapshot_type="manual")
    snapshot = rig.source("snap-b", name="db1")
    rig.on(copy_request(snapshot))
    assert "quota for RDS is full (1 of 1)" in rig.on(rig.shared(snapshot)).detail
    rig.snaps().quota_max = None  # AWS no longer reports it, but refuses the copy: waited out, never counted
    job_id = dr_copy_id(PROD, "snap-b")
    for _ in range(3 * rig.app.config.limits.max_attempts):
        rig.snaps().fail("copy", "SnapshotQuotaExceeded")
        travel.shift(timedelta(hours=1))
        rig.app.poll()
    waiting = rig.table.get(job_id)
    assert waiting is not None and (waiting.state, waiting.attempts) == (State.COPY_QUEUED, 0)
    travel.shift(timedelta(hours=1))
    assert rig.app.poll()[Outcome.STARTED] == 1


def test_a_key_budget_lets_one_account_past_key_cap_and_no_other(travel) -> None:
    rig = build_consumer(KEY_CAP="1", SOURCE_ACCTS=f"{PROD},{OTHER}")
    rig.table.grant(key_budget(PROD), 2, clock.iso(T0 + timedelta(days=1)))
    for n in range(4):
        snapshot = rig.source(f"snap-{n}", name=f"db{n}")
        rig.on(copy_request(snapshot))
        rig.on(rig.shared(snapshot))
    assert rig.keys.created == ["db0", "db1", "db2"]  # KEY_CAP, then the budget of two
    assert rig.table.state(dr_copy_id(PROD, "snap-3")) is State.COPY_QUEUED


def test_the_recovery_point_counts_late_sources_so_one_stale_source_hides_no_other() -> None:
    now = T0
    records = [
        SourceRecord(f"{PROD}#RDS#throwaway", newest_time=clock.iso(now - timedelta(days=30))),
        SourceRecord(f"{PROD}#RDS#orders", newest_time=clock.iso(now - timedelta(hours=27))),
        SourceRecord(f"{PROD}#RDS#fresh", newest_time=clock.iso(now + timedelta(hours=2))),  # a claimed future time
        SourceRecord(f"{PROD}#RDS#gone", newest_time=clock.iso(now - timedelta(days=9)), retired_at=clock.iso(now)),
    ]
    point = recovery_point(records, now, 26)
    assert point.late == (f"{PROD}#RDS#orders", f"{PROD}#RDS#throwaway")
    assert point.gone_late == (f"{PROD}#RDS#orders",)  # its own notification, though throwaway stays late
    assert point.ages[f"{PROD}#RDS#fresh"] == 0.0 and f"{PROD}#RDS#gone" not in point.ages
    assert point.oldest == 720.0


def test_a_done_copy_leaves_its_source_s_pool_in_flight_in_the_write_that_counts_it_held(travel) -> None:
    rig = build_consumer()
    key = f"{PROD}#RDS#db1"
    snapshot = rig.source("snap-b", name="db1")
    rig.on(copy_request(snapshot))
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.STARTED
    job_id = dr_copy_id(PROD, "snap-b")
    assert rig.table.holders(f"room#{key}") == {job_id}  # in flight: counted in the pool
    rig.snaps().finish(job_id)
    rig.app.poll()
    record = rig.table.source(key)
    assert rig.table.state(job_id) is State.DONE and record is not None and record.held == 1
    assert rig.table.holders(f"room#{key}") == set()  # held now: counted once, in the record only


def test_passing_errors_reading_dr_s_capacity_never_spend_a_copy_s_attempts(travel, monkeypatch) -> None:
    """Before a copy starts, DR reads its capacity; a throttled or failing read is waited out (five
    minutes), not counted: twelve failing reads in a row, past MAX_ATTEMPTS, leave the copy queued,
    and it starts once the reads succeed."""
    rig = build_consumer()
    sources = rig.table.sources
    failing = {"left": 12}

    def flaky() -> list[SourceRecord]:
        if failing["left"]:
            failing["left"] -= 1
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "try later"}}, "Query")
        return sources()

    monkeypatch.setattr(rig.table, "sources", flaky)
    snapshot = rig.source("snap-c", name="db1")
    rig.on(copy_request(snapshot))
    result = rig.on(rig.shared(snapshot))
    job_id = dr_copy_id(PROD, "snap-c")
    assert result.outcome is Outcome.QUEUED and "could not read DR's capacity" in result.detail
    while failing["left"]:
        travel.shift(timedelta(minutes=5))
        rig.app.poll()
        job = rig.table.get(job_id)
        assert job is not None and job.state is State.COPY_QUEUED and job.attempts == 0
    travel.shift(timedelta(minutes=5))
    assert rig.app.poll()[Outcome.STARTED] == 1
    assert rig.table.state(job_id) is State.COPYING


def test_a_failing_hourly_report_leaves_the_wake_up_standing(travel, monkeypatch, log) -> None:
    """The wake-up runs the hourly checks before its round: a failed read of the source records there
    is logged, and the wake-up goes on to its round instead of failing the run."""
    rig = build_consumer()
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "try later"}}, "Query")
    monkeypatch.setattr(rig.table, "sources", lambda: (_ for _ in ()).throw(error))
    rounds: list[bool] = []
    monkeypatch.setattr(rig.app, "round", lambda wake_up: rounds.append(wake_up))
    rig.app.wake_up()  # raised the Query's error before the round, without the guard
    assert rounds == [True]
    assert any(line["message"] == "recovery point not reported this hour" for line in log())
