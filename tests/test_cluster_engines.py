"""Neptune and DocumentDB cluster snapshots are DB cluster snapshots of the RDS API: the
``RDS Cluster`` kind carries them. Neptune end to end in the local world; DocumentDB against a
stubbed RDS client, since moto can't create a DocumentDB cluster (its CreateDBCluster refuses
the ``docdb`` engine)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.naming import SOURCE_NAME_TAG, dr_copy_id
from draco.world.core import DR, PROD, REGION, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

CLUSTER = KINDS["RDS Cluster"]


def dr_cluster_copies(world: LocalWorld) -> dict[str, Any]:
    rds = world.client("rds", DR)
    return {c["DBClusterSnapshotIdentifier"]: c for c in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]}


def test_neptune_cluster_snapshots_travel_to_dr_under_the_clusters_own_key() -> None:
    with LocalWorld(log_stream=io.StringIO()) as world:
        world.add_cluster("graph", {"Draco_Lifecycle": "Test"}, engine="neptune")
        world.move_to(world.start + timedelta(hours=3))
        manual = world.take_snapshot("graph")
        automated = world.take_snapshot("graph", automated=True)
        assert world.run_until_quiet()
        copies = dr_cluster_copies(world)
        assert set(copies) == {dr_copy_id(PROD, manual), dr_copy_id(PROD, automated)}
        key = world.client("kms", DR).describe_key(KeyId="alias/DRACO-graph")["KeyMetadata"]
        for copy in copies.values():
            assert (copy["Engine"], copy["StorageEncrypted"], copy["KmsKeyId"]) == ("neptune", True, key["Arn"])
            assert {t["Key"]: t["Value"] for t in copy["TagList"]}[SOURCE_NAME_TAG] == "graph"
        assert {job.state for job in world.jobs(PROD) + world.jobs(DR)} == {State.DONE}


def test_an_unencrypted_neptune_cluster_snapshot_stays_unencrypted_and_says_so() -> None:
    """Neptune, like Aurora and DocumentDB, refuses a key when copying an unencrypted cluster snapshot."""
    log = io.StringIO()
    with LocalWorld(log_stream=log) as world:
        world.add_cluster("plaingraph", {"Draco_Lifecycle": "Test"}, encrypted=False, engine="neptune")
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("plaingraph")
        assert world.run_until_quiet()
        (copy,) = dr_cluster_copies(world).values()
        assert copy["Engine"] == "neptune" and not copy["StorageEncrypted"]
        warnings = [json.loads(line)["message"] for line in log.getvalue().splitlines() if '"WARNING"' in line]
        assert any("can't be encrypted by copying" in message for message in warnings)


@pytest.fixture
def stubbed(aws_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    rds = boto3.client("rds", region_name=REGION)
    with Stubber(rds) as stub:
        yield rds, stub
        stub.assert_no_pending_responses()


def test_documentdb_cluster_snapshots_are_read_and_copied_as_cluster_snapshots(stubbed: tuple[Any, Stubber]) -> None:
    rds, stub = stubbed
    arn = f"arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:rds:docs-2026-01-02-03-00"
    item = {
        "DBClusterSnapshotIdentifier": "rds:docs-2026-01-02-03-00",
        "DBClusterSnapshotArn": arn,
        "DBClusterIdentifier": "docs",
        "Engine": "docdb",
        "Status": "available",
        "SnapshotType": "automated",
        "StorageEncrypted": True,
        "SnapshotCreateTime": datetime(2026, 1, 2, 3, 0, tzinfo=timezone.utc),
    }
    stub.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": [item]}, {})
    params = {
        "SourceDBClusterSnapshotIdentifier": arn,
        "TargetDBClusterSnapshotIdentifier": "draco-transit-x",
        "KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/transit",
        "Tags": [{"Key": "Draco_Transit", "Value": "true"}],
    }
    transit_arn = f"arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:draco-transit-x"
    stub.add_response("copy_db_cluster_snapshot", {"DBClusterSnapshot": {"DBClusterSnapshotArn": transit_arn}}, params)
    api = CLUSTER.api(rds)
    (snapshot,) = api.recent(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert (snapshot.source_name, snapshot.owner, snapshot.snapshot_type) == ("docs", PROD, "automated")
    started = api.copy(
        arn, "draco-transit-x", "arn:aws:kms:us-east-1:111111111111:key/transit", {"Draco_Transit": "true"}
    )
    assert (started.started, started.arn) == (True, transit_arn)
