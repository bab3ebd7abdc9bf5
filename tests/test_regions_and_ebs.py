"""Copies across Regions and EBS snapshots, on fakes: a kind AWS copies across Regions in one step
goes straight into DR's Region; any other is copied in the source Region under DR's relay key first,
then across; EBS copies, whose ids AWS chooses, are found by DRACO's name for them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import EventType, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import dr_copy_id
from chalicelib_shared.outcomes import Outcome
from chalicelib_shared.sources import SourceRecord
from tests.conftest import T0
from tests.fake_snapshots import REGION
from tests.fakes import ELSEWHERE, PROD, copy_request, job_of
from tests.rigs import ConsumerRig, build_consumer, build_producer

pytestmark = pytest.mark.usefixtures("travel")
CLUSTER = "RDS Cluster"
COPY = dr_copy_id(PROD, "c-1")
RELAY_POOL = f"{CLUSTER}@{ELSEWHERE}"
SNAP = "snap-0123456789abcdef0"
VOLUME = "vol-0123456789abcdef0"


def across() -> ConsumerRig:
    return build_consumer(SOURCE_REGION=ELSEWHERE)


# --- across Regions ---------------------------------------------------------------------------------


def test_a_kind_aws_copies_across_regions_in_one_step_goes_straight_into_dr_s_region() -> None:
    rig = across()
    job = rig.copying()
    ((from_arn, name, key, _, source_region),) = rig.snaps().called("copy")
    assert from_arn == job.transit_arn and f":{ELSEWHERE}:" in from_arn and source_region == ELSEWHERE
    assert (name, key) == (job.job_id, rig.keys.keys["db1"]) and rig.relay_keys.calls == []
    assert rig.snaps("RDS", ELSEWHERE).called("copy") == [] and rig.table.holders("RDS") == {job.job_id}
    rig.snaps().finish(job.job_id)
    assert rig.app.poll()[Outcome.COPIED] == 1
    topic, message = rig.sent.sent[-1]
    assert (topic, message.event_type) == (f"arn:aws:sns:{ELSEWHERE}:{PROD}:DracoProducer", Msg.DELETE_SHARED)


def test_a_snapshot_in_dr_s_own_region_is_refused_when_the_source_region_is_another() -> None:
    rig = across()
    snapshot = rig.cloud.api(PROD, "RDS", REGION).add("snap-1")
    assert rig.refused(copy_request(snapshot)) == f"{snapshot.arn} is not in the source Region ({ELSEWHERE})"
    assert rig.nothing_changed()


def relayed(rig: ConsumerRig) -> None:
    """The relay copy of ``c-1`` in the source Region is ready, and the poller sees it."""
    rig.snaps(CLUSTER, ELSEWHERE).finish(COPY)
    rig.app.poll()


def test_another_kind_is_copied_in_the_source_region_under_the_relay_key_then_across() -> None:
    rig = across()
    job = rig.copying("c-1", CLUSTER, name="c1")
    relay = rig.snaps(CLUSTER, ELSEWHERE)
    ((from_arn, name, key, _, source_region),) = relay.called("copy")
    assert (from_arn, name, key, source_region) == (job.transit_arn, COPY, rig.relay_keys.keys["Relay"], "")
    assert rig.relay_keys.calls == [("find", "Relay"), ("create", "Relay")]
    # The source's DR key is made before the first step and kept for the second.
    assert rig.keys.calls == [("find", "c1"), ("create", "c1")] and job.target_key == rig.keys.keys["c1"]
    assert (job.relay_id, job.relay_arn, job.copy_id) == (COPY, relay.arn(COPY), "")
    assert rig.table.holders(RELAY_POOL) == {COPY} and rig.snaps(CLUSTER).ops() == ["quota"]  # room in DR, read first
    relayed(rig)
    relaying = rig.table.get(COPY)
    assert relaying is not None and relaying.state is State.RELAYING
    assert relaying.target_key == rig.keys.keys["c1"] and rig.sent.types()[-1] is Msg.DELETE_SHARED
    ((from_arn, _, key, _, source_region),) = rig.snaps(CLUSTER).called("copy")
    assert (from_arn, key, source_region) == (job.relay_arn, relaying.target_key, ELSEWHERE)
    assert rig.table.holders(RELAY_POOL) == set() and rig.table.holders(CLUSTER) == {COPY}
    rig.snaps(CLUSTER).finish(COPY)
    assert rig.app.poll()[Outcome.COPIED] == 1
    assert relay.called("delete") == [(COPY,)] and COPY not in relay.snapshots and COPY in rig.snaps(CLUSTER).snapshots
    assert rig.table.state(COPY) is State.DONE and rig.table.holders(CLUSTER) == set()
    assert rig.sent.types().count(Msg.DELETE_SHARED) == 1  # the transit copy went once the relay copy was ready


def test_a_ready_relay_copy_waits_for_a_slot_in_dr_s_region() -> None:
    rig = build_consumer(SOURCE_REGION=ELSEWHERE, CLUSTER_COPY_LIMIT="1")
    busy = job_of(rig.source("busy", CLUSTER), State.RELAYING, dr=True, due="2026-03-02T13:00:00Z")
    rig.table.put(busy)
    rig.table.take(CLUSTER, busy.job_id, 1)
    rig.copying("c-1", CLUSTER, name="c1")
    relayed(rig)
    assert rig.table.state(COPY) is State.RELAY_QUEUED and rig.table.holders(CLUSTER) == {busy.job_id}
    rig.table.release(CLUSTER, [busy.job_id])
    rig.table.put(job_of(rig.source("busy", CLUSTER), State.DONE, dr=True))
    assert rig.app.poll() == Counter({Outcome.STARTED: 1})
    assert rig.table.state(COPY) is State.RELAYING


def test_a_copy_in_two_steps_past_the_key_cap_waits_before_its_relay_copy() -> None:
    rig = build_consumer(SOURCE_REGION=ELSEWHERE, KEY_CAP="1")
    rig.copying("c-0", CLUSTER, name="c0")  # c0's key: the day's one new key
    snapshot = rig.source("c-1", CLUSTER, "c1")
    rig.on(copy_request(snapshot))
    assert rig.on(rig.shared(snapshot)).outcome is Outcome.QUEUED
    waiting = rig.table.get(COPY)
    assert waiting is not None and waiting.state is State.COPY_QUEUED and "KEY_CAP" in waiting.reason
    assert not waiting.relay_id and COPY not in rig.snaps(CLUSTER, ELSEWHERE).snapshots
    assert COPY not in rig.table.holders(RELAY_POOL) | rig.table.holders(CLUSTER)


def test_a_failed_relay_copy_fails_the_job_and_keeps_the_transit_copy() -> None:
    rig = across()
    job = rig.copying("c-1", CLUSTER, name="c1")
    rig.snaps(CLUSTER, ELSEWHERE).vanish(COPY)
    assert rig.app.poll() == Counter({Outcome.FAILED: 1})
    failed = rig.table.get(COPY)
    assert failed is not None and failed.reason.startswith(f"relay copy {COPY} disappeared")
    assert Msg.DELETE_SHARED not in rig.sent.types() and job.transit_id in rig.prod(CLUSTER).snapshots
    assert rig.table.holders(RELAY_POOL) == set()


def test_an_unencrypted_cluster_snapshot_crosses_regions_unencrypted_with_no_key() -> None:
    rig = across()
    rig.copying("c-1", CLUSTER, name="c1", encrypted=False)
    relayed(rig)
    assert (
        rig.snaps(CLUSTER, ELSEWHERE).called("copy")[0][2] is None and rig.snaps(CLUSTER).called("copy")[0][2] is None
    )
    assert rig.keys.calls == [] and rig.relay_keys.calls == [] and rig.table.state(COPY) is State.RELAYING


def test_a_relay_copy_another_run_saw_ready_first_is_a_no_op() -> None:
    rig = across()
    rig.copying("c-1", CLUSTER, name="c1")
    rig.table.race(COPY, State.RELAY_QUEUED)
    relayed(rig)
    assert rig.table.state(COPY) is State.RELAY_QUEUED and "copy" not in rig.snaps(CLUSTER).ops()


def test_copies_in_two_steps_need_the_relay_key_store() -> None:
    rig = across()
    rig.app.relay_keys = None
    snapshot = rig.source("c-1", CLUSTER, "c1")
    rig.on(copy_request(snapshot))
    with pytest.raises(RuntimeError, match="need the relay key store"):
        rig.on(rig.shared(snapshot))


def test_keys_may_be_one_per_source_account() -> None:
    rig = build_consumer(KEY_SCOPE="account")
    rig.copying("snap-1", name="db1")
    rig.copying("snap-2", name="db2")
    assert rig.keys.calls == [("find", PROD), ("create", PROD), ("find", PROD)]
    assert {job.target_key for job in rig.table.jobs()} == {rig.keys.keys[PROD]}


# --- EBS -------------------------------------------------------------------------------------------


def test_an_ebs_transit_copy_is_known_by_draco_s_name_whatever_id_aws_gives_it() -> None:
    rig = build_producer()
    job = rig.start(SNAP, "EBS", source_name=VOLUME)
    assert job.transit_id.startswith("snap-") and job.transit_id != job.job_id
    assert job.transit_arn == f"arn:aws:ec2:{REGION}:{PROD}:snapshot/{job.transit_id}"  # EC2 answers the id only
    rig.snaps("EBS").finish(job.transit_id)
    result = rig.app.on_event(SnapshotEvent("EBS", EventType.COPY_FINISHED, job.transit_id))
    assert result.outcome is Outcome.SHARED and rig.sent.last().transit_id == job.transit_id


def test_the_sweep_leaves_ebs_copies_out() -> None:
    rig = build_producer()
    rig.snaps("EBS").add(SNAP, VOLUME, created=T0 - timedelta(hours=1))
    rig.snaps("EBS").add("snap-00000001", "", created=T0 - timedelta(hours=1))  # a copy names no volume
    assert rig.app.sweep() == {"seen": 1, "started": 1}
    assert [job.source_id for job in rig.table.jobs()] == [SNAP]


def test_an_ebs_dr_copy_is_locked_and_expired_by_the_id_aws_gave_it() -> None:
    rig = build_consumer(EBS_LOCK_DAYS="30", NO_DRY_RUN="1", MIN_KEEP="0")
    old = rig.source("snap-00000000", "EBS", VOLUME, created=T0 - timedelta(days=10), tags={})
    rig.snaps("EBS").add("snap-000000aa", "", name=dr_copy_id(PROD, old.snapshot_id))
    rig.table.put(job_of(old, State.DONE, dr=True, copy_id="snap-000000aa", tags={}))
    job = rig.copying(SNAP, "EBS", name=VOLUME, tags={"Draco_Lifecycle": "within=5d"})
    assert job.copy_id.startswith("snap-") and job.copy_id != job.job_id
    rig.snaps("EBS").finish(job.copy_id)
    assert rig.app.on_event(SnapshotEvent("EBS", EventType.COPY_FINISHED, job.copy_id)).outcome is Outcome.COPIED
    assert rig.snaps("EBS").called("lock") == [(job.copy_id, 30, "governance")]
    assert (
        rig.snaps("EBS").called("delete") == [("snap-000000aa",)]
        and rig.table.state(dr_copy_id(PROD, old.snapshot_id)) is State.EXPIRED
    )
    assert rig.table.source(f"{PROD}#EBS#{VOLUME}") == SourceRecord(
        f"{PROD}#EBS#{VOLUME}", newest_time=job.source_time, lifecycle="within=5d", held=1, version=1
    )
