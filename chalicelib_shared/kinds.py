"""Snapshot kinds: everything that differs between DB instance and DB cluster snapshots.

Each kind is one small class: its API names, its RDS event ids, and its rules
(a cluster snapshot can't be encrypted by copying it; only instance copies send
a copy-finished event). Handlers look a kind up in ``KINDS`` by the message's
``SnapshotType`` or the event's ``Event Source`` and never branch on the kind
themselves; a new kind (EBS, say) is one new class here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from chalicelib_shared.naming import aws_tags, tag_dict


@dataclass(frozen=True)
class Snapshot:
    """What DRACO needs to know about one snapshot, whatever its kind."""

    snapshot_id: str
    arn: str
    source_name: str  # the DB instance or cluster it was taken from
    status: str
    created: datetime  # when the data was captured (the original's time, for a copy)
    encrypted: bool
    snapshot_type: str  # manual, automated, shared, awsbackup
    tags: Mapping[str, str]
    allocated_gb: int


class SnapshotKind:
    """One kind of snapshot; subclasses fill in the API names."""

    name: ClassVar[str]  # SnapshotType in messages
    event_source: ClassVar[str]  # "Event Source" in RDS notifications
    created_events: ClassVar[frozenset[str]]
    copy_finished_events: ClassVar[frozenset[str]]
    encrypts_on_copy: ClassVar[bool]
    default_copy_limit: ClassVar[int]
    _describe: ClassVar[str]
    _list_key: ClassVar[str]
    _id_param: ClassVar[str]
    _id_filter: ClassVar[str]
    _id_field: ClassVar[str]
    _arn_field: ClassVar[str]
    _source_field: ClassVar[str]
    _encrypted_field: ClassVar[str]
    _copy: ClassVar[str]
    _copy_source: ClassVar[str]
    _copy_target: ClassVar[str]
    _modify_attribute: ClassVar[str]
    _delete: ClassVar[str]
    not_found_codes: ClassVar[frozenset[str]]
    already_exists_codes: ClassVar[frozenset[str]]

    def describe(self, rds: Any, snapshot_id: str) -> Snapshot | None:
        """The snapshot with this id in the caller's account, or ``None``."""
        try:
            found = getattr(rds, self._describe)(**{self._id_param: snapshot_id})[self._list_key]
        except ClientError as err:
            if err.response["Error"]["Code"] in self.not_found_codes:
                return None
            raise
        return self._snapshot(found[0]) if found else None

    def describe_many(self, rds: Any, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """The snapshots with these ids that exist, in one call per 50 ids (a poll round asks about many)."""
        ids = sorted(set(snapshot_ids))
        found: dict[str, Snapshot] = {}
        for start in range(0, len(ids), 50):
            filters = [{"Name": self._id_filter, "Values": ids[start : start + 50]}]
            found.update((snapshot.snapshot_id, snapshot) for snapshot in self.list(rds, Filters=filters))
        return found

    def list(self, rds: Any, **filters: Any) -> Iterator[Snapshot]:
        """Every snapshot matching ``filters``, page by page (AWS gives 100 a page)."""
        for page in rds.get_paginator(self._describe).paginate(**filters):
            yield from (self._snapshot(item) for item in page[self._list_key])

    def copy(self, rds: Any, source: str, target: str, kms_key_id: str | None, tags: Mapping[str, str]) -> bool:
        """Start a copy; ``False`` when ``target`` already exists (a repeat)."""
        params = {self._copy_source: source, self._copy_target: target, "Tags": aws_tags(tags)}
        if kms_key_id:
            params["KmsKeyId"] = kms_key_id
        try:
            getattr(rds, self._copy)(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] in self.already_exists_codes:
                return False
            raise
        return True

    def share(self, rds: Any, snapshot_id: str, account: str) -> None:
        """Let ``account`` copy the snapshot (the restore attribute). Repeats are harmless."""
        getattr(rds, self._modify_attribute)(
            **{self._id_param: snapshot_id, "AttributeName": "restore", "ValuesToAdd": [account]}
        )

    def delete(self, rds: Any, snapshot_id: str) -> bool:
        """Delete a snapshot; ``False`` when it was already gone."""
        try:
            getattr(rds, self._delete)(**{self._id_param: snapshot_id})
        except ClientError as err:
            if err.response["Error"]["Code"] in self.not_found_codes:
                return False
            raise
        return True

    def _snapshot(self, item: Mapping[str, Any]) -> Snapshot:
        created = item.get("OriginalSnapshotCreateTime") or item.get("SnapshotCreateTime")
        return Snapshot(
            snapshot_id=item[self._id_field],
            arn=item[self._arn_field],
            source_name=item.get(self._source_field, ""),
            status=item.get("Status", ""),
            created=created.astimezone(timezone.utc) if created else datetime.fromtimestamp(0, timezone.utc),
            encrypted=bool(item.get(self._encrypted_field)),
            snapshot_type=item.get("SnapshotType", ""),
            tags=tag_dict(item.get("TagList", [])),
            allocated_gb=int(item.get("AllocatedStorage") or 0),
        )


class InstanceSnapshots(SnapshotKind):
    name = "RDS"
    event_source = "db-snapshot"
    created_events = frozenset({"RDS-EVENT-0042", "RDS-EVENT-0091"})
    copy_finished_events = frozenset({"RDS-EVENT-0197"})
    encrypts_on_copy = True
    default_copy_limit = 20
    _describe = "describe_db_snapshots"
    _list_key = "DBSnapshots"
    _id_param = "DBSnapshotIdentifier"
    _id_filter = "db-snapshot-id"
    _id_field = "DBSnapshotIdentifier"
    _arn_field = "DBSnapshotArn"
    _source_field = "DBInstanceIdentifier"
    _encrypted_field = "Encrypted"
    _copy = "copy_db_snapshot"
    _copy_source = "SourceDBSnapshotIdentifier"
    _copy_target = "TargetDBSnapshotIdentifier"
    _modify_attribute = "modify_db_snapshot_attribute"
    _delete = "delete_db_snapshot"
    not_found_codes = frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"})
    already_exists_codes = frozenset({"DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"})


class ClusterSnapshots(SnapshotKind):
    name = "RDS Cluster"
    event_source = "db-cluster-snapshot"
    created_events = frozenset({"RDS-EVENT-0075", "RDS-EVENT-0169"})
    copy_finished_events = frozenset()  # AWS sends none for cluster snapshot copies
    encrypts_on_copy = False  # KmsKeyId is refused for an unencrypted cluster snapshot
    default_copy_limit = 5
    _describe = "describe_db_cluster_snapshots"
    _list_key = "DBClusterSnapshots"
    _id_param = "DBClusterSnapshotIdentifier"
    _id_filter = "db-cluster-snapshot-id"
    _id_field = "DBClusterSnapshotIdentifier"
    _arn_field = "DBClusterSnapshotArn"
    _source_field = "DBClusterIdentifier"
    _encrypted_field = "StorageEncrypted"
    _copy = "copy_db_cluster_snapshot"
    _copy_source = "SourceDBClusterSnapshotIdentifier"
    _copy_target = "TargetDBClusterSnapshotIdentifier"
    _modify_attribute = "modify_db_cluster_snapshot_attribute"
    _delete = "delete_db_cluster_snapshot"
    not_found_codes = frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"})
    already_exists_codes = frozenset({"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"})


KINDS: dict[str, SnapshotKind] = {kind.name: kind for kind in (InstanceSnapshots(), ClusterSnapshots())}
KINDS_BY_EVENT_SOURCE: dict[str, SnapshotKind] = {kind.event_source: kind for kind in KINDS.values()}
