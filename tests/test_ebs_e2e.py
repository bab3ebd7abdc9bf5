"""EBS volume snapshots end to end in the local two-account world, driven as AWS drives them:
EventBridge events on the topics, copies that take time, a sweep for what no event reports."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.naming import SOURCE_ARN_TAG, SOURCE_NAME_TAG, SOURCE_TIME_TAG, dr_copy_id, is_transit_id
from draco.world.core import DR, PROD, REGION, LocalWorld
from draco.world.faults import FaultPlan, Killed
from draco.world.kinds import WORLD_KINDS

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

EBS = KINDS["EBS"]


def snapshots(world: LocalWorld, account: str) -> dict[str, Snapshot]:
    """The account's own EBS snapshots, by DRACO's name for them."""
    return {snap.name: snap for snap in EBS.api(world.client("ec2", account)).owned()}


def daily(world: LocalWorld, days: int, *volumes: str) -> list[str]:
    """One snapshot of each volume a day at 03:00, each day carried to the end; returns the snapshot ids."""
    taken = []
    for day in range(days):
        world.move_to(world.start + timedelta(days=day, hours=3))
        taken += [world.take_snapshot(volume) for volume in volumes]
        assert world.run_until_quiet(), "jobs still active after two simulated days"
    return taken


def copy_calls(world: LocalWorld, account: str) -> int:
    return sum(n for (_, acct, service, op), n in world.stats.calls.items() if (acct, op) == (account, "CopySnapshot"))


def log_lines(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.startswith('{"level')]


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def test_every_kind_has_a_world_adapter() -> None:
    assert set(WORLD_KINDS) == set(KINDS)


@pytest.mark.parametrize("encrypted", [False, True], ids=["unencrypted", "encrypted"])
def test_a_volume_snapshot_travels_to_dr_encrypted_under_the_volumes_own_key(log: io.StringIO, encrypted: bool) -> None:
    with LocalWorld(log_stream=log) as world:
        volume = world.add_volume(
            "fileserver",
            {"Draco_Lifecycle": "Standard", "aws:cloudformation:stack-name": "shop", "team": "storage"},
            encrypted=encrypted,
        )
        (source_id,) = daily(world, 1, volume)

        copy_name = dr_copy_id(PROD, source_id)
        dr = snapshots(world, DR)
        assert list(dr) == [copy_name]
        copy = dr[copy_name]
        assert copy.status == "completed" and copy.encrypted
        key = world.client("kms", DR).describe_key(KeyId=f"alias/DRACO-{volume}")["KeyMetadata"]
        item = world.client("ec2", DR).describe_snapshots(SnapshotIds=[copy.snapshot_id])["Snapshots"][0]
        assert item["KmsKeyId"] == key["Arn"]
        assert copy.tags[world.env["consumer"]["TAG_KEY"]] == world.env["consumer"]["TAG_VALUE"]
        assert copy.tags[SOURCE_ARN_TAG] == f"arn:aws:ec2:{REGION}:{PROD}:snapshot/{source_id}"
        assert copy.tags[SOURCE_NAME_TAG] == volume
        assert copy.tags[SOURCE_TIME_TAG] == "2026-01-01T03:00:00Z"
        # The volume's tags, since EBS copies none to its snapshots; AWS's own prefix renamed.
        assert copy.tags["Draco_Lifecycle"] == "Standard" and copy.tags["team"] == "storage"
        assert copy.tags["origin:aws:cloudformation:stack-name"] == "shop"
        assert not any(k.startswith("aws:") for k in copy.tags)
        assert list(snapshots(world, PROD)) == [source_id]  # the transit copy is gone, the source stays
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}
        assert copy_calls(world, PROD) == copy_calls(world, DR) == 1


def test_untagged_volumes_are_not_copied(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        volume = world.add_volume("scratch")
        daily(world, 1, volume)
        assert snapshots(world, DR) == {}
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.SKIPPED}
        aliases = {a["AliasName"] for a in world.client("kms", DR).list_aliases()["Aliases"]}
        assert f"alias/DRACO-{volume}" not in aliases
        assert copy_calls(world, PROD) == 0


def test_repeated_events_and_messages_make_one_copy(log: io.StringIO) -> None:
    """Every delivery arrives twice: the createSnapshot and copySnapshot events and every message."""
    with LocalWorld(log_stream=log, transport=lambda batch: batch + batch) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})
        (source_id,) = daily(world, 1, volume)
        assert list(snapshots(world, DR)) == [dr_copy_id(PROD, source_id)]
        assert list(snapshots(world, PROD)) == [source_id]
        assert copy_calls(world, PROD) == copy_calls(world, DR) == 1


@dataclass
class _DieAfterCopy(FaultPlan):
    """Ends the first run that starts a copy right after CopySnapshot answers, before the job is saved."""

    armed: bool = False
    done: bool = False

    def before_call(self, operation: str) -> None:
        if self.armed and not self.done:
            self.done = True
            raise Killed(operation)
        self.armed = operation == "CopySnapshot"


def test_a_start_retried_after_the_copy_was_made_finds_it(log: io.StringIO) -> None:
    faults = _DieAfterCopy(seed=0)
    with LocalWorld(log_stream=log, faults=faults) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})
        (source_id,) = daily(world, 1, volume)
        assert faults.done and world.stats.failed_runs["Killed"] == 1
        assert list(snapshots(world, DR)) == [dr_copy_id(PROD, source_id)]
        assert copy_calls(world, PROD) == 1  # the retry found the transit copy by its name tag
        assert list(snapshots(world, PROD)) == [source_id]


def test_a_lost_event_is_caught_by_the_sweep(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        source_id = world.take_snapshot(volume, notify=False)
        world.advance(timedelta(hours=1))
        assert world.jobs(PROD) == []  # nothing heard of it
        world.advance(timedelta(hours=3))  # the six-hourly sweep
        assert world.run_until_quiet()
        assert list(snapshots(world, DR)) == [dr_copy_id(PROD, source_id)]


def source_days(copies: dict[str, Snapshot]) -> list[int]:
    return sorted(datetime.fromisoformat(c.tags[SOURCE_TIME_TAG].replace("Z", "+00:00")).day for c in copies.values())


def test_live_retention_keeps_what_the_volumes_lifecycle_keeps(log: io.StringIO) -> None:
    with LocalWorld(live=True, log_stream=log) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})  # the most recent 5 days, at least 3
        daily(world, 8, volume)
        assert source_days(snapshots(world, DR)) == [4, 5, 6, 7, 8]
        expired = [job for job in world.jobs(DR) if job.state is State.EXPIRED]
        assert len(expired) == 3


def test_dr_copies_are_locked_for_the_lock_days_and_outlive_their_lifecycle(log: io.StringIO) -> None:
    lock = {"consumer": {"EBS_LOCK_DAYS": "7"}}
    with LocalWorld(live=True, log_stream=log, app_env=lock) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})
        daily(world, 9, volume)
        # The last at 15:00, so no lock ends at the very moment of the last lifecycle pass.
        world.move_to(world.start + timedelta(days=9, hours=15))
        world.take_snapshot(volume)
        assert world.run_until_quiet()
        dr = snapshots(world, DR)
        # Test keeps the last 5 days (days 6-10); the lock also keeps days 4 and 5, copied within 7 days.
        assert source_days(dr) == [4, 5, 6, 7, 8, 9, 10]
        held = {c.snapshot_id for c in dr.values()}
        locks = [
            lk for lk in world.client("ec2", DR).describe_locked_snapshots()["Snapshots"] if lk["SnapshotId"] in held
        ]
        assert len(locks) == 7 and {(lk["LockState"], lk["LockDuration"]) for lk in locks} == {("governance", 7)}
        assert all(job.locked_until for job in world.jobs(DR) if job.state is State.DONE)
        assert sum(job.state is State.EXPIRED for job in world.jobs(DR)) == 3


def test_a_copy_locked_behind_dracos_back_is_never_deleted(log: io.StringIO) -> None:
    """An operator's lock DRACO doesn't know of: the lifecycle's delete is refused and retried, nothing breaks."""
    with LocalWorld(live=True, log_stream=log) as world:
        volume = world.add_volume(tags={"Draco_Lifecycle": "Test"})
        daily(world, 1, volume)
        (first,) = snapshots(world, DR).values()
        world.client("ec2", DR).lock_snapshot(SnapshotId=first.snapshot_id, LockMode="compliance", LockDuration=30)
        for day in range(1, 8):
            world.move_to(world.start + timedelta(days=day, hours=3))
            world.take_snapshot(volume)
            assert world.run_until_quiet()
        assert source_days(snapshots(world, DR)) == [1, 4, 5, 6, 7, 8]
        assert next(job for job in world.jobs(DR) if job.copy_id == first.snapshot_id).state is State.DONE
        refused = [line for line in log_lines(log) if line["message"] == f"could not delete {first.snapshot_id}"]
        assert refused and "SnapshotLocked" in refused[0]["error"]


def test_no_transit_copy_is_left_in_production(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        volumes = [world.add_volume(tags={"Draco_Lifecycle": "Weekly"}) for _ in range(3)]
        taken = daily(world, 2, *volumes)
        prod = snapshots(world, PROD)
        assert sorted(prod) == sorted(taken) and not any(is_transit_id(name) for name in prod)
        assert len(snapshots(world, DR)) == 6
