"""The consumer's edges that mutation testing found untested: a late copy-shared once DR holds its own copy
(the transit copy may be gone), a relay copy's copy-finished event, the key cap met by the relay step, which
source time wins, and the exact moment a DR copy's lock ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib_shared import clock
from chalicelib_shared.consumer_copies import KEY_WAIT
from chalicelib_shared.jobs import Leg, State
from chalicelib_shared.kinds import EventType, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import dr_copy_id
from chalicelib_shared.outcomes import Outcome
from tests.conftest import T0
from tests.fakes import ELSEWHERE, PROD, copy_request, job_of
from tests.rigs import build_consumer
from tests.test_lifecycles import KEY, copy_ids, history, remaining

pytestmark = pytest.mark.usefixtures("travel")
CLUSTER = "RDS Cluster"
COPY = dr_copy_id(PROD, "c-1")


@pytest.mark.parametrize("state", [State.RELAY_QUEUED, State.RELAYING, State.DONE, State.EXPIRED])
def test_a_late_copy_shared_once_dr_holds_its_copy_is_answered_without_the_transit_copy(state: State) -> None:
    rig = build_consumer()
    snapshot = rig.source()
    late = rig.shared(snapshot)
    rig.table.put(job_of(snapshot, state, dr=True, transit_id=late.transit_id, transit_arn=late.transit_arn))
    rig.prod().vanish(late.transit_id)  # production deleted it already
    result = rig.on(late)
    assert (result.outcome, result.detail) == (Outcome.DUPLICATE, f"transit copy not needed (job is {state.value})")
    topic, answer = rig.sent.sent[-1]
    assert answer.event_type is Msg.DELETE_SHARED and answer.transit_arn == late.transit_arn
    assert "shared" not in rig.snaps().ops() and rig.table.state(dr_copy_id(PROD, "snap-1")) is state


def test_a_copy_shared_for_a_copy_still_running_is_verified_and_changes_nothing() -> None:
    rig = build_consumer()
    job = rig.copying()
    again = rig.shared(rig.prod().snapshots["snap-1"])
    assert rig.on(again).outcome is Outcome.DUPLICATE
    assert "shared" in rig.snaps().ops() and rig.table.get(job.job_id) == job
    assert Msg.DELETE_SHARED not in rig.sent.types()


def test_a_relay_copys_copy_finished_event_is_left_to_the_poller() -> None:
    rig = build_consumer(SOURCE_REGION=ELSEWHERE)
    job = rig.copying("c-1", CLUSTER, name="c1")
    assert job.leg is Leg.TO_RELAY
    rig.snaps(CLUSTER).add(COPY, "c1")  # a snapshot of that name in DR's Region tells of a copy finished
    result = rig.app.on_event(SnapshotEvent(CLUSTER, EventType.COPY_FINISHED, COPY))
    assert (result.outcome, result.detail) == (Outcome.IGNORED, "not a DR copy in progress")
    assert rig.table.get(COPY) == job and Msg.DELETE_SHARED not in rig.sent.types()


def test_the_relay_step_past_the_key_cap_waits_in_its_own_queue() -> None:
    rig = build_consumer(SOURCE_REGION=ELSEWHERE, KEY_CAP="1")
    rig.copying("c-0", CLUSTER, name="c0")  # c0's key: the day's one new key
    snapshot = rig.source("c-1", CLUSTER, "c1")
    relay_arn = rig.snaps(CLUSTER, ELSEWHERE).arn(COPY)
    rig.table.put(job_of(snapshot, State.RELAY_QUEUED, dr=True, leg=Leg.RELAY, relay_id=COPY, relay_arn=relay_arn))
    assert rig.app.poll()[Outcome.QUEUED] == 1
    waiting = rig.table.get(COPY)
    assert waiting is not None and (waiting.state, waiting.leg) == (State.RELAY_QUEUED, Leg.RELAY)
    assert "KEY_CAP" in waiting.reason and waiting.due == clock.iso(T0 + KEY_WAIT)
    assert COPY not in rig.snaps(CLUSTER).snapshots and COPY not in rig.table.holders(CLUSTER)


@pytest.mark.parametrize(
    ("kind", "claimed_hours_ago", "expected_hours_ago"),
    [
        ("RDS", 5, 3),  # AWS keeps the source's time across copies: it wins over any claim
        ("RDS", 1, 3),
        ("EBS", 5, 5),  # otherwise the claim, up to the transit copy's own creation (now)
        ("EBS", -0.05, 0),  # a claim a few minutes ahead (within clock skew) is cut to the transit copy's time
    ],
)
def test_which_source_time_wins(kind: str, claimed_hours_ago: float, expected_hours_ago: float) -> None:
    rig = build_consumer()
    source_id = "snap-0123456789abcdef0" if kind == "EBS" else "snap-1"
    snapshot = rig.source(source_id, kind, "vol-0123456789abcdef0" if kind == "EBS" else "db1")
    claimed = T0 - timedelta(hours=claimed_hours_ago)
    rig.on(replace(copy_request(snapshot), source_time=claimed))
    assert rig.on(rig.shared(snapshot, source_time=claimed)).outcome is Outcome.STARTED
    job = rig.table.get(dr_copy_id(PROD, source_id))
    assert job is not None and job.source_time == clock.iso(T0 - timedelta(hours=expected_hours_ago))


@pytest.mark.parametrize(("lock_ends_in", "deleted"), [(timedelta(0), True), (timedelta(seconds=1), False)])
def test_a_copy_whose_lock_ends_now_may_be_deleted(lock_ends_in: timedelta, deleted: bool) -> None:
    rig = build_consumer(NO_DRY_RUN="1", MIN_KEEP="1")
    history(rig, 3, "last=1")
    oldest = rig.table.get(copy_ids(2)[0])
    assert oldest is not None
    rig.table.put(replace(oldest, locked_until=clock.iso(T0 + lock_ends_in)))
    rig.app.apply_lifecycle(KEY)
    expected = copy_ids(0) if deleted else copy_ids(0, 2)
    assert remaining(rig) == expected
