"""The job table against moto's DynamoDB: put-if-absent creation, moves conditional on the
version that was read and allowed by the transition table, the sparse ``due`` and ``inventory``
indexes, query paging, copy slots, counters and source records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib_shared import clock
from chalicelib_shared.job_table import DUE_INDEX, INVENTORY_INDEX, JobTable, job_item, table_definition
from chalicelib_shared.jobs import ACTIVE_STATES, PRODUCER_JOBS, InvalidTransition, Job, State
from chalicelib_shared.sources import SourceRecord

UTC = timezone.utc
TABLE = "DracoTestJobs"
ACCT = "111111111111"
OTHER_ACCT = "333333333333"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_job(job_id: str = "draco-transit-db1-snap", state: State = State.REQUESTED, **changes: Any) -> Job:
    job = Job(
        job_id=job_id,
        state=state,
        kind="RDS",
        source_acct=ACCT,
        source_arn=f"arn:aws:rds:us-east-1:{ACCT}:snapshot:db1-snap",
        source_id="db1-snap",
        source_name="db1",
        source_time="2026-02-28T03:00:00Z",
        tags={"Draco_Lifecycle": "Standard", "empty": ""},
    )
    return replace(job, **changes)


@pytest.fixture
def table(mocked_aws: None) -> Iterator[Any]:
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    yield dynamodb.create_table(**table_definition(TABLE))


@pytest.fixture
def jobs(table: Any) -> JobTable:
    return JobTable(table)


@pytest.fixture
def dr_jobs(table: Any) -> JobTable:
    return JobTable(table, inventory=True)


def raw(table: Any, job_id: str) -> dict[str, Any] | None:
    return table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")


# --- create and get ----------------------------------------------------------------------


def test_table_definition_has_the_key_and_both_indexes() -> None:
    definition = table_definition(TABLE)
    assert definition["TableName"] == TABLE
    assert definition["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in definition["GlobalSecondaryIndexes"]
    }
    assert indexes == {DUE_INDEX: ["active", "due"], INVENTORY_INDEX: ["inventory_key", "source_time"]}


def test_get_of_an_unknown_job_is_none(jobs: JobTable) -> None:
    assert jobs.get("nothing-here") is None


def test_create_stores_the_job_with_its_times(jobs: JobTable) -> None:
    before = clock.iso(clock.now())
    created = jobs.create(make_job(encrypted=False, reason="r"), due=T0)
    stored = jobs.get("draco-transit-db1-snap")
    assert stored is not None and created == stored  # what create returns is what it stored
    assert replace(stored, created="", updated="", due="", version=0) == make_job(encrypted=False, reason="r")
    assert stored.version == 1
    assert stored.due == clock.iso(T0)
    assert before <= stored.created == stored.updated <= clock.iso(clock.now())
    assert isinstance(stored.attempts, int) and stored.encrypted is False


def test_create_without_due_is_due_now(jobs: JobTable) -> None:
    before = clock.iso(clock.now())
    jobs.create(make_job())
    stored = jobs.get("draco-transit-db1-snap")
    assert stored is not None and before <= stored.due <= clock.iso(clock.now())


def test_create_is_put_if_absent(jobs: JobTable, table: Any) -> None:
    assert jobs.create(make_job(), due=T0)
    first = raw(table, "draco-transit-db1-snap")
    assert (
        jobs.create(make_job(state=State.SKIPPED, source_name="other", reason="late"), due=T0 + timedelta(days=1))
        is None
    )
    assert raw(table, "draco-transit-db1-snap") == first


# --- advance ---------------------------------------------------------------------------------


def test_advance_moves_the_job_and_applies_changes(jobs: JobTable) -> None:
    jobs.create(make_job(), due=T0)
    read = jobs.get("draco-transit-db1-snap")
    assert read is not None
    moved = jobs.advance(read, State.TRANSIT_COPYING, due=T0 + timedelta(minutes=5), transit_id="t1", attempts=2)
    assert moved is not None
    assert (moved.state, moved.transit_id, moved.attempts, moved.due) == (
        State.TRANSIT_COPYING,
        "t1",
        2,
        clock.iso(T0 + timedelta(minutes=5)),
    )
    assert moved.created == read.created
    assert jobs.get("draco-transit-db1-snap") == moved


def test_a_stale_job_loses_and_leaves_the_item_unchanged(jobs: JobTable, table: Any) -> None:
    jobs.create(make_job(), due=T0)
    first_reader = jobs.get("draco-transit-db1-snap")
    second_reader = jobs.get("draco-transit-db1-snap")
    assert first_reader is not None and second_reader is not None
    assert jobs.advance(first_reader, State.TRANSIT_COPYING, transit_id="t1") is not None
    after_winner = raw(table, "draco-transit-db1-snap")
    assert jobs.advance(second_reader, State.SKIPPED, reason="too late") is None
    assert raw(table, "draco-transit-db1-snap") == after_winner


def test_advance_of_a_job_that_was_never_created_writes_nothing(jobs: JobTable, table: Any) -> None:
    assert jobs.advance(make_job(job_id="ghost", version=1), State.SKIPPED) is None
    assert jobs.advance(make_job(job_id="ghost"), State.SKIPPED) is not None  # version 0: a job from before versions
    assert raw(table, "ghost") is not None


def test_a_move_the_table_forbids_raises_and_writes_nothing(jobs: JobTable, table: Any) -> None:
    jobs.create(make_job(), due=T0)
    read = jobs.get("draco-transit-db1-snap")
    assert read is not None
    before = raw(table, "draco-transit-db1-snap")
    with pytest.raises(InvalidTransition, match="requested -> done"):
        jobs.advance(read, State.DONE)
    assert raw(table, "draco-transit-db1-snap") == before


def test_every_write_bumps_the_version_and_a_reader_of_an_old_version_loses(jobs: JobTable) -> None:
    created = jobs.create(make_job(), due=T0)
    assert created is not None and created.version == 1
    resent = jobs.advance(created, State.REQUESTED, attempts=1)  # same state, same second: only the version differs
    assert resent is not None and resent.version == 2
    assert jobs.advance(created, State.REQUESTED, attempts=1) is None
    stored = jobs.get(created.job_id)
    assert stored is not None and stored.version == 2 and stored.attempts == 1


def test_a_repeated_transition_is_a_no_op(jobs: JobTable) -> None:
    jobs.create(make_job(state=State.SHARED), due=T0)
    read = jobs.get("draco-transit-db1-snap")
    assert read is not None
    assert jobs.advance(read, State.DONE) is not None
    assert jobs.advance(read, State.DONE) is None


# --- the due index ------------------------------------------------------------------------


def test_due_jobs_returns_only_jobs_due_by_now(jobs: JobTable) -> None:
    jobs.create(make_job("early"), due=T0 - timedelta(hours=1))
    jobs.create(make_job("on-time"), due=T0)
    jobs.create(make_job("later"), due=T0 + timedelta(seconds=1))
    assert sorted(job.job_id for job in jobs.due_jobs(T0)) == ["early", "on-time"]
    assert sorted(job.job_id for job in jobs.due_jobs(T0 + timedelta(days=1))) == ["early", "later", "on-time"]
    assert list(jobs.due_jobs(T0 - timedelta(days=1))) == []


def test_due_jobs_come_oldest_due_first(jobs: JobTable) -> None:
    for minutes in (30, 10, 20):
        jobs.create(make_job(f"job-{minutes}"), due=T0 + timedelta(minutes=minutes))
    assert [job.job_id for job in jobs.due_jobs(T0 + timedelta(hours=1))] == ["job-10", "job-20", "job-30"]


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
def test_active_states_are_in_the_due_index(jobs: JobTable, table: Any, state: State) -> None:
    jobs.create(make_job(state=state), due=T0)
    assert raw(table, "draco-transit-db1-snap")["active"] == "1"  # type: ignore[index]
    assert [job.state for job in jobs.due_jobs(T0)] == [state]


def _reaching(state: State) -> State:
    """An active state from which ``state`` may be reached in one move."""
    return next(s for s in sorted(ACTIVE_STATES) if PRODUCER_JOBS.allows(make_job(state=s), state))


@pytest.mark.parametrize("state", [State.DONE, State.SKIPPED, State.FAILED])
def test_terminal_states_leave_the_due_index(jobs: JobTable, table: Any, state: State) -> None:
    jobs.create(make_job(state=_reaching(state)), due=T0)
    read = jobs.get("draco-transit-db1-snap")
    assert read is not None and [job.job_id for job in jobs.due_jobs(T0)] == [read.job_id]
    assert jobs.advance(read, state, due=T0) is not None
    item = raw(table, "draco-transit-db1-snap")
    assert item is not None and "active" not in item and "due" not in item
    assert list(jobs.due_jobs(T0 + timedelta(days=365))) == []


# --- the inventory index ---------------------------------------------------------------


def done(job_id: str, source_time: str, **changes: Any) -> Job:
    return make_job(job_id, State.DONE, source_time=source_time, **changes)


def test_inventory_lists_only_done_jobs_of_one_source_oldest_first(dr_jobs: JobTable) -> None:
    dr_jobs.create(done("copy-2", "2026-02-02T03:00:00Z"))
    dr_jobs.create(done("copy-1", "2026-02-01T03:00:00Z"))
    dr_jobs.create(make_job("copying", State.COPYING, source_time="2026-02-03T03:00:00Z"), due=T0)
    dr_jobs.create(make_job("skipped", State.SKIPPED))
    dr_jobs.create(done("other-db", "2026-02-01T03:00:00Z", source_name="db2"))
    dr_jobs.create(done("other-acct", "2026-02-01T03:00:00Z", source_acct=OTHER_ACCT))
    dr_jobs.create(done("other-kind", "2026-02-01T03:00:00Z", kind="RDS Cluster"))
    key = make_job().inventory_key
    assert key == f"{ACCT}#RDS#db1"
    assert [job.job_id for job in dr_jobs.inventory(key)] == ["copy-1", "copy-2"]
    assert [job.job_id for job in dr_jobs.inventory(f"{ACCT}#RDS Cluster#db1")] == ["other-kind"]


def test_a_job_joins_the_inventory_when_done_and_leaves_when_expired(dr_jobs: JobTable, table: Any) -> None:
    dr_jobs.create(make_job("copy-1", State.COPYING), due=T0)
    key = make_job().inventory_key
    assert dr_jobs.inventory(key) == []
    read = dr_jobs.get("copy-1")
    assert read is not None
    finished = dr_jobs.advance(read, State.DONE)
    assert finished is not None
    assert [job.job_id for job in dr_jobs.inventory(key)] == ["copy-1"]
    assert raw(table, "copy-1")["inventory_key"] == key  # type: ignore[index]
    assert dr_jobs.advance(finished, State.EXPIRED, reason="expired by lifecycle") is not None
    assert dr_jobs.inventory(key) == []
    assert "inventory_key" not in raw(table, "copy-1")  # type: ignore[operator]


def test_a_table_without_inventory_lists_nothing(jobs: JobTable, table: Any) -> None:
    jobs.create(done("copy-1", "2026-02-01T03:00:00Z"))
    jobs.create(make_job("copy-2", State.SHARED), due=T0)
    read = jobs.get("copy-2")
    assert read is not None and jobs.advance(read, State.DONE) is not None
    assert jobs.inventory(make_job().inventory_key) == []
    assert "inventory_key" not in raw(table, "copy-1")  # type: ignore[operator]


# --- items -------------------------------------------------------------------------------


def test_from_item_ignores_index_attributes_and_reads_numbers_as_int(dr_jobs: JobTable, table: Any) -> None:
    dr_jobs.create(done("copy-1", "2026-02-01T03:00:00Z", attempts=3))
    item = raw(table, "copy-1")
    assert item is not None and "inventory_key" in item
    job = Job.from_item(item)
    assert job.attempts == 3 and type(job.attempts) is int
    assert job.tags == {"Draco_Lifecycle": "Standard", "empty": ""}


def test_the_stored_item_marks_active_jobs_and_drops_empty_fields() -> None:
    item = job_item(make_job(due="2026-01-01T00:00:00Z"), inventory=False)
    assert item["active"] == "1" and item["state"] == "requested"
    assert "transit_id" not in item and "reason" not in item
    assert "attempts" not in item and item["encrypted"] is True
    assert Job.from_item(item).attempts == 0


# --- paging -------------------------------------------------------------------------------


class PagedTable:
    """A stand-in for a boto3 Table whose Query answers in two pages."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def query(self, **params: Any) -> dict[str, Any]:
        self.calls.append(dict(params))
        return self.pages[len(self.calls) - 1]


def test_query_follows_last_evaluated_key_until_the_last_page() -> None:
    last_key = {"job_id": "b", "active": "1", "due": "2026-01-01T00:00:00Z"}
    table = PagedTable(
        [
            {"Items": [make_job("a").to_item(), make_job("b").to_item()], "LastEvaluatedKey": last_key},
            {"Items": [make_job("c").to_item()]},
        ]
    )
    assert [job.job_id for job in JobTable(table).due_jobs(T0)] == ["a", "b", "c"]
    assert len(table.calls) == 2
    assert "ExclusiveStartKey" not in table.calls[0]
    assert table.calls[1]["ExclusiveStartKey"] == last_key
    assert table.calls[0]["IndexName"] == table.calls[1]["IndexName"] == DUE_INDEX
    assert table.calls[1]["KeyConditionExpression"] == table.calls[0]["KeyConditionExpression"]


def test_inventory_reads_every_page() -> None:
    last_key = {"job_id": "a", "inventory_key": "k", "source_time": "2026-01-01T00:00:00Z"}
    table = PagedTable(
        [
            {"Items": [job_item(done("a", "2026-01-01T00:00:00Z"), True)], "LastEvaluatedKey": last_key},
            {"Items": [], "LastEvaluatedKey": {**last_key, "job_id": "a2"}},
            {"Items": [job_item(done("b", "2026-01-02T00:00:00Z"), True)]},
        ]
    )
    assert [job.job_id for job in JobTable(table, inventory=True).inventory("k")] == ["a", "b"]
    assert [call.get("ExclusiveStartKey", {}).get("job_id") for call in table.calls] == [None, "a", "a2"]
    assert {call["IndexName"] for call in table.calls} == {INVENTORY_INDEX}


def test_query_paging_through_a_real_table_resource_with_a_stubbed_client(mocked_aws: None) -> None:
    """The same loop through boto3's resource layer: the key DynamoDB returned (deserialised by
    boto3) is what the next Query starts from. Stubber checks parameters before boto3 serialises them."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    item = {
        "job_id": {"S": "a"},
        "state": {"S": "copying"},
        "kind": {"S": "RDS"},
        "source_acct": {"S": ACCT},
        "source_arn": {"S": "arn"},
        "source_id": {"S": "s"},
        "source_name": {"S": "db1"},
        "source_time": {"S": "2026-01-01T00:00:00Z"},
        "attempts": {"N": "1"},
    }
    last_key = {"job_id": {"S": "a"}, "active": {"S": "1"}, "due": {"S": "2026-01-01T00:00:00Z"}}
    common = {"TableName": TABLE, "IndexName": DUE_INDEX, "KeyConditionExpression": ANY}
    next_page = {**common, "ExclusiveStartKey": {"job_id": "a", "active": "1", "due": "2026-01-01T00:00:00Z"}}
    with Stubber(table.meta.client) as stub:
        stub.add_response("query", {"Items": [item], "LastEvaluatedKey": last_key}, common)
        stub.add_response("query", {"Items": [{**item, "job_id": {"S": "b"}}]}, next_page)
        found = list(JobTable(table).due_jobs(T0))
        stub.assert_no_pending_responses()
    assert [(job.job_id, job.state, job.attempts) for job in found] == [
        ("a", State.COPYING, 1),
        ("b", State.COPYING, 1),
    ]


# --- slot release rides with the move --------------------------------------------------


def test_a_move_that_releases_a_slot_does_both_or_neither(jobs: JobTable) -> None:
    jobs.create(make_job(state=State.TRANSIT_COPYING), due=T0)
    read = jobs.get("draco-transit-db1-snap")
    assert read is not None
    assert jobs.take("RDS", read.job_id, 2) and jobs.take("transit", read.job_id, 2)
    assert jobs.advance(read, State.SHARED, release=["RDS"]) is not None
    assert jobs.holders("RDS") == set() and jobs.holders("transit") == {read.job_id}
    jobs.take("RDS", read.job_id, 2)
    assert jobs.advance(read, State.SHARED, release=["RDS"]) is None  # stale version: the slot stays held
    assert jobs.holders("RDS") == {read.job_id}


# --- copy slots and counters ---------------------------------------------------------------


def test_a_pool_holds_at_most_its_limit_and_a_holder_may_take_again(jobs: JobTable) -> None:
    assert jobs.take("RDS", "a", 2) and jobs.take("RDS", "b", 2)
    assert not jobs.take("RDS", "c", 2)
    assert jobs.take("RDS", "a", 2)  # a repeat by a holder
    assert jobs.take("RDS Cluster", "c", 1)  # pools are apart
    jobs.release("RDS", ["a", "never-held"])
    assert jobs.holders("RDS") == {"b"} and jobs.take("RDS", "c", 2)
    jobs.release("RDS", [])
    assert jobs.holders("RDS") == {"b", "c"}


def test_a_counter_counts_up_to_its_limit_and_no_further(jobs: JobTable) -> None:
    assert [jobs.count("keys#111111111111#2026-03-01", 3) for _ in range(5)] == [True, True, True, False, False]
    assert jobs.count("keys#111111111111#2026-03-02", 3)  # another day, another counter


# --- source records ----------------------------------------------------------------------


def test_source_records_are_saved_at_the_version_read_and_listed(dr_jobs: JobTable) -> None:
    key = make_job().inventory_key
    assert dr_jobs.source(key) is None and dr_jobs.sources() == []
    first = dr_jobs.save_source(SourceRecord(key, newest_time="2026-02-28T03:00:00Z", lifecycle="Standard"))
    assert first is not None and first.version == 1
    assert dr_jobs.save_source(SourceRecord(key, lifecycle="Test")) is None  # written since: version 0 is stale
    pending = dr_jobs.save_source(replace(first, pending="Test", reported_at="2026-03-02T12:00:00Z"))
    assert pending is not None and dr_jobs.source(key) == pending
    assert [record.inventory_key for record in dr_jobs.sources()] == [key]
    assert dr_jobs.inventory(key) == []  # records are not copies


def test_a_source_record_saved_gives_places_back_only_if_it_is_written(dr_jobs: JobTable) -> None:
    key = make_job().inventory_key
    assert dr_jobs.take("room#src", "a", 5) and dr_jobs.take("room#src", "b", 5)
    assert dr_jobs.save_source(SourceRecord(key, version=3), release=("room#src", ["a"])) is None  # stale
    assert dr_jobs.holders("room#src") == {"a", "b"}
    assert dr_jobs.save_source(SourceRecord(key, held=1), release=("room#src", ["a"])) is not None
    assert dr_jobs.holders("room#src") == {"b"}


def test_a_job_and_a_pool_s_holders_are_read_in_one_call(dr_jobs: JobTable) -> None:
    job = dr_jobs.create(make_job())
    assert job is not None and dr_jobs.take("transit", job.job_id, 2)
    assert dr_jobs.get_with_holders(job.job_id, "transit") == (job, {job.job_id})
    assert dr_jobs.get_with_holders("nothing", "empty") == (None, set())
