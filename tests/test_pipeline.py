"""What both apps share (``pipeline.Side``), on fakes: the poll round, copy slots, waiting out
AWS errors with backoff, failing one job alone, races with another run, the quota watch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib_shared import clock, metrics
from chalicelib_shared.container import Container
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.naming import transit_id
from chalicelib_shared.outcomes import Outcome
from chalicelib_shared.producer import TRANSIT_POOL, Producer
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import PROD, TRANSIT_KEY, job_of
from tests.rigs import ProducerRig, build_consumer, build_producer

pytestmark = pytest.mark.usefixtures("travel")


def copying(rig: ProducerRig, snapshot_id: str, kind: str = "RDS", ready: bool = False, **changes: object) -> Job:
    """A job whose transit copy runs (``ready``: has just finished), holding its slots."""
    api = rig.snaps(kind)
    source = api.add(snapshot_id, created=T0 - timedelta(hours=1))
    start = api.copy(source.arn, transit_id(snapshot_id), TRANSIT_KEY, {})
    if ready:
        api.finish(start.copy_id)
    api.calls.clear()
    job = job_of(source, State.TRANSIT_COPYING, transit_id=start.copy_id, transit_arn=start.arn, **changes)
    for pool in rig.app.rooms(job):
        rig.table.take(pool, job.job_id, 100)
    return rig.table.put(job)


def queued(rig: ProducerRig, snapshot_id: str, **changes: object) -> Job:
    source = rig.snaps().add(snapshot_id, created=T0 - timedelta(hours=1))
    return rig.table.put(job_of(source, State.TRANSIT_QUEUED, **changes))


def metric(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


# --- the poll round ---------------------------------------------------------------------------


def test_a_poll_round_looks_at_all_copies_in_flight_with_one_describe_per_kind() -> None:
    rig = build_producer()
    copying(rig, "snap-1", ready=True)
    copying(rig, "snap-2")
    copying(rig, "c-1", kind="RDS Cluster")
    assert rig.app.poll() == Counter({Outcome.SHARED: 1, Outcome.IN_PROGRESS: 2})
    assert rig.snaps().called("describe_many") == [(("draco-transit-snap-1", "draco-transit-snap-2"),)]
    assert rig.snaps("RDS Cluster").called("describe_many") == [(("draco-transit-c-1",),)]
    assert "describe" not in rig.snaps().ops()
    assert rig.table.state("draco-transit-snap-1") is State.SHARED
    assert rig.table.state("draco-transit-snap-2") is State.TRANSIT_COPYING


def test_when_the_copies_in_flight_cannot_be_listed_each_job_looks_at_its_own(log) -> None:
    rig = build_producer()
    copying(rig, "snap-1", ready=True)
    copying(rig, "snap-2")
    rig.snaps().fail("describe_many", "Throttling", "Rate exceeded")
    assert rig.app.poll() == Counter({Outcome.SHARED: 1, Outcome.IN_PROGRESS: 1})
    assert rig.snaps().called("describe") == [("draco-transit-snap-1",), ("draco-transit-snap-2",)]
    warning = next(line for line in log() if line["message"] == "could not look at the copies in flight")
    assert warning["kind"] == "RDS" and "Throttling" in warning["error"]


def test_the_poll_round_logs_what_moved_and_keeps_what_repeats_every_minute_quiet(log) -> None:
    rig = build_producer()
    done = copying(rig, "snap-1", ready=True)
    copying(rig, "snap-2")
    rig.app.poll()
    lines = [line for line in log() if "outcome" in line]
    assert [(line["message"], line["correlation_id"]) for line in lines] == [
        ("transit copy shared: draco-transit-snap-1", done.source_arn)
    ]  # "in progress" is logged at debug level, under the INFO threshold
    assert metric("CopiesCompleted") == [1.0]


def test_a_failed_job_due_is_left_alone_by_a_side_with_no_cleanup() -> None:
    rig = build_consumer()
    source = rig.prod().add("snap-1")
    rig.table.put(job_of(source, State.FAILED, dr=True, cleanup=True, failed_from="copying"))
    assert rig.app.poll() == Counter({Outcome.IGNORED: 1})


# --- copy slots ---------------------------------------------------------------------------------


def test_queued_copies_start_oldest_first_while_their_kind_has_free_slots() -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    queued(rig, "snap-new", created="2026-03-02T11:00:00Z")
    queued(rig, "snap-old", created="2026-03-02T10:00:00Z")
    assert rig.app.poll() == Counter({Outcome.STARTED: 1, Outcome.QUEUED: 1})
    assert rig.table.state("draco-transit-snap-old") is State.TRANSIT_COPYING
    assert rig.table.state("draco-transit-snap-new") is State.TRANSIT_QUEUED
    assert rig.table.holders("RDS") == {"draco-transit-snap-old"}
    assert metric("JobsWaitingForSlot") == [1.0]


@pytest.mark.parametrize("holder_state", [State.DONE, State.FAILED, None])
def test_a_slot_held_by_a_job_that_no_longer_copies_is_cleared(holder_state: State | None) -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    if holder_state is not None:
        rig.table.put(job_of(rig.snaps().add("gone"), holder_state, failed_from="transit-copying"))
    rig.table.take("RDS", "draco-transit-gone", 1)  # its holder died before giving it back
    queued(rig, "snap-1")
    assert rig.app.poll() == Counter({Outcome.STARTED: 1})
    assert rig.table.holders("RDS") == {"draco-transit-snap-1"}


def test_a_slot_held_by_a_copy_still_running_is_kept() -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    busy = copying(rig, "busy", due="2026-03-02T13:00:00Z")
    queued(rig, "snap-1")
    assert rig.app.poll() == Counter({Outcome.QUEUED: 1})  # the busy job is not due, but it copies
    assert rig.table.holders("RDS") == {busy.job_id}


# --- waiting out AWS errors ---------------------------------------------------------------------


@pytest.mark.parametrize(("attempts", "minutes"), [(0, 2), (1, 4), (2, 8), (4, 32), (5, 60), (6, 60)])
def test_an_error_worth_waiting_out_backs_off_doubling_up_to_an_hour(attempts: int, minutes: int) -> None:
    rig = build_producer()
    job = queued(rig, "snap-1", attempts=attempts)
    rig.snaps().fail("copy", "Throttling", "Rate exceeded")
    assert rig.app.poll() == Counter({Outcome.RETRYING: 1})
    waiting = rig.table.get(job.job_id)
    assert waiting is not None and waiting.state is State.TRANSIT_QUEUED
    assert (waiting.attempts, waiting.due) == (attempts + 1, clock.iso(T0 + timedelta(minutes=minutes)))
    assert waiting.reason == "copy: Throttling: Rate exceeded"
    assert rig.table.holders("RDS") == set() and rig.table.holders(TRANSIT_POOL) == set()  # no copy runs


def test_the_job_is_tried_again_when_its_backoff_is_over(travel) -> None:
    rig = build_producer()
    job = queued(rig, "snap-1")
    rig.snaps().fail("copy", EndpointConnectionError(endpoint_url="https://rds"))  # no answer at all
    assert rig.app.poll() == Counter({Outcome.RETRYING: 1})
    travel.shift(timedelta(minutes=1))
    assert rig.app.poll() == Counter()  # not due yet
    travel.shift(timedelta(minutes=1))
    assert rig.app.poll() == Counter({Outcome.STARTED: 1})
    started = rig.table.get(job.job_id)
    assert started is not None and (started.state, started.attempts, started.reason) == (State.TRANSIT_COPYING, 0, "")


def test_max_attempts_fails_the_job_with_the_last_error() -> None:
    rig = build_producer(MAX_ATTEMPTS="3")
    job = queued(rig, "snap-1", attempts=2)
    rig.snaps().fail("copy", "InternalFailure", "try later", status=500)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.state is State.FAILED
    assert failed.reason == "gave up after 3 attempts; last error copy: InternalFailure: try later"
    assert failed.failed_from == "transit-queued"
    assert metric("JobsFailed") == [1.0]


def test_a_permanent_refusal_fails_that_job_at_once_and_holds_up_no_other() -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    tde = queued(rig, "tde", created="2026-03-02T10:00:00Z")
    other = queued(rig, "snap-1", created="2026-03-02T11:00:00Z")
    rig.snaps().fail("copy", "InvalidParameterValue", "TDE snapshots cannot be copied")
    assert rig.app.poll() == Counter({Outcome.FAILED: 1, Outcome.STARTED: 1})
    failed = rig.table.get(tde.job_id)
    assert failed is not None and failed.reason == "copy: InvalidParameterValue: TDE snapshots cannot be copied"
    assert failed.attempts == 0 and failed.failed_from == "transit-queued" and not failed.cleanup
    assert rig.table.state(other.job_id) is State.TRANSIT_COPYING
    assert rig.table.holders("RDS") == {other.job_id}


def test_an_error_while_a_copy_runs_keeps_its_slot() -> None:
    rig = build_producer()
    job = copying(rig, "snap-1")
    rig.snaps().fail("describe_many", "Throttling")
    rig.snaps().fail("describe", "Throttling")
    assert rig.app.poll() == Counter({Outcome.RETRYING: 1})
    assert rig.table.state(job.job_id) is State.TRANSIT_COPYING
    assert rig.table.holders("RDS") == {job.job_id} and rig.table.holders(TRANSIT_POOL) == {job.job_id}


# --- races with another run -------------------------------------------------------------------


def test_a_start_another_run_made_first_is_a_no_op() -> None:
    rig = build_producer()
    job = queued(rig, "snap-1")
    rig.table.race(job.job_id, State.TRANSIT_COPYING, transit_id="draco-transit-snap-1")
    assert rig.app.poll() == Counter({Outcome.DUPLICATE: 1})
    stored = rig.table.get(job.job_id)
    assert stored is not None and stored.version == 2  # the other run's write, not this one's


def test_a_finish_another_run_recorded_first_keeps_the_slot_it_released() -> None:
    rig = build_producer()
    job = copying(rig, "snap-1", ready=True)
    rig.table.race(job.job_id, State.TRANSIT_COPYING, reason="another poller")
    assert rig.app.poll() == Counter({Outcome.DUPLICATE: 1})
    assert rig.table.holders("RDS") == {job.job_id}  # released only with the job's own move
    stored = rig.table.get(job.job_id)
    assert stored is not None and stored.reason == "another poller"


@pytest.mark.parametrize("code", ["InvalidParameterValue", "Throttling"])
def test_an_error_on_a_job_another_run_moved_on_leaves_that_run_s_copy_and_slots(code: str) -> None:
    rig = build_producer()
    job = queued(rig, "snap-1")
    rig.snaps().fail("copy", code, "refused or throttled")

    def another_run_starts_the_copy() -> None:  # between this run's read and its write
        stored = rig.table.get(job.job_id)
        assert stored is not None
        rig.table.advance(stored, State.TRANSIT_COPYING, transit_id=transit_id("snap-1"))

    rig.table.before_next_write(job.job_id, another_run_starts_the_copy)
    assert rig.app.poll() == Counter({Outcome.DUPLICATE: 1})
    assert rig.table.state(job.job_id) is State.TRANSIT_COPYING
    assert rig.table.holders("RDS") == rig.table.holders(TRANSIT_POOL) == {job.job_id}
    assert metric("JobsFailed") == []


# --- the quota watch ---------------------------------------------------------------------------


def test_quota_use_from_80_percent_is_warned_about_hourly(log, travel) -> None:
    rig = build_producer()
    rig.snaps().quota_max = 10
    for n in range(8):
        rig.snaps().add(f"manual-{n}")
    assert rig.app.watch_quota() == {"RDS": (8, 10)}
    assert metric("SnapshotQuotaUsedPercent") == [80.0]
    warning = next(line for line in log() if line["message"] == "snapshot quota nearly used up")
    assert (warning["kind"], warning["used"], warning["max"]) == ("RDS", 8, 10)
    assert rig.app.watch_quota() == {}  # at most hourly
    assert rig.app.watch_quota(force=True) == {"RDS": (8, 10)}


def test_a_quota_that_cannot_be_read_is_skipped_with_a_warning(log) -> None:
    rig = build_producer()
    rig.snaps("RDS Cluster").quota_max = 4
    rig.snaps("RDS Cluster").add("c-1")
    rig.snaps().fail("quota", "AccessDenied")
    assert rig.app.watch_quota(force=True) == {"RDS Cluster": (1, 4)}
    assert metric("SnapshotQuotaUsedPercent") == [25.0]
    assert any(line["message"] == "could not read the snapshot quota" for line in log())
    assert not any(line["message"] == "snapshot quota nearly used up" for line in log())


def test_no_quota_reported_means_no_metric() -> None:
    assert build_producer().app.watch_quota(force=True) == {}
    assert metric("SnapshotQuotaUsedPercent") == []


class RecordingSwitch:
    """The poller's switch, as the use-cases drive it."""

    def __init__(self) -> None:
        self.settled: list[tuple[datetime | None, bool]] = []
        self.rested: list[tuple[bool | None, bool]] = []  # (work left as read, may rest)

    def wake(self) -> None:
        raise AssertionError("the use-cases never wake the poller themselves: the job store does")

    def work_added(self) -> None:
        return None

    def rest_wake_up(self, has_work: bool | None, has_work_now: Callable[[], bool], resting: bool) -> None:
        self.rested.append((has_work_now() if has_work is None else has_work, resting))

    def saw(self, job_id: str, due: datetime | None) -> None:
        return None

    def settle(self, next_due: Callable[[], datetime | None], wake_up: bool, listed: Any = None) -> None:
        self.settled.append((next_due(), wake_up))


def test_a_poll_round_then_settles_the_poller_on_the_next_due_job() -> None:
    rig = build_producer()
    rig.app.switch = switch = RecordingSwitch()
    queued(rig, "snap-1", due="2026-03-02T12:30:00Z")
    rig.app.poll()
    assert switch.settled == [(T0 + timedelta(minutes=30), False)]


def test_the_hourly_wake_up_makes_the_hourly_checks_and_settles_the_poller(log) -> None:
    rig = build_consumer()
    rig.app.switch = switch = RecordingSwitch()
    rig.table.save_source(SourceRecord(f"{PROD}#RDS#db1", newest_time="2026-03-02T10:00:00Z"))
    rig.app.wake_up()
    assert switch.settled == [(None, True)] and switch.rested == [(False, True)]
    assert rig.snaps().ops() == ["quota"] and rig.snaps("RDS Cluster").ops() == ["quota"]
    assert metric("RecoveryPointAgeHours") == [2.0]


def test_a_poll_round_never_rests_the_wake_up_and_the_sweep_only_mends_it() -> None:
    rig = build_producer()
    rig.app.switch = switch = RecordingSwitch()
    queued(rig, "snap-1", due="2026-03-02T12:30:00Z")
    rig.app.poll()
    assert switch.rested == []
    rig.app.scheduled_sweep()
    assert switch.rested == [(True, False)]  # work left: the sweep enables the wake-up, never rests it
    rig.app.wake_up()
    assert switch.rested[-1] == (True, True)


def test_the_scheduled_sweep_checks_the_quota_as_the_resting_wake_up_would(log) -> None:
    rig = build_producer()
    rig.snaps().quota_max = 1
    rig.snaps().add("manual-1")
    rig.app.scheduled_sweep()
    assert "quota" in rig.snaps().ops()
    assert any(line["message"] == "snapshot quota nearly used up" for line in log())


def test_hourly_checks_run_once_an_hour_per_name_and_container() -> None:
    container = Container()
    assert container.hourly("a") and container.hourly("b")
    assert not container.hourly("a")
    assert Container().hourly("a")  # a new container makes its checks


def test_hourly_follows_the_clock_and_takes_a_clock_gone_back_for_an_hour_gone(travel) -> None:
    container = Container()
    assert container.hourly("a")
    travel.shift(timedelta(minutes=59))
    assert not container.hourly("a")
    travel.shift(timedelta(minutes=1))
    assert container.hourly("a")
    travel.move_to(T0 - timedelta(days=1))  # a new local world starts before the last one ended
    assert container.hourly("a")


def test_the_poll_round_watches_the_quota(log) -> None:
    rig = build_producer()
    rig.snaps().quota_max = 1
    rig.snaps().add("manual-1")
    rig.app.poll()
    assert rig.snaps().ops() == ["quota"]
    assert any(line["message"] == "snapshot quota nearly used up" for line in log())


class CountingSwitch(RecordingSwitch):
    def __init__(self) -> None:
        super().__init__()
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def test_a_copy_aws_announces_waits_for_its_event_and_wakes_no_poller() -> None:
    from chalicelib_shared.pacing import PacedJobs

    rig = build_producer()
    switch = CountingSwitch()
    paced = Producer(
        config=rig.app.config, jobs=PacedJobs(rig.table, switch), slots=rig.table, publisher=rig.sent,
        snapshots=rig.cloud.snapshots_of(PROD), switch=switch,
    )  # fmt: skip
    rig.app = paced
    instance = rig.start("snap-1")  # a DB instance copy: AWS sends RDS-EVENT-0197 when it ends
    cluster = rig.start("snap-2", kind="RDS Cluster")  # AWS announces no cluster snapshot copy
    assert paced.awaits_event(instance) and not paced.awaits_event(cluster)
    assert switch.woken == 1  # only the cluster's copy needs the poller
    rig.snaps().finish(instance.transit_id)
    assert paced.poll()[Outcome.SHARED] == 1  # any round still looks at it: the safety net for a lost event
