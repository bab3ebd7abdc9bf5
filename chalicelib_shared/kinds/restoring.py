"""Restoring a DR copy: what every kind's restore answers, whatever AWS calls it.

A restore drill (``chalicelib_shared.drills``) asks a kind for its
``RestoreApi`` (``kind.restores(client)``) and never branches on a kind. Each
kind's restore lives beside its copy: ``rds_restore`` (DB instances, and DB
clusters of Aurora, DocumentDB and Neptune) and ``ebs_restore`` (volumes).

Every resource a drill makes carries ``DRILL_TAG`` (the drill's id) from the
call that makes it, so DR's drill role may delete only what carries it and a
sweep finds what a drill left behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chalicelib_shared.kinds.base import Phase

DRILL_TAG = "Draco_Drill"  # the drill's id, on everything a drill makes
DRILL_SOURCE_TAG = "Draco_Drill_Source"  # the source drilled (account#kind#name)
DRILL_STARTED_TAG = "Draco_Drill_Started"  # ISO time the drill started: the sweep ages leftovers by it
DRILL_KEEP_TAG = "Draco_Drill_Keep"  # "true": left for use (``draco drill --keep``), never swept

#: The smallest instance class each engine allows, for drills that don't name one. From AWS's
#: engine guides: RDS for MySQL, MariaDB and PostgreSQL run on db.t3.micro
#: (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Support.html);
#: Aurora's smallest provisioned class is db.t3.medium
#: (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.SupportAurora.html);
#: DocumentDB supports T3 and T4G, the smallest being db.t3.medium
#: (https://docs.aws.amazon.com/documentdb/latest/developerguide/db-instance-classes.html);
#: Neptune's smallest is db.t3.medium
#: (https://docs.aws.amazon.com/neptune/latest/userguide/manage-console-instances-t3.html).
#: An engine not listed (Oracle, SQL Server, Db2: their smallest class depends on edition and
#: licence) gets AWS's default for a restore, the source's own class, unless the operator names one.
SMALLEST_CLASS: Mapping[str, str] = {
    "mysql": "db.t3.micro",
    "mariadb": "db.t3.micro",
    "postgres": "db.t3.micro",
    "aurora-mysql": "db.t3.medium",
    "aurora-postgresql": "db.t3.medium",
    "docdb": "db.t3.medium",
    "neptune": "db.t3.medium",
}


def instance_class_for(engine: str, chosen: str = "") -> str:
    """The class a drill restores ``engine`` into: the operator's, else the smallest ("": AWS's default)."""
    return chosen or SMALLEST_CLASS.get(engine, "")


@dataclass(frozen=True)
class Place:
    """Where drills restore: an isolated network the operator names (empty: AWS's defaults)."""

    subnet_group: str = ""  # DB subnet group (RDS kinds)
    security_groups: tuple[str, ...] = ()
    zone: str = ""  # availability zone (required by EBS; first of the Region when empty)


@dataclass(frozen=True)
class RestoreSource:
    """A DR copy as a restore needs it."""

    snapshot_id: str
    engine: str  # "" for EBS
    engine_version: str
    size_gb: int
    encrypted: bool
    kms_key: str  # the key the copy is encrypted under ("" when it isn't)


@dataclass(frozen=True)
class Restored:
    """A resource a drill restored, as AWS describes it."""

    resource_id: str
    status: str  # the service's own word
    phase: Phase  # READY: usable
    engine: str
    size_gb: int
    encrypted: bool
    kms_key: str
    endpoint: str = ""  # address clients connect to ("" for volumes)
    port: int = 0
    instance_class: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None


class RestoreApi(Protocol):
    """One kind's restores in one account and Region."""

    def source(self, snapshot_id: str) -> RestoreSource | None:
        """The DR copy with this id, as a restore needs it; ``None`` when there is none."""

    def restore(
        self, source: RestoreSource, name: str, place: Place, instance_class: str, tags: Mapping[str, str]
    ) -> None:
        """Start restoring ``source`` as ``name``, never publicly accessible; a repeat finds what it started."""

    def describe(self, name: str) -> Restored | None:
        """What ``name`` restored; ``None`` when nothing by that name exists."""

    def delete(self, name: str) -> bool:
        """Delete what ``name`` made, with no final snapshot; ``True`` once nothing of it is left."""

    def drilled(self) -> Iterator[Restored]:
        """Everything of this kind in the account that carries ``DRILL_TAG``."""


def key_id(key: str) -> str:
    """A KMS key's id, from its id or ARN (compares the two forms)."""
    return key.rsplit("/", 1)[-1] if key.startswith("arn:") else key
