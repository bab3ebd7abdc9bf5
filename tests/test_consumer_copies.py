"""The DR copies on fakes: keys (found before made, capped per account and day), starting the
copy, the copy ending (released transit copy, locks, lifecycle), time-outs and the recovery point."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib_shared import clock, metrics
from chalicelib_shared.config import Lock
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import EventType, Phase, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import SOURCE_ARN_TAG, dr_copy_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import PROD, PRODUCER_TOPIC, copy_request, job_of, share_transit
from tests.rigs import build_consumer

pytestmark = pytest.mark.usefixtures("travel")
COPY = dr_copy_id(PROD, "snap-1")
TAKEN = T0 - timedelta(hours=3)


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


# --- keys ------------------------------------------------------------------------------------------


def test_new_keys_are_capped_per_account_and_day_and_the_copy_waits(travel, log) -> None:
    rig = build_consumer(KEY_CAP="1")
    rig.copying("snap-a", name="db1")
    snapshot = rig.source("snap-b", name="db2")
    rig.on(copy_request(snapshot))
    result = rig.on(rig.shared(snapshot))
    reason = f"1 new DR keys made today for account {PROD} (KEY_CAP)"
    assert result == Result(Outcome.QUEUED, reason, snapshot.arn)
    job_id = dr_copy_id(PROD, "snap-b")
    waiting = rig.table.get(job_id)
    assert waiting is not None and (waiting.state, waiting.reason) == (State.COPY_QUEUED, reason)
    assert waiting.due == clock.iso(T0 + timedelta(hours=1)) and job_id not in rig.table.holders("RDS")
    assert rig.keys.created == ["db1"] and metric("KeysCapped") == [1.0]
    assert any(line["message"] == "new DR keys capped" and line["level"] == "ERROR" for line in log())
    rig.copying("snap-c", name="db1")  # a source with a key is not held up
    travel.shift(timedelta(hours=1))
    assert rig.app.poll()[Outcome.QUEUED] == 1  # the same day: still capped
    travel.move_to(T0.replace(day=3, hour=0, minute=0))
    assert rig.app.poll()[Outcome.STARTED] == 1
    assert rig.table.state(job_id) is State.COPYING and rig.keys.created == ["db1", "db2"]


def test_a_wait_for_a_key_another_run_moved_first_leaves_that_run_s_copy_its_slot() -> None:
    rig = build_consumer(KEY_CAP="1")
    rig.copying("snap-a", name="db1")
    snapshot = rig.source("snap-b", name="db2")
    rig.on(copy_request(snapshot))
    message = rig.shared(snapshot)
    job_id = dr_copy_id(PROD, "snap-b")
    rig.table.race(job_id, State.COPYING, copy_id=job_id)  # it got a key before the cap was reached
    assert rig.on(message) == Result(Outcome.DUPLICATE, "moved by another run", snapshot.arn)
    assert rig.table.state(job_id) is State.COPYING and job_id in rig.table.holders("RDS")


def test_an_unencrypted_cluster_copy_needs_no_key(log) -> None:
    rig = build_consumer()
    job = rig.copying("c-1", "RDS Cluster", encrypted=False)
    assert rig.keys.calls == [] and job.target_key == "" and not job.encrypted
    assert rig.snaps("RDS Cluster").called("copy")[0][2] is None
    assert any("the DR copy stays unencrypted" in line["message"] for line in log())


def test_a_queued_copy_that_has_its_key_asks_for_none() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    transit = share_transit(rig.cloud, snapshot)
    key = "arn:aws:kms:us-east-1:222222222222:key/k"
    rig.table.put(job_of(snapshot, State.COPY_QUEUED, dr=True, transit_arn=transit.arn, target_key=key))
    assert rig.app.poll() == Counter({Outcome.STARTED: 1})
    assert rig.keys.calls == [] and rig.snaps().called("copy")[0][2] == key


def test_source_tags_beyond_aws_s_limit_are_dropped_and_logged(log) -> None:
    rig = build_consumer()
    tags = {"Draco_Lifecycle": "Standard", **{f"t{n:02}": "v" for n in range(49)}}
    rig.copying(tags=tags)
    copied = rig.snaps().called("copy")[0][3]
    assert len(copied) == 50 and copied["Draco_Lifecycle"] == "Standard"  # the lifecycle is kept first
    # 6 of DRACO's own, the lifecycle, t00..t41 in key order, and the note: the last in key order go
    dropped = next(line for line in log() if line["message"].startswith("source tags dropped"))
    assert dropped["dropped"] == [f"t{n}" for n in range(42, 49)]
    assert copied["Draco_TagsDropped"] == ",".join(f"t{n}" for n in range(42, 49))


# --- starting the DR copy -------------------------------------------------------------------------


def test_a_dr_copy_name_taken_by_another_snapshot_fails_the_job() -> None:
    rig = build_consumer()
    rig.snaps().add(COPY, tags={SOURCE_ARN_TAG: "arn:aws:rds:us-east-1:111111111111:snapshot:other"})
    snapshot = rig.source()
    rig.on(copy_request(snapshot))
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.FAILED
    failed = rig.table.get(COPY)
    assert failed is not None and failed.reason == f"snapshot {COPY} exists and is not this source's DR copy"
    assert failed.failed_from == "initiated" and rig.table.holders("RDS") == set()
    assert "delete" not in rig.snaps().ops() and Msg.DELETE_SHARED not in rig.sent.types()


def test_a_dr_copy_a_run_started_before_it_died_is_taken_up() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    rig.snaps().add(COPY, tags={SOURCE_ARN_TAG: snapshot.arn})
    rig.on(copy_request(snapshot))
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.STARTED
    assert rig.table.state(COPY) is State.COPYING


def test_a_throttled_dr_copy_waits_in_the_queue_with_its_slot_free() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    rig.on(copy_request(snapshot))
    rig.snaps().fail("copy", "KMSKeyNotAccessibleFault", "the key is not yet usable")
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.RETRYING
    waiting = rig.table.get(COPY)
    assert waiting is not None and (waiting.state, waiting.attempts) == (State.COPY_QUEUED, 1)
    assert waiting.transit_id == "draco-transit-snap-1" and rig.table.holders("RDS") == set()


# --- the DR copy ends -------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["event", "poll"])
def test_a_ready_dr_copy_releases_the_transit_copy_and_applies_the_lifecycle(travel, by: str) -> None:
    rig = build_consumer()
    job = rig.copying()
    travel.shift(timedelta(minutes=15))
    rig.snaps().finish(COPY)
    if by == "event":
        result = rig.app.on_event(SnapshotEvent("RDS", EventType.COPY_FINISHED, COPY))
        assert result == Result(Outcome.COPIED, COPY, job.source_arn)
    else:
        assert rig.app.poll()[Outcome.COPIED] == 1
    done = rig.table.get(COPY)
    assert done is not None and done.state is State.DONE and rig.table.holders("RDS") == set()
    topic, message = rig.sent.sent[-1]
    assert (topic, message.event_type, message.transit_arn) == (PRODUCER_TOPIC, Msg.DELETE_SHARED, job.transit_arn)
    record = rig.table.source(job.inventory_key)
    assert record is not None and (record.lifecycle, record.newest_time) == ("Standard", clock.iso(TAKEN))
    assert metric("CopyDurationSeconds") == [900.0] and metric("CopiesCompleted") == ([1.0] if by == "poll" else [])


@pytest.mark.parametrize(
    "event",
    [SnapshotEvent("RDS", EventType.CREATED, COPY), SnapshotEvent("RDS", EventType.COPY_FINISHED, "gone")],
)
def test_events_other_than_a_known_copy_finishing_are_ignored(event: SnapshotEvent) -> None:
    rig = build_consumer()
    rig.snaps().add(COPY)
    assert rig.app.on_event(event).outcome is Outcome.IGNORED
    assert rig.table.items == {} and rig.sent.sent == []


def test_a_copy_finished_event_for_a_copy_not_in_progress_is_ignored() -> None:
    rig = build_consumer()
    rig.snaps().add("someone-elses")
    result = rig.app.on_event(SnapshotEvent("RDS", EventType.COPY_FINISHED, "someone-elses"))
    assert result == Result(Outcome.IGNORED, "not a DR copy in progress")


@pytest.mark.parametrize("end", ["failed", "vanished"])
def test_a_failed_or_vanished_dr_copy_fails_the_job_and_keeps_the_transit_copy(end: str) -> None:
    rig = build_consumer()
    job = rig.copying()
    rig.snaps().finish(COPY, Phase.FAILED) if end == "failed" else rig.snaps().vanish(COPY)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(COPY)
    assert failed is not None and (failed.state, failed.failed_from) == (State.FAILED, "copying")
    assert failed.reason.startswith(f"DR copy {COPY} is failed" if end == "failed" else f"DR copy {COPY} disappeared")
    assert Msg.DELETE_SHARED not in rig.sent.types() and job.transit_id in rig.prod().snapshots
    assert rig.table.holders("RDS") == set()


def test_a_finish_another_run_recorded_first_applies_no_lifecycle() -> None:
    rig = build_consumer()
    job = rig.copying()
    rig.snaps().finish(COPY)
    rig.table.race(COPY, State.DONE)
    assert rig.app.poll() == Counter({Outcome.DUPLICATE: 1})
    assert rig.table.source(job.inventory_key) is None


def test_a_dr_copy_is_locked_for_the_kind_s_lock_days() -> None:
    rig = build_consumer()
    rig.app.config = replace(rig.app.config, locks={"RDS": Lock(30, "compliance")})
    rig.copying()
    rig.snaps().finish(COPY)
    rig.app.poll()
    assert rig.snaps().called("lock") == [(COPY, 30, "compliance")]
    done = rig.table.get(COPY)
    assert done is not None and done.locked_until == clock.iso(T0 + timedelta(days=30))


# --- waiting for production, and the recovery point --------------------------------------------------


def test_an_initiated_job_fails_when_no_copy_shared_comes_within_three_days(travel) -> None:
    rig = build_consumer()
    rig.on(copy_request(rig.source()))
    travel.shift(timedelta(days=3) - timedelta(seconds=1))
    assert rig.app.poll() == Counter()
    travel.shift(timedelta(seconds=1))
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(COPY)
    assert failed is not None and failed.reason == "no transit copy was shared within 3 days"
    assert failed.failed_from == "initiated"


def test_the_recovery_point_is_each_source_s_newest_copy_age_never_negative(log) -> None:
    rig = build_consumer()
    for key, newest, pending in [
        (f"{PROD}#RDS#db1", "2026-03-02T07:00:00Z", ""),
        (f"{PROD}#RDS#db2", "2026-03-02T13:00:00Z", "Test"),  # a claimed time ahead of DR's clock
        (f"{PROD}#RDS#db3", "", ""),
    ]:
        rig.table.save_source(SourceRecord(key, newest_time=newest, pending=pending))
    ages = rig.app.report_recovery_point()
    assert ages == {f"{PROD}#RDS#db1": 5.0, f"{PROD}#RDS#db2": 0.0}
    assert metric("RecoveryPointAgeHours") == [5.0] and metric("LifecycleChangesPending") == [1.0]
    assert next(line for line in log() if line["message"] == "recovery point")["age_hours"] == ages


def test_the_recovery_point_is_reported_hourly_even_with_nothing_protected() -> None:
    rig = build_consumer()
    rig.app.poll()
    rig.app.poll()
    assert metric("RecoveryPointAgeHours") == [0.0]


def test_hourly_the_consumer_sets_the_lifecycles_steady_state_against_the_quota_and_warns_when_over(log) -> None:
    """The SnapshotQuotaPlan alarm's metric: four daily Standard sources need more than AWS's default 100."""
    from chalicelib_shared.steady_state import steady_state

    rig = build_consumer()
    rig.snaps().quota_max = 100
    for n in range(4):
        rig.table.save_source(SourceRecord(f"{PROD}#RDS#db{n}", lifecycle="Standard"))
    rig.app.report_recovery_point()  # the hourly check
    per_source = steady_state(rig.app.config.lifecycles.policy("Standard"))
    assert 4 * per_source > 100 and metric("SnapshotQuotaPlannedPercent") == [pytest.approx(4 * per_source)]
    warning = next(line for line in log() if line["message"] == "planned copies exceed the snapshot quota")
    assert (warning["kind"], warning["planned"], warning["max"]) == ("RDS", 4 * per_source, 100)
    assert rig.app.lifecycle.report_quota_plan(rig.table.sources()) == {"RDS": (4 * per_source, 100)}
