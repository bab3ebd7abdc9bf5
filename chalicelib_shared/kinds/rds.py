"""RDS snapshots: DB instance snapshots (``RDS``) and DB cluster snapshots (``RDS Cluster``).

The two share one API shape with different names, so one class serves both,
filled in by a table of names (``RdsNames``). What differs beyond names:

* an unencrypted DB cluster snapshot can't be encrypted by copying it (RDS
  refuses ``KmsKeyId``); an unencrypted DB instance snapshot can;
* AWS sends a copy-finished event (RDS-EVENT-0197, or 0060 for a copy from
  another Region) for DB instance snapshot copies only; cluster copies are found finished by the pollers;
* a DB instance snapshot keeps ``OriginalSnapshotCreateTime`` across copies, so
  DR reads the data's time from AWS; a DB cluster snapshot keeps no such field
  (a copy's ``SnapshotCreateTime`` is the copy's own), so the time a message
  claims is only believed up to the transit copy's own creation time;
* AWS allows 20 DB instance and 5 DB cluster snapshot copies in flight per
  account and destination Region;
* AWS copies a DB instance snapshot shared by another account straight into
  another Region (CopyDBSnapshot with SourceRegion, in the destination Region);
  for DB cluster snapshots its Aurora guide still says a shared snapshot is
  copied across accounts only within its Region, so DR copies those in two
  steps (into its own account in the source Region, then across Regions).

Aurora, DocumentDB and Neptune cluster snapshots are all DB cluster snapshots
of the RDS API (the docdb and neptune APIs are the RDS endpoint), told apart
only by ``Engine``, so ``RDS Cluster`` carries all three, with no change:

* events: both use RDS's event IDs (Neptune documents RDS-EVENT-0075 and 0169
  for cluster snapshots; DocumentDB "uses existing Amazon RDS event
  definitions and IDs") in RDS notifications, so the ``db-cluster-snapshot``
  subscription hears them; that one subscription made through the RDS API
  covers every engine is not stated by AWS, and the sweep catches what it misses;
* encryption: as for Aurora, a key is refused when copying an unencrypted
  cluster snapshot (both APIs say so), so an unencrypted DocumentDB or Neptune
  cluster's DR copies stay unencrypted and DRACO warns;
* sharing: DocumentDB can't share a snapshot under its default key, nor can
  RDS; DRACO shares only transit copies under the transit key, so it can;
* limits: five cluster snapshot copies in flight per destination Region for
  each (``CLUSTER_COPY_LIMIT`` counts all three together); DocumentDB's older
  guides say a shared snapshot can only be copied in its own Region, which is
  how DRACO copies;
* tested: Neptune end to end in the local world; DocumentDB only against a
  stubbed client (moto can't create a DocumentDB cluster).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.kinds.base import (
    CopyStart,
    EventSource,
    EventType,
    Notice,
    NoticeFormat,
    Phase,
    PolicyContext,
    Quota,
    RdsEventSubscription,
    Side,
    Snapshot,
    SnapshotArn,
    SnapshotEvent,
    SnapshotKind,
)
from chalicelib_shared.kinds.notices import InvalidNotice
from chalicelib_shared.kinds.rds_restore import ClusterRestores, InstanceRestores
from chalicelib_shared.naming import (
    DB_IDENTIFIER,
    DR_PREFIX,
    SNAPSHOT_ID,
    TRANSIT_PREFIX,
    TRANSIT_TAG,
    aws_tags,
    tag_dict,
)

_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):rds:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]):"
    r"(?P<account>[0-9]{12}):(?P<resource>[a-z-]+):(?P<snapshot_id>.+)\Z"
)
_EVENT_ID = re.compile(r"(RDS-EVENT-\d{4})$")
FAILED_STATUSES = frozenset({"failed", "incompatible-restore", "incompatible-parameters", "error"})
#: Snapshots a sweep considers: the ones AWS took or a user made, not shared ones.
SWEPT_TYPES = frozenset({"manual", "automated", "awsbackup"})
QUOTA_ACTION = "rds:DescribeAccountAttributes"


@dataclass(frozen=True)
class RdsNames:
    """Where the two RDS kinds differ: API names, fields, events, IAM names."""

    resource: str  # in ARNs: "snapshot" or "cluster-snapshot"
    describe: str
    list_key: str
    result_key: str  # what a copy answers with
    id_param: str
    id_filter: str
    id_field: str
    arn_field: str
    source_field: str
    encrypted_field: str
    copied_from_field: str
    original_time_field: str  # "" when AWS keeps none across copies
    copy: str
    copy_source: str
    copy_target: str
    modify_attribute: str
    delete: str
    not_found: frozenset[str]
    already_exists: frozenset[str]
    quota_name: str
    event_source: str
    created_events: frozenset[str]
    copy_finished_events: frozenset[str]
    subscribe_in_dr: bool  # DR hears copy-finished events of this kind
    tag_condition: str  # the IAM condition key prefix for the snapshot's tags

    def action(self, operation: str) -> str:
        """The IAM action of a boto3 operation name: ``copy_db_snapshot`` -> ``rds:CopyDBSnapshot``."""
        words = {"db": "DB"}
        return "rds:" + "".join(words.get(word, word.capitalize()) for word in operation.split("_"))


class RdsKind(SnapshotKind):
    """One RDS snapshot kind, defined by its ``RdsNames``."""

    service = "rds"
    snapshot_id = SNAPSHOT_ID
    source_name = DB_IDENTIFIER

    def __init__(
        self, name: str, label: str, source_noun: str, names: RdsNames, limit_variable: str, limit: int, encrypts: bool
    ) -> None:
        self.name = name
        self.label = label
        self.source_noun = source_noun
        self.names = names
        self.copy_limit_variable = limit_variable
        self.default_copy_limit = limit
        self.encrypts_on_copy = encrypts
        self.one_step_across_regions = names.resource == "snapshot"
        self.copy_events = bool(names.copy_finished_events)
        # Backup storage beyond the free allowance, which a DR account without databases doesn't have:
        # RDS's $0.095 per GB-month (https://aws.amazon.com/rds/pricing/); Aurora's, DocumentDB's and
        # Neptune's $0.021 (https://aws.amazon.com/rds/aurora/pricing/, https://aws.amazon.com/documentdb/pricing/,
        # https://aws.amazon.com/neptune/pricing/), the kinds a DB cluster snapshot is of. us-east-1 list prices.
        self.storage_price = 0.095 if names.resource == "snapshot" else 0.021

    # --- ARNs -------------------------------------------------------------------------
    def parse_arn(self, arn: str) -> SnapshotArn | None:
        """Automated snapshot ids hold a colon (``rds:db-2026-...``): the id is all after the resource."""
        match = _ARN.match(arn)
        if not match or match["resource"] != self.names.resource or not SNAPSHOT_ID.match(match["snapshot_id"]):
            return None
        return SnapshotArn(match["partition"], match["region"], match["account"], self.name, match["snapshot_id"])

    def arn(self, partition: str, region: str, account: str, snapshot_id: str) -> str:
        return f"arn:{partition}:rds:{region}:{account}:{self.names.resource}:{snapshot_id}"

    def api(self, client: Any) -> RdsSnapshots:
        return RdsSnapshots(self, client)

    def restores(self, client: Any) -> InstanceRestores | ClusterRestores:
        return InstanceRestores(client) if self.names.resource == "snapshot" else ClusterRestores(client)

    # --- events -----------------------------------------------------------------------
    def events(self, notice: Notice) -> tuple[SnapshotEvent, ...]:
        doc = notice.doc
        if notice.format is not NoticeFormat.RDS_NOTIFICATION or doc.get("Event Source") != self.names.event_source:
            return ()
        match = _EVENT_ID.search(str(doc.get("Event ID", "")))
        source_id = doc.get("Source ID")
        if not match or not isinstance(source_id, str) or not SNAPSHOT_ID.match(source_id):
            raise InvalidNotice("RDS notification lacks a valid Event ID or Source ID")
        if match.group(1) in self.names.created_events:
            return (SnapshotEvent(self.name, EventType.CREATED, source_id),)
        if match.group(1) in self.names.copy_finished_events:
            return (SnapshotEvent(self.name, EventType.COPY_FINISHED, source_id),)
        return ()

    def event_sources(self, side: Side) -> tuple[EventSource, ...]:
        if side is Side.CONSUMER and not self.names.subscribe_in_dr:
            return ()
        return (RdsEventSubscription(self.names.event_source),)

    # --- IAM --------------------------------------------------------------------------
    def statements(self, side: Side, ctx: PolicyContext) -> list[dict[str, Any]]:
        n = self.names
        read = {
            # Read-only and on "*": the sweep lists the account's snapshots, a poll round asks
            # about all copies in flight in one filtered call, DR reads shared transit copies.
            "Sid": f"Read{self.label}Snapshots",
            "Effect": "Allow",
            "Action": [n.action(n.describe), QUOTA_ACTION],
            "Resource": "*",
        }
        if side is Side.PRODUCER:
            transit = ctx.arn("rds", f"{n.resource}:{TRANSIT_PREFIX}*")
            return [
                read,
                {
                    # The source may be any snapshot of the account; the copy is always draco-transit-*.
                    "Sid": f"Copy{self.label}SnapshotsIntoTransitCopies",
                    "Effect": "Allow",
                    "Action": n.action(n.copy),
                    "Resource": [ctx.arn("rds", f"{n.resource}:*")],
                },
                {
                    "Sid": f"TagTransit{self.label}SnapshotsWhenCreated",
                    "Effect": "Allow",
                    "Action": "rds:AddTagsToResource",
                    "Resource": transit,
                },
                {
                    "Sid": f"ShareOnlyTransit{self.label}Snapshots",
                    "Effect": "Allow",
                    "Action": n.action(n.modify_attribute),
                    "Resource": transit,
                },
                {
                    "Sid": f"DeleteOnlyTransit{self.label}Snapshots",
                    "Effect": "Allow",
                    "Action": n.action(n.delete),
                    "Resource": transit,
                    "Condition": {"StringEquals": {f"rds:{n.tag_condition}/{TRANSIT_TAG}": "true"}},
                },
            ]
        # Across Regions in two steps, DR's relay copies (named as its DR copies) are in the source Region.
        relays = ctx.across_regions and not self.one_step_across_regions
        regions = [ctx.region, *([ctx.source_region] if relays else [])]
        dr_copies = [
            ctx.arn("rds", f"{n.resource}:{DR_PREFIX}{peer}-*", region=region)
            for region in regions
            for peer in ctx.peers
        ]
        shared = [
            ctx.arn("rds", f"{n.resource}:{TRANSIT_PREFIX}*", account=peer, region=ctx.source_region)
            for peer in ctx.peers
        ]
        across = {
            # Permission only: RDS reaches the source Region for a copy across Regions.
            "Sid": "CopyRdsSnapshotsAcrossRegions",
            "Effect": "Allow",
            "Action": "rds:CrossRegionCommunication",
            "Resource": "*",
        }
        return [
            read,
            *([across] if ctx.across_regions else []),
            {
                # Authorised on both ARNs: the shared transit copy and the new DR copy.
                "Sid": f"Copy{self.label}TransitCopiesIntoDrCopies",
                "Effect": "Allow",
                "Action": n.action(n.copy),
                "Resource": [*shared, *dr_copies],
            },
            {
                "Sid": f"TagDr{self.label}CopiesWhenCreated",
                "Effect": "Allow",
                "Action": "rds:AddTagsToResource",
                "Resource": dr_copies,
            },
            {
                "Sid": f"DeleteOnlyDr{self.label}CopiesExpiredByTheirLifecycle",
                "Effect": "Allow",
                "Action": n.action(n.delete),
                "Resource": dr_copies,
                "Condition": {"StringEquals": {f"rds:{n.tag_condition}/{ctx.tag_key}": ctx.tag_value}},
            },
        ]


class RdsSnapshots:
    """One RDS kind's snapshots through an RDS client (the kind's ``SnapshotApi``)."""

    def __init__(self, kind: RdsKind, client: Any) -> None:
        self.kind = kind
        self.names = kind.names
        self._rds = client

    def describe(self, snapshot_id: str) -> Snapshot | None:
        return self._first({self.names.id_param: snapshot_id})

    def describe_many(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """One call per 50 ids, AWS's most per filter: a poll round asks about many."""
        ids = sorted(set(snapshot_ids))
        found: dict[str, Snapshot] = {}
        for start in range(0, len(ids), 50):
            filters = [{"Name": self.names.id_filter, "Values": ids[start : start + 50]}]
            found.update((snapshot.snapshot_id, snapshot) for snapshot in self._list(Filters=filters))
        return found

    def owned(self) -> Iterator[Snapshot]:
        return self._list()

    def recent(self, since: datetime) -> Iterator[Snapshot]:
        for snapshot in self._list():
            if snapshot.phase is Phase.READY and snapshot.snapshot_type in SWEPT_TYPES and snapshot.created >= since:
                yield snapshot

    def shared(self, arn: str) -> Snapshot | None:
        """Looked for among the snapshots shared with this account (AWS documents no lookup by ARN)."""
        return next((s for s in self._list(SnapshotType="shared", IncludeShared=True) if s.arn == arn), None)

    def announce(self, snapshot: Snapshot) -> Snapshot:
        return snapshot  # RDS copies the database's tags to its snapshots itself

    def find_copy(self, name: str) -> Snapshot | None:
        return self.describe(name)

    def copy(
        self, source_arn: str, name: str, kms_key_id: str | None, tags: Mapping[str, str], source_region: str = ""
    ) -> CopyStart:
        n = self.names
        params: dict[str, Any] = {n.copy_source: source_arn, n.copy_target: name, "Tags": aws_tags(tags)}
        if kms_key_id:
            params["KmsKeyId"] = kms_key_id
        if source_region:
            params["SourceRegion"] = source_region  # botocore signs the pre-signed URL RDS needs
        try:
            result = getattr(self._rds, n.copy)(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] not in n.already_exists:
                raise
            existing = self.describe(name)
            return CopyStart(name, existing.arn if existing else "", started=False)
        return CopyStart(name, result[n.result_key][n.arn_field], started=True)

    def share(self, snapshot_id: str, account: str) -> None:
        getattr(self._rds, self.names.modify_attribute)(
            **{self.names.id_param: snapshot_id, "AttributeName": "restore", "ValuesToAdd": [account]}
        )

    def delete(self, snapshot_id: str) -> bool:
        try:
            getattr(self._rds, self.names.delete)(**{self.names.id_param: snapshot_id})
        except ClientError as err:
            if err.response["Error"]["Code"] in self.names.not_found:
                return False
            raise
        return True

    def lock(self, snapshot_id: str, days: int, mode: str) -> None:
        raise NotImplementedError("RDS snapshots can't be locked")

    def quota(self) -> Quota | None:
        return self.quotas().get(self.kind.name)

    def quotas(self) -> dict[str, Quota]:
        """Both RDS kinds' quotas: DescribeAccountAttributes reports them in one answer."""
        kinds = {kind.names.quota_name: kind.name for kind in (INSTANCE, CLUSTER)}
        return {
            kinds[quota["AccountQuotaName"]]: Quota(int(quota["Used"]), int(quota["Max"]))
            for quota in self._rds.describe_account_attributes()["AccountQuotas"]
            if quota["AccountQuotaName"] in kinds
        }

    # --- reading ----------------------------------------------------------------------
    def _first(self, params: dict[str, Any]) -> Snapshot | None:
        try:
            found = getattr(self._rds, self.names.describe)(**params)[self.names.list_key]
        except ClientError as err:
            if err.response["Error"]["Code"] in self.names.not_found:
                return None
            raise
        return self._snapshot(found[0]) if found else None

    def _list(self, **filters: Any) -> Iterator[Snapshot]:
        """Every snapshot matching ``filters``, page by page (AWS gives 100 a page)."""
        for page in self._rds.get_paginator(self.names.describe).paginate(**filters):
            yield from (self._snapshot(item) for item in page[self.names.list_key])

    def _snapshot(self, item: Mapping[str, Any]) -> Snapshot:
        n = self.names
        original = item.get(n.original_time_field) if n.original_time_field else None
        created = original or item.get("SnapshotCreateTime")
        status = str(item.get("Status", ""))
        arn = item[n.arn_field]
        parsed = self.kind.parse_arn(arn)
        return Snapshot(
            snapshot_id=item[n.id_field],
            arn=arn,
            name=item[n.id_field].lower(),
            source_name=item.get(n.source_field, ""),
            status=status,
            phase=Phase.READY
            if status == "available"
            else Phase.FAILED
            if status in FAILED_STATUSES
            else Phase.IN_PROGRESS,
            created=created.astimezone(timezone.utc) if created else datetime.fromtimestamp(0, timezone.utc),
            encrypted=bool(item.get(n.encrypted_field)),
            snapshot_type=item.get("SnapshotType", ""),
            tags=tag_dict(item.get("TagList", [])),
            size_gb=int(item.get("AllocatedStorage") or 0),
            owner=parsed.account if parsed else "",
            copied_from=str(item.get(n.copied_from_field) or ""),
            original_time=original is not None,
            # SnapshotType "awsbackup": made by AWS Backup
            # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html).
            managed_by="backup" if item.get("SnapshotType") == "awsbackup" else "",
        )


INSTANCE = RdsKind(
    "RDS",
    "DBInstance",
    "DB instance",
    RdsNames(
        resource="snapshot",
        describe="describe_db_snapshots",
        list_key="DBSnapshots",
        result_key="DBSnapshot",
        id_param="DBSnapshotIdentifier",
        id_filter="db-snapshot-id",
        id_field="DBSnapshotIdentifier",
        arn_field="DBSnapshotArn",
        source_field="DBInstanceIdentifier",
        encrypted_field="Encrypted",
        copied_from_field="SourceDBSnapshotIdentifier",
        original_time_field="OriginalSnapshotCreateTime",
        copy="copy_db_snapshot",
        copy_source="SourceDBSnapshotIdentifier",
        copy_target="TargetDBSnapshotIdentifier",
        modify_attribute="modify_db_snapshot_attribute",
        delete="delete_db_snapshot",
        not_found=frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"}),
        already_exists=frozenset({"DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"}),
        quota_name="ManualSnapshots",
        event_source="db-snapshot",
        created_events=frozenset({"RDS-EVENT-0042", "RDS-EVENT-0091"}),
        # 0197: a copy within a Region finished; 0060: a copy from another Region finished (DR's copies with
        # DR elsewhere): https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html
        copy_finished_events=frozenset({"RDS-EVENT-0197", "RDS-EVENT-0060"}),
        subscribe_in_dr=True,
        tag_condition="snapshot-tag",
    ),
    "INSTANCE_COPY_LIMIT",
    20,
    encrypts=True,
)

CLUSTER = RdsKind(
    "RDS Cluster",
    "DBCluster",
    "DB cluster",
    RdsNames(
        resource="cluster-snapshot",
        describe="describe_db_cluster_snapshots",
        list_key="DBClusterSnapshots",
        result_key="DBClusterSnapshot",
        id_param="DBClusterSnapshotIdentifier",
        id_filter="db-cluster-snapshot-id",
        id_field="DBClusterSnapshotIdentifier",
        arn_field="DBClusterSnapshotArn",
        source_field="DBClusterIdentifier",
        encrypted_field="StorageEncrypted",
        copied_from_field="SourceDBClusterSnapshotArn",
        original_time_field="",
        copy="copy_db_cluster_snapshot",
        copy_source="SourceDBClusterSnapshotIdentifier",
        copy_target="TargetDBClusterSnapshotIdentifier",
        modify_attribute="modify_db_cluster_snapshot_attribute",
        delete="delete_db_cluster_snapshot",
        not_found=frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}),
        already_exists=frozenset({"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"}),
        quota_name="ManualClusterSnapshots",
        event_source="db-cluster-snapshot",
        created_events=frozenset({"RDS-EVENT-0075", "RDS-EVENT-0169"}),
        copy_finished_events=frozenset(),  # AWS sends none for cluster snapshot copies
        subscribe_in_dr=False,
        tag_condition="cluster-snapshot-tag",
    ),
    "CLUSTER_COPY_LIMIT",
    5,
    encrypts=False,  # KmsKeyId is refused for an unencrypted cluster snapshot
)
