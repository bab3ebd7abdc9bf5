"""The job model: the transition table, who may move where, and the README's state table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib_shared.jobs import (
    ACTIVE_STATES,
    STATES,
    TRANSITIONS,
    Job,
    State,
    can_move,
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


def test_every_state_is_documented_and_has_a_row_in_the_table() -> None:
    assert set(STATES) == set(State) == set(TRANSITIONS)
    for state in State:
        assert f"| `{state.value}` |" in state_table()


def test_the_readme_shows_the_table_the_code_enforces() -> None:
    assert state_table() in README.read_text()


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
def test_any_active_job_may_fail(state: State) -> None:
    assert can_move(replace(JOB, state=state), State.FAILED)


@pytest.mark.parametrize("state", [State.DONE, State.EXPIRED, State.SKIPPED])
def test_a_finished_job_cannot_fail(state: State) -> None:
    assert not can_move(replace(JOB, state=state), State.FAILED)


def test_a_failed_job_resumes_only_where_it_failed_or_stays_failed() -> None:
    failed = replace(JOB, state=State.FAILED, failed_from="copying")
    assert can_move(failed, State.COPYING) and can_move(failed, State.FAILED)
    assert not any(can_move(failed, s) for s in State if s not in (State.COPYING, State.FAILED))
    assert not can_move(replace(failed, failed_from=""), State.REQUESTED)


def test_expired_is_final_and_done_only_expires() -> None:
    assert TRANSITIONS[State.EXPIRED] == frozenset()
    assert [s for s in State if can_move(replace(JOB, state=State.DONE), s)] == [State.EXPIRED]


def test_producer_and_consumer_states_never_lead_into_each_other() -> None:
    producer = {s for s, doc in STATES.items() if doc.app == "producer"}
    consumer = {s for s, doc in STATES.items() if doc.app == "consumer"}
    for state in producer:
        assert not TRANSITIONS[state] & consumer, state
    for state in consumer:
        assert not TRANSITIONS[state] & producer, state


def test_a_skipped_job_may_be_decided_again_but_not_copied_straight_away() -> None:
    skipped = replace(JOB, state=State.SKIPPED)
    assert can_move(skipped, State.INITIATED)
    assert not can_move(skipped, State.COPYING) and not can_move(skipped, State.DONE)
