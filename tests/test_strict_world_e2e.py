"""Sources AWS allows but a lenient moto hides trouble with, end to end in the strict local world
(``draco.world.moto_gaps.limits``): cluster names at AWS's 63 characters, a volume with 50 tags."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.naming import SOURCE_ID_TAG, TAGS_DROPPED_TAG, dr_copy_id, tag_dict
from draco.world.core import DR, PROD, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)


def test_snapshots_of_a_cluster_with_a_63_character_name_reach_dr_traceable_to_their_source() -> None:
    name = "c" + "luster-name-at-aws-limit-" * 2 + "x" * 12
    assert len(name) == 63
    with LocalWorld(log_stream=io.StringIO()) as world:
        world.add_cluster(name, {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        manual = world.take_snapshot(name)
        automated = world.take_snapshot(name, automated=True)
        assert world.run_until_quiet()
        rds = world.client("rds", DR)
        copies = {
            c["DBClusterSnapshotIdentifier"]: c for c in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        }
        assert set(copies) == {dr_copy_id(PROD, manual), dr_copy_id(PROD, automated)}
        assert all(len(copy_id) <= 63 for copy_id in copies)
        by_source = {tag_dict(c["TagList"])[SOURCE_ID_TAG]: copy_id for copy_id, c in copies.items()}
        assert by_source == {manual: dr_copy_id(PROD, manual), automated: dr_copy_id(PROD, automated)}
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}


def test_a_volume_with_50_tags_reaches_dr_with_its_lifecycle_and_a_note_of_the_tags_left_out() -> None:
    log = io.StringIO()
    tags = {"Draco_Lifecycle": "Weekly", **{f"team-{i:02d}": "storage" for i in range(48)}}  # and its Name
    with LocalWorld(log_stream=log) as world:
        volume = world.add_volume("fileserver", tags)
        world.move_to(world.start + timedelta(hours=3))
        source_id = world.take_snapshot(volume)
        assert world.run_until_quiet()
        (copy,) = [
            s for s in KINDS["EBS"].api(world.client("ec2", DR)).owned() if s.name == dr_copy_id(PROD, source_id)
        ]
        assert len(copy.tags) == 50 and copy.tags["Draco_Lifecycle"] == "Weekly"
        dropped = copy.tags[TAGS_DROPPED_TAG].split(",")
        assert dropped == [f"team-{i:02d}" for i in range(48 - len(dropped), 48)]  # the last in key order
        lines = [json.loads(line) for line in log.getvalue().splitlines()]
        assert any(str(line.get("message", "")).startswith("source tags dropped") for line in lines)
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}


def test_a_db_snapshot_copied_into_another_region_finishes_on_rds_event_0060() -> None:
    """With DR in another Region, RDS announces DR's finished copy with RDS-EVENT-0060 (not 0197): the
    consumer ends the job on that event, and tells production at once, without waiting for a poll."""
    with LocalWorld(log_stream=io.StringIO(), dr_region="us-west-2", poll_interval=timedelta(minutes=30)) as world:
        world.add_instance("db1", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("db1")
        assert world.run_until_quiet()
        (job,) = world.jobs(DR)
        assert job.state is State.DONE
        publishes = {
            run: n for (run, account, _, op), n in world.stats.calls.items() if (account, op) == (DR, "Publish")
        }
        # copy-initiate (answering production's request, from the inbox), then delete-shared on the 0060 event
        assert publishes == {"on_inbox": 1, "on_consumer_topic": 1}
