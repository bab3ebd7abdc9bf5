"""End to end in the local two-account world: both apps, driven the way AWS drives them."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.naming import (
    SOURCE_ARN_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TIME_TAG,
    dr_copy_id,
    is_transit_id,
)
from draco.approvals import approve
from draco.world.core import DR, PROD, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

EVENTS = Path(__file__).parent / "data" / "rds-events"
INSTANCE, CLUSTER = KINDS["RDS"], KINDS["RDS Cluster"]


def dr_snapshots(world: LocalWorld, cluster: bool = False) -> dict[str, object]:
    kind = CLUSTER if cluster else INSTANCE
    return {snap.snapshot_id: snap for snap in kind.api(world.client("rds", DR)).owned()}


def prod_snapshots(world: LocalWorld) -> set[str]:
    return {snap.name for kind in KINDS.values() for snap in kind.api(world.client(kind.service, PROD)).owned()}


def daily(world: LocalWorld, days: int, *sources: tuple[str, bool, bool]) -> None:
    """Take one snapshot of each (name, cluster, automated) source a day, at 03:00."""
    for day in range(days):
        world.move_to(world.start + timedelta(days=day, hours=3))
        for name, _, automated in sources:
            world.take_snapshot(name, automated=automated)
        assert world.run_until_quiet(), "jobs still active after two simulated days"


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def log_lines(log: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.startswith('{"level')]


def test_instance_snapshot_travels_to_dr_encrypted_under_its_own_key(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Standard", "aws:cloudformation:stack-name": "shop"})
        world.move_to(world.start + timedelta(hours=3))
        source_id = world.take_snapshot("orders")
        assert world.run_until_quiet()

        copy_id = dr_copy_id(PROD, source_id)
        copies = dr_snapshots(world)
        assert list(copies) == [copy_id]
        copy = copies[copy_id]
        assert copy.status == "available" and copy.encrypted
        kms = world.client("kms", DR)
        key = kms.describe_key(KeyId="alias/DRACO-orders")["KeyMetadata"]
        dr_item = world.client("rds", DR).describe_db_snapshots(DBSnapshotIdentifier=copy_id)["DBSnapshots"][0]
        assert dr_item["KmsKeyId"] in (key["Arn"], key["KeyId"])
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
        assert copy.tags["Draco_Lifecycle"] == "Standard"
        assert copy.tags["origin:aws:cloudformation:stack-name"] == "shop"
        assert not any(k.startswith("aws:") for k in copy.tags)
        assert copy.tags[world.env["consumer"]["TAG_KEY"]] == world.env["consumer"]["TAG_VALUE"]
        assert copy.tags[SOURCE_NAME_TAG] == "orders"
        assert copy.tags[SOURCE_ARN_TAG].endswith(f":{PROD}:snapshot:{source_id}")
        assert copy.tags[SOURCE_TIME_TAG] == "2026-01-01T03:00:00Z"
        assert source_id in prod_snapshots(world)
        assert not any(is_transit_id(s) for s in prod_snapshots(world))
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}


def test_automated_and_cluster_snapshots_are_copied(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_cluster("ledger", {"Draco_Lifecycle": "Weekly"})
        daily(world, 2, ("orders", False, True), ("ledger", True, True), ("ledger", True, False))
        instance_copies = dr_snapshots(world)
        cluster_copies = dr_snapshots(world, cluster=True)
        assert sorted(instance_copies) == sorted(dr_copy_id(PROD, f"rds:orders-2026-01-0{d}-03-00") for d in (1, 2))
        assert len(cluster_copies) == 4
        assert all(copy.encrypted for copy in cluster_copies.values())
        assert all(copy.tags[SOURCE_NAME_TAG] == "ledger" for copy in cluster_copies.values())
        world.client("kms", DR).describe_key(KeyId="alias/DRACO-ledger")


def test_unencrypted_sources(log: io.StringIO) -> None:
    """An instance snapshot gets encrypted on the way; a cluster snapshot can't be, and says so."""
    with LocalWorld(log_stream=log) as world:
        world.add_instance("plain", {"Draco_Lifecycle": "Test"}, encrypted=False)
        world.add_cluster("plaincluster", {"Draco_Lifecycle": "Test"}, encrypted=False)
        daily(world, 1, ("plain", False, False), ("plaincluster", True, False))
        assert all(copy.encrypted for copy in dr_snapshots(world).values())
        (cluster_copy,) = dr_snapshots(world, cluster=True).values()
        assert not cluster_copy.encrypted
        warnings = [line["message"] for line in log_lines(log) if line["level"] == "WARNING"]
        assert any("can't be encrypted by copying" in message for message in warnings)
        assert {job.state for job in world.jobs(DR)} == {State.DONE}


def test_untagged_and_ignored_sources_are_not_copied(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        world.add_instance("scratch")
        world.add_instance("ignored", {"Draco_Lifecycle": "iGnOrE"})
        daily(world, 1, ("scratch", False, True), ("ignored", False, False))
        assert dr_snapshots(world) == {}
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.SKIPPED}
        aliases = {a["AliasName"] for a in world.client("kms", DR).list_aliases()["Aliases"]}
        assert not {"alias/DRACO-scratch", "alias/DRACO-ignored"} & aliases


def test_default_lifecycle_opts_untagged_sources_in(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, default_lifecycle="Weekly") as world:
        world.add_instance("scratch")
        daily(world, 1, ("scratch", False, True))
        assert len(dr_snapshots(world)) == 1


def test_dry_run_logs_what_it_would_delete_and_deletes_nothing(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        world.add_instance("staging", {"Draco_Lifecycle": "Test"})
        daily(world, 8, ("staging", False, False))
        assert len(dr_snapshots(world)) == 8
        would = {line["message"] for line in log_lines(log) if line["message"].startswith("dry run: would delete")}
        assert f"dry run: would delete {dr_copy_id(PROD, 'staging-2026-01-01-03-00')}" in would
        assert {job.state for job in world.jobs(DR)} == {State.DONE}


def test_live_test_lifecycle_keeps_five_days_by_source_time(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, live=True) as world:
        world.add_instance("staging", {"Draco_Lifecycle": "Test"})
        world.add_instance("other", {"Draco_Lifecycle": "Standard"})
        daily(world, 9, ("staging", False, False), ("other", False, False))
        staging = sorted(s for s in dr_snapshots(world) if "staging" in s)
        # Newest is day 9 (Jan 9, 03:00): within 5 days means strictly after Jan 4, 03:00.
        assert staging == [dr_copy_id(PROD, f"staging-2026-01-0{d}-03-00") for d in range(5, 10)]
        # The other source keeps its own lifecycle (Standard): only Jan 2 is neither a daily
        # of the last 7 days, nor the newest of its ISO week, nor the oldest.
        other = {s for s in dr_snapshots(world) if "other" in s}
        assert other == {dr_copy_id(PROD, f"other-2026-01-0{d}-03-00") for d in (1, 3, 4, 5, 6, 7, 8, 9)}
        expired = [job for job in world.jobs(DR) if job.state is State.EXPIRED]
        assert len(expired) == 5
        assert len(prod_snapshots(world) & {f"staging-2026-01-0{d}-03-00" for d in range(1, 10)}) == 9


def retag(world: LocalWorld, name: str, lifecycle: str) -> None:
    rds = world.client("rds", PROD)
    arn = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Draco_Lifecycle", "Value": lifecycle}])


def snapshot_on_day(world: LocalWorld, day: int, name: str) -> None:
    world.move_to(world.start + timedelta(days=day, hours=3))
    world.take_snapshot(name)
    assert world.run_until_quiet()


def test_without_the_retention_lock_changing_the_tag_reshapes_the_dr_history(log: io.StringIO) -> None:
    """The original's behaviour, with RETENTION_LOCK=off and no floor: any change applies at once."""
    with LocalWorld(
        log_stream=log, live=True, app_env={"consumer": {"RETENTION_LOCK": "off", "MIN_KEEP": "0"}}
    ) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Standard"})
        daily(world, 6, ("orders", False, False))
        assert len(dr_snapshots(world)) == 6
        retag(world, "orders", "last=2")
        snapshot_on_day(world, 6, "orders")
        assert len(dr_snapshots(world)) == 2


def test_a_shorter_lifecycle_waits_for_approval_in_dr_then_applies_above_the_floor(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, live=True) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Standard"})
        daily(world, 6, ("orders", False, False))
        retag(world, "orders", "last=2")
        snapshot_on_day(world, 6, "orders")
        assert len(dr_snapshots(world)) == 7  # Standard keeps all seven: nothing is deleted yet
        table = JobTable(world.job_table(DR), inventory=True)
        (record,) = table.sources()
        assert (record.lifecycle, record.pending) == ("Standard", "last=2")
        errors = [line for line in log_lines(log) if line["level"] == "ERROR"]
        assert [line["message"] for line in errors] == ["lifecycle change waits for approval in DR"]
        approve(table, world_lifecycles(world), "orders", "arn:aws:iam::222222222222:user/dr-admin", "last=2")
        snapshot_on_day(world, 7, "orders")
        assert len(dr_snapshots(world)) == 3  # last=2, but never fewer than MIN_KEEP (3)
        (record,) = table.sources()
        assert (record.lifecycle, record.pending, record.approved_by) == (
            "last=2",
            "",
            "arn:aws:iam::222222222222:user/dr-admin",
        )


def test_a_longer_lifecycle_applies_at_once(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, live=True) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "daily=3"})
        daily(world, 5, ("orders", False, False))
        assert len(dr_snapshots(world)) == 3
        retag(world, "orders", "daily=5")
        snapshot_on_day(world, 5, "orders")
        (record,) = JobTable(world.job_table(DR), inventory=True).sources()
        assert (record.lifecycle, record.pending) == ("daily=5", "")
        assert len(dr_snapshots(world)) == 4  # nothing waits: the longer lifecycle keeps what it can


def test_duplicate_deliveries_change_nothing(log: io.StringIO) -> None:
    def twice(deliveries):
        return [d for d in deliveries for _ in range(2)]

    with LocalWorld(log_stream=log, transport=twice, live=True) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_cluster("ledger", {"Draco_Lifecycle": "Test"})
        daily(world, 7, ("orders", False, False), ("ledger", True, True))
        assert len(dr_snapshots(world)) == 5 and len(dr_snapshots(world, cluster=True)) == 5
        assert not any(is_transit_id(s) for s in prod_snapshots(world))
        assert {job.state for job in world.jobs(PROD)} == {State.DONE}
        assert not [line for line in log_lines(log) if line["level"] == "ERROR"]


def test_reordered_deliveries_change_nothing(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, transport=lambda deliveries: deliveries[::-1]) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_instance("billing", {"Draco_Lifecycle": "Test"})
        daily(world, 2, ("orders", False, False), ("billing", False, True))
        assert len(dr_snapshots(world)) == 4
        assert not any(is_transit_id(s) for s in prod_snapshots(world))


def test_lost_messages_are_sent_again(log: io.StringIO) -> None:
    """Every first delivery of a DRACO message is lost; the re-send loop still gets it through."""
    seen: set[str] = set()

    def lose_first(deliveries):
        kept = [d for d in deliveries if d.subject != "DRACO Event" or d.message in seen]
        seen.update(d.message for d in deliveries)
        return kept

    with LocalWorld(log_stream=log, transport=lose_first) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        daily(world, 1, ("orders", False, False))
        assert len(dr_snapshots(world)) == 1
        assert not any(is_transit_id(s) for s in prod_snapshots(world))


def test_without_copy_events_the_pollers_carry_every_copy(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, copy_events=False) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        daily(world, 1, ("orders", False, False))
        assert len(dr_snapshots(world)) == 1


@pytest.mark.parametrize("sample", sorted(p.name for p in EVENTS.glob("*.json")))
def test_real_rds_notifications_are_accepted_as_they_are(sample: str, log: io.StringIO) -> None:
    record = json.loads((EVENTS / sample).read_text())["Records"][0]["Sns"]
    with LocalWorld(log_stream=log) as world:
        outcome = world.invoke_sns(PROD, record["Subject"], record["Message"])
        assert not outcome.startswith("rejected"), outcome
        assert world.jobs(PROD) == []  # the sampled snapshots don't exist here: nothing to do


def test_a_copy_shared_for_a_job_dr_lost_is_decided_and_copied_afresh(log: io.StringIO) -> None:
    """DR's job item is gone when the transit copy arrives (say, restored from an old backup):
    DR decides again from the tags carried in the message and copies."""
    worlds: list[LocalWorld] = []

    def lose_dr_job_before_shared(deliveries):
        for delivery in deliveries:
            if '"snapshot-copy-shared"' in delivery.message:
                table = worlds[0].client("dynamodb", DR)
                for job in worlds[0].jobs(DR):
                    table.delete_item(
                        TableName=worlds[0].env["consumer"]["JOB_TABLE"], Key={"job_id": {"S": job.job_id}}
                    )
        return deliveries

    with LocalWorld(log_stream=log, transport=lose_dr_job_before_shared) as world:
        worlds.append(world)
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        daily(world, 1, ("orders", False, False))
        assert list(dr_snapshots(world)) == [dr_copy_id(PROD, "orders-2026-01-01-03-00")]
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}
        assert not any(is_transit_id(s) for s in prod_snapshots(world))


def world_lifecycles(world: LocalWorld) -> Lifecycles:
    return ConsumerConfig.from_env(world.env["consumer"]).lifecycles


def test_with_key_scope_account_each_source_account_has_one_dr_key(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, app_env={"consumer": {"KEY_SCOPE": "account"}}) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_cluster("ledger", {"Draco_Lifecycle": "Test"})
        daily(world, 1, ("orders", False, False), ("ledger", True, False))
        aliases = {a["AliasName"]: a["TargetKeyId"] for a in world.client("kms", DR).list_aliases()["Aliases"]}
        assert [alias for alias in aliases if alias.startswith("alias/DRACO-")] == [f"alias/DRACO-{PROD}"]
        keys = {job.target_key for job in world.jobs(DR)}
        assert len(keys) == 1 and next(iter(keys)).endswith(aliases[f"alias/DRACO-{PROD}"])
