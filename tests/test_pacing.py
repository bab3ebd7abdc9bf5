"""The poller's switch: it rests while nothing falls due within the hour, wakes for new work, and
never rests on a job created while it was switching off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib_shared import clock
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.pacing import OFF, ON, PacedJobs, RuleSwitch


class Flags:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def flip(self, name: str, expected: str, value: str) -> bool:
        if self.values.get(name, ON) != expected:
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


@pytest.mark.parametrize("due", [None, timedelta(hours=2), timedelta(days=3)])
def test_a_poll_round_with_nothing_due_within_the_hour_lets_the_poller_rest(parts, due) -> None:
    switch, flags, events = parts
    switch.settle(due_in(due), wake_up=False)
    assert events.calls == [("disable", "draco-consumer-prod-poll_jobs-event")] and flags.values["poller"] == OFF
    switch.settle(due_in(due), wake_up=False)  # resting already: nothing more to do
    assert len(events.calls) == 1


@pytest.mark.parametrize("due", [timedelta(0), timedelta(minutes=59), -timedelta(days=1)])
def test_work_due_within_the_hour_keeps_the_poller_on(parts, due) -> None:
    switch, _, events = parts
    switch.settle(due_in(due), wake_up=False)
    assert events.calls == []


def test_the_hourly_wake_up_switches_a_resting_poller_on_when_work_falls_due(parts) -> None:
    switch, flags, events = parts
    switch.settle(due_in(None), wake_up=False)
    switch.settle(due_in(timedelta(minutes=30)), wake_up=True)
    assert events.calls[-1] == ("enable", "draco-consumer-prod-poll_jobs-event") and flags.values["poller"] == ON


def test_a_job_created_while_switching_off_switches_it_back_on(parts) -> None:
    switch, flags, events = parts
    answers = iter([None, clock.now()])  # nothing due; then, after the flag flipped, a new job
    switch.settle(lambda: next(answers), wake_up=False)
    assert [call for call, _ in events.calls] == ["disable", "enable"] and flags.values["poller"] == ON


def test_a_wake_costs_one_flip_and_enables_only_a_resting_poller(parts) -> None:
    switch, flags, events = parts
    switch.wake()
    assert events.calls == []  # never switched off: on
    flags.values["poller"] = OFF
    other = RuleSwitch(events, "rule", flags)
    other.wake()
    other.wake()  # once per invocation
    assert events.calls == [("enable", "rule")]


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


class Waking:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1

    def settle(self, next_due: Any, wake_up: bool) -> None:
        raise AssertionError("not called by the job store")


@pytest.mark.parametrize(
    ("state", "due", "wakes"),
    [
        (State.COPYING, timedelta(0), 1),  # a copy in flight
        (State.REQUESTED, timedelta(minutes=30), 1),  # a re-send within the hour
        (State.INITIATED, timedelta(days=3), 0),  # DR waits three days for production
        (State.DONE, timedelta(0), 0),  # nothing left to do
    ],
)
def test_the_job_store_wakes_the_poller_only_for_work_due_within_the_hour(state, due, wakes) -> None:
    switch = Waking()
    jobs = PacedJobs(Store(), switch)
    jobs.create(job(state, due))
    jobs.advance(job(state, due), state)
    assert switch.woken == 2 * wakes
