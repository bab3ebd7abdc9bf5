"""EBS volume snapshots (``EBS``), through the EC2 API.

What sets EBS apart from RDS, and how this kind meets the same protocol:

* **No user-chosen ids.** AWS names every snapshot ``snap-...``, so DRACO's
  name for a copy (``draco-transit-snap-...``, ``draco-<account>-snap-...``)
  travels twice: in the ``Draco_Name`` tag, which the owner reads, and in the
  copy's description, which the account it is shared with reads (it can't see
  the owner's tags). ``Snapshot.name`` is the same from either side. A copy is
  found by that tag before another is started, so a repeated event or a
  retried start finds the copy it made instead of making a second one.
* **The source is a volume.** Its id is the source name (the DR key alias is
  ``alias/DRACO-vol-...``). EBS copies no tags from a volume to its snapshots,
  so ``announce`` adds the volume's tags (the snapshot's own win) when the
  snapshot carries no ``Draco_Lifecycle``. A copy's volume id is AWS's
  placeholder ``vol-ffffffff``, read as "AWS doesn't say".
* **ARNs.** IAM's snapshot ARN has no account (``arn:aws:ec2:REGION::snapshot/snap-...``)
  and the EBS events put the Region where the account goes
  (``arn:aws:ec2::REGION:snapshot/snap-...``). DRACO's messages need the
  owner, so its EBS snapshot ARN is ``arn:<partition>:ec2:<region>:<owner>:snapshot/<id>``;
  events are read by the id after ``snapshot/`` with account and Region from
  the envelope.
* **Events** come from EventBridge (an ``EventRule`` per app sends them to its
  topic): ``EBS Snapshot Notification`` for ``createSnapshot`` and
  ``copySnapshot``, and ``EBS Multi-Volume Snapshots Completion Status`` for
  ``createSnapshots`` (one snapshot per volume of an instance).
* **Encryption.** A copy with ``Encrypted`` and a key is encrypted under it,
  whether the snapshot was encrypted or not: production so encrypts its own
  unencrypted snapshots into transit copies under the transit key, and DR
  copies those (shared, encrypted) under the volume's DR key.
* **Locks.** ``LockSnapshot`` keeps anyone, the DR account's administrators
  included, from deleting a DR copy (``EBS_LOCK_DAYS``, ``EBS_LOCK_MODE``).
* **Limits.** 20 concurrent copies per destination Region, not adjustable
  (``EBS_COPY_LIMIT``). No snapshot quota is read (``quota``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.kinds.base import (
    CopyStart,
    EventRule,
    EventSource,
    EventType,
    Notice,
    NoticeFormat,
    Phase,
    PolicyContext,
    Quota,
    Side,
    Snapshot,
    SnapshotArn,
    SnapshotEvent,
    SnapshotKind,
)
from chalicelib_shared.kinds.ebs_restore import VolumeRestores
from chalicelib_shared.kinds.notices import InvalidNotice
from chalicelib_shared.naming import ACCOUNT_ID, COPY_NAME_TAG, LIFECYCLE_TAG, TRANSIT_TAG, aws_tags, tag_dict

_HEX = r"(?:[0-9a-f]{8}|[0-9a-f]{17})"  # EC2 ids: 8 hexadecimal digits, or 17 (the longer ids)
SNAPSHOT_ID = re.compile(r"^snap-" + _HEX + r"\Z")
VOLUME_ID = re.compile(r"^vol-" + _HEX + r"\Z")
_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):ec2:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):"
    r"(?P<account>[0-9]{12}):snapshot/(?P<snapshot_id>snap-" + _HEX + r")\Z"
)
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]\Z")
_EVENT_ARN_ID = re.compile(r":snapshot/(snap-[0-9a-f]+)\Z")
#: DRACO's name for a copy, in its description: what the account it is shared with can read.
_DESCRIPTION = re.compile(r"^DRACO copy (?P<name>draco-[a-z0-9-]+) of ")
#: Snapshots other AWS features make, and how each is recognised without another call:
#: * CreateImage describes the snapshots it takes for an AMI "Created by CreateImage(<instance>) for <ami>"
#:   (they back the image until it is deregistered,
#:   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html);
#: * AWS Backup's EBS recovery points carry the system tag ``aws:backup:source-resource`` (and the
#:   description "This snapshot is created by the AWS Backup service."); AWS Backup also copies the
#:   volume's own tags onto them (https://docs.aws.amazon.com/aws-backup/latest/devguide/tags-on-backups.html);
#: * Data Lifecycle Manager tags every snapshot it makes with ``aws:dlm:lifecycle-policy-id`` (its system
#:   tags are ``aws:dlm:*``, https://docs.aws.amazon.com/ebs/latest/userguide/dlm-script-tags.html).
_MADE_FOR_AMI = re.compile(r"^Created by CreateImage\(")
BACKUP_TAG = "aws:backup:source-resource"
BACKUP_DESCRIPTION = "This snapshot is created by the AWS Backup service"
DLM_TAG = "aws:dlm:lifecycle-policy-id"
#: The volume id AWS gives a snapshot made by CopySnapshot: it names no volume.
COPY_VOLUME = "vol-ffffffff"
NOTIFICATION = "EBS Snapshot Notification"
MULTI_VOLUME = "EBS Multi-Volume Snapshots Completion Status"
NOT_FOUND = frozenset({"InvalidSnapshot.NotFound"})
IDS_PER_CALL = 100


PAGE = 1000  # DescribeSnapshots' most per page


def managed_by(tags: Mapping[str, str], text: str) -> str:
    """Which other AWS feature (``MANAGERS``) made the snapshot with these tags and description ("": none)."""
    if _MADE_FOR_AMI.match(text):
        return "ami"
    if BACKUP_TAG in tags or text.startswith(BACKUP_DESCRIPTION):
        return "backup"
    if DLM_TAG in tags:
        return "dlm"
    return ""


def description(name: str, source_arn: str) -> str:
    """A copy's description: DRACO's name for it and what it copies (at most 255 characters)."""
    return f"DRACO copy {name} of {source_arn}"[:255]


class EbsKind(SnapshotKind):
    """EBS snapshots; see the module docstring."""

    name = "EBS"
    label = "EBS"
    service = "ec2"
    source_noun = "EBS volume"
    source_name = VOLUME_ID
    snapshot_id = SNAPSHOT_ID
    copy_limit_variable = "EBS_COPY_LIMIT"
    default_copy_limit = 20
    encrypts_on_copy = True
    lock_variable = "EBS_LOCK"
    reports_quota = False  # see ``EbsSnapshots.quota``
    storage_price = 0.05  # EBS snapshots, standard tier
    #: EC2 decrypts and re-encrypts with the caller's permissions when it copies an encrypted snapshot.
    key_actions = ("kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo")

    def parse_arn(self, arn: str) -> SnapshotArn | None:
        match = _ARN.match(arn)
        return SnapshotArn(kind=self.name, **match.groupdict()) if match else None

    def arn(self, partition: str, region: str, account: str, snapshot_id: str) -> str:
        return f"arn:{partition}:ec2:{region}:{account}:snapshot/{snapshot_id}"

    def restores(self, client: Any) -> VolumeRestores:
        return VolumeRestores(client)

    def api(self, client: Any) -> EbsSnapshots:
        return EbsSnapshots(self, client)

    # --- events -----------------------------------------------------------------------
    def events(self, notice: Notice) -> tuple[SnapshotEvent, ...]:
        doc = notice.doc
        if notice.format is not NoticeFormat.EVENTBRIDGE or doc.get("source") != "aws.ec2":
            return ()
        kind, detail = doc.get("detail-type"), doc["detail"]
        if kind not in (NOTIFICATION, MULTI_VOLUME):
            return ()
        account, region = doc.get("account"), doc.get("region")
        if not isinstance(account, str) or not ACCOUNT_ID.match(account):
            raise InvalidNotice("EBS event lacks a valid account")
        if not isinstance(region, str) or not _REGION.match(region):
            raise InvalidNotice("EBS event lacks a valid region")

        def event(type_: EventType, arn: Any, failed: bool = False) -> SnapshotEvent:
            match = _EVENT_ARN_ID.search(arn) if isinstance(arn, str) else None
            if not match or not SNAPSHOT_ID.match(match.group(1)):
                raise InvalidNotice(f"EBS event names no valid snapshot: {str(arn)[:80]!r}")
            return SnapshotEvent(self.name, type_, match.group(1), account, region, failed)

        succeeded = detail.get("result") == "succeeded"
        if kind == MULTI_VOLUME:
            if detail.get("event") != "createSnapshots":
                return ()
            items = detail.get("snapshots")
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise InvalidNotice("EBS createSnapshots event lacks its list of snapshots")
            return tuple(
                event(EventType.CREATED, item.get("snapshot_id")) for item in items if item.get("status") == "completed"
            )
        if detail.get("event") == "createSnapshot":
            return (event(EventType.CREATED, detail.get("snapshot_id")),) if succeeded else ()
        if detail.get("event") == "copySnapshot":
            return (event(EventType.COPY_FINISHED, detail.get("snapshot_id"), failed=not succeeded),)
        return ()

    def event_sources(self, side: Side) -> tuple[EventSource, ...]:
        """Production hears of snapshots taken and its copies ending; DR of its copies ending."""
        if side is Side.PRODUCER:
            detail_types, events = [NOTIFICATION, MULTI_VOLUME], ["createSnapshot", "createSnapshots", "copySnapshot"]
        else:
            detail_types, events = [NOTIFICATION], ["copySnapshot"]
        pattern = {"source": ["aws.ec2"], "detail-type": detail_types, "detail": {"event": events}}
        return (EventRule(f"draco-{side.value}-ebs-snapshots", pattern),)

    # --- IAM --------------------------------------------------------------------------
    def statements(self, side: Side, ctx: PolicyContext) -> list[dict[str, Any]]:
        """EC2 snapshot ARNs hold no account, so DRACO's own snapshots are told apart by their tags."""

        def snapshots(region: str) -> str:
            return f"arn:{ctx.partition}:ec2:{region}::snapshot/*"

        here = snapshots(ctx.region)
        read = {
            # Describe calls have no resource-level permissions; they read, never change.
            # Production also reads volumes, for their tags (``announce``).
            "Sid": "ReadEBSSnapshots",
            "Effect": "Allow",
            "Action": ["ec2:DescribeSnapshots", *(["ec2:DescribeVolumes"] if side is Side.PRODUCER else [])],
            "Resource": "*",
        }
        tag_copies = {
            "Sid": "TagEBSCopiesWhenCreated",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": here,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CopySnapshot"}},
        }
        if side is Side.PRODUCER:
            transit = {"StringEquals": {f"ec2:ResourceTag/{TRANSIT_TAG}": "true"}}
            return [
                read,
                {
                    # Authorised on the source snapshot and on the new transit copy.
                    "Sid": "CopyEBSSnapshotsIntoTransitCopies",
                    "Effect": "Allow",
                    "Action": "ec2:CopySnapshot",
                    "Resource": here,
                },
                tag_copies,
                {
                    "Sid": "ShareOnlyTransitEBSSnapshots",
                    "Effect": "Allow",
                    "Action": "ec2:ModifySnapshotAttribute",
                    "Resource": here,
                    "Condition": transit,
                },
                {
                    "Sid": "DeleteOnlyTransitEBSSnapshots",
                    "Effect": "Allow",
                    "Action": "ec2:DeleteSnapshot",
                    "Resource": here,
                    "Condition": transit,
                },
            ]
        own = {"StringEquals": {f"ec2:ResourceTag/{ctx.tag_key}": ctx.tag_value}}
        return [
            read,
            {
                # The shared transit copy (in the source Region) and the new DR copy.
                "Sid": "CopyEBSTransitCopiesIntoDrCopies",
                "Effect": "Allow",
                "Action": "ec2:CopySnapshot",
                "Resource": sorted({snapshots(ctx.source_region), here}),
            },
            tag_copies,
            {
                "Sid": "LockOnlyDrEBSCopies",
                "Effect": "Allow",
                "Action": "ec2:LockSnapshot",
                "Resource": here,
                "Condition": own,
            },
            {
                "Sid": "DeleteOnlyDrEBSCopiesExpiredByTheirLifecycle",
                "Effect": "Allow",
                "Action": "ec2:DeleteSnapshot",
                "Resource": here,
                "Condition": own,
            },
        ]


class EbsSnapshots:
    """EBS snapshots through an EC2 client (the kind's ``SnapshotApi``)."""

    def __init__(self, kind: EbsKind, client: Any) -> None:
        self.kind = kind
        self._ec2 = client

    def describe(self, snapshot_id: str) -> Snapshot | None:
        return self.describe_many([snapshot_id]).get(snapshot_id)

    def describe_many(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """A filter, not ``SnapshotIds``: one id that is gone would fail the whole call."""
        ids = sorted(set(snapshot_ids))
        found: dict[str, Snapshot] = {}
        for start in range(0, len(ids), IDS_PER_CALL):
            filters = [{"Name": "snapshot-id", "Values": ids[start : start + IDS_PER_CALL]}]
            found.update((s.snapshot_id, s) for s in self._list(OwnerIds=["self"], Filters=filters))
        return found

    def owned(self) -> Iterator[Snapshot]:
        return self._list(OwnerIds=["self"])

    def recent(self, since: datetime) -> Iterator[Snapshot]:
        """Copies are left out: they name no volume, so they are no source's snapshots."""
        completed = [{"Name": "status", "Values": ["completed"]}]
        found = self._list(OwnerIds=["self"], Filters=completed)
        return (s for s in found if s.created >= since and s.source_name)

    def shared(self, arn: str) -> Snapshot | None:
        """The snapshot, if its owner (the ARN's account) lets this account create volumes from it."""
        parsed = self.kind.parse_arn(arn)
        if parsed is None or parsed.region != self._ec2.meta.region_name:
            return None
        found = self._list(
            OwnerIds=[parsed.account],
            RestorableByUserIds=["self"],
            Filters=[{"Name": "snapshot-id", "Values": [parsed.snapshot_id]}],
        )
        return next((s for s in found if s.owner == parsed.account), None)

    def announce(self, snapshot: Snapshot) -> Snapshot:
        """The volume's tags under the snapshot's own, unless the snapshot names its lifecycle or another
        feature made it (those features copy the tags they mean to keep onto their snapshots)."""
        if LIFECYCLE_TAG in snapshot.tags or not snapshot.source_name or snapshot.managed_by:
            return snapshot
        volumes = self._ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [snapshot.source_name]}])
        if not volumes["Volumes"]:  # the volume is gone: the snapshot's own tags are all there is
            return snapshot
        return replace(snapshot, tags={**tag_dict(volumes["Volumes"][0].get("Tags", [])), **snapshot.tags})

    def find_copy(self, name: str) -> Snapshot | None:
        filters = [{"Name": f"tag:{COPY_NAME_TAG}", "Values": [name]}]
        return next(iter(self._list(OwnerIds=["self"], Filters=filters)), None)

    def copy(
        self, source_arn: str, name: str, kms_key_id: str | None, tags: Mapping[str, str], source_region: str = ""
    ) -> CopyStart:
        """Copy into this account and Region, unless the copy called ``name`` exists already."""
        existing = self.find_copy(name)
        if existing is not None:
            return CopyStart(existing.snapshot_id, existing.arn, started=False)
        source = self.kind.parse_arn(source_arn)
        if source is None:
            raise ValueError(f"{source_arn!r} is not an EBS snapshot ARN")
        params: dict[str, Any] = {
            "SourceSnapshotId": source.snapshot_id,
            "SourceRegion": source_region or source.region,
            "Description": description(name, source_arn),
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": aws_tags({**tags, COPY_NAME_TAG: name})}],
        }
        if kms_key_id:
            params.update(Encrypted=True, KmsKeyId=kms_key_id)
        return CopyStart(self._ec2.copy_snapshot(**params)["SnapshotId"], "", started=True)  # EC2: the id only

    def share(self, snapshot_id: str, account: str) -> None:
        self._ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[account]
        )

    def delete(self, snapshot_id: str) -> bool:
        try:
            self._ec2.delete_snapshot(SnapshotId=snapshot_id)
        except ClientError as err:
            if err.response["Error"]["Code"] in NOT_FOUND:
                return False
            raise
        return True

    def lock(self, snapshot_id: str, days: int, mode: str) -> None:
        """Compliance mode without a cool-off period: locked at once, for good."""
        self._ec2.lock_snapshot(SnapshotId=snapshot_id, LockMode=mode, LockDuration=days)

    def quota(self) -> Quota | None:
        """None: the EC2 API reports no snapshot count against a limit (Service Quotas would need
        another client and its own permissions); the copy limit is what DRACO runs into first."""
        return None

    def quotas(self) -> dict[str, Quota]:
        return {}

    # --- reading ----------------------------------------------------------------------
    def _list(self, **params: Any) -> Iterator[Snapshot]:
        """Page by page from the first call: without ``MaxResults`` EC2 answers every snapshot in one
        response (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html)."""
        pages = self._ec2.get_paginator("describe_snapshots").paginate(**params, PaginationConfig={"PageSize": PAGE})
        for page in pages:
            yield from (self._snapshot(item) for item in page["Snapshots"])

    def _arn(self, owner: str, snapshot_id: str) -> str:
        meta = self._ec2.meta
        return self.kind.arn(meta.partition, meta.region_name, owner, snapshot_id)

    def _snapshot(self, item: Mapping[str, Any]) -> Snapshot:
        tags = tag_dict(item.get("Tags", []))
        named = _DESCRIPTION.match(item.get("Description") or "")
        state = str(item.get("State", ""))
        created = item.get("StartTime")
        volume = item.get("VolumeId") or ""
        return Snapshot(
            snapshot_id=item["SnapshotId"],
            arn=self._arn(item.get("OwnerId", ""), item["SnapshotId"]),
            name=tags.get(COPY_NAME_TAG) or (named["name"] if named else item["SnapshotId"].lower()),
            source_name="" if volume == COPY_VOLUME else volume,
            status=state,
            phase=Phase.READY if state == "completed" else Phase.FAILED if state == "error" else Phase.IN_PROGRESS,
            created=created.astimezone(timezone.utc) if created else datetime.fromtimestamp(0, timezone.utc),
            encrypted=bool(item.get("Encrypted")),
            snapshot_type="",
            tags=tags,
            size_gb=int(item.get("VolumeSize") or 0),
            owner=str(item.get("OwnerId", "")),
            managed_by=managed_by(tags, item.get("Description") or ""),
        )


EBS = EbsKind()
