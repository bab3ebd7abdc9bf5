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
   ``ManualSnapshots`` and ``ManualClusterSnapshots`` quotas as AWS reports them:
   the manual snapshots held against the world's quota (``limits.snapshot_quota``).
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
8. **A DB cluster snapshot copy's source.** AWS records the ARN a cluster
   snapshot was copied from in ``SourceDBClusterSnapshotArn`` ("if the DB
   cluster snapshot was copied from a source DB cluster snapshot",
   https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBClusterSnapshot.html);
   moto leaves it out. The fill records it on the copy.

9. **Restores.** (a) moto restores a Neptune cluster snapshot with a
   ``KeyError`` (its Neptune clusters keep no master password) and gives a
   restored cluster its original cluster's key; AWS restores under the
   snapshot's key. (b) moto restores DB instances and clusters, and creates
   volumes, from a snapshot whose KMS key is disabled or pending deletion;
   AWS refuses the RDS restores (``KMSKeyNotAccessibleFault``) and a volume
   then ends ``error`` (the EBS answer is **not confirmed** by AWS's
   documentation: the fill follows gap 7). (c) moto has no DB instance
   quota; AWS allows 40 DB instances per account and Region by default
   (``InstanceQuotaExceeded``); the fill refuses a restore (and the instance
   added to a restored cluster) once the account holds ``INSTANCE_QUOTA``. Other
   instances are not refused: the world's production databases stand for many
   accounts' in the benchmarks.
   (d) moto makes restored resources available at once; AWS creates them for
   minutes to hours. The fill keeps a restored DB instance (or a restored
   cluster's instance) and a volume made from a snapshot ``creating`` for
   ``restore_time(kind, size_gb, instance_class)``, which the local world
   sets (``draco.world.restores``; zero by default, moto's behaviour).
   (e) moto restores a cluster into a DB subnet group that doesn't exist
   (it checks only DB instance restores); AWS refuses with
   ``DBSubnetGroupNotFoundFault``, and so does the fill.
   (f) moto keeps a deleted cluster's automated snapshots; AWS removes them
   with it unless told to keep them (``DeleteAutomatedBackups``, default
   remove: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html).
   The fill deletes them, so a drill's cluster leaves no snapshot behind.
   DocumentDB can't be restored here at all: moto makes no DocumentDB
   cluster, so DocumentDB restores are tested against a stubbed client.
   The restore fills are in ``draco.world.moto_gaps.restoring``.

10. **SNS to an SQS queue of another account.** AWS delivers a topic's message
   to a subscribed queue of another account if that queue's policy lets
   ``sns.amazonaws.com`` send from that topic, evaluating ``aws:SourceArn``,
   ``aws:SourceAccount`` and, for a topic of an Organization's account,
   ``aws:SourceOrgID`` and ``aws:SourceOrgPaths``
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
   moto 5.2 looks for the queue in the topic's account, and checks no policy.
   The fill delivers to the queue's account when its policy allows it
   (``ORGANIZATIONS`` says which accounts are in which Organization and OU
   path, as AWS Organizations would) and drops the message otherwise, as AWS
   does once its retries are spent. The envelope's ``TopicArn`` is the topic's.
11. **Publishing to another account's topic.** AWS lets a principal publish to a
   topic of another account only if the topic's policy allows that account
   (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html);
   moto lets anyone. The fill refuses (``AuthorizationError``) unless an Allow
   for ``sns:Publish`` names the caller's account (its root) or ``*`` as
   principal (within ``aws:SourceOwner``/``aws:SourceAccount`` if the statement says so);
   conditions on the principal are not checked, as moto knows no roles.

12. **DynamoDB: work that grows with the table.** moto answers a Query on a
   global secondary index by sorting and reading every item of the table, and
   backs a TransactWriteItems up by deep-copying every table it writes to, so
   a poll round costs what the job table ever held. DynamoDB reads an index
   partition and writes the items named. The fill keeps each table's index
   partitions (index name and hash key value -> item keys), brought up to date
   with the items written since the last Query (every write goes through
   ``Table.put_item``, ``Table.delete_item`` or the backend's ``update_item``),
   and hands moto's own Query only that partition's items, so sorting, paging,
   conditions and projection stay moto's. A transaction backs up only the
   items it names, and puts them back if it is cancelled. An item read's answer
   (Query, Scan, GetItem, BatchGetItem) is DynamoDB JSON already, which moto's
   serializer walks member by member against the service model, most of a busy
   world's time: it is sent as the JSON it is, the same document (an answer JSON
   can't carry as it is, e.g. bytes, and every other operation go to moto's).
   The fill is in ``draco.world.moto_gaps.dynamodb``, installed and removed
   with the others, from here.

Fills 10 and 11 are in ``draco.world.moto_gaps.sns`` (its ``ORGANIZATIONS`` says which accounts are in which
Organization), installed with the others from here.

``tests/test_moto_gaps.py`` shows each gap and its fill (gap 9: ``tests/test_drill_gaps.py``).

AWS's limits that moto doesn't enforce (identifier lengths, tags, policy sizes,
quotas) are in ``limits``, installed with the gaps: the local world is strict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidSnapshotIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.utils import generic_filter, random_snapshot_id
from moto.kms.models import kms_backends
from moto.rds.models import RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.rds.utils import split_arn

from chalicelib_shared import clock
from draco.world.moto_gaps import limits
from draco.world.moto_gaps import sns as moto_sns
from draco.world.moto_gaps.dynamodb import DYNAMODB_FILLS
from draco.world.moto_gaps.restoring import RESTORE_FILLS

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


def _copy_db_cluster_snapshot(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
    made = _originals[(RDSBackend, "copy_db_cluster_snapshot")](self, *args, **kwargs)
    source = kwargs.get("source_db_cluster_snapshot_identifier") or args[0]
    named = source if source.startswith("arn:") else self.get_db_cluster_snapshot(source).db_cluster_snapshot_arn
    made.source_db_cluster_snapshot_arn = named
    return made


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
                    "Max": limits.snapshot_quota(),
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
    return "expired" if lock["LockExpiresOn"] <= clock.now() else lock["LockState"]


def _lock_snapshot(self: ElasticBlockStore) -> ActionResult:
    snapshot = self.ec2_backend.get_snapshot(self._get_param("SnapshotId"))
    mode, days, until = self._get_param("LockMode"), self._get_param("LockDuration"), self._get_param("ExpirationDate")
    if mode not in LOCK_MODES or (days is None) == (until is None):
        raise EC2ClientError("InvalidParameterCombination", "LockMode, and one of LockDuration or ExpirationDate")
    now = clock.now()
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


_FILLS: dict[tuple[type, str], Any] = {
    **RESTORE_FILLS,
    **DYNAMODB_FILLS,
    (RDSBackend, "get_snapshot"): _get_snapshot,
    (RDSBackend, "copy_db_cluster_snapshot"): _copy_db_cluster_snapshot,
    (RDSResponse, "describe_db_snapshots"): _paged("describe_db_snapshots", "DBSnapshots"),
    (RDSResponse, "describe_db_cluster_snapshots"): _paged("describe_db_cluster_snapshots", "DBClusterSnapshots"),
    (RDSResponse, "describe_account_attributes"): _describe_account_attributes,
    (EBSBackend, "copy_snapshot"): _copy_snapshot,
    (EBSBackend, "delete_snapshot"): _delete_snapshot,
    (ElasticBlockStore, "describe_snapshots"): _describe_snapshots,
    (ElasticBlockStore, "lock_snapshot"): _lock_snapshot,
    (ElasticBlockStore, "describe_locked_snapshots"): _describe_locked_snapshots,
    (moto_sns.Subscription, "publish"): moto_sns.publish_to_queue,
    (moto_sns.SNSBackend, "publish"): moto_sns.publish_to_topic,
}


def install() -> None:
    """Fill the gaps; calling it again changes nothing."""
    for (owner, name), fill in _FILLS.items():
        _originals.setdefault((owner, name), owner.__dict__.get(name))
        setattr(owner, name, fill)
    limits.install()


def uninstall() -> None:
    """Give moto back its own behaviour; calling it again (or before ``install``) changes nothing."""
    for (owner, name), original in _originals.items():
        if original is not None:
            setattr(owner, name, original)
        elif name in owner.__dict__:
            delattr(owner, name)
    limits.uninstall()
