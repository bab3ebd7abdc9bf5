"""The poller's switch: it rests while nothing falls due within its few minutes (later timers are the
hourly wake-up's), wakes for new work, and never rests on a job created while it was switching off.
And production's wake-up: it rests while no job has work left, and is on again for the next job."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib_shared import clock
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.pacing import OFF, ON, WINDOW, PacedJobs, RuleSwitch


class Flags:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0  # every write, each a DynamoDB call
        self.failed = 0  # conditional writes that failed (each billed on DynamoDB)

    def flip(self, name: str, expected: str, value: str) -> bool:
        self.writes += 1
        if expected and self.values.get(name, ON) != expected:
            self.failed += 1
            return False
        self.values[name] = value
        return True


class Events:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def enable_rule(self, Name: str) -> None:  # noqa: N803 (boto3's parameter name)
        self.calls.append(("enable", Name))

    def disable_rule(self, Name: str) -> None:  # noqa: N803
        self.calls.append(("disable", Name))


def due_in(delta: timedelta | None) -> Callable[[], datetime | None]:
    return lambda: None if delta is None else clock.now() + delta


@pytest.fixture
def parts() -> tuple[RuleSwitch, Flags, Events]:
    flags, events = Flags(), Events()
    return RuleSwitch(events, "draco-consumer-prod-poll_jobs-event", flags), flags, events


@pytest.mark.parametrize("due", [None, timedelta(minutes=10), timedelta(hours=2), timedelta(days=3)])
def test_a_poll_round_with_nothing_due_within_minutes_lets_the_poller_rest(parts, due) -> None:
    switch, flags, events = parts
    switch.settle(due_in(due), wake_up=False)
    assert events.calls == [("disable", "draco-consumer-prod-poll_jobs-event")] and flags.values["poller"] == OFF
    switch.settle(due_in(due), wake_up=True)  # the hourly wake-up: resting already, nothing more to do
    assert len(events.calls) == 1 and flags.failed == 0  # and no conditional write that fails, hourly


def test_a_round_decides_from_its_listing_and_its_own_writes_without_asking_again(parts) -> None:
    switch, flags, events = parts
    listed = [job(State.COPY_QUEUED, timedelta(0)), job(State.REQUESTED, timedelta(hours=2))]
    switch.saw("j", None)  # the round moved the queued job on: no work left for the poller
    asked = []
    switch.settle(lambda: asked.append(1), wake_up=False, listed=listed)  # type: ignore[func-returns-value]
    assert events.calls[0] == ("disable", "draco-consumer-prod-poll_jobs-event")
    assert asked == [1]  # asked once, after switching off only: a job created meanwhile switches it back on
    switch.saw("j", clock.now())  # a copy the round started that needs the poller
    switch.settle(lambda: asked.append(2), wake_up=False, listed=listed)  # type: ignore[func-returns-value]
    assert asked == [1] and len(events.calls) == 1


def test_a_lost_enable_rule_is_made_good_by_the_next_hourly_wake_up(parts) -> None:
    switch, flags, events = parts  # the flag says on (never switched off), but the rule is off
    switch.settle(due_in(timedelta(minutes=2)), wake_up=True)
    assert events.calls == [("enable", "draco-consumer-prod-poll_jobs-event")] and flags.values.get("poller", ON) == ON
    assert flags.failed == 0  # the flag is written whatever it said


def test_a_lost_disable_rule_is_made_good_by_the_next_poll_round(parts) -> None:
    switch, flags, events = parts
    flags.values["poller"] = OFF  # the flag says off, yet a poll round runs: the rule is on
    switch.settle(due_in(None), wake_up=False)
    assert events.calls == [("disable", "draco-consumer-prod-poll_jobs-event")] and flags.values["poller"] == OFF
    assert flags.failed == 1  # switching off is conditional on the flag saying on: this once, it fails


@pytest.mark.parametrize("due", [timedelta(0), timedelta(minutes=4), WINDOW, -timedelta(days=1)])
def test_work_due_within_minutes_keeps_the_poller_on(parts, due, travel) -> None:
    switch, _, events = parts
    switch.settle(due_in(due), wake_up=False)
    assert events.calls == []


def test_the_hourly_wake_up_switches_a_resting_poller_on_when_work_falls_due(parts, log) -> None:
    switch, flags, events = parts
    switch.settle(due_in(None), wake_up=False)
    switch.settle(due_in(timedelta(minutes=3)), wake_up=True)
    assert events.calls[-1] == ("enable", "draco-consumer-prod-poll_jobs-event") and flags.values["poller"] == ON
    rule = "draco-consumer-prod-poll_jobs-event"
    said = [(line["message"], line["rule"]) for line in log()]
    assert said == [("poller resting until work is due", rule), ("poller on", rule)]
    writes = flags.writes
    switch.wake()  # a job written later in the same run: on already, no write
    assert flags.writes == writes


def test_a_job_created_while_switching_off_switches_it_back_on(parts) -> None:
    switch, flags, events = parts
    answers = iter([None, clock.now()])  # nothing due; then, after the flag flipped, a new job
    switch.settle(lambda: next(answers), wake_up=False)
    assert [call for call, _ in events.calls] == ["disable", "enable"] and flags.values["poller"] == ON


def test_a_job_written_after_the_round_switched_the_poller_off_wakes_it_in_the_same_run(parts, log) -> None:
    switch, flags, events = parts
    switch.settle(due_in(None), wake_up=False)
    switch.wake()
    assert events.calls[-1] == ("enable", "draco-consumer-prod-poll_jobs-event") and flags.values["poller"] == ON
    said = log()[-1]
    assert (said["message"], said["rule"]) == ("poller switched on", "draco-consumer-prod-poll_jobs-event")


def test_a_wake_costs_one_flip_and_enables_only_a_resting_poller(parts) -> None:
    switch, flags, events = parts
    switch.wake()
    assert events.calls == []  # never switched off: on
    flags.values["poller"] = OFF
    other = RuleSwitch(events, "rule", flags)
    other.wake()
    other.wake()  # once per invocation
    assert events.calls == [("enable", "rule")] and flags.values["poller"] == ON and flags.writes == 2


def job(state: State, due: timedelta) -> Job:
    return Job(
        job_id="j",
        state=state,
        kind="RDS",
        source_acct="111111111111",
        source_arn="arn:aws:rds:us-east-1:111111111111:snapshot:s",
        source_id="s",
        source_name="db",
        source_time="2026-01-01T00:00:00Z",
        due=clock.iso(clock.now() + due),
    )


class Store:
    def __init__(self) -> None:
        self.written: list[Job] = []

    def create(self, job: Job, due: Any = None) -> Job:
        self.written.append(job)
        return job

    def advance(self, job: Job, state: State, **changes: Any) -> Job:
        return job


class Moving(Store):
    """A store whose writes move the job to the state asked for."""

    def advance(self, job: Job, state: State, **changes: Any) -> Job:
        return dataclasses.replace(job, state=state, **changes)


class Refusing(Events):
    def enable_rule(self, Name: str) -> None:  # noqa: N803
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "EnableRule")


class Waking:
    def __init__(self) -> None:
        self.woken = 0
        self.added = 0  # writes that gave a job work
        self.seen: list[tuple[str, Any]] = []

    def wake(self) -> None:
        self.woken += 1

    def work_added(self) -> None:
        self.added += 1

    def rest_wake_up(self, has_work: Any, has_work_now: Any, resting: bool) -> None:
        raise AssertionError("not called by the job store")

    def saw(self, job_id: str, due: Any) -> None:
        self.seen.append((job_id, due))

    def settle(self, next_due: Any, wake_up: bool, listed: Any = None) -> None:
        raise AssertionError("not called by the job store")


@pytest.mark.parametrize(
    ("state", "due", "wakes"),
    [
        (State.COPYING, timedelta(0), 1),  # a copy in flight
        (State.COPY_QUEUED, timedelta(minutes=4), 1),  # waiting for a slot
        (State.REQUESTED, timedelta(minutes=30), 0),  # a re-send: the hourly wake-up's
        (State.INITIATED, timedelta(days=3), 0),  # DR waits three days for production
        (State.DONE, timedelta(0), 0),  # nothing left to do
    ],
)
def test_the_job_store_wakes_the_poller_only_for_work_due_within_minutes(state, due, wakes) -> None:
    switch = Waking()
    jobs = PacedJobs(Store(), switch)
    written = job(state, due)
    jobs.create(written)
    jobs.advance(written, state)
    assert switch.woken == 2 * wakes
    seen = None if state is State.DONE else clock.parse_iso(written.due)
    assert switch.seen == [("j", seen), ("j", seen)]  # what settle knows of this run's writes
    assert switch.added == (state is not State.DONE)  # a new job with work; advancing one that had work adds none


def test_a_job_brought_back_from_done_adds_work_once() -> None:
    switch = Waking()
    jobs = PacedJobs(Moving(), switch)
    jobs.advance(job(State.DONE, timedelta(0)), State.COPYING)
    jobs.advance(job(State.COPYING, timedelta(0)), State.DONE)
    assert switch.added == 1


WAKE_RULE = "draco-producer-prod-wake_poller-event"


@pytest.fixture
def resting() -> tuple[RuleSwitch, Events]:
    events = Events()
    return RuleSwitch(events, "draco-producer-prod-poll_jobs-event", Flags(), wake_rule=WAKE_RULE), events


def test_a_wake_up_with_no_job_with_work_left_rests_its_rule_and_asks_once_more(resting, log) -> None:
    switch, events = resting
    asked: list[int] = []
    switch.rest_wake_up(False, lambda: asked.append(1) or False, resting=True)  # type: ignore[func-returns-value]
    assert events.calls == [("disable", WAKE_RULE)] and asked == [1]
    assert [(line["message"], line["rule"]) for line in log()] == [("wake-up resting until a job has work", WAKE_RULE)]


def test_a_job_that_came_while_the_wake_up_switched_off_switches_it_back_on(resting) -> None:
    switch, events = resting
    switch.rest_wake_up(False, lambda: True, resting=True)
    assert events.calls == [("disable", WAKE_RULE), ("enable", WAKE_RULE)]


def test_a_wake_up_with_work_left_or_work_added_in_its_run_stays_on_and_calls_nothing(resting) -> None:
    switch, events = resting
    switch.rest_wake_up(True, lambda: pytest.fail("not asked"), resting=True)
    assert events.calls == []
    switch.work_added()
    switch.rest_wake_up(False, lambda: pytest.fail("not asked"), resting=True)
    assert events.calls == [("enable", WAKE_RULE)]


def test_work_added_enables_the_wake_up_once_per_run_and_survives_an_aws_error(resting, log) -> None:
    switch, events = resting
    switch.work_added()
    switch.work_added()
    assert events.calls == [("enable", WAKE_RULE)]
    failing = RuleSwitch(Refusing(), "poller", Flags(), wake_rule=WAKE_RULE)
    failing.work_added()  # the job is written; the sweep enables the rule later
    (said,) = log()
    assert (said["message"], said["rule"]) == ("could not switch the wake-up on", WAKE_RULE)
    assert "ThrottlingException" in said["error"]


def test_the_sweep_enables_the_wake_up_while_work_is_left_and_never_rests_it(resting) -> None:
    switch, events = resting
    switch.rest_wake_up(None, lambda: False, resting=False)
    assert events.calls == []
    switch.rest_wake_up(None, lambda: True, resting=False)  # a lost EnableRule, mended
    assert events.calls == [("enable", WAKE_RULE)]


def test_without_a_wake_rule_the_wake_up_is_never_switched(parts) -> None:
    switch, _, events = parts
    switch.work_added()
    switch.rest_wake_up(False, lambda: pytest.fail("not asked"), resting=True)
    assert events.calls == []


def test_a_copy_that_waits_for_its_event_wakes_no_poller() -> None:
    switch = Waking()
    jobs = PacedJobs(Store(), switch)
    jobs.quiet = lambda job: job.state is State.COPYING  # as the use-cases say of a kind whose copies announce
    jobs.advance(job(State.COPYING, timedelta(0)), State.COPYING)
    assert switch.woken == 0 and switch.seen == [("j", None)]
