"""What bootstrap takes from the snapshot kinds: their IAM statements and the event sources to create.

THE ONE KIND-SPECIFIC PLACE OF BOOTSTRAP. Until ``chalicelib_shared.kinds``
becomes a package whose kinds declare ``statements(side, ctx)`` and
``event_sources(side)`` themselves, this module holds those parts for today's
two RDS kinds, with the same types; once it lands, this module only re-exports
the registry's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib_shared.kinds import KINDS as _TODAYS_KINDS
from chalicelib_shared.naming import DR_PREFIX, TRANSIT_PREFIX, TRANSIT_TAG


class Side(enum.StrEnum):
    PRODUCER = "producer"
    CONSUMER = "consumer"


@dataclass(frozen=True)
class RdsEventSubscription:
    """An RDS event subscription to the app's topic, for one RDS source type."""

    source_type: str


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule sending matching events to the app's topic."""

    name: str
    pattern: Mapping[str, Any]


EventSource = RdsEventSubscription | EventRule


@dataclass(frozen=True)
class PolicyContext:
    """What a kind's IAM statements are scoped by: the role's account and its peers."""

    partition: str
    region: str
    account: str
    peers: tuple[str, ...]
    tag_key: str
    tag_value: str
    peer_region: str = ""

    def arn(self, service: str, resource: str, *, account: str | None = None, region: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{account or self.account}:{resource}"

    @property
    def source_region(self) -> str:
        return self.peer_region or self.region


@dataclass(frozen=True)
class _RdsParts:
    name: str
    label: str
    resource: str  # in ARNs
    operations: str  # the API's noun: "DBSnapshot" or "DBClusterSnapshot"
    event_source: str
    subscribe_in_dr: bool
    tag_condition: str
    service: str = "rds"

    def arn(self, partition: str, region: str, account: str, snapshot_id: str) -> str:
        return f"arn:{partition}:rds:{region}:{account}:{self.resource}:{snapshot_id}"

    def event_sources(self, side: Side) -> tuple[EventSource, ...]:
        if side is Side.CONSUMER and not self.subscribe_in_dr:
            return ()
        return (RdsEventSubscription(self.event_source),)

    def statements(self, side: Side, ctx: PolicyContext) -> list[dict[str, Any]]:
        act = self.operations
        read = {
            "Sid": f"Read{self.label}Snapshots",
            "Effect": "Allow",
            "Action": [f"rds:Describe{act}s", "rds:DescribeAccountAttributes"],
            "Resource": "*",
        }
        if side is Side.PRODUCER:
            transit = ctx.arn("rds", f"{self.resource}:{TRANSIT_PREFIX}*")
            return [
                read,
                {
                    "Sid": f"Copy{self.label}SnapshotsIntoTransitCopies",
                    "Effect": "Allow",
                    "Action": f"rds:Copy{act}",
                    "Resource": [ctx.arn("rds", f"{self.resource}:*")],
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
                    "Action": f"rds:Modify{act}Attribute",
                    "Resource": transit,
                },
                {
                    "Sid": f"DeleteOnlyTransit{self.label}Snapshots",
                    "Effect": "Allow",
                    "Action": f"rds:Delete{act}",
                    "Resource": transit,
                    "Condition": {"StringEquals": {f"rds:{self.tag_condition}/{TRANSIT_TAG}": "true"}},
                },
            ]
        dr_copies = [ctx.arn("rds", f"{self.resource}:{DR_PREFIX}{peer}-*") for peer in ctx.peers]
        shared = [
            ctx.arn("rds", f"{self.resource}:{TRANSIT_PREFIX}*", account=peer, region=ctx.source_region)
            for peer in ctx.peers
        ]
        return [
            read,
            {
                "Sid": f"Copy{self.label}TransitCopiesIntoDrCopies",
                "Effect": "Allow",
                "Action": f"rds:Copy{act}",
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
                "Action": f"rds:Delete{act}",
                "Resource": dr_copies,
                "Condition": {"StringEquals": {f"rds:{self.tag_condition}/{ctx.tag_key}": ctx.tag_value}},
            },
        ]


_PARTS = (
    _RdsParts("RDS", "DBInstance", "snapshot", "DBSnapshot", "db-snapshot", True, "snapshot-tag"),
    _RdsParts(
        "RDS Cluster",
        "DBCluster",
        "cluster-snapshot",
        "DBClusterSnapshot",
        "db-cluster-snapshot",
        False,
        "cluster-snapshot-tag",
    ),
)
KINDS = {parts.name: parts for parts in _PARTS if parts.name in _TODAYS_KINDS}
