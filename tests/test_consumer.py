"""The DR account's use-cases on fakes: what it copies, how it verifies a shared transit copy
against AWS's record before acting, keys, DR copies ending, time-outs and the recovery point.
The lifecycle pass is in ``test_lifecycles``."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib_shared import clock, metrics
from chalicelib_shared.config import Lock
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import EventType, Phase, Snapshot, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import SOURCE_ARN_TAG, SOURCE_NAME_TAG, SOURCE_TIME_TAG, dr_copy_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.retention import NO_LIFECYCLE
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import (
    DR,
    OTHER,
    PROD,
    PRODUCER_TOPIC,
    ConsumerRig,
    build_consumer,
    copy_request,
    copy_shared,
    job_of,
    share_transit,
)

pytestmark = pytest.mark.usefixtures("travel")
COPY = dr_copy_id(PROD, "snap-1")
TAKEN = T0 - timedelta(hours=3)


def source(rig: ConsumerRig, snapshot_id: str = "snap-1", kind: str = "RDS", name: str = "db1", **add: Any) -> Snapshot:
    """A snapshot in production."""
    return rig.prod(kind).add(snapshot_id, name, **{"created": TAKEN, **add})


def on(rig: ConsumerRig, message: Message) -> Result:
    result = rig.app.on_message(message)
    assert isinstance(result, Result), result
    return result


def refused(rig: ConsumerRig, message: Message) -> str:
    result = rig.app.on_message(message)
    assert isinstance(result, Rejection), result
    return result.reason


def shared(rig: ConsumerRig, snapshot: Snapshot, kind: str = "RDS", **changes: Any) -> Message:
    """Production shares the snapshot's transit copy: its copy-shared."""
    return copy_shared(snapshot, share_transit(rig.cloud, snapshot, kind), kind, **changes)


def copying(rig: ConsumerRig, snapshot_id: str = "snap-1", kind: str = "RDS", **add: Any) -> Job:
    snapshot = source(rig, snapshot_id, kind, **add)
    on(rig, copy_request(snapshot, kind))
    assert on(rig, shared(rig, snapshot, kind)).outcome is Outcome.STARTED
    job = rig.table.get(dr_copy_id(PROD, snapshot_id))
    assert job is not None and job.state is State.COPYING
    return job


def nothing_changed(rig: ConsumerRig) -> bool:
    dr = rig.snaps()
    return rig.table.items == {} and rig.sent.sent == [] and rig.keys.calls == [] and "copy" not in dr.ops()


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


# --- who may ask -----------------------------------------------------------------------------------


def test_an_account_not_allowed_is_refused() -> None:
    rig = build_consumer()
    stranger = rig.cloud.api(OTHER).add("snap-1", created=TAKEN)
    assert refused(rig, copy_request(stranger)) == f"account {OTHER} is not an allowed source account"
    assert nothing_changed(rig)


def test_a_snapshot_in_another_region_is_refused() -> None:
    rig = build_consumer()
    message = copy_request(source(rig), source_arn=f"arn:aws:rds:eu-west-1:{PROD}:snapshot:snap-1")
    assert refused(rig, message) == f"{message.source_arn} is not in the source Region (us-east-1)"
    assert nothing_changed(rig)


@pytest.mark.parametrize(("ahead", "accepted"), [(timedelta(minutes=5), True), (timedelta(minutes=6), False)])
def test_a_source_time_in_the_future_is_refused_beyond_clock_skew(ahead: timedelta, accepted: bool) -> None:
    rig = build_consumer()
    message = copy_request(source(rig), source_time=T0 + ahead)
    if accepted:
        assert on(rig, message).outcome is Outcome.COPY_INITIATED
    else:
        assert refused(rig, message) == "SourceTime 2026-03-02T12:06:00Z is in the future"
        assert nothing_changed(rig)


def test_a_message_for_the_producer_is_refused() -> None:
    rig = build_consumer()
    message = replace(copy_request(source(rig)), event_type=Msg.DELETE_SHARED)
    assert refused(rig, message) == "snapshot-delete-shared is not a message for the consumer"


# --- copy-request ---------------------------------------------------------------------------------


def test_a_tagged_snapshot_is_initiated_and_nothing_is_spent_yet() -> None:
    rig = build_consumer()
    snapshot = source(rig, tags={"Draco_Lifecycle": "Weekly", "team": "shop"})
    assert on(rig, copy_request(snapshot)) == Result(Outcome.COPY_INITIATED, "", snapshot.arn)
    job = rig.table.get(COPY)
    assert job is not None and (job.state, job.due) == (State.INITIATED, clock.iso(T0 + timedelta(days=3)))
    assert job.tags == {"Draco_Lifecycle": "Weekly", "team": "shop"} and job.source_time == clock.iso(TAKEN)
    assert [(topic, m.event_type) for topic, m in rig.sent.sent] == [(PRODUCER_TOPIC, Msg.COPY_INITIATE)]
    assert rig.keys.calls == [] and rig.snaps().calls == []


def test_a_repeated_request_is_answered_again_with_the_same_decision() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    for _ in range(2):
        assert on(rig, copy_request(snapshot)).outcome is Outcome.COPY_INITIATED
    assert rig.sent.types() == [Msg.COPY_INITIATE] * 2 and len(rig.table.items) == 1


@pytest.mark.parametrize(
    ("tags", "env", "state", "reason"),
    [
        ({"Draco_Lifecycle": "Ignore"}, {}, State.SKIPPED, "Draco_Lifecycle is Ignore"),
        ({}, {}, State.SKIPPED, NO_LIFECYCLE),
        ({}, {"DEFAULT_LIFECYCLE": "Weekly"}, State.INITIATED, ""),
        ({"Draco_Lifecycle": "Weekly"}, {"DEFAULT_LIFECYCLE": "Test"}, State.INITIATED, ""),
    ],
)
def test_what_is_copied_follows_the_lifecycle_tag_or_the_default(
    tags: dict[str, str], env: dict[str, str], state: State, reason: str
) -> None:
    rig = build_consumer(**env)
    snapshot = source(rig, tags=tags)
    result = on(rig, copy_request(snapshot))
    assert rig.table.state(COPY) is state
    if state is State.SKIPPED:
        assert result == Result(Outcome.NOT_COPIED, reason, snapshot.arn)
        assert rig.sent.types() == [Msg.NO_COPY] and rig.sent.last().reason == reason
    else:
        assert rig.sent.types() == [Msg.COPY_INITIATE]


def test_an_unknown_lifecycle_is_copied_and_reported(log) -> None:
    rig = build_consumer()
    on(rig, copy_request(source(rig, tags={"Draco_Lifecycle": "Weekyl"})))
    assert rig.table.state(COPY) is State.INITIATED
    warning = next(line for line in log() if line["message"] == "unknown lifecycle: copying, deleting nothing")
    assert "Weekyl" in warning["problem"]


def test_a_request_for_a_job_that_moved_on_is_a_no_op() -> None:
    rig = build_consumer()
    job = copying(rig)
    sent = len(rig.sent.sent)
    assert on(rig, copy_request(source(rig))) == Result(Outcome.DUPLICATE, "job is copying", job.source_arn)
    assert len(rig.sent.sent) == sent


def test_a_skipped_job_is_decided_again_by_a_later_request_that_says_copy() -> None:
    rig = build_consumer()
    snapshot = source(rig, tags={"Draco_Lifecycle": "Ignore"})
    assert on(rig, copy_request(snapshot)).outcome is Outcome.NOT_COPIED
    travel_free = copy_request(snapshot, tags=(("Draco_Lifecycle", "Weekly"),))
    assert on(rig, travel_free).outcome is Outcome.COPY_INITIATED
    job = rig.table.get(COPY)
    assert job is not None and (job.state, job.reason, job.tags) == (State.INITIATED, "", {"Draco_Lifecycle": "Weekly"})
    assert job.due == clock.iso(T0 + timedelta(days=3))
    assert rig.sent.types() == [Msg.NO_COPY, Msg.COPY_INITIATE]


def test_a_later_request_that_says_ignore_does_not_skip_an_initiated_job() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    on(rig, copy_request(snapshot))
    forged = copy_request(snapshot, tags=(("Draco_Lifecycle", "Ignore"),))
    assert on(rig, forged).outcome is Outcome.COPY_INITIATED
    assert rig.table.state(COPY) is State.INITIATED


def test_a_job_another_run_created_first_is_the_one_answered() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    other = job_of(snapshot, State.SKIPPED, dr=True, reason="decided by another run")
    rig.table.before_next_write(COPY, lambda: rig.table.create(other))
    assert on(rig, copy_request(snapshot)) == Result(Outcome.NOT_COPIED, "decided by another run", snapshot.arn)
    assert len(rig.table.items) == 1


def test_a_re_decision_another_run_made_first_is_the_one_answered() -> None:
    rig = build_consumer()
    snapshot = source(rig, tags={"Draco_Lifecycle": "Ignore"})
    on(rig, copy_request(snapshot))
    rig.table.race(COPY, State.INITIATED, reason="")
    assert on(rig, copy_request(snapshot, tags=(("Draco_Lifecycle", "Test"),))).outcome is Outcome.COPY_INITIATED
    job = rig.table.get(COPY)
    assert job is not None and job.version == 2 and job.tags == {"Draco_Lifecycle": "Ignore"}  # the other run's write


# --- copy-shared: verified against AWS's record ------------------------------------------------


def test_a_verified_transit_copy_is_copied_under_the_source_s_key_found_before_made() -> None:
    rig = build_consumer()
    job = copying(rig, tags={"Draco_Lifecycle": "Standard", "aws:cloudformation:stack-name": "shop"})
    transit = rig.prod().snapshots["draco-transit-snap-1"]
    assert rig.keys.calls == [("find", "db1"), ("create", "db1")]
    assert rig.table.counters == {f"keys#{PROD}#2026-03-02": 1}
    ((from_arn, name, key, tags),) = rig.snaps().called("copy")
    assert (from_arn, name, key) == (transit.arn, COPY, rig.keys.keys["db1"])
    assert tags == {
        "Draco_Copy": "DR",
        SOURCE_ARN_TAG: job.source_arn,
        SOURCE_NAME_TAG: "db1",
        SOURCE_TIME_TAG: clock.iso(TAKEN),
        "Draco_Name": COPY,
        "Draco_Lifecycle": "Standard",
        "origin:aws:cloudformation:stack-name": "shop",
    }
    assert (job.copy_id, job.target_key, job.transit_arn, job.transit_id) == (COPY, key, transit.arn, transit.name)
    assert rig.table.holders("RDS") == {COPY} and rig.snaps().snapshots[COPY].phase is Phase.IN_PROGRESS


def test_a_source_with_a_key_uses_it_and_counts_no_new_key() -> None:
    rig = build_consumer()
    rig.keys.keys["db1"] = "arn:aws:kms:us-east-1:222222222222:key/old"
    assert copying(rig).target_key == "arn:aws:kms:us-east-1:222222222222:key/old"
    assert rig.keys.calls == [("find", "db1")] and rig.table.counters == {}


def test_a_copy_shared_whose_request_was_lost_is_copied() -> None:
    rig = build_consumer()
    assert on(rig, shared(rig, source(rig))).outcome is Outcome.STARTED
    assert rig.table.state(COPY) is State.COPYING


def test_the_source_time_is_aws_s_where_the_kind_keeps_it() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    on(rig, shared(rig, snapshot, source_time=T0 - timedelta(days=30)))  # a claim AWS contradicts
    job = rig.table.get(COPY)
    assert job is not None and job.source_time == clock.iso(TAKEN)


@pytest.mark.parametrize(("claimed", "believed"), [(T0 - timedelta(minutes=1), T0), (TAKEN, TAKEN)])
def test_a_cluster_source_time_is_never_later_than_the_transit_copy(travel, claimed, believed) -> None:
    rig = build_consumer()
    snapshot = source(rig, "c-1", "RDS Cluster", "c1")
    travel.shift(-timedelta(hours=1))  # the transit copy is made an hour ago...
    message = shared(rig, snapshot, "RDS Cluster", source_time=claimed)
    travel.shift(timedelta(hours=1))  # ...and DR hears of it now
    on(rig, message)
    job = rig.table.get(dr_copy_id(PROD, "c-1"))
    assert job is not None and job.source_time == clock.iso(min(believed, T0 - timedelta(hours=1)))


def _not_shared(rig: ConsumerRig, message: Message) -> Message:
    rig.prod().shared_with.clear()
    return message


def _other_owner(rig: ConsumerRig, message: Message) -> Message:
    api = rig.prod()
    api.snapshots[message.transit_id] = replace(api.snapshots[message.transit_id], owner=OTHER)
    return message


def _other_id(rig: ConsumerRig, message: Message) -> Message:
    return replace(message, transit_id="draco-transit-snap-2")


def _not_draco_s(rig: ConsumerRig, message: Message) -> Message:
    api = rig.prod()
    api.copy(message.source_arn, "handmade", None, {})
    api.finish("handmade")
    api.share("handmade", DR)
    return replace(message, transit_arn=api.arn("handmade"), transit_id="handmade")


def _other_source(rig: ConsumerRig, message: Message) -> Message:
    api = rig.prod()
    api.snapshots[message.transit_id] = replace(api.snapshots[message.transit_id], source_name="db2")
    return message


def _copied_from_other(rig: ConsumerRig, message: Message) -> Message:
    api = rig.prod()
    api.snapshots[message.transit_id] = replace(api.snapshots[message.transit_id], copied_from=api.arn("snap-2"))
    return message


def _not_ready(rig: ConsumerRig, message: Message) -> Message:
    rig.prod().finish(message.transit_id, Phase.IN_PROGRESS)
    return message


@pytest.mark.parametrize(
    ("forge", "problem"),
    [
        (_not_shared, "is not a snapshot shared with this account"),
        (_other_owner, f"it is owned by {OTHER}"),
        (_other_id, "its id is not the TransitId"),
        (_not_draco_s, "it is not DRACO's transit copy of the source snapshot"),
        (_other_source, "it was taken of db2, not db1"),
        (_copied_from_other, "AWS records it as a copy of another snapshot"),
        (_not_ready, "it is copying"),
    ],
)
def test_a_copy_shared_aws_does_not_confirm_is_refused_and_changes_nothing(forge, problem: str) -> None:
    rig = build_consumer()
    message = forge(rig, shared(rig, source(rig)))
    assert problem in refused(rig, message)
    assert nothing_changed(rig)


def test_a_copy_shared_from_the_future_is_refused() -> None:
    rig = build_consumer()
    assert "in the future" in refused(rig, shared(rig, source(rig), source_time=T0 + timedelta(hours=1)))
    assert nothing_changed(rig)


@pytest.mark.parametrize("state", [State.DONE, State.EXPIRED, State.SKIPPED])
def test_a_copy_shared_dr_needs_no_more_is_answered_with_delete_shared(state: State) -> None:
    rig = build_consumer()
    snapshot = source(rig, tags={"Draco_Lifecycle": "Ignore"} if state is State.SKIPPED else None)
    rig.table.put(job_of(snapshot, state, dr=True))
    message = shared(rig, snapshot)
    result = on(rig, message)
    assert result == Result(Outcome.DUPLICATE, f"transit copy not needed (job is {state.value})", snapshot.arn)
    assert rig.sent.types() == [Msg.DELETE_SHARED]
    assert (rig.sent.last().transit_arn, rig.sent.last().transit_id) == (message.transit_arn, message.transit_id)
    assert "copy" not in rig.snaps().ops()


def test_a_repeated_copy_shared_is_a_no_op() -> None:
    rig = build_consumer()
    copying(rig)
    again = copy_shared(source(rig), rig.prod().snapshots["draco-transit-snap-1"])
    assert on(rig, again).detail == "job is copying"
    assert len(rig.snaps().called("copy")) == 1 and rig.keys.created == ["db1"]


def test_without_a_free_slot_the_verified_copy_waits_and_starts_as_slots_free() -> None:
    rig = build_consumer(INSTANCE_COPY_LIMIT="1")
    first = copying(rig, "first")
    snapshot = source(rig)
    on(rig, copy_request(snapshot))
    assert on(rig, shared(rig, snapshot)).outcome is Outcome.QUEUED
    waiting = rig.table.get(COPY)
    assert waiting is not None and waiting.state is State.COPY_QUEUED
    assert waiting.transit_id == "draco-transit-snap-1" and waiting.source_time == clock.iso(TAKEN)  # stored verified
    rig.snaps().finish(first.job_id)
    assert rig.app.poll() == Counter({Outcome.COPIED: 1, Outcome.STARTED: 1})
    assert rig.table.state(COPY) is State.COPYING and rig.table.holders("RDS") == {COPY}


# --- keys ------------------------------------------------------------------------------------------


def test_new_keys_are_capped_per_account_and_day_and_the_copy_waits(travel, log) -> None:
    rig = build_consumer(KEY_CAP="1")
    copying(rig, "snap-a", name="db1")
    snapshot = source(rig, "snap-b", name="db2")
    on(rig, copy_request(snapshot))
    result = on(rig, shared(rig, snapshot))
    reason = f"1 new DR keys made today for account {PROD} (KEY_CAP)"
    assert result == Result(Outcome.QUEUED, reason, snapshot.arn)
    job_id = dr_copy_id(PROD, "snap-b")
    waiting = rig.table.get(job_id)
    assert waiting is not None and (waiting.state, waiting.reason) == (State.COPY_QUEUED, reason)
    assert waiting.due == clock.iso(T0 + timedelta(hours=1)) and job_id not in rig.table.holders("RDS")
    assert rig.keys.created == ["db1"] and metric("KeysCapped") == [1.0]
    assert any(line["message"] == "new DR keys capped" and line["level"] == "ERROR" for line in log())
    copying(rig, "snap-c", name="db1")  # a source with a key is not held up
    travel.shift(timedelta(hours=1))
    assert rig.app.poll()[Outcome.QUEUED] == 1  # the same day: still capped
    travel.move_to(T0.replace(day=3, hour=0, minute=0))
    assert rig.app.poll()[Outcome.STARTED] == 1
    assert rig.table.state(job_id) is State.COPYING and rig.keys.created == ["db1", "db2"]


def test_a_wait_for_a_key_another_run_moved_first_leaves_that_run_s_copy_its_slot() -> None:
    rig = build_consumer(KEY_CAP="1")
    copying(rig, "snap-a", name="db1")
    snapshot = source(rig, "snap-b", name="db2")
    on(rig, copy_request(snapshot))
    message = shared(rig, snapshot)
    job_id = dr_copy_id(PROD, "snap-b")
    rig.table.race(job_id, State.COPYING, copy_id=job_id)  # it got a key before the cap was reached
    assert on(rig, message) == Result(Outcome.DUPLICATE, "moved by another run", snapshot.arn)
    assert rig.table.state(job_id) is State.COPYING and job_id in rig.table.holders("RDS")


def test_an_unencrypted_cluster_copy_needs_no_key(log) -> None:
    rig = build_consumer()
    job = copying(rig, "c-1", "RDS Cluster", encrypted=False)
    assert rig.keys.calls == [] and job.target_key == "" and not job.encrypted
    assert rig.snaps("RDS Cluster").called("copy")[0][2] is None
    assert any("the DR copy stays unencrypted" in line["message"] for line in log())


def test_a_queued_copy_that_has_its_key_asks_for_none() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    transit = share_transit(rig.cloud, snapshot)
    key = "arn:aws:kms:us-east-1:222222222222:key/k"
    rig.table.put(job_of(snapshot, State.COPY_QUEUED, dr=True, transit_arn=transit.arn, target_key=key))
    assert rig.app.poll() == Counter({Outcome.STARTED: 1})
    assert rig.keys.calls == [] and rig.snaps().called("copy")[0][2] == key


def test_source_tags_beyond_aws_s_limit_are_dropped_and_logged(log) -> None:
    rig = build_consumer()
    tags = {"Draco_Lifecycle": "Standard", **{f"t{n:02}": "v" for n in range(49)}}
    copying(rig, tags=tags)
    assert len(rig.snaps().called("copy")[0][3]) == 50
    dropped = next(line for line in log() if line["message"].startswith("source tags dropped"))
    assert dropped["dropped"] == ["t44", "t45", "t46", "t47", "t48"]


# --- starting the DR copy -------------------------------------------------------------------------


def test_a_dr_copy_name_taken_by_another_snapshot_fails_the_job() -> None:
    rig = build_consumer()
    rig.snaps().add(COPY, tags={SOURCE_ARN_TAG: "arn:aws:rds:us-east-1:111111111111:snapshot:other"})
    snapshot = source(rig)
    on(rig, copy_request(snapshot))
    assert on(rig, shared(rig, snapshot)).outcome is Outcome.FAILED
    failed = rig.table.get(COPY)
    assert failed is not None and failed.reason == f"snapshot {COPY} exists and is not this source's DR copy"
    assert failed.failed_from == "initiated" and rig.table.holders("RDS") == set()
    assert "delete" not in rig.snaps().ops() and Msg.DELETE_SHARED not in rig.sent.types()


def test_a_dr_copy_a_run_started_before_it_died_is_taken_up() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    rig.snaps().add(COPY, tags={SOURCE_ARN_TAG: snapshot.arn})
    on(rig, copy_request(snapshot))
    assert on(rig, shared(rig, snapshot)).outcome is Outcome.STARTED
    assert rig.table.state(COPY) is State.COPYING


def test_a_throttled_dr_copy_waits_in_the_queue_with_its_slot_free() -> None:
    rig = build_consumer()
    snapshot = source(rig)
    on(rig, copy_request(snapshot))
    rig.snaps().fail("copy", "KMSKeyNotAccessibleFault", "the key is not yet usable")
    assert on(rig, shared(rig, snapshot)).outcome is Outcome.RETRYING
    waiting = rig.table.get(COPY)
    assert waiting is not None and (waiting.state, waiting.attempts) == (State.COPY_QUEUED, 1)
    assert waiting.transit_id == "draco-transit-snap-1" and rig.table.holders("RDS") == set()


# --- the DR copy ends -------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["event", "poll"])
def test_a_ready_dr_copy_releases_the_transit_copy_and_applies_the_lifecycle(travel, by: str) -> None:
    rig = build_consumer()
    job = copying(rig)
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
    job = copying(rig)
    rig.snaps().finish(COPY, Phase.FAILED) if end == "failed" else rig.snaps().vanish(COPY)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(COPY)
    assert failed is not None and (failed.state, failed.failed_from) == (State.FAILED, "copying")
    assert failed.reason.startswith(f"DR copy {COPY} is failed" if end == "failed" else f"DR copy {COPY} disappeared")
    assert Msg.DELETE_SHARED not in rig.sent.types() and job.transit_id in rig.prod().snapshots
    assert rig.table.holders("RDS") == set()


def test_a_finish_another_run_recorded_first_applies_no_lifecycle() -> None:
    rig = build_consumer()
    job = copying(rig)
    rig.snaps().finish(COPY)
    rig.table.race(COPY, State.DONE)
    assert rig.app.poll() == Counter({Outcome.DUPLICATE: 1})
    assert rig.table.source(job.inventory_key) is None


def test_a_dr_copy_is_locked_for_the_kind_s_lock_days() -> None:
    rig = build_consumer()
    rig.app.config = replace(rig.app.config, locks={"RDS": Lock(30, "compliance")})
    copying(rig)
    rig.snaps().finish(COPY)
    rig.app.poll()
    assert rig.snaps().called("lock") == [(COPY, 30, "compliance")]
    done = rig.table.get(COPY)
    assert done is not None and done.locked_until == clock.iso(T0 + timedelta(days=30))


# --- waiting for production, and the recovery point --------------------------------------------------


def test_an_initiated_job_fails_when_no_copy_shared_comes_within_three_days(travel) -> None:
    rig = build_consumer()
    on(rig, copy_request(source(rig)))
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
