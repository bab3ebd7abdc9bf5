"""Gap 9 of ``draco.world.moto_gaps`` (see there): restores that take time, refuse an unusable key,
count the DB instance quota and restore Neptune. Installed and removed with the other fills."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from moto.ec2.models.elastic_block_store import EBSBackend, Volume
from moto.kms.models import kms_backends
from moto.rds.exceptions import DBSubnetGroupNotFoundError, KMSKeyNotAccessibleFault, RDSClientError
from moto.rds.models import DBCluster, DBInstance, RDSBackend
from moto.rds.utils import split_arn

from chalicelib_shared import clock

#: moto's own methods, as this module found them (it is imported before any fill is installed).
_originals: dict[tuple[type, str], Any] = {
    (RDSBackend, "restore_db_instance_from_db_snapshot"): RDSBackend.restore_db_instance_from_db_snapshot,
    (RDSBackend, "restore_db_cluster_from_snapshot"): RDSBackend.restore_db_cluster_from_snapshot,
    (RDSBackend, "create_db_instance"): RDSBackend.create_db_instance,
    (DBCluster, "get_cfg"): DBCluster.get_cfg,
    (RDSBackend, "delete_db_cluster"): RDSBackend.delete_db_cluster,
    (Volume, "status"): Volume.__dict__.get("status"),
    (EBSBackend, "create_volume"): EBSBackend.create_volume,
}
FAILED = "error"  # the state AWS leaves a volume in when it could not make it

INSTANCE_QUOTA = 40  # DB instances per account and Region, AWS's default


def _at_once(kind: str, size_gb: int, instance_class: str) -> timedelta:
    return timedelta(0)  # moto's own behaviour


restore_time: Callable[[str, int, str], timedelta] = _at_once
_READY = "_draco_ready_at"  # when a restored resource stops being "creating"
_UNUSABLE = "_draco_unusable_key"  # a volume made from a snapshot under an unusable key: it ends "error"


def _key_usable(account: str, region: str, key: str | None) -> bool:
    """Whether ``key`` is enabled ("" or None: no key, nothing to use)."""
    if not key:
        return True
    if key.startswith("arn:"):
        account, region = key.split(":")[4], key.split(":")[3]
    try:
        return kms_backends[account][region].describe_key(key).key_state == "Enabled"
    except Exception:  # noqa: BLE001 - moto's own NotFound: not usable either
        return False


def _hold(resource: Any, kind: str, size_gb: int, instance_class: str) -> None:
    resource.__dict__[_READY] = clock.now() + restore_time(kind, size_gb, instance_class)


def _held(resource: Any) -> bool:
    ready = resource.__dict__.get(_READY)
    return ready is not None and clock.now() < ready


def _rds_status() -> property:
    def get(self: Any) -> str:
        return "creating" if _held(self) else self.__dict__.get("_draco_status", self.__dict__.get("status", ""))

    def put(self: Any, value: str) -> None:
        self.__dict__["_draco_status"] = value

    return property(get, put)


def _volume_status() -> property:
    def get(self: Any) -> str:
        if _held(self):
            return "creating"
        if self.__dict__.get(_UNUSABLE):
            return FAILED
        return _originals[(Volume, "status")].fget(self)

    return property(get)


def _check_quota(backend: RDSBackend) -> None:
    if len(backend.databases) >= INSTANCE_QUOTA:
        raise RDSClientError("InstanceQuotaExceeded", f"DB instance quota of {INSTANCE_QUOTA} reached")


def _restore_instance(self: RDSBackend, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    snapshot_id = split_arn(from_snapshot_id)[3] if from_snapshot_id.startswith("arn:") else from_snapshot_id
    snapshot = self.describe_db_snapshots(db_instance_identifier=None, db_snapshot_identifier=snapshot_id)[0]
    if snapshot.encrypted and not _key_usable(self.account_id, self.region_name, snapshot.kms_key_id):
        raise KMSKeyNotAccessibleFault(snapshot.kms_key_id)
    _check_quota(self)
    made = _originals[(RDSBackend, "restore_db_instance_from_db_snapshot")](self, from_snapshot_id, overrides)
    _hold(made, "RDS", int(made.allocated_storage or 0), made.db_instance_class)
    return made


def _restore_cluster(self: RDSBackend, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    found = self.describe_db_cluster_snapshots(db_cluster_identifier=None, db_snapshot_identifier=from_snapshot_id)
    snapshot = found[0]
    subnet_group = overrides.get("db_subnet_group_name") or overrides.get("DBSubnetGroupName")
    if subnet_group and subnet_group not in self.subnet_groups:
        raise DBSubnetGroupNotFoundError(subnet_group)
    if snapshot.encrypted and not _key_usable(self.account_id, self.region_name, snapshot.kms_key_id):
        raise KMSKeyNotAccessibleFault(snapshot.kms_key_id)
    made = _originals[(RDSBackend, "restore_db_cluster_from_snapshot")](self, from_snapshot_id, overrides)
    made.kms_key_id = overrides.get("kms_key_id") or snapshot.kms_key_id
    made.storage_encrypted = snapshot.encrypted
    made.__dict__["_draco_restored_gb"] = int(snapshot.allocated_storage or 0)
    return made


def _cluster_cfg(self: Any) -> dict[str, Any]:
    if "_master_user_password" not in self.__dict__:  # a Neptune cluster: it has none
        self.__dict__["_master_user_password"] = None
    return _originals[(DBCluster, "get_cfg")](self)


def _create_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
    cluster = self.clusters.get(db_kwargs.get("db_cluster_identifier") or "")
    restored = cluster is not None and "_draco_restored_gb" in cluster.__dict__
    if restored:
        _check_quota(self)
    made = _originals[(RDSBackend, "create_db_instance")](self, db_kwargs)
    if restored:
        _hold(made, "RDS Cluster", cluster.__dict__["_draco_restored_gb"], made.db_instance_class)
    return made


def _delete_cluster(self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
    gone = _originals[(RDSBackend, "delete_db_cluster")](self, cluster_identifier, snapshot_name)
    for snapshot_id, snapshot in list(self.cluster_snapshots.items()):
        if snapshot.snapshot_type == "automated" and snapshot.db_cluster_identifier == cluster_identifier:
            del self.cluster_snapshots[snapshot_id]
    return gone


def _create_volume(self: EBSBackend, size: int, zone_name: str, snapshot_id: str | None = None, **rest: Any) -> Any:
    made = _originals[(EBSBackend, "create_volume")](self, size, zone_name, snapshot_id, **rest)
    if snapshot_id:
        snapshot = self.get_snapshot(snapshot_id)
        if snapshot.encrypted:
            made.kms_key_id = made.kms_key_id if rest.get("kms_key_id") else snapshot.kms_key_id
            if not _key_usable(self.account_id, self.region_name, made.kms_key_id):  # type: ignore[attr-defined]
                made.__dict__[_UNUSABLE] = True
        _hold(made, "EBS", int(made.size), "")
    return made


RESTORE_FILLS: dict[tuple[type, str], Any] = {
    (RDSBackend, "restore_db_instance_from_db_snapshot"): _restore_instance,
    (RDSBackend, "restore_db_cluster_from_snapshot"): _restore_cluster,
    (RDSBackend, "create_db_instance"): _create_instance,
    (DBCluster, "get_cfg"): _cluster_cfg,
    (RDSBackend, "delete_db_cluster"): _delete_cluster,
    (DBInstance, "status"): _rds_status(),
    (Volume, "status"): _volume_status(),
    (EBSBackend, "create_volume"): _create_volume,
}
