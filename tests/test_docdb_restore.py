"""DocumentDB restores, against a stubbed RDS client (moto makes no DocumentDB cluster): the cluster from its
snapshot, one instance in the smallest class DocumentDB allows, never public, then both deleted, instance first."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
from botocore.stub import ANY, Stubber

from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.base import Phase
from chalicelib_shared.kinds.restoring import Place, instance_class_for

KEY = "arn:aws:kms:us-east-1:222222222222:key/dr-key"
NAME = "draco-drill-20260302120000-0a1b2c3d-beef"


def cluster(status: str) -> dict[str, object]:
    return {"DBClusterIdentifier": NAME, "Status": status, "Engine": "docdb", "AllocatedStorage": 1,
            "StorageEncrypted": True, "KmsKeyId": KEY, "Endpoint": f"{NAME}.cluster-x.docdb.amazonaws.com",
            "Port": 27017, "TagList": [{"Key": "Draco_Drill", "Value": "x"}],
            "ClusterCreateTime": datetime(2026, 3, 2, tzinfo=timezone.utc)}  # fmt: skip


def test_a_documentdb_copy_restores_into_a_cluster_with_one_small_private_instance() -> None:
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    api = KINDS["RDS Cluster"].restores(rds)
    member = f"{NAME}-1"
    with Stubber(rds) as stub:
        stub.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": [
            {"DBClusterSnapshotIdentifier": "draco-111111111111-docs-1", "Engine": "docdb", "EngineVersion": "5.0.0",
             "AllocatedStorage": 1, "StorageEncrypted": True, "KmsKeyId": KEY}]},
            {"DBClusterSnapshotIdentifier": "draco-111111111111-docs-1"})  # fmt: skip
        stub.add_response("restore_db_cluster_from_snapshot", {"DBCluster": cluster("creating")}, {
            "DBClusterIdentifier": NAME, "SnapshotIdentifier": "draco-111111111111-docs-1", "Engine": "docdb",
            "EngineVersion": "5.0.0", "DeletionProtection": False, "Tags": ANY,
            "DBSubnetGroupName": "isolated"})  # fmt: skip
        stub.add_response("create_db_instance", {"DBInstance": {"DBInstanceIdentifier": member}}, {
            "DBInstanceIdentifier": member, "DBClusterIdentifier": NAME, "Engine": "docdb",
            "DBInstanceClass": "db.t3.medium", "PubliclyAccessible": False, "Tags": ANY})  # fmt: skip
        stub.add_response("describe_db_clusters", {"DBClusters": [cluster("available")]},
                          {"DBClusterIdentifier": NAME})  # fmt: skip
        stub.add_response("describe_db_instances", {"DBInstances": [
            {"DBInstanceIdentifier": member, "DBInstanceStatus": "available", "DBInstanceClass": "db.t3.medium"}]},
            {"DBInstanceIdentifier": member})  # fmt: skip
        source = api.source("draco-111111111111-docs-1")
        assert source is not None and source.engine == "docdb"
        chosen = instance_class_for(source.engine)
        api.restore(source, NAME, Place(subnet_group="isolated"), chosen, {"Draco_Drill": "x"})
        restored = api.describe(NAME)
        assert restored is not None and restored.phase is Phase.READY and restored.port == 27017
        assert restored.kms_key == KEY and restored.instance_class == "db.t3.medium"
        stub.assert_no_pending_responses()
