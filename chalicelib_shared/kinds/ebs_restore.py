"""Restoring EBS copies: a volume from a snapshot (``CreateVolume`` with ``SnapshotId``).

A volume made from an encrypted snapshot is encrypted under the snapshot's
key when the call names none, so a drill's volume is under DR's key
(https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html). EC2
chooses volume ids, so the drill's name travels in the ``Draco_Name`` tag and
a repeated restore finds the volume it made by it. A volume needs an
availability zone: the operator's, else the Region's first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.kinds.base import Phase
from chalicelib_shared.kinds.restoring import DRILL_TAG, Place, Restored, RestoreSource
from chalicelib_shared.naming import COPY_NAME_TAG, aws_tags, tag_dict

_GONE = frozenset({"InvalidVolume.NotFound", "InvalidSnapshot.NotFound"})


class VolumeRestores:
    """Volumes made from EBS snapshots (the ``EBS`` kind's ``RestoreApi``)."""

    def __init__(self, client: Any) -> None:
        self._ec2 = client

    def source(self, snapshot_id: str) -> RestoreSource | None:
        try:
            found = self._ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        except ClientError as err:
            if err.response["Error"]["Code"] in _GONE:
                return None
            raise
        if not found:
            return None
        item = found[0]
        return RestoreSource(
            snapshot_id=item["SnapshotId"],
            engine="",
            engine_version="",
            size_gb=int(item.get("VolumeSize") or 0),
            encrypted=bool(item.get("Encrypted")),
            kms_key=str(item.get("KmsKeyId") or ""),
        )

    def restore(
        self, source: RestoreSource, name: str, place: Place, instance_class: str, tags: Mapping[str, str]
    ) -> None:
        if self._volume(name) is not None:
            return
        zone = place.zone or self._ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
        self._ec2.create_volume(
            SnapshotId=source.snapshot_id,
            AvailabilityZone=zone,
            VolumeType="gp3",
            TagSpecifications=[{"ResourceType": "volume", "Tags": aws_tags({**tags, COPY_NAME_TAG: name})}],
        )

    def _volume(self, name: str) -> dict[str, Any] | None:
        found = self._ec2.describe_volumes(Filters=[{"Name": f"tag:{COPY_NAME_TAG}", "Values": [name]}])["Volumes"]
        return found[0] if found else None

    def describe(self, name: str) -> Restored | None:
        item = self._volume(name)
        return _restored(item) if item else None

    def delete(self, name: str) -> bool:
        item = self._volume(name)
        if item is None:
            return True
        try:
            self._ec2.delete_volume(VolumeId=item["VolumeId"])
        except ClientError as err:
            if err.response["Error"]["Code"] not in _GONE:
                raise
        return self._volume(name) is None

    def drilled(self) -> Iterator[Restored]:
        tagged = [{"Name": "tag-key", "Values": [DRILL_TAG]}]
        pages = self._ec2.get_paginator("describe_volumes").paginate(Filters=tagged)
        for page in pages:
            yield from (_restored(item) for item in page["Volumes"])


def _restored(item: Mapping[str, Any]) -> Restored:
    status = str(item.get("State", ""))
    tags = tag_dict(item.get("Tags", []))
    return Restored(
        resource_id=tags.get(COPY_NAME_TAG, item["VolumeId"]),
        status=status,
        phase=Phase.READY if status == "available" else Phase.FAILED if status == "error" else Phase.IN_PROGRESS,
        engine="",
        size_gb=int(item.get("Size") or 0),
        encrypted=bool(item.get("Encrypted")),
        kms_key=str(item.get("KmsKeyId") or ""),
        tags=tags,
        created=item.get("CreateTime"),
    )
