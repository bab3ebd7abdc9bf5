"""Restoring RDS copies: a DB instance from a DB snapshot, a DB cluster from a cluster snapshot.

* **DB instance**: ``RestoreDBInstanceFromDBSnapshot``, Single-AZ, never
  publicly accessible, without deletion protection (a drill must delete it).
  Without ``KmsKeyId`` RDS encrypts the instance under the snapshot's key:
  here DR's key (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html).
* **DB cluster** (Aurora, DocumentDB, Neptune: one RDS API, told apart by
  ``Engine``): ``RestoreDBClusterFromSnapshot`` makes a cluster with no
  instance, so the restore adds one with ``CreateDBInstance``
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-restore-snapshot.html).
  The cluster is usable when both are ``available``. Deleting it is two
  steps: the instance first (AWS refuses to delete a cluster that still has
  one), then the cluster, each with no final snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.kinds.base import Phase
from chalicelib_shared.kinds.restoring import DRILL_TAG, Place, Restored, RestoreSource
from chalicelib_shared.naming import aws_tags, tag_dict

_GONE_INSTANCE = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
_GONE_CLUSTER = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
_GONE_SNAPSHOT = frozenset(
    {"DBSnapshotNotFound", "DBSnapshotNotFoundFault", "DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}
)
_EXISTS = frozenset({"DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault", "DBClusterAlreadyExistsFault"})
_BUSY = frozenset({"InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault"})
FAILED_STATUSES = frozenset({"failed", "incompatible-restore", "incompatible-parameters", "storage-full",
                             "inaccessible-encryption-credentials", "inaccessible-encryption-credentials-recoverable",
                             "restore-error"})  # fmt: skip


def member_name(cluster: str) -> str:
    """The one DB instance a drill adds to a restored cluster."""
    return f"{cluster}-1"


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _phase(status: str) -> Phase:
    return Phase.READY if status == "available" else Phase.FAILED if status in FAILED_STATUSES else Phase.IN_PROGRESS


def _network(place: Place) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if place.subnet_group:
        params["DBSubnetGroupName"] = place.subnet_group
    if place.security_groups:
        params["VpcSecurityGroupIds"] = list(place.security_groups)
    return params


class _Rds:
    def __init__(self, client: Any) -> None:
        self._rds = client

    def _instance(self, name: str) -> dict[str, Any] | None:
        try:
            found = self._rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
        except ClientError as err:
            if _code(err) in _GONE_INSTANCE:
                return None
            raise
        return found[0] if found else None

    def _delete_instance(self, name: str) -> bool:
        """Ask for the instance's deletion; ``True`` when it is gone already."""
        found = self._instance(name)
        if found is None:
            return True
        if found.get("DBInstanceStatus") != "deleting":
            try:
                self._rds.delete_db_instance(
                    DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
                )
            except ClientError as err:
                if _code(err) in _GONE_INSTANCE:
                    return True
                if _code(err) not in _BUSY:  # still creating: asked again at the next step
                    raise
        return self._instance(name) is None


class InstanceRestores(_Rds):
    """DB instances restored from DB snapshots (the ``RDS`` kind's ``RestoreApi``)."""

    def source(self, snapshot_id: str) -> RestoreSource | None:
        try:
            found = self._rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"]
        except ClientError as err:
            if _code(err) in _GONE_SNAPSHOT:
                return None
            raise
        if not found:
            return None
        item = found[0]
        return RestoreSource(
            snapshot_id=item["DBSnapshotIdentifier"],
            engine=str(item.get("Engine", "")),
            engine_version=str(item.get("EngineVersion", "")),
            size_gb=int(item.get("AllocatedStorage") or 0),
            encrypted=bool(item.get("Encrypted")),
            kms_key=str(item.get("KmsKeyId") or ""),
        )

    def restore(
        self, source: RestoreSource, name: str, place: Place, instance_class: str, tags: Mapping[str, str]
    ) -> None:
        params: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "DBSnapshotIdentifier": source.snapshot_id,
            "PubliclyAccessible": False,
            "MultiAZ": False,
            "DeletionProtection": False,
            "Tags": aws_tags(tags),
            **_network(place),
        }
        if instance_class:
            params["DBInstanceClass"] = instance_class
        if place.zone:
            params["AvailabilityZone"] = place.zone
        try:
            self._rds.restore_db_instance_from_db_snapshot(**params)
        except ClientError as err:
            if _code(err) not in _EXISTS:
                raise

    def describe(self, name: str) -> Restored | None:
        item = self._instance(name)
        return _restored_instance(item) if item else None

    def delete(self, name: str) -> bool:
        return self._delete_instance(name)

    def drilled(self) -> Iterator[Restored]:
        for page in self._rds.get_paginator("describe_db_instances").paginate():
            for item in page["DBInstances"]:
                # A drilled cluster's instance is deleted with its cluster (``ClusterRestores``).
                if DRILL_TAG in tag_dict(item.get("TagList", [])) and not item.get("DBClusterIdentifier"):
                    yield _restored_instance(item)


def _restored_instance(item: Mapping[str, Any]) -> Restored:
    endpoint = item.get("Endpoint") or {}
    status = str(item.get("DBInstanceStatus", ""))
    return Restored(
        resource_id=item["DBInstanceIdentifier"],
        status=status,
        phase=_phase(status),
        engine=str(item.get("Engine", "")),
        size_gb=int(item.get("AllocatedStorage") or 0),
        encrypted=bool(item.get("StorageEncrypted")),
        kms_key=str(item.get("KmsKeyId") or ""),
        endpoint=str(endpoint.get("Address", "")),
        port=int(endpoint.get("Port") or 0),
        instance_class=str(item.get("DBInstanceClass", "")),
        tags=tag_dict(item.get("TagList", [])),
        created=item.get("InstanceCreateTime"),
    )


class ClusterRestores(_Rds):
    """DB clusters restored from cluster snapshots, with one instance (the ``RDS Cluster`` kind's)."""

    def source(self, snapshot_id: str) -> RestoreSource | None:
        try:
            found = self._rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
        except ClientError as err:
            if _code(err) in _GONE_SNAPSHOT:
                return None
            raise
        items = found["DBClusterSnapshots"]
        if not items:
            return None
        item = items[0]
        return RestoreSource(
            snapshot_id=item["DBClusterSnapshotIdentifier"],
            engine=str(item.get("Engine", "")),
            engine_version=str(item.get("EngineVersion", "")),
            size_gb=int(item.get("AllocatedStorage") or 0),
            encrypted=bool(item.get("StorageEncrypted")),
            kms_key=str(item.get("KmsKeyId") or ""),
        )

    def restore(
        self, source: RestoreSource, name: str, place: Place, instance_class: str, tags: Mapping[str, str]
    ) -> None:
        cluster: dict[str, Any] = {
            "DBClusterIdentifier": name,
            "SnapshotIdentifier": source.snapshot_id,
            "Engine": source.engine,
            "DeletionProtection": False,
            "Tags": aws_tags(tags),
            **_network(place),
        }
        if source.engine_version:
            cluster["EngineVersion"] = source.engine_version
        if place.zone:
            cluster["AvailabilityZones"] = [place.zone]
        try:
            self._rds.restore_db_cluster_from_snapshot(**cluster)
        except ClientError as err:
            if _code(err) not in _EXISTS:
                raise
        member: dict[str, Any] = {
            "DBInstanceIdentifier": member_name(name),
            "DBClusterIdentifier": name,
            "Engine": source.engine,
            "DBInstanceClass": instance_class or "db.t3.medium",  # CreateDBInstance requires one
            "PubliclyAccessible": False,
            "Tags": aws_tags(tags),
        }
        if place.zone:
            member["AvailabilityZone"] = place.zone
        try:
            self._rds.create_db_instance(**member)
        except ClientError as err:
            if _code(err) not in _EXISTS:
                raise

    def _cluster(self, name: str) -> dict[str, Any] | None:
        try:
            found = self._rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"]
        except ClientError as err:
            if _code(err) in _GONE_CLUSTER:
                return None
            raise
        return found[0] if found else None

    def describe(self, name: str) -> Restored | None:
        cluster = self._cluster(name)
        return self._restored(cluster) if cluster else None

    def _restored(self, cluster: Mapping[str, Any]) -> Restored:
        name = cluster["DBClusterIdentifier"]
        member = self._instance(member_name(name)) or {}
        statuses = (str(cluster.get("Status", "")), str(member.get("DBInstanceStatus", "missing")))
        status = statuses[0] if statuses[0] != "available" else statuses[1]
        return Restored(
            resource_id=name,
            status=status,
            phase=Phase.READY if statuses == ("available", "available") else _phase(status),
            engine=str(cluster.get("Engine", "")),
            size_gb=int(cluster.get("AllocatedStorage") or 0),
            encrypted=bool(cluster.get("StorageEncrypted")),
            kms_key=str(cluster.get("KmsKeyId") or ""),
            endpoint=str(cluster.get("Endpoint", "")),
            port=int(cluster.get("Port") or 0),
            instance_class=str(member.get("DBInstanceClass", "")),
            tags=tag_dict(cluster.get("TagList", [])),
            created=cluster.get("ClusterCreateTime"),
        )

    def delete(self, name: str) -> bool:
        if not self._delete_instance(member_name(name)):
            return False
        cluster = self._cluster(name)
        if cluster is None:
            return True
        if cluster.get("Status") != "deleting":
            try:
                self._rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
            except ClientError as err:
                if _code(err) in _GONE_CLUSTER:
                    return True
                if _code(err) not in _BUSY:
                    raise
        return self._cluster(name) is None

    def drilled(self) -> Iterator[Restored]:
        for page in self._rds.get_paginator("describe_db_clusters").paginate():
            for item in page["DBClusters"]:
                if DRILL_TAG in tag_dict(item.get("TagList", [])):
                    yield self._restored(item)
