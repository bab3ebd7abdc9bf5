"""A DR account in moto holding finished DR copies of each kind, with their jobs: what drills start from."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine
from moto import mock_aws

from chalicelib_shared import clock, metrics
from chalicelib_shared.config import CONSUMER_TABLE
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.drills.table import DrillTable
from chalicelib_shared.drills.use_case import Drills
from chalicelib_shared.job_table import JobTable, table_definition
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.naming import COPY_NAME_TAG
from chalicelib_shared.sources import SourceRecord
from draco.world import moto_gaps
from draco.world.moto_gaps import restoring
from tests.conftest import T0

PROD = "111111111111"
REGION = "us-east-1"


@dataclass
class Rig:
    """The DR account: its job table, its DR key, and one DR copy per source."""

    traveller: Any
    table: Any = None
    key: str = ""
    copies: dict[str, str] = field(default_factory=dict)  # source name -> DR copy id
    clients: dict[str, Any] = field(default_factory=dict)  # made once per service: making one costs ~15 ms

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION)
        return self.clients[service]

    def drills(self, **settings: Any) -> Drills:
        return Drills(
            DrillTable(self.table),
            JobTable(self.table, inventory=True),
            lambda kind: KINDS[kind].restores(self.client(KINDS[kind].service)),
            DrillSettings(**settings).checked(),
        )

    def add_copy(self, kind: str, name: str, size_gb: int = 20, engine: str = "postgres", **tags: str) -> str:
        """A finished DR copy of a production source ``name`` and its done job."""
        rds, ec2 = self.client("rds"), self.client("ec2")
        copy_id = f"draco-{PROD}-{name}-1"
        common = {"MasterUsername": "admin", "MasterUserPassword": "not-a-secret-1", "StorageEncrypted": True,
                  "KmsKeyId": self.key}  # fmt: skip
        if kind == "RDS":
            rds.create_db_instance(DBInstanceIdentifier=f"seed-{name}", Engine=engine, DBInstanceClass="db.m5.large",
                                   AllocatedStorage=size_gb, **common)  # fmt: skip
            rds.create_db_snapshot(DBInstanceIdentifier=f"seed-{name}", DBSnapshotIdentifier=copy_id)
            rds.delete_db_instance(DBInstanceIdentifier=f"seed-{name}", SkipFinalSnapshot=True)
            aws_id = copy_id
        elif kind == "RDS Cluster":
            rds.create_db_cluster(DBClusterIdentifier=f"seed-{name}", Engine=engine, **common)
            rds.create_db_cluster_snapshot(DBClusterIdentifier=f"seed-{name}", DBClusterSnapshotIdentifier=copy_id)
            rds.delete_db_cluster(DBClusterIdentifier=f"seed-{name}", SkipFinalSnapshot=True)
            aws_id = copy_id
        else:
            volume = ec2.create_volume(Size=size_gb, AvailabilityZone=f"{REGION}a", Encrypted=True, KmsKeyId=self.key)
            taken = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
            aws_id = ec2.copy_snapshot(SourceSnapshotId=taken, SourceRegion=REGION, Encrypted=True, KmsKeyId=self.key,
                                       TagSpecifications=[{"ResourceType": "snapshot",
                                                           "Tags": [{"Key": COPY_NAME_TAG, "Value": copy_id}]}],
                                       )["SnapshotId"]  # fmt: skip
            ec2.delete_snapshot(SnapshotId=taken)
            ec2.delete_volume(VolumeId=volume["VolumeId"])
        job = Job(job_id=copy_id, state=State.DONE, kind=kind, source_acct=PROD,
                  source_arn=f"arn:aws:rds:{REGION}:{PROD}:snapshot:{name}-1", source_id=f"{name}-1",
                  source_name=name, source_time=clock.iso(clock.now() - timedelta(hours=1)), tags=tags,
                  copy_id=aws_id if kind == "EBS" else "", target_key=self.key, size_gb=size_gb)  # fmt: skip
        jobs = JobTable(self.table, inventory=True)
        jobs.create(job)
        jobs.save_source(SourceRecord(job.inventory_key, newest_time=job.source_time, lifecycle="Test"))
        self.copies[name] = aws_id
        return aws_id

    def snapshots(self) -> dict[str, Any]:
        """Every manual snapshot of the account (the DR copies), as AWS describes it: what no drill may change.

        Automated snapshots (``rds:...``) belong to the databases a drill restores, and go with them."""
        rds, ec2 = self.client("rds"), self.client("ec2")
        found = {s["DBSnapshotIdentifier"]: s for s in rds.describe_db_snapshots()["DBSnapshots"]}
        found |= {
            s["DBClusterSnapshotIdentifier"]: s for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        }
        found |= {s["SnapshotId"]: s for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
        return {snapshot_id: s for snapshot_id, s in found.items() if not snapshot_id.startswith("rds:")}

    def leftovers(self) -> list[str]:
        """Everything a drill made that still exists."""
        return [r.resource_id for kind in KINDS.values() for r in kind.restores(self.client(kind.service)).drilled()]


def restore_minutes(kind: str, size_gb: int, instance_class: str) -> timedelta:
    """A simple restore model for the use-case tests (the world's own is ``draco.world.restores``)."""
    return timedelta(minutes=10 + size_gb // 10)


@contextlib.contextmanager
def dr_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The rig, with fake credentials in the environment already (``aws_credentials``)."""
    monkeypatch.setattr(restoring, "restore_time", restore_minutes)
    metrics.metrics.clear_metrics()
    with mock_aws(), time_machine.travel(T0, tick=False) as traveller:
        moto_gaps.install()
        try:
            made = Rig(traveller)
            dynamodb = boto3.resource("dynamodb", region_name=REGION)
            made.table = dynamodb.create_table(**table_definition(CONSUMER_TABLE))
            made.key = made.client("kms").create_key(Description="DR key")["KeyMetadata"]["Arn"]
            yield made
        finally:
            moto_gaps.uninstall()
