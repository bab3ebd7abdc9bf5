"""Where moto differs from AWS in a way DRACO's local world depends on: filled here, only here.

1. **Copying a snapshot shared from another account.** AWS lets account B copy
   a snapshot that account A shared with it, naming it by ARN, in A's Region or
   (called in another Region, with ``SourceRegion``) into that one. moto 5.2
   looks the ARN up in B's own backend and answers "not found". The fill looks
   in the ARN's account and Region and allows it only when the snapshot's
   ``restore`` attribute names B (or ``all``), so an unshared snapshot still
   fails, as in AWS. (A copy of the caller's own snapshot from another Region,
   DR's relay step, moto makes itself.)
2. **Paging.** AWS returns at most ``MaxRecords`` (default and maximum 100)
   snapshots per DescribeDBSnapshots / DescribeDBClusterSnapshots call, with a
   ``Marker`` for the next page; moto returns everything at once, which hides
   the cost of listing. The fill pages moto's answer by position.
3. **DescribeAccountAttributes.** moto lacks it. The fill reports the
   ``ManualSnapshots`` and ``ManualClusterSnapshots`` quotas, used against
   moto's own snapshot limit (``MOTO_RDS_SNAPSHOT_LIMIT``), as AWS reports them.
4. **EBS: copying a snapshot shared from another account.** moto's
   CopySnapshot looks the source up in the caller's own account only. The fill
   also finds a snapshot of another account that grants the caller
   ``createVolumePermission`` (or ``all``), in ``SourceRegion`` (so also into
   another Region, the caller's), and, as AWS does, gives the copy the
   placeholder volume ``vol-ffffffff`` (a copy names no volume).
5. **EBS: DescribeSnapshots.** moto ignores ``OwnerIds`` and
   ``RestorableByUserIds`` (``OwnerIds=["self"]`` returns some 1,300 public
   snapshots), never shows a snapshot another account shared with the caller,
   and shows the owner's tags to everyone. The fill honours both parameters,
   shows shared snapshots, and shows tags to their owner only (tags belong to
   the account that set them).
6. **EBS snapshot lock.** moto lacks LockSnapshot and DescribeLockedSnapshots,
   and its DeleteSnapshot deletes a locked snapshot. The fill keeps locks per
   account and Region (governance or compliance, for ``LockDuration`` days or
   until ``ExpirationDate``; a compliance lock can only be extended) and
   refuses to delete a snapshot under an unexpired lock. The error code AWS
   returns then is **not confirmed** by AWS's documentation: the fill says
   ``SnapshotLocked``, and DRACO handles any error of a delete alike.
7. **EBS: a copy's KMS key.** moto takes any ``KmsKeyId`` for CopySnapshot.
   AWS encrypts the copy in the Region it is made in, so the key must be one of
   that Region; it checks the key after answering ("the action can appear to
   complete, but eventually fails"). The fill makes a copy whose key is not a
   key of the destination Region (of the caller's account, or of the account a
   key ARN names) in state ``error``; the local world keeps such a copy in
   progress for its copy time, then lets it end ``error``
   (``draco.world.copies``). A copy across Regions under the source Region's
   key so fails, as on AWS.

8. **DynamoDB: work that grows with the table.** moto answers a Query on a
   global secondary index by sorting and reading every item of the table, and
   backs a TransactWriteItems up by deep-copying every table it writes to, so
   a poll round costs what the job table ever held. DynamoDB reads an index
   partition and writes the items named. The fill keeps each table's index
   partitions (index name and hash key value -> item keys), brought up to date
   with the items written since the last Query (every write goes through
   ``Table.put_item``, ``Table.delete_item`` or the backend's ``update_item``),
   and hands moto's own Query only that partition's items, so sorting, paging,
   conditions and projection stay moto's. A transaction backs up only the
   items it names, and puts them back if it is cancelled.

``tests/test_moto_gaps.py`` shows each gap and its fill.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.ec2.exceptions import EC2ClientError, InvalidSnapshotIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.utils import generic_filter, random_snapshot_id
from moto.kms.models import kms_backends
from moto.rds.models import RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.rds.utils import split_arn

PAGE_SIZE = 100
_originals: dict[tuple[type, str], Any] = {}


def _get_snapshot(self: RDSBackend, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
    if identifier.startswith("arn:"):
        region, account, _, snapshot_id = split_arn(identifier)
        if account != self.account_id:
            snapshot = rds_backends[account][region].resource_map[resource_type].get(snapshot_id)
            if snapshot is None or not {self.account_id, "all"} & set(snapshot.attributes["restore"]):
                raise not_found_exception(identifier)
            return snapshot
    return _originals[(RDSBackend, "get_snapshot")](self, identifier, resource_type, not_found_exception)


def _paged(operation: str, list_key: str) -> Callable[[RDSResponse], ActionResult]:
    """Wrap a Describe* response so it returns one page and a ``Marker``, as AWS does."""

    def describe(self: RDSResponse) -> ActionResult:
        result = _originals[(RDSResponse, operation)](self)
        records = list(result.result[list_key])
        size = min(int(self.params.get("MaxRecords") or PAGE_SIZE), PAGE_SIZE)
        start = int(self.params.get("Marker") or 0)
        page: dict[str, Any] = {list_key: records[start : start + size]}
        if start + size < len(records):
            page["Marker"] = str(start + size)
        return ActionResult(page)

    return describe


def _describe_account_attributes(self: RDSResponse) -> ActionResult:
    backend = self.backend
    quotas = [
        ("ManualSnapshots", backend.database_snapshots),
        ("ManualClusterSnapshots", backend.cluster_snapshots),
    ]
    return ActionResult(
        {
            "AccountQuotas": [
                {
                    "AccountQuotaName": name,
                    "Used": sum(s.snapshot_type == "manual" for s in snapshots.values()),
                    "Max": backend.SNAPSHOT_QUOTA,
                }
                for name, snapshots in quotas
            ]
        }
    )


# --- EBS ------------------------------------------------------------------------------------
COPY_VOLUME = "vol-ffffffff"
FAILED_COPY = "error"  # the state of an EBS copy AWS could not make
LOCK_MODES = ("governance", "compliance")


@dataclass(frozen=True)
class _NoVolume:
    """What a copied snapshot names as its volume: AWS's placeholder, with the source's size."""

    size: int
    id: str = COPY_VOLUME


def _may_use(snapshot: Snapshot, account: str) -> bool:
    return account in snapshot.create_volume_permission_userids or "all" in snapshot.create_volume_permission_groups


def _shared_with(account: str, region: str) -> list[Snapshot]:
    """Snapshots of other accounts in ``region`` that ``account`` may create volumes from."""
    return [
        snapshot
        for owner, where, backend in ec2_backends.iter_backends()
        if owner != account and where == region
        for snapshot in backend.snapshots.values()
        if _may_use(snapshot, account)
    ]


def _copy_snapshot(
    self: EBSBackend, source_snapshot_id: str, source_region: str, description: str, kms_key_id: str | None
) -> Snapshot:
    own = ec2_backends[self.account_id][source_region].snapshots  # type: ignore[attr-defined]
    visible = {**{s.id: s for s in _shared_with(self.account_id, source_region)}, **own}  # type: ignore[attr-defined]
    source = visible.get(source_snapshot_id)
    if source is None:
        raise InvalidSnapshotIdError()
    copy = Snapshot(
        self,
        random_snapshot_id(),
        volume=_NoVolume(source.volume.size),
        description=description,
        encrypted=source.encrypted,
        kms_key_id=kms_key_id,
    )
    copy.source_snapshot_id = source.id  # what the copySnapshot event names as its source, and where
    copy.source_region = source_region
    if kms_key_id and not _key_in(self.region_name, self.account_id, kms_key_id):  # type: ignore[attr-defined]
        copy.status = FAILED_COPY
    self.snapshots[copy.id] = copy
    return copy


def _key_in(region: str, account: str, key_id: str) -> bool:
    """Whether ``key_id`` (key id, key ARN, alias name or alias ARN) names a KMS key in ``region``."""
    if key_id.startswith("arn:"):
        _, _, _, key_region, key_account, _ = key_id.split(":", 5)
        if key_region != region:
            return False
        account = key_account
    backend = kms_backends[account][region]
    name = backend.get_alias_name(key_id)
    if name.startswith("alias/"):
        return backend.get_key_id_from_alias(name) is not None
    return backend.get_key_id(name) in backend.keys


def _snapshot_view(snapshot: Snapshot, caller: str) -> dict[str, Any]:
    view = {
        "SnapshotId": snapshot.id,
        "VolumeId": snapshot.volume.id,
        "State": snapshot.status,
        "StartTime": snapshot.start_time,
        "Progress": "100%" if snapshot.status == "completed" else "0%",
        "OwnerId": snapshot.owner_id,
        "Description": snapshot.description,
        "VolumeSize": snapshot.volume.size,
        "Encrypted": snapshot.encrypted,
        "StorageTier": snapshot.storage_tier,
        "Tags": snapshot.get_tags() if snapshot.owner_id == caller else [],
    }
    if snapshot.kms_key_id:
        view["KmsKeyId"] = snapshot.kms_key_id
    return view


def _describe_snapshots(self: ElasticBlockStore) -> ActionResult:
    caller = self.current_account
    visible = list(self.ec2_backend.snapshots.values()) + _shared_with(caller, self.region)
    ids = self._get_param("SnapshotIds", [])
    if set(ids) - {s.id for s in visible}:
        raise InvalidSnapshotIdError()
    filters = self._filters_from_querystring()
    tagged = any(name.startswith("tag") for name in filters)  # tags are the owner's: never another's match
    found = [s for s in generic_filter(filters, visible) if not (tagged and s.owner_id != caller)]
    if ids:
        found = [s for s in found if s.id in ids]
    owners = {caller if owner == "self" else owner for owner in self._get_param("OwnerIds", [])}
    if owners:
        found = [s for s in found if s.owner_id in owners]
    restorable = self._get_param("RestorableByUserIds", [])
    if restorable:
        found = [s for s in found if any(_restorable_by(s, who, caller) for who in restorable)]
    return ActionResult({"Snapshots": [_snapshot_view(s, caller) for s in found]})


def _restorable_by(snapshot: Snapshot, who: str, caller: str) -> bool:
    if who == "all":
        return "all" in snapshot.create_volume_permission_groups
    account = caller if who == "self" else who
    return snapshot.owner_id == account or account in snapshot.create_volume_permission_userids


def _locks(backend: EBSBackend) -> dict[str, dict[str, Any]]:
    """The backend's snapshot locks, by snapshot id (kept on the backend: moto's reset clears them)."""
    return backend.__dict__.setdefault("draco_snapshot_locks", {})


def _lock_state(lock: dict[str, Any]) -> str:
    return "expired" if lock["LockExpiresOn"] <= datetime.now(timezone.utc) else lock["LockState"]


def _lock_snapshot(self: ElasticBlockStore) -> ActionResult:
    snapshot = self.ec2_backend.get_snapshot(self._get_param("SnapshotId"))
    mode, days, until = self._get_param("LockMode"), self._get_param("LockDuration"), self._get_param("ExpirationDate")
    if mode not in LOCK_MODES or (days is None) == (until is None):
        raise EC2ClientError("InvalidParameterCombination", "LockMode, and one of LockDuration or ExpirationDate")
    now = datetime.now(timezone.utc)
    expires = now + timedelta(days=int(days)) if days is not None else until
    held = _locks(self.ec2_backend).get(snapshot.id)
    if held and _lock_state(held) == "compliance" and expires < held["LockExpiresOn"]:
        raise EC2ClientError("InvalidParameterValue", "a compliance lock can only be extended")
    lock = {
        "SnapshotId": snapshot.id,
        "OwnerId": snapshot.owner_id,
        "LockState": mode,
        "LockCreatedOn": now,
        "LockDurationStartTime": now,
        "LockExpiresOn": expires,
    }
    if days is not None:
        lock["LockDuration"] = int(days)
    _locks(self.ec2_backend)[snapshot.id] = lock
    return ActionResult({k: v for k, v in lock.items() if k != "OwnerId"})


def _describe_locked_snapshots(self: ElasticBlockStore) -> ActionResult:
    ids = set(self._get_param("SnapshotIds", []))
    states = set(self._filters_from_querystring().get("lock-state", []))
    found = [
        {**lock, "LockState": _lock_state(lock)}
        for snapshot_id, lock in _locks(self.ec2_backend).items()
        if (not ids or snapshot_id in ids) and (not states or _lock_state(lock) in states)
    ]
    return ActionResult({"Snapshots": found})


def _delete_snapshot(self: EBSBackend, snapshot_id: str) -> Snapshot:
    lock = _locks(self).get(snapshot_id)
    if lock and _lock_state(lock) != "expired":
        raise EC2ClientError("SnapshotLocked", f"The snapshot {snapshot_id} is locked until {lock['LockExpiresOn']}")
    return _originals[(EBSBackend, "delete_snapshot")](self, snapshot_id)


# --- DynamoDB -------------------------------------------------------------------------------
ItemKey = tuple[Any, Any]  # (hash key, range key or None), as moto keys its items


@dataclass
class _Partitions:
    """A table's index partitions: (index, hash key value) -> item keys; ``dirty``: items written since."""

    by_value: dict[tuple[str, Any], set[ItemKey]]
    filed: dict[ItemKey, list[tuple[str, Any]]]
    dirty: set[ItemKey]


def _partitions(table: Table) -> _Partitions:
    """Kept on the table (a backup's deep copy of it carries them along, consistent with its items)."""
    held = table.__dict__.get("draco_partitions")
    if held is None:
        every = {(item.hash_key, item.range_key) for item in _stored_items(table)}
        held = table.__dict__["draco_partitions"] = _Partitions({}, {}, every)
    return held


def _stored_items(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for by_range in table.items.values() for item in by_range.values()]
    return list(table.items.values())


def _written(table: Table, key: ItemKey) -> None:
    if "draco_partitions" in table.__dict__:
        table.__dict__["draco_partitions"].dirty.add(key)


def _refile(table: Table) -> _Partitions:
    """File the items written since the last Query under the index partitions they are in now."""
    parts = _partitions(table)
    for key in parts.dirty:
        for place in parts.filed.pop(key, []):
            parts.by_value[place].discard(key)
        item = table.get_item(*key) if key[0] in table.items else None
        if item is None:
            continue
        places = []
        for index in table.global_indexes or []:
            hash_attr = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
            value = item.attrs.get(hash_attr)
            if value is not None:
                places.append((index.name, value))
                parts.by_value.setdefault((index.name, value), set()).add(key)
        parts.filed[key] = places
    parts.dirty.clear()
    return parts


INDEX_ARG = 7  # moto's Table.query takes the index name as its eighth argument


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    original = _originals[(Table, "query")]
    index_name = args[INDEX_ARG] if len(args) > INDEX_ARG else kwargs.get("index_name")
    conditions = kwargs.get("hash_key_conditions") or []
    if not any(index.name == index_name for index in self.global_indexes or []) or len(conditions) != 1:
        return original(self, *args, **kwargs)
    found = index_items(self, index_name, conditions[0][1])
    self.all_items = lambda: found  # type: ignore[method-assign]  # what moto's Query reads
    try:
        return original(self, *args, **kwargs)
    finally:
        del self.all_items


def _table_put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    item = _originals[(Table, "put_item")](self, item_attrs, *args, **kwargs)
    _written(self, (item.hash_key, item.range_key))
    return item


def _table_delete_item(self: Table, hash_key: Any, range_key: Any) -> Any:
    item = _originals[(Table, "delete_item")](self, hash_key, range_key)
    _written(self, (hash_key, range_key))
    return item


def _update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    item = _originals[(DynamoDBBackend, "update_item")](self, table_name, *args, **kwargs)
    _written(self.get_table(table_name), (item.hash_key, item.range_key))
    return item


def _same(self: Table, memo: dict[int, Any]) -> Table:
    return self


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction, backed up item by item instead of table by table."""
    saved = _named_items(self, transact_items)
    Table.__deepcopy__ = _same  # moto's whole-table backup becomes the table itself; ours is ``saved``
    try:
        _originals[(DynamoDBBackend, "transact_write_items")](self, transact_items)
    except Exception:
        for table, key, item in saved:
            _put_back(table, key, item)
        raise
    finally:
        del Table.__deepcopy__


def _named_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, ItemKey, Any]]:
    """Each item a transaction names, as it is now (``None``: absent); malformed actions are moto's to refuse."""
    saved = []
    for action in transact_items:
        try:
            op = next(iter(action.values()))
            table = backend.tables[op["TableName"]]
            named = op.get("Key") or op["Item"]
            key = (
                _typed(named[table.hash_key_attr]),
                _typed(named[table.range_key_attr]) if table.range_key_attr else None,
            )
            saved.append((table, key, copy.deepcopy(table.get_item(*key))))
        except Exception:  # noqa: BLE001, S112 - moto's own transaction reports what is wrong with it
            continue
    return saved


def _typed(value: Any) -> DynamoType:
    """moto's parsed request holds key values as ``DynamoType`` already, or as DynamoDB JSON."""
    return value if isinstance(value, DynamoType) else DynamoType(value)


def _put_back(table: Table, key: ItemKey, item: Any) -> None:
    hash_key, range_key = key
    if item is None:
        if range_key is None:
            table.items.pop(hash_key, None)
        else:
            table.items.get(hash_key, {}).pop(range_key, None)
    elif range_key is None:
        table.items[hash_key] = item
    else:
        table.items[hash_key][range_key] = item
    _written(table, key)


def index_items(table: Table, index_name: str, value: Any) -> list[Any]:
    """moto's items in one partition of a global secondary index (the local world reads active jobs so)."""
    keys = _refile(table).by_value.get((index_name, value), set())
    return [item for item in (table.get_item(*key) for key in keys) if item is not None]


_FILLS: dict[tuple[type, str], Any] = {
    (Table, "query"): _query,
    (Table, "put_item"): _table_put_item,
    (Table, "delete_item"): _table_delete_item,
    (DynamoDBBackend, "update_item"): _update_item,
    (DynamoDBBackend, "transact_write_items"): _transact_write_items,
    (RDSBackend, "get_snapshot"): _get_snapshot,
    (RDSResponse, "describe_db_snapshots"): _paged("describe_db_snapshots", "DBSnapshots"),
    (RDSResponse, "describe_db_cluster_snapshots"): _paged("describe_db_cluster_snapshots", "DBClusterSnapshots"),
    (RDSResponse, "describe_account_attributes"): _describe_account_attributes,
    (EBSBackend, "copy_snapshot"): _copy_snapshot,
    (EBSBackend, "delete_snapshot"): _delete_snapshot,
    (ElasticBlockStore, "describe_snapshots"): _describe_snapshots,
    (ElasticBlockStore, "lock_snapshot"): _lock_snapshot,
    (ElasticBlockStore, "describe_locked_snapshots"): _describe_locked_snapshots,
}


def install() -> None:
    """Fill the gaps; calling it again changes nothing."""
    for (owner, name), fill in _FILLS.items():
        _originals.setdefault((owner, name), owner.__dict__.get(name))
        setattr(owner, name, fill)


def uninstall() -> None:
    """Give moto back its own behaviour; calling it again (or before ``install``) changes nothing."""
    for (owner, name), original in _originals.items():
        if original is not None:
            setattr(owner, name, original)
        elif name in owner.__dict__:
            delattr(owner, name)
