"""DR in another Region, end to end: production in us-east-1, DR in us-west-2, every kind.

The world is bootstrapped through ``draco.bootstrap`` with ``dr_region`` and
``source_region``, so the apps meet each other only through the contract: the
topic names, the message protocol and the Regions bootstrap writes. DB instance
and EBS snapshots cross in one step; DB cluster snapshots in two, through a relay
copy in the source Region (``chalicelib_shared.kinds.rds``).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from chalicelib_shared.consumer_copies import Copies
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.messages import SUBJECT, EventType
from chalicelib_shared.naming import SOURCE_NAME_TAG, dr_copy_id, is_transit_id, key_alias
from draco import status as draco_status
from draco.world.core import DR, PROD, REGION, Delivery, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)
DR_REGION = "us-west-2"
RELAY_ALIAS = "alias/DRACO-Relay"
#: One source of each kind and encryption: (SnapshotType, name, encrypted at the source).
SOURCES = (
    ("RDS", "orders", True),
    ("RDS", "staging", False),
    ("RDS Cluster", "ledger", True),
    ("RDS Cluster", "analytics", False),
    ("EBS", "files", False),
)
#: What DR calls to copy one snapshot of a kind across Regions: clusters in two steps.
DR_COPY_CALLS = {"RDS": ("CopyDBSnapshot", 1), "RDS Cluster": ("CopyDBClusterSnapshot", 2), "EBS": ("CopySnapshot", 1)}


def add_sources(world: LocalWorld, lifecycle: str = "Test") -> dict[str, str]:
    """The five sources, by name: their source names (a volume's is its id)."""
    tags = {"Draco_Lifecycle": lifecycle}
    return {name: world.add_source(kind, name, tags, encrypted) for kind, name, encrypted in SOURCES}


def daily(world: LocalWorld, days: int, sources: list[str]) -> None:
    """One snapshot of each source a day at 03:00, each day carried to the end."""
    for day in range(days):
        world.move_to(world.start + timedelta(days=day, hours=3))
        for source in sources:
            world.take_snapshot(source)
        assert world.run_until_quiet(), "jobs still active after two simulated days"


def owned(world: LocalWorld, account: str, region: str) -> Iterator[Snapshot]:
    """Every snapshot of every kind the account owns in the Region."""
    for kind in KINDS.values():
        yield from kind.api(world.client(kind.service, account, region)).owned()


def kms_keys(world: LocalWorld, region: str) -> dict[str, str]:
    """The DR account's snapshots in ``region`` (by id) -> the key ARN each is encrypted under."""
    rds, ec2 = world.client("rds", DR, region), world.client("ec2", DR, region)
    found = {s["DBSnapshotIdentifier"]: s.get("KmsKeyId", "") for s in rds.describe_db_snapshots()["DBSnapshots"]}
    found |= {
        s["DBClusterSnapshotIdentifier"]: s.get("KmsKeyId", "")
        for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    }
    return found | {
        s["SnapshotId"]: s.get("KmsKeyId", "") for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    }


def aliases(world: LocalWorld, account: str, region: str) -> dict[str, str]:
    """DRACO's key aliases in the account and Region -> their keys' ARNs."""
    kms = world.client("kms", account, region)
    return {
        a["AliasName"]: kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["Arn"]
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"].startswith("alias/DRACO") and a.get("TargetKeyId")
    }


def dr_calls(world: LocalWorld, operation: str) -> int:
    return sum(n for (_, account, _, op), n in world.stats.calls.items() if (account, op) == (DR, operation))


def copy_calls_expected(taken: Counter[str]) -> Counter[str]:
    """DR's copy calls for ``taken`` snapshots by kind, each copied once."""
    expected: Counter[str] = Counter()
    for kind, count in taken.items():
        operation, steps = DR_COPY_CALLS[kind]
        expected[operation] += steps * count
    return expected


def holders(world: LocalWorld, pool: str) -> set[str]:
    return JobTable(world.job_table(DR)).holders(pool)


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


# --------------------------------------------------------------------------- two days of every kind


@dataclass(frozen=True)
class Carried:
    """What two days of daily snapshots of every kind left behind, read before the world closed."""

    names: dict[str, str]  # source -> source name
    snapshots: dict[tuple[str, str], dict[str, Snapshot]]  # (account, Region) -> name -> snapshot
    keys: dict[str, str]  # DR copy id -> its key ARN
    aliases: dict[tuple[str, str], dict[str, str]]  # (account, Region) -> alias -> key ARN
    calls: dict[str, int]
    jobs: dict[str, list[Any]]  # account -> its jobs
    status: draco_status.Status
    env: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def carried() -> Carried:
    with LocalWorld(log_stream=io.StringIO(), dr_region=DR_REGION) as world:
        names = add_sources(world)
        daily(world, 2, list(names.values()))
        places = [(account, region) for account in (PROD, DR) for region in (REGION, DR_REGION)]
        return Carried(
            names=names,
            snapshots={place: {s.name: s for s in owned(world, *place)} for place in places},
            keys=kms_keys(world, DR_REGION),
            aliases={place: aliases(world, *place) for place in places},
            calls={op: dr_calls(world, op) for op, _ in DR_COPY_CALLS.values()},
            jobs={account: world.jobs(account) for account in (PROD, DR)},
            status=world.status(),
            env=world.env,
        )


def test_bootstrap_wires_each_app_to_the_other_in_its_region(carried: Carried) -> None:
    assert carried.env["producer"]["DR_TOPIC_ARN"] == f"arn:aws:sns:{DR_REGION}:{DR}:DracoConsumer"
    assert carried.env["consumer"]["SOURCE_REGION"] == REGION


def test_dr_copies_exist_only_in_the_dr_region(carried: Carried) -> None:
    dr = carried.snapshots[(DR, DR_REGION)]
    assert len(dr) == 2 * len(SOURCES)
    assert Counter(s.tags[SOURCE_NAME_TAG] for s in dr.values()) == {name: 2 for name in carried.names.values()}
    assert carried.snapshots[(DR, REGION)] == {}  # no relay copy left in the source Region
    assert carried.snapshots[(PROD, DR_REGION)] == {}
    assert {job.state for jobs in carried.jobs.values() for job in jobs} == {State.DONE}


def test_each_dr_copy_is_encrypted_under_its_sources_key_in_the_dr_region(carried: Carried) -> None:
    dr_aliases = carried.aliases[(DR, DR_REGION)]
    for kind, name, encrypted in SOURCES:
        source = carried.names[name]
        copies = [s for s in carried.snapshots[(DR, DR_REGION)].values() if s.tags[SOURCE_NAME_TAG] == source]
        if not KINDS[kind].encrypts_on_copy and not encrypted:  # an unencrypted cluster stays unencrypted
            assert not any(copy.encrypted for copy in copies) and key_alias(source) not in dr_aliases
            continue
        key = dr_aliases[key_alias(source)]
        assert key.startswith(f"arn:aws:kms:{DR_REGION}:{DR}:key/")
        assert all(copy.encrypted and carried.keys[copy.snapshot_id] == key for copy in copies), name


def test_nothing_is_left_behind_in_either_region(carried: Carried) -> None:
    prod = carried.snapshots[(PROD, REGION)]
    assert not [name for name in prod if is_transit_id(name)]
    assert len(prod) == 2 * len(SOURCES)  # the sources' own snapshots, untouched
    # DR's keys: its DR keys in its own Region; in the source Region only the relay key.
    assert set(carried.aliases[(DR, REGION)]) == {RELAY_ALIAS}
    assert RELAY_ALIAS not in carried.aliases[(DR, DR_REGION)]
    assert carried.aliases[(DR, REGION)][RELAY_ALIAS].startswith(f"arn:aws:kms:{REGION}:{DR}:key/")
    assert carried.aliases[(PROD, DR_REGION)] == {}


def test_cluster_snapshots_cross_in_two_steps_the_others_in_one(carried: Carried) -> None:
    taken = Counter({kind: 0 for kind in KINDS})
    for kind, _, _ in SOURCES:
        taken[kind] += 2
    assert carried.calls == copy_calls_expected(taken)


def test_status_and_recovery_point_read_as_in_one_region(carried: Carried) -> None:
    status = carried.status
    assert {source.source_name for source in status.sources} == set(carried.names.values())
    for source in status.sources:
        assert (source.health, len(source.existing), source.missing) == ("ok", 2, [])
        assert source.rpo_hours is not None and source.rpo_hours < 1
    assert status.skipped == ()


# --------------------------------------------------------------------------- what goes wrong on the way


def test_duplicate_deliveries_make_one_copy_of_each_snapshot(log: io.StringIO) -> None:
    """Every delivery arrives twice: RDS notifications, EBS events and every message of both apps."""
    with LocalWorld(log_stream=log, dr_region=DR_REGION, transport=lambda batch: batch + batch) as world:
        names = add_sources(world)
        daily(world, 1, list(names.values()))
        assert len(list(owned(world, DR, DR_REGION))) == len(SOURCES)
        assert list(owned(world, DR, REGION)) == []
        assert not [s for s in owned(world, PROD, REGION) if is_transit_id(s.name)]
        taken = Counter(kind for kind, _, _ in SOURCES)
        assert {op: dr_calls(world, op) for op, _ in DR_COPY_CALLS.values()} == copy_calls_expected(taken)


def test_lost_events_are_made_up_for_by_the_sweep_and_the_pollers(log: io.StringIO) -> None:
    """No "snapshot created" notice reaches production and no copy-finished event either app."""
    with LocalWorld(log_stream=log, dr_region=DR_REGION, copy_events=False) as world:
        names = add_sources(world)
        world.move_to(world.start + timedelta(hours=3))
        taken = [world.take_snapshot(source, notify=False) for source in names.values()]
        world.advance(timedelta(hours=1))
        assert world.jobs(PROD) == []  # nothing heard of them
        world.advance(timedelta(hours=3))  # the six-hourly sweep
        assert world.run_until_quiet()
        expected = {dr_copy_id(PROD, snapshot_id) for snapshot_id in taken}
        assert {s.name for s in owned(world, DR, DR_REGION)} == expected
        assert list(owned(world, DR, REGION)) == []


def test_live_retention_deletes_in_the_dr_region_what_the_lifecycle_deletes(log: io.StringIO) -> None:
    with LocalWorld(live=True, log_stream=log, dr_region=DR_REGION) as world:
        test = {"Draco_Lifecycle": "Test"}  # the most recent 5 days, never fewer than 3
        sources = [world.add_source(kind, name, test) for kind, name in (("RDS", "orders"), ("RDS Cluster", "ledger"))]
        sources.append(world.add_volume("files", test))
        daily(world, 7, sources)
        kept = Counter(s.tags[SOURCE_NAME_TAG] for s in owned(world, DR, DR_REGION))
        assert kept == {source: 5 for source in sources}
        assert Counter(job.source_name for job in world.jobs(DR) if job.state is State.EXPIRED) == {
            source: 2 for source in sources
        }
        assert list(owned(world, DR, REGION)) == []
        (row,) = [s for s in world.status().sources if s.source_name == "ledger"]
        assert row.health == "ok" and len(row.existing) == 5 and row.would_delete == []


def test_a_copy_shared_repeated_once_dr_holds_its_relay_copy_is_answered_not_rejected(log: io.StringIO) -> None:
    """Production deleted the transit copy when DR's relay copy was ready; a late copy-shared for it
    (a re-send, a repeated delivery) gets delete-shared again, as for a finished copy, not a rejection."""
    shared: list[Delivery] = []

    def record(batch: list[Delivery]) -> list[Delivery]:
        shared.extend(d for d in batch if d.account == DR and EventType.COPY_SHARED.value in d.message)
        return batch

    with LocalWorld(log_stream=log, dr_region=DR_REGION, transport=record, copy_time=timedelta(hours=2)) as world:
        world.add_cluster("ledger", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("ledger")
        while not [job for job in world.jobs(DR) if job.state is State.RELAYING]:
            world.advance(timedelta(minutes=10))
        assert {job.state for job in world.jobs(PROD)} == {State.DONE}  # the transit copy is gone
        answer = world.invoke_sns(DR, SUBJECT, shared[0].message)
        assert answer == "duplicate: transit copy not needed (job is relaying)"
        assert world.run_until_quiet()
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}
        assert "message rejected" not in log.getvalue()


# --------------------------------------------------------------------------- limits per destination Region


def test_a_capped_new_key_holds_a_cluster_copy_before_its_relay_copy_and_frees_its_slot(log: io.StringIO) -> None:
    """KEY_CAP=1: the second new cluster source waits a day for its DR key, before DR copies anything of it."""
    with LocalWorld(log_stream=log, dr_region=DR_REGION, app_env={"consumer": {"KEY_CAP": "1"}}) as world:
        for name in ("ledger", "payroll"):
            world.add_cluster(name, {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("ledger")
        world.take_snapshot("payroll")
        world.run_until_quiet(limit=timedelta(hours=3))
        (waiting,) = [job for job in world.jobs(DR) if job.state is State.COPY_QUEUED]
        assert "KEY_CAP" in waiting.reason and not waiting.relay_id
        assert len(aliases(world, DR, DR_REGION)) == 2  # the topic key and one DR key
        assert holders(world, f"RDS Cluster@{REGION}") == set() and holders(world, "RDS Cluster") == set()
        world.move_to(world.start + timedelta(days=1, hours=1))  # a new day, a new allowance
        assert world.run_until_quiet()
        assert {s.tags[SOURCE_NAME_TAG] for s in owned(world, DR, DR_REGION)} == {"ledger", "payroll"}
        assert list(owned(world, DR, REGION)) == []


def test_copies_in_flight_are_limited_per_destination_region(log: io.StringIO) -> None:
    """Relay copies (landing in the source Region) and DR copies (in DR's) each have a pool of slots:
    at most CLUSTER_COPY_LIMIT of each at once, and both at once."""
    limits = {"consumer": {"CLUSTER_COPY_LIMIT": "2", "KEY_CAP": "100"}}
    with LocalWorld(log_stream=log, dr_region=DR_REGION, app_env=limits, copy_time=timedelta(hours=1)) as world:
        names = [f"db{n}" for n in range(4)]
        for name in names:
            world.add_cluster(name, {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        for name in names:
            world.take_snapshot(name)
        world.deliver()
        seen: list[Counter[State]] = []
        while world.active_jobs():
            world.advance(timedelta(minutes=10))
            seen.append(Counter(job.state for job in world.jobs(DR)))
        assert max(states[State.COPYING] for states in seen) == 2  # relay copies, into the source Region
        assert max(states[State.RELAYING] for states in seen) == 2  # DR copies, into DR's Region
        assert max(states[State.COPYING] + states[State.RELAYING] for states in seen) > 2
        peaks = world.stats.in_flight_peak
        assert (peaks[f"{DR}@{REGION}:cluster"], peaks[f"{DR}:cluster"]) == (2, 2)
        assert len(list(owned(world, DR, DR_REGION))) == 4 and list(owned(world, DR, REGION)) == []


def test_a_kind_with_copy_events_copied_in_two_steps_finishes_on_its_dr_copys_event(
    log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EBS made to cross in two steps: the relay step runs for a kind whose ids AWS picks (EC2 answers a
    copy with its id only), and the DR copy's copySnapshot event, from DR's Region, ends the job."""
    monkeypatch.setattr(KINDS["EBS"], "one_step_across_regions", False)
    with LocalWorld(log_stream=log, dr_region=DR_REGION, poll_interval=timedelta(minutes=30)) as world:
        volume = world.add_volume("files", {"Draco_Lifecycle": "Test"})
        daily(world, 1, [volume])
        (job,) = world.jobs(DR)
        assert job.state is State.DONE and job.relay_id.startswith("snap-") and job.copy_id != job.relay_id
        (copy,) = owned(world, DR, DR_REGION)
        assert copy.snapshot_id == job.copy_id and list(owned(world, DR, REGION)) == []
        assert dr_calls(world, "CopySnapshot") == 2
        # The relay copy was deleted when the DR copy's event came, not by a poll half an hour later.
        deleted = [
            run for (run, account, _, op), n in world.stats.calls.items() if (account, op) == (DR, "DeleteSnapshot")
        ]
        assert deleted == ["on_consumer_topic"]


def test_a_dr_copy_under_a_key_of_the_source_region_fails_and_keeps_the_transit_copy(
    log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were DR to pass its key of the wrong Region, AWS would fail the EBS copy (``moto_gaps`` 7): the job
    fails with AWS's word for it and production keeps its transit copy, as for any failed DR copy."""
    monkeypatch.setattr(Copies, "_key", lambda self, job: self.relay.key())
    with LocalWorld(log_stream=log, dr_region=DR_REGION) as world:
        volume = world.add_volume("files", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot(volume)
        world.run_until_quiet()
        (job,) = world.jobs(DR)
        assert job.state is State.FAILED and job.reason.endswith("is error")
        assert [s.status for s in owned(world, DR, DR_REGION)] == ["error"]
        assert sorted(is_transit_id(s.name) for s in owned(world, PROD, REGION)) == [False, True]


def test_the_demo_across_regions_copies_every_kind_and_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from draco.cli import main

    assert main(["demo", "--days", "2", "--json", "--dr-region", DR_REGION]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["dr_region"], report["source_region"]) == (DR_REGION, REGION)
    assert (report["transit_left"], report["relay_left"], report["pending"], report["failed"]) == (0, 0, 0, 0)
    copied = {row["kind"] for row in report["sources"] if row["copied"] == row["retained"] == 2}
    assert copied == set(KINDS)
    assert {row["health"] for row in report["status"]["sources"]} == {"ok"}
