"""The job model: each app's state machine, who may move where, and the README's state table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib_shared.jobs import (
    ACTIVE_STATES,
    CONSUMER_JOBS,
    MACHINES,
    PRODUCER_JOBS,
    STATES,
    Job,
    Leg,
    Machine,
    State,
    state_table,
)

README = Path(__file__).resolve().parent.parent / "README.md"
JOB = Job(
    job_id="draco-transit-snap1",
    state=State.REQUESTED,
    kind="RDS",
    source_acct="111111111111",
    source_arn="arn:aws:rds:us-east-1:111111111111:snapshot:snap1",
    source_id="snap1",
    source_name="db1",
    source_time="2026-02-28T03:00:00Z",
)
#: Every move each app's use-case makes, written out by hand from the use-cases: the machines must list
#: exactly these (besides staying put or failing in an active state, and resuming a failed job).
MOVES = {
    "producer": {
        ("requested", "transit-queued"),  # DR said copy, no slot or transit room free
        ("requested", "transit-copying"),  # DR said copy, the transit copy starts
        ("requested", "skipped"),  # DR said no-copy
        ("transit-queued", "transit-copying"),  # the poller starts it as slots free
        ("transit-copying", "shared"),  # the transit copy is ready and shared
        ("shared", "done"),  # delete-shared: the transit copy is deleted
    },
    "consumer": {
        ("initiated", "copy-queued"),  # copy-shared verified, no slot (or no new key) free
        ("initiated", "copying"),  # copy-shared verified, the DR (or relay) copy starts
        ("copy-queued", "copying"),  # the poller starts it as slots free
        ("copying", "done"),  # the DR copy is ready
        ("copying", "relay-queued"),  # the relay copy is ready: the relay step waits for a slot
        ("relay-queued", "relaying"),  # the relay step starts
        ("relaying", "done"),  # the DR copy, relayed, is ready
        ("done", "expired"),  # the lifecycle deleted the DR copy
        ("skipped", "initiated"),  # a later message that says copy
    },
}


def _rule_allows(machine: Machine, job: Job, target: State) -> bool:
    """The moves both machines make besides their listed ones, spelled out for the walk below."""
    if job.state is State.FAILED:
        return target == job.failed_from or (target is State.FAILED and machine.failed_stays)
    return job.state.is_active and target in (job.state, State.FAILED)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.app)
def test_every_listed_move_is_allowed_and_every_other_refused(machine: Machine) -> None:
    listed = {(a.value, b.value) for a, targets in machine.moves.items() for b in targets}
    assert listed == MOVES[machine.app]
    for state in State:
        for target in State:
            job = replace(JOB, state=state)
            expected = (
                state in machine.states
                and target in machine.states
                and ((state.value, target.value) in listed or _rule_allows(machine, job, target))
            )
            assert machine.allows(job, target) is expected, (machine.app, state, target)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.app)
def test_a_failed_job_resumes_only_where_it_failed(machine: Machine) -> None:
    for resume in sorted(machine.states & ACTIVE_STATES):
        failed = replace(JOB, state=State.FAILED, failed_from=resume)
        allowed = {s for s in State if machine.allows(failed, s)}
        assert allowed == {resume} | ({State.FAILED} if machine.failed_stays else set())
    assert not machine.allows(replace(JOB, state=State.FAILED), next(iter(machine.moves)))


def test_only_the_producer_keeps_a_job_failed_for_its_transit_cleanup() -> None:
    failed = replace(JOB, state=State.FAILED, failed_from=State.SHARED)
    assert PRODUCER_JOBS.allows(failed, State.FAILED)
    assert not CONSUMER_JOBS.allows(replace(failed, failed_from=State.COPYING), State.FAILED)


def test_no_dead_or_crossing_edges() -> None:
    """The edges no use-case takes are gone, and neither app can move into the other's states."""
    assert not CONSUMER_JOBS.allows(replace(JOB, state=State.INITIATED), State.SKIPPED)
    assert not CONSUMER_JOBS.allows(replace(JOB, state=State.COPYING), State.RELAYING)
    assert not PRODUCER_JOBS.allows(replace(JOB, state=State.SKIPPED), State.INITIATED)
    assert not PRODUCER_JOBS.allows(replace(JOB, state=State.DONE), State.EXPIRED)
    assert PRODUCER_JOBS.states & CONSUMER_JOBS.states == {State.DONE, State.SKIPPED, State.FAILED}


def test_every_state_is_documented_and_has_a_row_in_the_table() -> None:
    assert set(STATES) == set(State) == PRODUCER_JOBS.states | CONSUMER_JOBS.states
    for state in State:
        assert f"| `{state.value}` |" in state_table()


def test_the_readme_shows_the_table_the_code_enforces() -> None:
    assert state_table() in README.read_text()


def test_failed_from_and_leg_are_typed_and_survive_the_store() -> None:
    failed = replace(JOB, state=State.FAILED, failed_from=State.COPYING, leg=Leg.TO_RELAY)
    read = Job.from_item(failed.to_item())
    assert read.failed_from is State.COPYING and read.leg is Leg.TO_RELAY
    assert Job.from_item(JOB.to_item()).failed_from is None and Job.from_item(JOB.to_item()).leg is None


def test_a_failed_from_this_version_does_not_know_reads_as_none() -> None:
    item = {**replace(JOB, state=State.FAILED).to_item(), "failed_from": "copying-old", "leg": "sideways"}
    read = Job.from_item(item)
    assert read.failed_from is None and read.leg is None and read.state is State.FAILED
