"""Attacks on what DR verifies of a shared transit copy before it acts: rows of the README's threat model.

Each test fails when the check it names is removed from the consumer (the README
lists the mutation beside each row). The attacker uses production's credentials,
the producer's own pipeline and messages published to DR with the producer's
role; "another account" is one more account the attacker holds, which shares a
snapshot with DR as production does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib_shared import clock
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import EventType
from draco.world.core import DR, PROD, LocalWorld
from tests.test_attacks_history import STANDARD, Holding, forge

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

OTHER = "333333333333"  # another account the attacker holds, not a source account of DR
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with LocalWorld(log_stream=io.StringIO(), live=True, transport=Holding()) as world:
        yield world


def shared(world: LocalWorld, *sources: str) -> list[Job]:
    """Snapshot each source now; production's jobs once their transit copies are shared (copy-shared held)."""
    world.transport.on = True  # type: ignore[attr-defined]
    world.move_to(world.start + timedelta(hours=3))
    taken = [world.take_snapshot(source) for source in sources]
    world.run_until_quiet(limit=timedelta(hours=1))
    jobs = {job.source_id: job for job in world.jobs(PROD) if job.state is State.SHARED}
    return [jobs[source_id] for source_id in taken]


def release(world: LocalWorld) -> None:
    """Let production's own held copy-shared messages reach DR."""
    holding: Holding = world.transport  # type: ignore[assignment]
    holding.on = False
    for delivery in holding.held:
        world.invoke_sns(delivery.account, delivery.subject, delivery.message)
    holding.held.clear()
    assert world.run_until_quiet()


def test_another_accounts_snapshot_claimed_as_productions_is_rejected(world: LocalWorld) -> None:
    """Owner check: a transit copy another account shares with DR, named and taken as production's would be.

    Refused twice over: the message may name only transit copies in its source account, and AWS's
    record of the copy must show that account as its owner."""
    world.add_instance("orders", STANDARD)
    (job,) = shared(world, "orders")
    other = world.client("rds", OTHER)
    other.create_db_instance(
        DBInstanceIdentifier="orders", Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-secret-1",
    )  # fmt: skip
    other.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-x")
    copy = other.copy_db_snapshot(
        SourceDBSnapshotIdentifier="orders-x", TargetDBSnapshotIdentifier="draco-transit-orders-x"
    )
    world.advance(timedelta(minutes=30))
    other.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="draco-transit-orders-x", AttributeName="restore", ValuesToAdd=[DR]
    )
    source_arn = job.source_arn.replace(job.source_id, "orders-x")  # production's, as a message must name
    lie = replace(
        message_about(job, EventType.COPY_SHARED, encrypted=False),
        source_id="orders-x",
        source_arn=source_arn,
        transit_id="draco-transit-orders-x",
        transit_arn=copy["DBSnapshot"]["DBSnapshotArn"],
    )
    before = world.state()
    assert forge(world, lie).startswith("rejected: TransitArn is in account 333333333333")
    assert world.state() == before


def test_another_volumes_transit_copy_claimed_for_the_victims_snapshot_is_rejected(world: LocalWorld) -> None:
    """Name check (EBS, where it is the only link between a transit copy and its source snapshot)."""
    victim = world.add_volume("victim", STANDARD)
    junk = world.add_volume("junk", STANDARD)
    mine, theirs = shared(world, victim, junk)
    lie = replace(
        message_about(mine, EventType.COPY_SHARED, encrypted=True),
        transit_arn=theirs.transit_arn,
        transit_id=theirs.transit_id,
    )
    assert forge(world, lie).startswith("rejected: transit copy")
    release(world)
    (copy,) = [job for job in world.jobs(DR) if job.source_id == mine.source_id]
    assert (copy.state, copy.transit_arn) == (State.DONE, mine.transit_arn)  # the victim's own data


def test_an_old_cluster_snapshot_copied_under_a_new_name_is_rejected(world: LocalWorld) -> None:
    """Copied-from check: an earlier snapshot's data as the transit copy of a snapshot id never taken.

    A cluster snapshot keeps no time of its data, so without the check such a copy could be dated now."""
    world.add_cluster("ledger", STANDARD)
    (old,) = shared(world, "ledger")
    release(world)
    rds = world.client("rds", PROD)
    transit = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=old.source_arn,
        TargetDBClusterSnapshotIdentifier="draco-transit-ledger-new",
        KmsKeyId=world.env["producer"]["TRANSIT_KEY_ARN"],
    )["DBClusterSnapshot"]
    world.advance(timedelta(minutes=30))
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="draco-transit-ledger-new", AttributeName="restore", ValuesToAdd=[DR]
    )
    lie = replace(
        message_about(old, EventType.COPY_SHARED, encrypted=True),
        source_id="ledger-new",
        source_arn=old.source_arn.replace(old.source_id, "ledger-new"),
        source_time=clock.now(),
        transit_id="draco-transit-ledger-new",
        transit_arn=transit["DBClusterSnapshotArn"],
    )
    before = world.state()[DR]
    assert forge(world, lie).startswith("rejected: transit copy")
    assert world.state()[DR] == before


def test_a_cluster_copy_is_never_dated_in_the_future(world: LocalWorld) -> None:
    """Future-time rejection and the clamp to the transit copy's creation, for a kind AWS dates per copy."""
    world.add_cluster("ledger", STANDARD)
    (job,) = shared(world, "ledger")
    message = message_about(job, EventType.COPY_SHARED, encrypted=True)
    before = world.state()
    assert forge(world, replace(message, source_time=FAR_FUTURE)).startswith("rejected: SourceTime")
    assert world.state() == before
    ahead = clock.now() + timedelta(minutes=4)  # within the clock skew DR allows
    assert forge(world, replace(message, source_time=ahead)).startswith("started")
    assert world.run_until_quiet()
    (copy,) = [copy for copy in world.jobs(DR) if copy.source_id == job.source_id]
    assert copy.source_created < ahead and copy.source_created <= clock.parse_iso(copy.verified)


@pytest.mark.parametrize("kind", ["RDS", "RDS Cluster", "EBS"])
def test_dr_copies_are_under_dr_keys_that_outlive_production(world: LocalWorld, kind: str) -> None:
    """DR key on copies: destroying every production key leaves every DR copy under a usable DR key."""
    source = world.add_source(kind, "orders", STANDARD)
    shared(world, source)
    release(world)
    kms = world.client("kms", PROD)
    for key in kms.list_keys()["Keys"]:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    (copy,) = KINDS[kind].api(world.client(KINDS[kind].service, DR)).owned()
    described = _kms_key(world, kind, copy.snapshot_id)
    assert described.split(":")[4] == DR
    state = world.client("kms", DR).describe_key(KeyId=described)["KeyMetadata"]["KeyState"]
    assert state == "Enabled"


def _kms_key(world: LocalWorld, kind: str, snapshot_id: str) -> str:
    """The KMS key ARN a DR copy is encrypted under, as AWS reports it."""
    if kind == "EBS":
        found = world.client("ec2", DR).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    elif kind == "RDS":
        found = world.client("rds", DR).describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]
    else:
        rds = world.client("rds", DR)
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)["DBClusterSnapshots"][0]
    return str(found["KmsKeyId"])
