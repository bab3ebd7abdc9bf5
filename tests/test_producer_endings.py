"""How the producer's jobs end, on fakes: the transit copy deleted once DR holds its copy, no-copy,
unanswered messages re-sent and given up, and a failed job's transit copy cleaned up."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib_shared import clock
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import Phase
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import transit_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.producer import MAX_RESENDS, TRANSIT_POOL, resend_delay
from chalicelib_shared.rejection import Rejection
from tests.fakes import PROD, FakeCloud, job_of
from tests.rigs import ProducerRig, build_producer

pytestmark = pytest.mark.usefixtures("travel")
TRANSIT = "draco-transit-snap-1"


# --- delete-shared ------------------------------------------------------------------------------


def test_delete_shared_deletes_the_transit_copy_and_only_that(travel) -> None:
    rig = build_producer()
    job = rig.share(travel)
    result = rig.answer(job, Msg.DELETE_SHARED)
    assert result == Result(Outcome.TRANSIT_DELETED, TRANSIT, job.source_arn)
    assert rig.snaps().called("delete") == [(TRANSIT,)] and "snap-1" in rig.snaps().snapshots
    assert rig.table.state(job.job_id) is State.DONE and rig.table.holders(TRANSIT_POOL) == set()
    again = rig.answer(job, Msg.DELETE_SHARED)
    assert again == Result(Outcome.DUPLICATE, "transit copy already deleted", job.source_arn)
    assert len(rig.snaps().called("delete")) == 1


def test_delete_shared_for_a_copy_not_awaiting_deletion_is_rejected(travel) -> None:
    rig = build_producer()
    waiting = rig.announce("waiting")
    job = rig.share(travel)
    wrong_copy = message_about(job, Msg.DELETE_SHARED, transit_arn=rig.snaps().arn("snap-1"), transit_id="snap-1")
    for message in (wrong_copy, message_about(waiting, Msg.DELETE_SHARED, transit_arn=job.transit_arn)):
        refused = rig.app.on_message(message)
        assert isinstance(refused, Rejection) and "not awaiting deletion" in refused.reason
    assert "delete" not in rig.snaps().ops() and rig.table.state(job.job_id) is State.SHARED


def test_a_delete_another_run_recorded_first_is_a_no_op(travel) -> None:
    rig = build_producer()
    job = rig.share(travel)
    rig.table.race(job.job_id, State.DONE)
    assert rig.answer(job, Msg.DELETE_SHARED) == Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)


# --- no-copy -------------------------------------------------------------------------------------


def test_no_copy_skips_the_job_with_dr_s_reason_once() -> None:
    rig = build_producer()
    job = rig.announce()
    assert rig.answer(job, Msg.NO_COPY, reason="Ignore") == Result(Outcome.NOT_COPIED, "Ignore", job.source_arn)
    skipped = rig.table.get(job.job_id)
    assert skipped is not None and (skipped.state, skipped.reason) == (State.SKIPPED, "Ignore")
    assert rig.answer(job, Msg.NO_COPY, reason="Ignore").outcome is Outcome.DUPLICATE
    assert rig.table.get(job.job_id) == skipped


def test_no_copy_after_copy_initiate_or_after_another_run_is_a_no_op() -> None:
    rig = build_producer()
    started = rig.start("started")
    assert rig.answer(started, Msg.NO_COPY, reason="late").outcome is Outcome.DUPLICATE
    job = rig.announce()
    rig.table.race(job.job_id, State.TRANSIT_QUEUED)
    assert rig.answer(job, Msg.NO_COPY, reason="x") == Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
    assert rig.table.state(job.job_id) is State.TRANSIT_QUEUED


# --- re-sends ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("copy_seconds", "attempts", "delay"),
    [
        (0, 0, timedelta(minutes=30)),
        (0, 1, timedelta(hours=1)),
        (0, 3, timedelta(hours=4)),
        (0, 5, timedelta(hours=8)),
        (3600, 0, timedelta(hours=2)),
        (3600, 1, timedelta(hours=4)),
    ],
)
def test_re_sends_wait_for_dr_s_copy_then_back_off(copy_seconds: int, attempts: int, delay: timedelta) -> None:
    source = FakeCloud().api(PROD).add("snap-1")
    assert resend_delay(job_of(source, State.SHARED, copy_seconds=copy_seconds, attempts=attempts)) == delay


def test_an_unanswered_copy_request_is_re_sent_paced_until_max_resends_then_fails(travel) -> None:
    rig = build_producer()
    job = rig.announce()
    for n in range(1, MAX_RESENDS + 1):
        travel.move_to(clock.parse_iso(job.due))
        assert rig.app.poll() == Counter({Outcome.RESENT: 1})
        resent = rig.table.get(job.job_id)
        assert resent is not None and resent.attempts == n
        assert clock.parse_iso(resent.due) - clock.now() == resend_delay(resent)
        job = resent
    assert rig.sent.types() == [Msg.COPY_REQUEST] * (MAX_RESENDS + 1)
    travel.move_to(clock.parse_iso(job.due))
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.reason == f"no answer from the DR account after {MAX_RESENDS} messages"
    assert not failed.cleanup and len(rig.sent.sent) == MAX_RESENDS + 1


def test_an_unanswered_copy_shared_is_re_sent_and_its_transit_copy_kept_when_it_fails(travel) -> None:
    rig = build_producer()
    job = rig.share(travel)
    travel.move_to(clock.parse_iso(job.due))
    assert rig.app.poll() == Counter({Outcome.RESENT: 1})
    assert rig.sent.types()[-2:] == [Msg.COPY_SHARED, Msg.COPY_SHARED]
    stored = rig.table.get(job.job_id)
    assert stored is not None
    rig.table.put(replace(stored, attempts=MAX_RESENDS))
    travel.move_to(clock.parse_iso(stored.due))
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(job.job_id)
    assert failed is not None and failed.cleanup and TRANSIT in rig.snaps().snapshots


# --- a failed job's transit copy ------------------------------------------------------------------


def failed_with_transit(rig: ProducerRig) -> Job:
    job = rig.start()
    rig.snaps().finish(TRANSIT, Phase.FAILED)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    return job


def test_a_failed_job_s_transit_copy_is_deleted_after_transit_keep_days(travel) -> None:
    rig = build_producer(TRANSIT_KEEP_DAYS="2")
    job = failed_with_transit(rig)
    travel.shift(timedelta(days=2) - timedelta(seconds=1))
    assert rig.app.poll() == Counter()
    travel.shift(timedelta(seconds=1))
    assert rig.app.poll() == Counter({Outcome.CLEANED_UP: 1})
    assert TRANSIT not in rig.snaps().snapshots and "snap-1" in rig.snaps().snapshots
    cleaned = rig.table.get(job.job_id)
    assert cleaned is not None and cleaned.state is State.FAILED
    assert (cleaned.cleanup, cleaned.transit_id, cleaned.failed_from) == (False, "", "transit-copying")
    assert rig.table.holders(TRANSIT_POOL) == set()
    travel.shift(timedelta(days=30))
    assert rig.app.poll() == Counter()


def test_a_failed_job_s_transit_copy_is_kept_when_its_source_is_gone(travel, log) -> None:
    rig = build_producer()
    job = failed_with_transit(rig)
    rig.snaps().vanish("snap-1")
    travel.shift(timedelta(days=7))
    result = rig.app.on_failed(rig.table.get(job.job_id))  # type: ignore[arg-type]
    assert result == Result(Outcome.IGNORED, f"kept {TRANSIT}: the source is gone", job.source_arn)
    assert TRANSIT in rig.snaps().snapshots and "delete" not in rig.snaps().ops()
    kept = rig.table.get(job.job_id)
    assert kept is not None and not kept.cleanup and kept.transit_id == TRANSIT
    assert any("it may be the last copy" in line["message"] for line in log())
    assert rig.app.poll() == Counter()  # not looked at again
    assert rig.table.holders(TRANSIT_POOL) == set()  # kept for good: no longer work in flight


def test_a_full_transit_pool_takes_back_places_of_jobs_that_no_longer_hold_a_transit_copy(travel) -> None:
    rig = build_producer(TRANSIT_LIMIT="2")
    rig.start("snap-1")
    rig.table.take(TRANSIT_POOL, "draco-transit-gone", 2)  # a run died after taking it; its job never came
    waiting = rig.answer(rig.announce("snap-2"), Msg.COPY_INITIATE)
    assert waiting.outcome is Outcome.QUEUED  # a handler only queues; the poll round looks for stale places
    assert rig.app.poll()[Outcome.STARTED] == 1  # the stale place was taken back
    assert rig.table.holders(TRANSIT_POOL) == {transit_id("snap-1"), transit_id("snap-2")}
    third = rig.answer(rig.announce("snap-3"), Msg.COPY_INITIATE)
    assert (third.outcome, third.detail) == (Outcome.QUEUED, "2 transit copies exist (TRANSIT_LIMIT)")


def test_a_place_taken_moments_ago_is_not_taken_back(travel) -> None:
    rig = build_producer(TRANSIT_LIMIT="1")
    starting = rig.announce("snap-1")  # requested: a run may be between its place and its copy
    rig.table.take(TRANSIT_POOL, starting.job_id, 1)
    waiting = rig.answer(rig.announce("snap-2"), Msg.COPY_INITIATE)
    assert waiting.outcome is Outcome.QUEUED and rig.table.holders(TRANSIT_POOL) == {starting.job_id}
