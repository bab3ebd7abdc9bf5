"""Snapshots another AWS feature made, end to end: with DEFAULT_LIFECYCLE set, the sweep copies the
operator's own EBS snapshots but not the ones backing an AMI or AWS Backup's, unless the producer opts in."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from chalicelib_shared.managed import COPY_MANAGED_SNAPSHOTS
from draco.world.core import DR, PROD, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)


def others_snapshots(world: LocalWorld, volume: str, base: str) -> tuple[set[str], set[str]]:
    """An AMI's snapshot (CreateImage's) and an AWS Backup recovery point (its description), in production;
    and the snapshots not told apart.

    The instance is launched from an image registered on ``base``, a snapshot of the operator's own: a
    snapshot registered by hand keeps its own description, so it is not told apart, nor is the one moto
    makes for the registered image (moto's own, described "Auto-created snapshot for AMI ...").
    """
    ec2 = world.client("ec2", PROD)
    root = [{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": base}}]
    image = ec2.register_image(Name="base", RootDeviceName="/dev/sda1", BlockDeviceMappings=root)["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=instance, Name="web")["ImageId"]
    mappings = ec2.describe_images(ImageIds=[ami])["Images"][0]["BlockDeviceMappings"]
    backup = ec2.create_snapshot(VolumeId=volume, Description="This snapshot is created by the AWS Backup service.")
    made = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "description", "Values": ["Auto-created*"]}])
    unrecognised = {base} | {snapshot["SnapshotId"] for snapshot in made["Snapshots"]}
    return {m["Ebs"]["SnapshotId"] for m in mappings} | {backup["SnapshotId"]}, unrecognised


@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "opted-in"])
def test_the_sweep_leaves_other_features_snapshots_to_them_unless_asked(opted_in: bool) -> None:
    env = {"producer": {COPY_MANAGED_SNAPSHOTS: "all"}} if opted_in else None
    with LocalWorld(log_stream=io.StringIO(), default_lifecycle="Test", app_env=env) as world:
        volume = world.add_volume()  # no Draco_Lifecycle: DEFAULT_LIFECYCLE decides
        world.move_to(world.start + timedelta(hours=3))
        base = world.take_snapshot(volume, notify=False)
        others, unrecognised = others_snapshots(world, volume, base)
        own = world.take_snapshot(volume, notify=False)
        world.advance(timedelta(hours=6))  # the six-hourly sweep
        assert world.run_until_quiet()
        asked = {job.source_id for job in world.jobs(PROD)}
        assert asked == ({own} | unrecognised | (others if opted_in else set()))
        assert len(others) == 2 and not others & unrecognised
        assert {job.source_id for job in world.jobs(DR)} == asked
