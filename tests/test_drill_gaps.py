"""moto's restore gaps (``draco.world.moto_gaps``, gap 9): moto's own answer first, then the filled one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError
from moto import mock_aws

from draco.world import moto_gaps
from draco.world.moto_gaps import restoring
from tests.conftest import T0

CREDENTIALS = {"MasterUsername": "admin", "MasterUserPassword": "not-a-secret-1"}


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[dict[str, Any]]:
    with mock_aws(), time_machine.travel(T0, tick=False) as traveller:
        try:
            yield {
                "rds": boto3.client("rds"),
                "kms": boto3.client("kms"),
                "ec2": boto3.client("ec2"),
                "traveller": traveller,
            }
        finally:
            moto_gaps.uninstall()


def cluster_snapshot(rds: Any, engine: str, key: str = "", name: str = "c1") -> str:
    extra = {"StorageEncrypted": True, "KmsKeyId": key} if key else {}
    rds.create_db_cluster(DBClusterIdentifier=name, Engine=engine, **CREDENTIALS, **extra)
    return rds.create_db_cluster_snapshot(DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-s")[
        "DBClusterSnapshot"
    ]["DBClusterSnapshotIdentifier"]


def instance_snapshot(rds: Any, key: str) -> str:
    rds.create_db_instance(DBInstanceIdentifier="db1", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, StorageEncrypted=True, KmsKeyId=key, **CREDENTIALS)  # fmt: skip
    rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="s1")
    return "s1"


def test_neptune_cluster_restore(aws: dict[str, Any]) -> None:
    rds = aws["rds"]
    snapshot = cluster_snapshot(rds, "neptune")
    with pytest.raises(KeyError):  # the gap: moto's Neptune clusters keep no master password
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r1", SnapshotIdentifier=snapshot, Engine="neptune")
    moto_gaps.install()
    made = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r2", SnapshotIdentifier=snapshot, Engine="neptune")
    assert made["DBCluster"]["Engine"] == "neptune"


def test_a_restored_cluster_is_under_the_snapshots_key(aws: dict[str, Any]) -> None:
    rds, kms = aws["rds"], aws["kms"]
    first, second = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    snapshot = cluster_snapshot(rds, "aurora-postgresql", first)
    rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=snapshot, TargetDBClusterSnapshotIdentifier="cp",
                                 KmsKeyId=second)  # fmt: skip
    restore = {"SnapshotIdentifier": "cp", "Engine": "aurora-postgresql"}
    gap = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r1", **restore)["DBCluster"]
    assert gap["KmsKeyId"] != second  # the gap: the original cluster's key
    moto_gaps.install()
    filled = rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r2", **restore)["DBCluster"]
    assert filled["KmsKeyId"].endswith(second) and filled["StorageEncrypted"]


def test_a_disabled_key_refuses_rds_restores(aws: dict[str, Any]) -> None:
    rds, kms = aws["rds"], aws["kms"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    snapshot = instance_snapshot(rds, key)
    kms.disable_key(KeyId=key)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r1", DBSnapshotIdentifier=snapshot)  # the gap
    moto_gaps.install()
    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r2", DBSnapshotIdentifier=snapshot)


def test_a_volume_from_a_snapshot_under_a_disabled_key_ends_in_error(aws: dict[str, Any]) -> None:
    ec2, kms = aws["ec2"], aws["kms"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    volume = ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
    taken = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    snapshot = ec2.copy_snapshot(SourceSnapshotId=taken, SourceRegion="us-east-1", Encrypted=True, KmsKeyId=key)
    kms.disable_key(KeyId=key)
    gap = ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone="us-east-1a")
    assert gap["State"] == "available" and not gap.get("KmsKeyId")  # the gap: usable, and under no key
    moto_gaps.install()
    filled = ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone="us-east-1a")
    assert filled["KmsKeyId"] == key and filled["State"] == "error"


def test_the_db_instance_quota(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    rds, kms = aws["rds"], aws["kms"]
    snapshot = instance_snapshot(rds, kms.create_key()["KeyMetadata"]["KeyId"])
    monkeypatch.setattr(restoring, "INSTANCE_QUOTA", 1)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r1", DBSnapshotIdentifier=snapshot)  # the gap
    moto_gaps.install()
    with pytest.raises(ClientError, match="InstanceQuotaExceeded"):
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r2", DBSnapshotIdentifier=snapshot)


def test_restores_take_time(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    rds, kms, traveller = aws["rds"], aws["kms"], aws["traveller"]
    snapshot = instance_snapshot(rds, kms.create_key()["KeyMetadata"]["KeyId"])
    made = rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r1", DBSnapshotIdentifier=snapshot)
    assert made["DBInstance"]["DBInstanceStatus"] == "available"  # the gap: at once
    moto_gaps.install()
    monkeypatch.setattr(restoring, "restore_time", lambda kind, size, cls: timedelta(minutes=20))
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="r2", DBSnapshotIdentifier=snapshot)

    def status() -> str:
        return rds.describe_db_instances(DBInstanceIdentifier="r2")["DBInstances"][0]["DBInstanceStatus"]

    assert status() == "creating"
    traveller.shift(timedelta(minutes=20))
    assert status() == "available"


def test_a_deleted_cluster_takes_its_automated_snapshots(aws: dict[str, Any]) -> None:
    rds = aws["rds"]

    def automated() -> list[str]:
        found = rds.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
        return [s["DBClusterIdentifier"] for s in found]

    for name in ("gap", "filled"):
        if name == "filled":
            moto_gaps.install()
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", **CREDENTIALS)
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    assert automated() == ["gap"]  # moto kept the first cluster's; the fill deleted the second's


def test_a_cluster_restore_into_a_missing_subnet_group(aws: dict[str, Any]) -> None:
    rds = aws["rds"]
    snapshot = cluster_snapshot(rds, "aurora-postgresql")
    restore = {"SnapshotIdentifier": snapshot, "Engine": "aurora-postgresql", "DBSubnetGroupName": "nowhere"}
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r1", **restore)  # the gap: accepted
    moto_gaps.install()
    with pytest.raises(ClientError, match="DBSubnetGroupNotFoundFault"):
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="r2", **restore)
