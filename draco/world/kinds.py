"""How the local world plays AWS for each snapshot kind: one adapter per kind, by SnapshotType.

The world (``draco.world.core``) knows nothing of any kind: it asks the adapter of
a source's kind to create the source, take a snapshot of it and say what AWS
sends when that happens, to list an account's snapshots of the kind in moto's
memory, and to say what AWS sends when a copy finishes. Each adapter sends
what its service sends:

* **RDS** (DB instances and DB clusters): an RDS event notification, SNS
  Subject ``RDS Notification Message``; copies go ``creating`` then
  ``available``, with RDS-EVENT-0197 (0060 across Regions) for DB instance copies only.
* **EBS**: the EventBridge event itself, as an EventBridge rule delivers it to
  a topic (no Subject); snapshots go ``pending`` then ``completed``, with a
  ``copySnapshot`` event in the account that made the copy.

Sources and their snapshots are production's, in the world's ``region``;
copies may be in any account and Region (``snapshots``, ``copy_finished``
name both), and AWS's notice of a finished copy names the Region it is in.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from chalicelib_shared import clock
from chalicelib_shared.kinds.ebs import NOTIFICATION
from chalicelib_shared.kinds.notices import RDS_SUBJECT
from chalicelib_shared.naming import aws_tags


@dataclass(frozen=True)
class Notification:
    """What AWS publishes to an app's topic: an SNS Subject (``None``: none) and a JSON body."""

    subject: str | None
    body: Mapping[str, Any]


class World(Protocol):
    """What the adapters need of the world."""

    region: str  # production's
    prod_account: str

    def client(self, service: str, account: str, region: str | None = None) -> Any: ...

    def prod_key(self) -> str: ...


class WorldKind(ABC):
    """One kind's snapshots in the local world."""

    kind: str  # SnapshotType
    label: str  # how ``WorldStats.in_flight_peak`` names its copies
    copying: str  # the status of a copy in progress
    ready: str  # the status of a finished snapshot
    failed: str  # the status of a copy that failed

    @abstractmethod
    def add_source(self, world: World, name: str, tags: Mapping[str, str], encrypted: bool, **options: Any) -> str:
        """Create a production source; returns its source name."""

    @abstractmethod
    def take(self, world: World, account: str, source: str, automated: bool) -> tuple[str, Notification]:
        """Take a snapshot of ``source`` now, as AWS would; returns its id and AWS's notification."""

    @abstractmethod
    def snapshots(self, world: World, account: str, region: str) -> Mapping[str, Any]:
        """moto's records of the account's snapshots of this kind in ``region``, by id."""

    @abstractmethod
    def copy_finished(
        self, world: World, account: str, region: str, snapshot_id: str, snapshot: Any
    ) -> Notification | None:
        """What AWS sends when a copy made in ``account`` and ``region`` is ready (``None``: nothing)."""

    @abstractmethod
    def view(self, snapshot: Any) -> tuple[str, tuple[tuple[str, str], ...], str]:
        """A snapshot as ``LocalWorld.state`` compares it: status, sorted tags, snapshot type."""


# --- RDS ------------------------------------------------------------------------------------


class RdsWorld(WorldKind):
    copying, ready, failed = "creating", "available", "failed"

    def __init__(self, kind: str, cluster: bool) -> None:
        self.kind = kind
        self.cluster = cluster
        self.label = "cluster" if cluster else "instance"

    def add_source(self, world: World, name: str, tags: Mapping[str, str], encrypted: bool, **options: Any) -> str:
        """A DB instance (postgres) or cluster (``engine``, default aurora-postgresql), tags copied to snapshots."""
        params: dict[str, Any] = {
            "MasterUsername": "admin",
            "MasterUserPassword": "not-a-secret-1",
            "CopyTagsToSnapshot": True,
            "Tags": aws_tags(tags),
        }
        if encrypted:
            params.update(StorageEncrypted=True, KmsKeyId=world.prod_key())
        rds = world.client("rds", world.prod_account)
        if self.cluster:
            rds.create_db_cluster(DBClusterIdentifier=name, Engine=options.get("engine", "aurora-postgresql"), **params)
        else:
            instance = {"Engine": "postgres", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": 20}
            rds.create_db_instance(DBInstanceIdentifier=name, **instance, **params)
        # moto takes an automated snapshot when a database is created; the world's start with none.
        snapshots = self.snapshots(world, world.prod_account, world.region)
        for snapshot_id in [sid for sid in snapshots if sid.startswith(f"rds:{name}-")]:
            del snapshots[snapshot_id]  # type: ignore[attr-defined]
        return name

    def take(self, world: World, account: str, source: str, automated: bool) -> tuple[str, Notification]:
        stamp = clock.now().strftime("%Y-%m-%d-%H-%M")
        if automated:
            snapshot_id = f"rds:{source}-{stamp}"
            backend = rds_backends[account][world.region]
            make = backend.create_auto_cluster_snapshot if self.cluster else backend.create_auto_snapshot
            make(source, snapshot_id)
            event = "RDS-EVENT-0169" if self.cluster else "RDS-EVENT-0091"
        else:
            room = (63 if self.cluster else 255) - len(stamp) - 1  # a person names it within AWS's limit
            snapshot_id = f"{source[:room].rstrip('-')}-{stamp}"
            rds = world.client("rds", account)
            if self.cluster:
                rds.create_db_cluster_snapshot(DBClusterIdentifier=source, DBClusterSnapshotIdentifier=snapshot_id)
            else:
                rds.create_db_snapshot(DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot_id)
            event = "RDS-EVENT-0075" if self.cluster else "RDS-EVENT-0042"
        return snapshot_id, self.notification(world.region, event, snapshot_id)

    def snapshots(self, world: World, account: str, region: str) -> Mapping[str, Any]:
        backend = rds_backends[account][region]
        return backend.cluster_snapshots if self.cluster else backend.database_snapshots

    def copy_finished(
        self, world: World, account: str, region: str, snapshot_id: str, snapshot: Any
    ) -> Notification | None:
        """For DB instance snapshot copies RDS-EVENT-0197, or 0060 for one copied from another Region
        (DR's, with DR elsewhere than production); AWS sends nothing for cluster copies."""
        across = account != world.prod_account and region != world.region
        return (
            None
            if self.cluster
            else self.notification(region, "RDS-EVENT-0060" if across else "RDS-EVENT-0197", snapshot_id)
        )

    def view(self, snapshot: Any) -> tuple[str, tuple[tuple[str, str], ...], str]:
        tags = tuple(sorted((t["Key"], t["Value"]) for t in snapshot.tags))
        return snapshot.status, tags, snapshot.snapshot_type

    def notification(self, region: str, event_id: str, source_id: str) -> Notification:
        """An RDS event notification about a snapshot in ``region``, as RDS publishes it."""
        body = {
            "Event Source": "db-cluster-snapshot" if self.cluster else "db-snapshot",
            "Event Time": clock.now().strftime("%Y-%m-%d %H:%M:%S.000"),
            "Identifier Link": f"https://console.aws.amazon.com/rds/home?region={region}#snapshot:id={source_id}",
            "Source ID": source_id,
            "Event ID": f"http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event_id}",
            "Event Message": event_id,
        }
        return Notification(RDS_SUBJECT, body)


# --- EBS ------------------------------------------------------------------------------------


class EbsWorld(WorldKind):
    kind, label = "EBS", "ebs"
    copying, ready, failed = "pending", "completed", "error"

    def add_source(self, world: World, name: str, tags: Mapping[str, str], encrypted: bool, **options: Any) -> str:
        """An 8 GiB volume (``name`` becomes its Name tag); its id is the source name."""
        params: dict[str, Any] = {"Size": 8, "AvailabilityZone": f"{world.region}a"}
        volume_tags = {**tags, **({"Name": name} if name else {})}
        if volume_tags:
            params["TagSpecifications"] = [{"ResourceType": "volume", "Tags": aws_tags(volume_tags)}]
        if encrypted:
            params.update(Encrypted=True, KmsKeyId=world.prod_key())
        return world.client("ec2", world.prod_account).create_volume(**params)["VolumeId"]

    def take(self, world: World, account: str, source: str, automated: bool) -> tuple[str, Notification]:
        """A snapshot of the volume (EBS copies none of the volume's tags to it)."""
        if automated:
            raise ValueError("EBS takes no automated snapshots: a volume's snapshots are all made by a request")
        snapshot_id = world.client("ec2", account).create_snapshot(VolumeId=source)["SnapshotId"]
        volume = _event_arn(world.region, "volume", source)
        return snapshot_id, self.event(world.region, account, "createSnapshot", snapshot_id, volume)

    def snapshots(self, world: World, account: str, region: str) -> Mapping[str, Any]:
        """The account's own snapshots (moto keeps public ones beside them)."""
        if region not in ec2_backends[account].keys():  # no EC2 call made there yet: none
            return {}
        everything = ec2_backends[account][region].snapshots
        return {sid: snapshot for sid, snapshot in everything.items() if snapshot.owner_id == account}

    def copy_finished(
        self, world: World, account: str, region: str, snapshot_id: str, snapshot: Any
    ) -> Notification | None:
        """The copySnapshot event names the source in its own Region (``moto_gaps`` records it)."""
        source_region = getattr(snapshot, "source_region", region)
        source = _event_arn(source_region, "snapshot", getattr(snapshot, "source_snapshot_id", ""))
        return self.event(region, account, "copySnapshot", snapshot_id, source)

    def view(self, snapshot: Any) -> tuple[str, tuple[tuple[str, str], ...], str]:
        return snapshot.status, tuple(sorted((t["key"], t["value"]) for t in snapshot.get_tags())), ""

    @staticmethod
    def event(region: str, account: str, event: str, snapshot_id: str, source: str) -> Notification:
        """An ``EBS Snapshot Notification`` in ``region`` that succeeded, as EventBridge sends it to a rule's topic."""
        now = clock.iso(clock.now())
        arn = _event_arn(region, "snapshot", snapshot_id)
        detail = {
            "event": event,
            "result": "succeeded",
            "cause": "",
            "request-id": "",
            "snapshot_id": arn,
            "source": source,
            "startTime": now,
            "endTime": now,
        }
        if event == "copySnapshot":
            detail["incremental"] = "false"
        body = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": NOTIFICATION,
            "source": "aws.ec2",
            "account": account,
            "time": now,
            "region": region,
            "resources": [arn],
            "detail": detail,
        }
        return Notification(None, body)


def _event_arn(region: str, resource: str, resource_id: str) -> str:
    """An ARN as EBS events write it: the Region where the account would be."""
    return f"arn:aws:ec2::{region}:{resource}/{resource_id}"


WORLD_KINDS: dict[str, WorldKind] = {
    adapter.kind: adapter
    for adapter in (RdsWorld("RDS", cluster=False), RdsWorld("RDS Cluster", cluster=True), EbsWorld())
}
"""The world's adapter of each kind, by SnapshotType (a test checks every registered kind has one)."""
