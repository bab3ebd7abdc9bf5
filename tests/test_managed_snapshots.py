"""Snapshots another AWS feature made (an AMI's, AWS Backup's, DLM's): each kind recognises them, and
production asks DR about them only when they carry ``Draco_Lifecycle`` or the operator opts in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib_shared.config import ProducerConfig
from chalicelib_shared.kinds import KINDS, MANAGERS, EventType, SnapshotEvent
from chalicelib_shared.kinds.ebs import EBS
from chalicelib_shared.managed import COPY_MANAGED_SNAPSHOTS, copy_managed, left_to_its_feature
from chalicelib_shared.naming import LIFECYCLE_TAG, transit_id
from chalicelib_shared.outcomes import Outcome
from tests.conftest import T0
from tests.fakes import PRODUCER_ENV
from tests.rigs import build_producer

pytestmark = pytest.mark.usefixtures("travel")
SNAP = "snap-0123456789abcdef0"


def ebs_item(**fields: Any) -> dict[str, Any]:
    return {"SnapshotId": SNAP, "OwnerId": "111111111111", "VolumeId": "vol-01234567", "State": "completed", **fields}


@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        ({"Description": "Created by CreateImage(i-0123456789abcdef0) for ami-0123456789abcdef0"}, "ami"),
        ({"Tags": [{"Key": "aws:backup:source-resource", "Value": "vol-01234567"}]}, "backup"),
        ({"Description": "This snapshot is created by the AWS Backup service."}, "backup"),
        ({"Tags": [{"Key": "aws:dlm:lifecycle-policy-id", "Value": "policy-0123"}]}, "dlm"),
        ({"Description": "nightly", "Tags": [{"Key": "team", "Value": "db"}]}, ""),
        ({"Description": "made for ami-0123 by hand: Created by CreateImage("}, ""),  # the prefix only
    ],
)
def test_the_ebs_kind_says_which_snapshots_another_feature_made(fields: dict[str, Any], feature: str) -> None:
    api = EBS.api(boto3.client("ec2", region_name="us-east-1"))
    assert api._snapshot(ebs_item(**fields)).managed_by == feature


def test_the_rds_kinds_say_aws_backups_snapshots_are_aws_backups() -> None:
    api = KINDS["RDS"].api(boto3.client("rds", region_name="us-east-1"))
    item = {
        "DBSnapshotIdentifier": "awsbackup:job-1",
        "DBSnapshotArn": "arn:aws:rds:us-east-1:111111111111:snapshot:awsbackup:job-1",
        "DBInstanceIdentifier": "db1",
        "Status": "available",
    }
    assert api._snapshot({**item, "SnapshotType": "awsbackup"}).managed_by == "backup"
    assert api._snapshot({**item, "SnapshotType": "manual"}).managed_by == ""


def test_moto_marks_an_amis_snapshots_and_the_kind_reads_them(public_amis: None, mocked_aws: None) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=instance, Name="web")["ImageId"]
    backing = {m["Ebs"]["SnapshotId"] for m in ec2.describe_images(ImageIds=[ami])["Images"][0]["BlockDeviceMappings"]}
    found = {s.snapshot_id: s.managed_by for s in EBS.api(ec2).owned()}
    assert backing and {found[snapshot_id] for snapshot_id in backing} == {"ami"}


@pytest.mark.parametrize(
    ("raw", "features", "problem"),
    [
        ("", set(), False),
        ("all", set(MANAGERS), False),
        (" AMI, dlm ", {"ami", "dlm"}, False),
        ("dlm,backups", set(), True),
    ],
)
def test_the_operator_opts_in_by_feature(raw: str, features: set[str], problem: bool) -> None:
    problems: list[str] = []
    assert copy_managed(raw, problems) == features
    assert bool(problems) is problem
    config = ProducerConfig.from_env({**PRODUCER_ENV, COPY_MANAGED_SNAPSHOTS: raw})
    assert bool(config.problems) is problem and config.copy_managed == features


def test_a_snapshot_another_feature_made_is_asked_about_only_when_tagged_or_opted_in() -> None:
    rig = build_producer()
    dlm = rig.snaps("EBS").add(SNAP, "vol-01234567", tags={"team": "db"}, managed_by="dlm")
    assert "Data Lifecycle Manager" in left_to_its_feature(dlm, frozenset())
    assert left_to_its_feature(dlm, frozenset({"dlm"})) == ""
    assert left_to_its_feature(dlm, frozenset({"ami", "backup"})) != ""
    tagged = rig.snaps("EBS").add("snap-00000001", "vol-01234567", managed_by="dlm")  # Draco_Lifecycle: Standard
    assert LIFECYCLE_TAG in tagged.tags and left_to_its_feature(tagged, frozenset()) == ""


def test_the_event_and_the_sweep_leave_other_features_snapshots_alone() -> None:
    rig = build_producer()
    ebs = rig.snaps("EBS")
    ebs.add(SNAP, "vol-01234567", created=T0 - timedelta(hours=1), tags={}, managed_by="ami")
    ebs.add("snap-00000001", "vol-01234567", created=T0 - timedelta(hours=2), tags={}, managed_by="backup")
    ebs.add("snap-00000002", "vol-01234567", created=T0 - timedelta(hours=3), tags={})  # the operator's own
    event = rig.app.on_event(SnapshotEvent("EBS", EventType.CREATED, SNAP))
    assert event.outcome is Outcome.IGNORED and "AMI" in event.detail
    assert rig.app.sweep() == {"seen": 1, "started": 1}
    assert [job.source_id for job in rig.table.jobs()] == ["snap-00000002"]
    assert "describe_volumes" not in ebs.ops()  # nothing more was read about them


def test_opted_in_they_are_asked_about_like_any_other() -> None:
    rig = build_producer(**{COPY_MANAGED_SNAPSHOTS: "ami,backup"})
    ebs = rig.snaps("EBS")
    ebs.add(SNAP, "vol-01234567", created=T0 - timedelta(hours=1), tags={}, managed_by="ami")
    ebs.add("snap-00000001", "vol-01234567", created=T0 - timedelta(hours=2), tags={}, managed_by="dlm")
    assert rig.app.on_event(SnapshotEvent("EBS", EventType.CREATED, SNAP)).outcome is Outcome.COPY_REQUESTED
    assert rig.app.sweep() == {"seen": 1, "started": 0}  # the AMI's has its job; DLM's is not opted in
    assert rig.table.get(transit_id(SNAP)) is not None
