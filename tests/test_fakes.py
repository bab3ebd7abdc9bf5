"""The fakes keep the semantics of what they stand for: one job-table scenario run against
``FakeJobTable`` and the moto-backed ``JobTable`` gives the same answers, and the snapshot fake
shares, copies and fails as the use-cases expect of AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib_shared import errors
from chalicelib_shared.job_table import JobTable, table_definition
from chalicelib_shared.jobs import CONSUMER_JOBS, PRODUCER_JOBS, InvalidTransition, Machine, State
from chalicelib_shared.kinds import Phase
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fakes import DR, OTHER, PROD, TRANSIT_KEY, FakeCloud, FakeJobTable
from tests.test_job_table import make_job

pytestmark = pytest.mark.usefixtures("travel")


def scenario(table: Any) -> list[Any]:
    """Every port operation, the refusals included; what each answered, in order."""
    trace: list[Any] = []
    a = table.create(make_job("a"), due=T0)
    b = table.create(make_job("b", State.COPYING, source_time="2026-03-01T04:00:00Z"), due=T0 - timedelta(hours=1))
    trace += [a, b, table.create(make_job("a", State.SKIPPED), due=T0 + timedelta(days=1))]
    trace += [[j.job_id for j in table.due_jobs(T0)], table.next_due(), table.existing(["a", "b", "zz"])]
    moved = table.advance(a, State.TRANSIT_COPYING, due=T0 + timedelta(minutes=5), transit_id="t", attempts=2)
    trace += [moved, table.advance(a, State.SKIPPED, reason="stale")]
    try:
        table.advance(moved, State.DONE)
    except InvalidTransition as refused:
        trace.append(str(refused))
    trace += [table.take("RDS", "b", 1), table.take("RDS", "c", 1), table.take("RDS", "b", 1), table.take("x", "a", 2)]
    done = table.advance(b, State.DONE, release=["RDS"])
    table.create(make_job("c", State.DONE, source_time="2026-02-28T03:00:00Z"))  # an older copy, listed first
    trace += [done, table.holders("RDS"), table.holders("x"), table.inventory(b.inventory_key)]
    table.take("RDS", "b", 1)
    trace += [table.advance(b, State.DONE, release=["RDS"]), table.holders("RDS")]  # stale: the slot stays
    table.release("RDS", ["b", "never"])
    trace += [table.holders("RDS"), [table.count("keys#day", 2) for _ in range(3)], table.count("keys#next", 2)]
    failed = table.advance(moved, State.FAILED, cleanup=True, failed_from="transit-copying", reason="r")
    trace += [failed, [j.job_id for j in table.due_jobs(T0 + timedelta(days=1))]]
    trace += [table.advance(done, State.EXPIRED, reason="expired"), table.inventory(b.inventory_key)]
    trace += [
        table.advance(make_job("ghost", version=1), State.SKIPPED),
        table.advance(make_job("ghost"), State.SKIPPED),
    ]
    trace += [table.get("a"), table.get("b"), table.get("ghost"), table.get("nothing")]
    key = b.inventory_key
    first = table.save_source(SourceRecord(key, newest_time="2026-03-01T04:00:00Z", lifecycle="Standard"))
    trace += [table.source("nope"), first, table.save_source(SourceRecord(key, lifecycle="Test"))]
    trace += [table.save_source(replace(first, pending="Test", reported=("c1", "c2"))), table.sources()]
    trace += [table.save_source(SourceRecord(f"{OTHER}#RDS#db0")), [r.inventory_key for r in table.sources()]]
    trace += [table.flip("poller", "off", "on"), table.flip("poller", "on", "off"), table.flip("poller", "on", "off")]
    trace += [table.flip("poller", "off", "on"), table.flip("other", "on", "off")]
    return trace


#: Both apps' moves in one table: the scenario walks producer and consumer jobs alike.
BOTH_APPS = Machine(
    "both",
    {
        s: PRODUCER_JOBS.moves.get(s, frozenset()) | CONSUMER_JOBS.moves.get(s, frozenset())
        for s in State
        if s is not State.FAILED
    },
)


def test_the_fake_job_table_answers_as_the_dynamodb_one(mocked_aws: None) -> None:
    resource = boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("Jobs"))
    real = scenario(JobTable(resource, inventory=True, machine=BOTH_APPS))
    fake = scenario(FakeJobTable(inventory=True, machine=BOTH_APPS))
    assert fake == real
    assert real[2] is None and real[8] == "a: transit-copying -> done"  # the scenario did meet the refusals


def test_another_run_wins_between_a_read_and_a_write() -> None:
    table = FakeJobTable()
    read = table.create(make_job("a"))
    assert read is not None
    table.race("a", State.TRANSIT_QUEUED, reason="queued by another run")
    assert table.advance(read, State.TRANSIT_COPYING) is None
    stored = table.get("a")
    assert stored is not None and (stored.state, stored.reason, stored.version) == (
        State.TRANSIT_QUEUED,
        "queued by another run",
        2,
    )
    assert table.advance(stored, State.TRANSIT_COPYING) is not None  # the hook ran once


def test_shared_answers_only_for_what_another_account_shared_with_this_one() -> None:
    cloud = FakeCloud()
    prod, dr, other = cloud.api(PROD), cloud.api(DR), cloud.api(OTHER)
    source = prod.add("snap-1", created=T0 - timedelta(hours=2))
    assert dr.shared(source.arn) is None
    prod.share("snap-1", OTHER)
    assert dr.shared(source.arn) is None and other.shared(source.arn) is not None
    prod.share("snap-1", DR)
    seen = dr.shared(source.arn)
    assert seen is not None and (seen.owner, seen.snapshot_type, seen.tags) == (PROD, "shared", {})
    assert prod.shared(source.arn) is None  # an account's own snapshot is not shared with it


def test_a_copy_starts_in_progress_keeps_the_data_time_where_the_kind_does_and_repeats_find_it() -> None:
    cloud = FakeCloud()
    prod = cloud.api(PROD)
    source = prod.add("snap-1", created=T0 - timedelta(hours=2), encrypted=False)
    start = prod.copy(source.arn, "draco-transit-snap-1", TRANSIT_KEY, {"t": "v"})
    copy = prod.snapshots["draco-transit-snap-1"]
    assert start.started and copy.phase is Phase.IN_PROGRESS and copy.encrypted and copy.tags == {"t": "v"}
    assert copy.created == source.created and copy.copied_from == source.arn
    assert prod.copy(source.arn, "draco-transit-snap-1", TRANSIT_KEY, {}) == replace(start, started=False)
    assert prod.finish("draco-transit-snap-1").phase is Phase.READY
    cluster = cloud.api(PROD, "RDS Cluster")
    plain = cluster.add("c-1", created=T0 - timedelta(hours=2), encrypted=False)
    with pytest.raises(ClientError):  # an unencrypted cluster snapshot can't be encrypted by copying
        cluster.copy(plain.arn, "draco-transit-c-1", TRANSIT_KEY, {})
    cluster.copy(plain.arn, "draco-transit-c-1", None, {})
    assert cluster.snapshots["draco-transit-c-1"].created == T0  # the copy's own time
    with pytest.raises(ClientError):  # DR may not copy what was not shared with it
        cloud.api(DR).copy(source.arn, "draco-x", None, {})


def test_injected_errors_are_botocore_client_errors_with_their_code_raised_the_times_asked() -> None:
    api = FakeCloud().api(PROD)
    api.fail("describe", "Throttling", status=400, times=2)
    api.fail("delete", "InvalidParameterValue", "cannot share TDE snapshots")
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            api.describe("x")
        assert errors.is_worth_waiting(raised.value)
    assert api.describe("x") is None
    with pytest.raises(ClientError) as raised:
        api.delete("x")
    assert not errors.is_worth_waiting(raised.value)
    assert errors.describe(raised.value) == "delete: InvalidParameterValue: cannot share TDE snapshots"
    assert api.ops() == ["describe", "describe", "describe", "delete"]
