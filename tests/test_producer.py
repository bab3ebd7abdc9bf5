"""The production account's use-cases on fakes, up to the transit copy shared: events, the sweep,
messages from DR, copy slots, transit room and the quota ceiling, with their effects on jobs, slots,
messages sent and snapshots copied and shared. How jobs end: ``test_producer_endings``."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib_shared import clock
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import EventType, Phase, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import COPY_NAME_TAG, SOURCE_ARN_TAG, SOURCE_ID_TAG, TRANSIT_TAG
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.producer import TRANSIT_POOL
from chalicelib_shared.rejection import Rejection
from tests.conftest import T0
from tests.fakes import DR, OTHER, OUTBOX, TRANSIT_KEY, job_of
from tests.rigs import build_producer

pytestmark = pytest.mark.usefixtures("travel")
TRANSIT = "draco-transit-snap-1"


# --- snapshots created ----------------------------------------------------------------------------


def test_a_new_snapshot_asks_dr_whether_to_copy_it() -> None:
    rig = build_producer()
    job = rig.announce(tags={"Draco_Lifecycle": "Weekly", "team": "shop"}, size_gb=50)
    assert (job.state, job.due, job.size_gb, job.encrypted) == (State.REQUESTED, "2026-03-02T12:30:00Z", 50, True)
    assert [(topic, m.event_type) for topic, m in rig.sent.sent] == [(OUTBOX, Msg.COPY_REQUEST)]
    request = rig.sent.last()
    assert request.source_time == T0 - timedelta(minutes=10) and request.source_id == "snap-1"
    assert dict(request.tags) == {"Draco_Lifecycle": "Weekly", "team": "shop"}


def test_a_repeated_event_is_a_no_op() -> None:
    rig = build_producer()
    rig.announce()
    again = rig.app.on_event(SnapshotEvent("RDS", EventType.CREATED, "snap-1"))
    assert again.outcome is Outcome.DUPLICATE and len(rig.sent.sent) == 1


def test_an_event_about_a_snapshot_that_is_gone_is_ignored() -> None:
    rig = build_producer()
    result = rig.app.on_event(SnapshotEvent("RDS", EventType.CREATED, "gone"))
    assert result == Result(Outcome.IGNORED, "snapshot gone not found")
    assert rig.table.items == {} and rig.sent.sent == []


@pytest.mark.parametrize(("snapshot_id", "tags"), [(TRANSIT, {}), ("copied-by-hand", {TRANSIT_TAG: "true"})])
def test_draco_s_own_transit_copies_are_not_copied(snapshot_id: str, tags: dict[str, str]) -> None:
    rig = build_producer()
    rig.snaps().add(snapshot_id, tags=tags)
    result = rig.app.on_event(SnapshotEvent("RDS", EventType.CREATED, snapshot_id))
    assert result.outcome is Outcome.IGNORED and result.detail == "DRACO's own transit copy"
    assert rig.table.items == {} and rig.sent.sent == []


@pytest.mark.parametrize(("kind", "encrypted"), [("RDS", True), ("RDS Cluster", False)])
def test_an_unencrypted_snapshot_is_encrypted_by_copying_where_its_kind_can_be(kind: str, encrypted: bool) -> None:
    rig = build_producer()
    assert rig.announce("plain", kind, encrypted=False).encrypted is encrypted


def test_an_unencrypted_cluster_snapshot_is_copied_without_a_key(log) -> None:
    rig = build_producer()
    job = rig.start("plain", "RDS Cluster", encrypted=False)
    assert rig.snaps("RDS Cluster").called("copy")[0][2] is None
    assert not rig.snaps("RDS Cluster").snapshots[job.transit_id].encrypted
    assert any("unencrypted snapshot" in line["message"] for line in log())


def test_a_copy_finished_event_shares_the_transit_copy() -> None:
    rig = build_producer()
    job = rig.start()
    rig.snaps().finish(job.transit_id)
    result = rig.app.on_event(SnapshotEvent("RDS", EventType.COPY_FINISHED, job.transit_id))
    assert result.outcome is Outcome.SHARED and rig.table.state(job.job_id) is State.SHARED


def test_a_copy_finished_event_for_anything_but_a_transit_copy_in_progress_is_ignored() -> None:
    rig = build_producer()
    rig.snaps().add("someone-elses-copy")
    job = rig.announce()
    rig.snaps().add(job.job_id)  # a snapshot named like the job, whose job is not copying
    for snapshot_id in ("someone-elses-copy", job.job_id):
        result = rig.app.on_event(SnapshotEvent("RDS", EventType.COPY_FINISHED, snapshot_id))
        assert result.outcome is Outcome.IGNORED and result.detail == "not a transit copy in progress"
    assert rig.table.state(job.job_id) is State.REQUESTED and "share" not in rig.snaps().ops()


# --- the sweep -------------------------------------------------------------------------------


def test_the_sweep_starts_jobs_for_recent_snapshots_without_one_and_twice_starts_nothing() -> None:
    rig = build_producer()
    api = rig.snaps()
    rig.announce("has-a-job")
    api.add("manual-1", created=T0 - timedelta(days=1))
    api.add("rds:db1-2026-03-01", created=T0 - timedelta(days=2), snapshot_type="automated")
    rig.snaps("RDS Cluster").add("cluster-1", "c1", created=T0 - timedelta(days=3))
    api.add("too-old", created=T0 - timedelta(days=8))
    api.add("still-creating", phase=Phase.IN_PROGRESS)
    api.add(TRANSIT, created=T0 - timedelta(hours=1))
    api.add("someone-shared", snapshot_type="shared")
    assert rig.app.sweep() == {"seen": 4, "started": 3}
    assert {job.source_id for job in rig.table.jobs()} == {
        "has-a-job",
        "manual-1",
        "rds:db1-2026-03-01",
        "cluster-1",
    }
    assert rig.sent.types() == [Msg.COPY_REQUEST] * 4
    assert rig.app.sweep() == {"seen": 4, "started": 0}
    assert len(rig.sent.sent) == 4


def test_a_backfill_names_its_window_and_source() -> None:
    rig = build_producer()
    rig.snaps().add("db1-old", "db1", created=T0 - timedelta(days=20))
    rig.snaps().add("db2-old", "db2", created=T0 - timedelta(days=20))
    assert rig.app.sweep(days=30, source="db2") == {"seen": 1, "started": 1}
    assert [job.source_id for job in rig.table.jobs()] == ["db2-old"]


def test_a_sweep_skips_a_snapshot_aws_errs_on_and_goes_on(log) -> None:
    rig = build_producer()
    rig.snaps().add("snap-a", created=T0 - timedelta(hours=2))
    rig.snaps().add("snap-b", created=T0 - timedelta(hours=1))
    rig.snaps().fail("announce", "Throttling")
    assert rig.app.sweep() == {"seen": 2, "started": 1, "errors": 1}
    assert any(line["message"] == "sweep skipped a snapshot" for line in log())
    assert rig.app.sweep() == {"seen": 2, "started": 1}  # the next sweep picks it up


# --- messages from DR ------------------------------------------------------------------------


def test_a_message_for_the_consumer_is_rejected() -> None:
    rig = build_producer()
    job = rig.announce()
    refused = rig.app.on_message(message_about(job, Msg.COPY_REQUEST))
    assert isinstance(refused, Rejection) and "not a message for the producer" in refused.reason


def test_a_message_about_a_snapshot_the_producer_has_no_job_for_is_rejected() -> None:
    rig = build_producer()
    job = rig.announce()
    stranger = job_of(rig.snaps().add("never-announced"), State.REQUESTED)
    other_account = message_about(
        job, Msg.COPY_INITIATE, source_acct=OTHER, source_arn=job.source_arn.replace("1111", "3333")
    )
    for message in (message_about(stranger, Msg.COPY_INITIATE), other_account):
        refused = rig.app.on_message(message)
        assert refused == Rejection("no DRACO job for this source snapshot in this account")
    assert rig.table.state(job.job_id) is State.REQUESTED and "copy" not in rig.snaps().ops()


# --- copy-initiate: the transit copy -----------------------------------------------------------


def test_copy_initiate_starts_the_transit_copy_under_the_transit_key() -> None:
    rig = build_producer()
    job = rig.start()
    ((source_arn, name, key, tags, _),) = rig.snaps().called("copy")
    assert (source_arn, name, key) == (job.source_arn, TRANSIT, TRANSIT_KEY)
    assert tags == {
        TRANSIT_TAG: "true",
        SOURCE_ARN_TAG: job.source_arn,
        SOURCE_ID_TAG: job.source_id,
        COPY_NAME_TAG: TRANSIT,
        "Draco_Copy": "DR",
    }
    assert (job.transit_id, job.transit_arn) == (TRANSIT, rig.snaps().arn(TRANSIT))
    assert rig.table.holders("RDS") == rig.table.holders(TRANSIT_POOL) == {TRANSIT}
    assert rig.snaps().snapshots[TRANSIT].phase is Phase.IN_PROGRESS


def test_a_repeated_copy_initiate_is_a_no_op() -> None:
    rig = build_producer()
    job = rig.start()
    assert rig.answer(job, Msg.COPY_INITIATE) == Result(Outcome.DUPLICATE, "job is transit-copying", job.source_arn)
    assert len(rig.snaps().called("copy")) == 1


def test_without_a_free_copy_slot_the_transit_copy_waits() -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    rig.start("first")
    job = rig.announce()
    assert rig.answer(job, Msg.COPY_INITIATE) == Result(Outcome.QUEUED, "", job.source_arn)
    assert rig.table.state(job.job_id) is State.TRANSIT_QUEUED
    assert rig.table.holders(TRANSIT_POOL) == {"draco-transit-first"}


def test_transit_limit_holds_copies_back_until_a_transit_copy_is_deleted(travel) -> None:
    rig = build_producer(TRANSIT_LIMIT="1")
    first = rig.share(travel, "first")  # its transit copy exists until DR has its own
    job = rig.announce()
    result = rig.answer(job, Msg.COPY_INITIATE)
    assert result == Result(Outcome.QUEUED, "1 transit copies exist (TRANSIT_LIMIT)", job.source_arn)
    waiting = rig.table.get(job.job_id)
    assert waiting is not None and waiting.reason == result.detail
    assert rig.table.holders("RDS") == set()  # the kind's slot went back
    assert rig.app.waits_for_a_place(waiting)  # it keeps no poller on: the run freeing a place starts it
    assert rig.app.poll()[Outcome.QUEUED] == 1
    assert rig.answer(first, Msg.DELETE_SHARED).outcome is Outcome.TRANSIT_DELETED
    assert rig.table.state(job.job_id) is State.TRANSIT_COPYING  # started by the run that freed the place
    assert rig.table.holders("transit") == {job.job_id}
    assert rig.app.poll()[Outcome.STARTED] == 0


def test_a_copy_waiting_out_an_error_in_the_queue_keeps_the_poller(travel) -> None:
    rig = build_producer(TRANSIT_LIMIT="1")
    rig.share(travel, "first")
    job = rig.announce()
    rig.answer(job, Msg.COPY_INITIATE)
    waiting = rig.table.get(job.job_id)
    assert waiting is not None and rig.app.waits_for_a_place(waiting)
    assert not rig.app.waits_for_a_place(replace(waiting, attempts=1))
    assert not rig.app.waits_for_a_place(replace(waiting, reason=""))  # queued for its kind's copy slot


def test_a_full_transit_pool_is_asked_about_once_a_round_not_once_per_queued_copy(travel) -> None:
    rig = build_producer(TRANSIT_LIMIT="1")
    rig.share(travel, "first")
    waiting = [rig.announce(f"snap-{n}") for n in range(4)]
    for job in waiting:
        assert rig.answer(job, Msg.COPY_INITIATE).outcome is Outcome.QUEUED
    rig.snaps().calls.clear()
    assert rig.app.poll()[Outcome.QUEUED] == 4
    assert rig.snaps().ops().count("quota") == 0  # the round's listing shows the pool full: no copy asks anything
    assert rig.table.holders("RDS") == set()  # and none took a copy slot only to give it back
    assert all(rig.table.state(job.job_id) is State.TRANSIT_QUEUED for job in waiting)


@pytest.mark.parametrize(("manual", "outcome"), [(7, Outcome.STARTED), (8, Outcome.QUEUED)])
def test_no_transit_copy_starts_past_80_percent_of_the_snapshot_quota(manual: int, outcome: Outcome) -> None:
    rig = build_producer()
    rig.snaps().quota_max = 10
    job = rig.announce()  # a manual snapshot itself
    for n in range(manual - 1):
        rig.snaps().add(f"manual-{n}")
    result = rig.answer(job, Msg.COPY_INITIATE)
    assert result.outcome is outcome
    if outcome is Outcome.QUEUED:
        assert result.detail == "manual snapshot quota at 8 of 10: waiting below 80%"
        assert rig.table.holders("RDS") == rig.table.holders(TRANSIT_POOL) == set()


def test_a_queue_write_another_run_made_first_is_a_no_op() -> None:
    rig = build_producer(INSTANCE_COPY_LIMIT="1")
    rig.start("first")
    job = rig.announce()
    rig.table.race(job.job_id, State.SKIPPED, reason="no-copy arrived first")
    result = rig.answer(job, Msg.COPY_INITIATE)
    assert result == Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
    assert rig.table.state(job.job_id) is State.SKIPPED


def test_a_transit_name_taken_by_another_snapshot_fails_the_job_and_deletes_nothing() -> None:
    rig = build_producer()
    rig.snaps().add(TRANSIT, tags={SOURCE_ARN_TAG: "arn:aws:rds:us-east-1:111111111111:snapshot:other"})
    job = rig.announce()
    result = rig.answer(job, Msg.COPY_INITIATE)
    assert result.outcome is Outcome.FAILED
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.reason == f"snapshot {TRANSIT} exists and is not this source's transit copy"
    assert (failed.failed_from, failed.cleanup, failed.transit_id) == ("requested", False, "")
    assert rig.table.holders("RDS") == rig.table.holders(TRANSIT_POOL) == set()
    assert TRANSIT in rig.snaps().snapshots and "delete" not in rig.snaps().ops()


def test_a_transit_copy_a_run_started_before_it_died_is_taken_up() -> None:
    rig = build_producer()
    job = rig.announce()
    rig.snaps().copy(job.source_arn, TRANSIT, TRANSIT_KEY, {SOURCE_ARN_TAG: job.source_arn})
    assert rig.answer(job, Msg.COPY_INITIATE).outcome is Outcome.STARTED
    stored = rig.table.get(job.job_id)
    assert stored is not None and (stored.state, stored.transit_arn) == (
        State.TRANSIT_COPYING,
        rig.snaps().arn(TRANSIT),
    )


def test_a_throttled_transit_copy_waits_in_the_queue_with_its_slots_free() -> None:
    rig = build_producer()
    job = rig.announce()
    rig.snaps().fail("copy", "Throttling")
    assert rig.answer(job, Msg.COPY_INITIATE).outcome is Outcome.RETRYING
    waiting = rig.table.get(job.job_id)
    assert waiting is not None and (waiting.state, waiting.attempts) == (State.TRANSIT_QUEUED, 1)
    assert waiting.due == clock.iso(T0 + timedelta(minutes=2))
    assert rig.table.holders("RDS") == rig.table.holders(TRANSIT_POOL) == set()


def test_a_transit_copy_past_the_snapshot_quota_waits_hourly_and_never_fails_for_it() -> None:
    rig = build_producer()
    job = rig.announce()
    for _ in range(3 * rig.app.config.limits.max_attempts):
        rig.snaps().fail("copy", "SnapshotQuotaExceeded")
        stored = rig.table.get(job.job_id) or job
        if stored.state is State.REQUESTED:
            rig.answer(stored, Msg.COPY_INITIATE)
        else:
            rig.app.attempt(stored, rig.app.start_copy)
    waiting = rig.table.get(job.job_id)
    assert waiting is not None and (waiting.state, waiting.attempts) == (State.TRANSIT_QUEUED, 0)
    assert "SnapshotQuotaExceeded" in waiting.reason
    assert clock.parse_iso(waiting.due) - clock.parse_iso(waiting.updated) == timedelta(hours=1)


def test_a_transit_copy_aws_refuses_fails_at_once_where_a_retry_resumes_it() -> None:
    rig = build_producer()
    job = rig.announce()
    rig.snaps().fail("copy", "InvalidParameterCombination", "option group has a permanent option")
    assert rig.answer(job, Msg.COPY_INITIATE).outcome is Outcome.FAILED
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.failed_from == "transit-queued"
    assert failed.reason == "copy: InvalidParameterCombination: option group has a permanent option"


# --- the transit copy ends -----------------------------------------------------------------------


def test_a_ready_transit_copy_is_shared_with_dr_and_dr_is_told(travel) -> None:
    rig = build_producer()
    job = rig.share(travel)
    assert rig.snaps().called("share") == [(TRANSIT, DR)]
    assert rig.sent.types() == [Msg.COPY_REQUEST, Msg.COPY_SHARED]
    message = rig.sent.last()
    assert (message.transit_id, message.transit_arn, message.encrypted) == (TRANSIT, job.transit_arn, True)
    assert (job.state, job.copy_seconds, job.attempts) == (State.SHARED, 1200, 0)
    assert job.due == clock.iso(T0 + timedelta(minutes=20) + timedelta(minutes=40))  # twice the copy's time
    assert rig.table.holders("RDS") == set() and rig.table.holders(TRANSIT_POOL) == {TRANSIT}


@pytest.mark.parametrize("end", ["failed", "vanished"])
def test_a_failed_or_vanished_transit_copy_fails_the_job_and_its_copy_waits_for_cleanup(end: str) -> None:
    rig = build_producer()
    job = rig.start()
    if end == "failed":
        rig.snaps().finish(TRANSIT, Phase.FAILED)
    else:
        rig.snaps().vanish(TRANSIT)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.state is State.FAILED
    reason = f"transit copy {TRANSIT} is failed" if end == "failed" else f"transit copy {TRANSIT} disappeared"
    assert failed.reason.startswith(reason)
    assert (failed.failed_from, failed.cleanup) == ("transit-copying", True)
    assert failed.due == clock.iso(T0 + timedelta(days=7))
    assert rig.table.holders("RDS") == set() and rig.table.holders(TRANSIT_POOL) == {TRANSIT}
    assert "delete" not in rig.snaps().ops() and rig.sent.types() == [Msg.COPY_REQUEST]


def test_a_transit_copy_aws_will_not_share_fails_the_job() -> None:
    rig = build_producer()
    job = rig.start()
    rig.snaps().finish(TRANSIT)
    rig.snaps().fail("share", "InvalidParameterValue", "TDE snapshots cannot be shared")
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.reason == "share: InvalidParameterValue: TDE snapshots cannot be shared"
    assert rig.sent.types() == [Msg.COPY_REQUEST]
