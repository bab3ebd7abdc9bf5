"""The DR account's use-cases on fakes, up to a verified transit copy: who may ask, what is copied,
and the verification of a shared transit copy against AWS's record before anything is acted on.
DR copies: ``test_consumer_copies``; across Regions and EBS: ``test_consumer_regions``; the
lifecycle pass: ``test_lifecycles``."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib_shared import clock, metrics
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import Phase
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import SOURCE_ARN_TAG, SOURCE_NAME_TAG, SOURCE_TIME_TAG, dr_copy_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.retention import NO_LIFECYCLE
from tests.conftest import T0
from tests.fakes import DR, OTHER, PROD, PRODUCER_TOPIC, copy_request, copy_shared, job_of
from tests.rigs import ConsumerRig, build_consumer

pytestmark = pytest.mark.usefixtures("travel")
COPY = dr_copy_id(PROD, "snap-1")
TAKEN = T0 - timedelta(hours=3)


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


# --- who may ask -----------------------------------------------------------------------------------


def test_an_account_not_allowed_is_refused() -> None:
    rig = build_consumer()
    stranger = rig.cloud.api(OTHER).add("snap-1", created=TAKEN)
    assert rig.refused(copy_request(stranger)) == f"account {OTHER} is not an allowed source account"
    assert rig.nothing_changed()


def test_a_snapshot_in_another_region_is_refused() -> None:
    rig = build_consumer()
    message = copy_request(rig.source(), source_arn=f"arn:aws:rds:eu-west-1:{PROD}:snapshot:snap-1")
    assert rig.refused(message) == f"{message.source_arn} is not in the source Region (us-east-1)"
    assert rig.nothing_changed()


@pytest.mark.parametrize(("ahead", "accepted"), [(timedelta(minutes=5), True), (timedelta(minutes=6), False)])
def test_a_source_time_in_the_future_is_refused_beyond_clock_skew(ahead: timedelta, accepted: bool) -> None:
    rig = build_consumer()
    message = copy_request(rig.source(), source_time=T0 + ahead)
    if accepted:
        assert rig.on(message).outcome is Outcome.COPY_INITIATED
    else:
        assert rig.refused(message) == "SourceTime 2026-03-02T12:06:00Z is in the future"
        assert rig.nothing_changed()


def test_a_message_for_the_producer_is_refused() -> None:
    rig = build_consumer()
    message = replace(copy_request(rig.source()), event_type=Msg.DELETE_SHARED)
    assert rig.refused(message) == "snapshot-delete-shared is not a message for the consumer"


# --- copy-request ---------------------------------------------------------------------------------


def test_a_tagged_snapshot_is_initiated_and_nothing_is_spent_yet() -> None:
    rig = build_consumer()
    snapshot = rig.source(tags={"Draco_Lifecycle": "Weekly", "team": "shop"})
    assert rig.on(copy_request(snapshot)) == Result(Outcome.COPY_INITIATED, "", snapshot.arn)
    job = rig.table.get(COPY)
    assert job is not None and (job.state, job.due) == (State.INITIATED, clock.iso(T0 + timedelta(days=3)))
    assert job.tags == {"Draco_Lifecycle": "Weekly", "team": "shop"} and job.source_time == clock.iso(TAKEN)
    assert [(topic, m.event_type) for topic, m in rig.sent.sent] == [(PRODUCER_TOPIC, Msg.COPY_INITIATE)]
    assert rig.keys.calls == [] and rig.snaps().calls == []


def test_a_repeated_request_is_answered_again_with_the_same_decision() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    for _ in range(2):
        assert rig.on(copy_request(snapshot)).outcome is Outcome.COPY_INITIATED
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
    snapshot = rig.source(tags=tags)
    result = rig.on(copy_request(snapshot))
    assert rig.table.state(COPY) is state
    if state is State.SKIPPED:
        assert result == Result(Outcome.NOT_COPIED, reason, snapshot.arn)
        assert rig.sent.types() == [Msg.NO_COPY] and rig.sent.last().reason == reason
    else:
        assert rig.sent.types() == [Msg.COPY_INITIATE]


def test_an_unknown_lifecycle_is_copied_and_reported(log) -> None:
    rig = build_consumer()
    rig.on(copy_request(rig.source(tags={"Draco_Lifecycle": "Weekyl"})))
    assert rig.table.state(COPY) is State.INITIATED
    warning = next(line for line in log() if line["message"] == "unknown lifecycle: copying, deleting nothing")
    assert "Weekyl" in warning["problem"]


def test_a_request_for_a_job_that_moved_on_is_a_no_op() -> None:
    rig = build_consumer()
    job = rig.copying()
    sent = len(rig.sent.sent)
    assert rig.on(copy_request(rig.source())) == Result(Outcome.DUPLICATE, "job is copying", job.source_arn)
    assert len(rig.sent.sent) == sent


def test_a_skipped_job_is_decided_again_by_a_later_request_that_says_copy() -> None:
    rig = build_consumer()
    snapshot = rig.source(tags={"Draco_Lifecycle": "Ignore"})
    assert rig.on(copy_request(snapshot)).outcome is Outcome.NOT_COPIED
    travel_free = copy_request(snapshot, tags=(("Draco_Lifecycle", "Weekly"),))
    assert rig.on(travel_free).outcome is Outcome.COPY_INITIATED
    job = rig.table.get(COPY)
    assert job is not None and (job.state, job.reason, job.tags) == (State.INITIATED, "", {"Draco_Lifecycle": "Weekly"})
    assert job.due == clock.iso(T0 + timedelta(days=3))
    assert rig.sent.types() == [Msg.NO_COPY, Msg.COPY_INITIATE]


def test_a_later_request_that_says_ignore_does_not_skip_an_initiated_job() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    rig.on(copy_request(snapshot))
    forged = copy_request(snapshot, tags=(("Draco_Lifecycle", "Ignore"),))
    assert rig.on(forged).outcome is Outcome.COPY_INITIATED
    assert rig.table.state(COPY) is State.INITIATED


def test_a_job_another_run_created_first_is_the_one_answered() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    other = job_of(snapshot, State.SKIPPED, dr=True, reason="decided by another run")
    rig.table.before_next_write(COPY, lambda: rig.table.create(other))
    assert rig.on(copy_request(snapshot)) == Result(Outcome.NOT_COPIED, "decided by another run", snapshot.arn)
    assert len(rig.table.items) == 1


def test_a_re_decision_another_run_made_first_is_the_one_answered() -> None:
    rig = build_consumer()
    snapshot = rig.source(tags={"Draco_Lifecycle": "Ignore"})
    rig.on(copy_request(snapshot))
    rig.table.race(COPY, State.INITIATED, reason="")
    assert rig.on(copy_request(snapshot, tags=(("Draco_Lifecycle", "Test"),))).outcome is Outcome.COPY_INITIATED
    job = rig.table.get(COPY)
    assert job is not None and job.version == 2 and job.tags == {"Draco_Lifecycle": "Ignore"}  # the other run's write


# --- copy-shared: verified against AWS's record ------------------------------------------------


def test_a_verified_transit_copy_is_copied_under_the_source_s_key_found_before_made() -> None:
    rig = build_consumer()
    job = rig.copying(tags={"Draco_Lifecycle": "Standard", "aws:cloudformation:stack-name": "shop"})
    transit = rig.prod().snapshots["draco-transit-snap-1"]
    assert rig.keys.calls == [("find", "db1"), ("create", "db1")]
    assert rig.table.counters == {f"keys#{PROD}#2026-03-02": 1}
    ((from_arn, name, key, tags, _),) = rig.snaps().called("copy")
    assert (from_arn, name, key) == (transit.arn, COPY, rig.keys.keys["db1"])
    assert tags == {
        "Draco_Copy": "DR",
        SOURCE_ARN_TAG: job.source_arn,
        "Draco_SourceId": job.source_id,
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
    assert rig.copying().target_key == "arn:aws:kms:us-east-1:222222222222:key/old"
    assert rig.keys.calls == [("find", "db1")] and rig.table.counters == {}


def test_a_copy_shared_whose_request_was_lost_is_copied() -> None:
    rig = build_consumer()
    assert rig.on(rig.shared(rig.source())).outcome is Outcome.STARTED
    assert rig.table.state(COPY) is State.COPYING


def test_the_source_time_is_aws_s_where_the_kind_keeps_it() -> None:
    rig = build_consumer()
    snapshot = rig.source()
    rig.on(rig.shared(snapshot, source_time=T0 - timedelta(days=30)))  # a claim AWS contradicts
    job = rig.table.get(COPY)
    assert job is not None and job.source_time == clock.iso(TAKEN)


@pytest.mark.parametrize(("claimed", "believed"), [(T0 - timedelta(minutes=1), T0), (TAKEN, TAKEN)])
def test_a_cluster_source_time_is_never_later_than_the_transit_copy(travel, claimed, believed) -> None:
    rig = build_consumer()
    snapshot = rig.source("c-1", "RDS Cluster", "c1")
    travel.shift(-timedelta(hours=1))  # the transit copy is made an hour ago...
    message = rig.shared(snapshot, source_time=claimed)
    travel.shift(timedelta(hours=1))  # ...and DR hears of it now
    rig.on(message)
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
    message = forge(rig, rig.shared(rig.source()))
    assert problem in rig.refused(message)
    assert rig.nothing_changed()


def test_a_copy_shared_from_the_future_is_refused() -> None:
    rig = build_consumer()
    assert "in the future" in rig.refused(rig.shared(rig.source(), source_time=T0 + timedelta(hours=1)))
    assert rig.nothing_changed()


@pytest.mark.parametrize("state", [State.DONE, State.EXPIRED, State.SKIPPED])
def test_a_copy_shared_dr_needs_no_more_is_answered_with_delete_shared(state: State) -> None:
    rig = build_consumer()
    snapshot = rig.source(tags={"Draco_Lifecycle": "Ignore"} if state is State.SKIPPED else None)
    rig.table.put(job_of(snapshot, state, dr=True))
    message = rig.shared(snapshot)
    result = rig.on(message)
    assert result == Result(Outcome.DUPLICATE, f"transit copy not needed (job is {state.value})", snapshot.arn)
    assert rig.sent.types() == [Msg.DELETE_SHARED]
    assert (rig.sent.last().transit_arn, rig.sent.last().transit_id) == (message.transit_arn, message.transit_id)
    assert "copy" not in rig.snaps().ops()


def test_a_repeated_copy_shared_is_a_no_op() -> None:
    rig = build_consumer()
    rig.copying()
    again = copy_shared(rig.source(), rig.prod().snapshots["draco-transit-snap-1"])
    assert rig.on(again).detail == "job is copying"
    assert len(rig.snaps().called("copy")) == 1 and rig.keys.created == ["db1"]


def test_without_a_free_slot_the_verified_copy_waits_and_starts_as_slots_free() -> None:
    rig = build_consumer(INSTANCE_COPY_LIMIT="1")
    first = rig.copying("first")
    snapshot = rig.source()
    rig.on(copy_request(snapshot))
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.QUEUED
    waiting = rig.table.get(COPY)
    assert waiting is not None and waiting.state is State.COPY_QUEUED
    assert waiting.transit_id == "draco-transit-snap-1" and waiting.source_time == clock.iso(TAKEN)  # stored verified
    rig.snaps().finish(first.job_id)
    assert rig.app.poll() == Counter({Outcome.COPIED: 1, Outcome.STARTED: 1})
    assert rig.table.state(COPY) is State.COPYING and rig.table.holders("RDS") == {COPY}
