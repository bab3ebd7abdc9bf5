"""The snapshot kind protocol: the one place where kinds of snapshot differ.

A kind is one module of this package holding two things:

* a ``SnapshotKind``: what the kind *is*, with no AWS client: its
  ``SnapshotType`` in messages, its ARNs, which of its events mean "snapshot
  created" or "copy finished", its copy limit and the setting that changes it,
  the IAM statements each app's role needs for it and the event sources
  bootstrap must create;
* the ``SnapshotApi`` it binds to an AWS client (``kind.api(client)``):
  describe, copy, share, delete, lock, quota, finding its own copies.

Messages, naming, the use-cases, config, handlers, bootstrap, status and the
local world ask the registry (``chalicelib_shared.kinds``) and never branch on
a kind, so a new kind is one new module and one line of registration.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib_shared.kinds.restoring import RestoreApi

#: Other AWS features that make and keep snapshots of their own, as a kind recognises them
#: (``Snapshot.managed_by``): production asks DR about theirs only when told to (``COPY_MANAGED_SNAPSHOTS``).
MANAGERS: Mapping[str, str] = {
    "ami": "an AMI (its EBS snapshots back the image)",
    "backup": "AWS Backup",
    "dlm": "Amazon Data Lifecycle Manager",
}


class Phase(enum.StrEnum):
    """Where a snapshot stands, whatever the kind calls it."""

    READY = "ready"  # usable: RDS "available", EBS "completed"
    IN_PROGRESS = "in progress"
    FAILED = "failed"  # will never become ready


@dataclass(frozen=True)
class SnapshotArn:
    """A snapshot ARN taken apart; ``kind`` is the ``SnapshotType`` of messages."""

    partition: str
    region: str
    account: str
    kind: str
    snapshot_id: str


@dataclass(frozen=True)
class Snapshot:
    """What DRACO needs to know about one snapshot, as AWS records it."""

    snapshot_id: str
    arn: str
    name: str  # DRACO's name for it: the id, or (kinds whose ids AWS chooses) the name DRACO gave its copy
    source_name: str  # the database or volume it was taken from ("" when AWS doesn't say)
    status: str  # the kind's own word, for people
    phase: Phase
    created: datetime  # when the data was captured if ``original_time``, else when this snapshot was made
    encrypted: bool
    snapshot_type: str  # RDS: manual, automated, shared, awsbackup; EBS: ""
    tags: Mapping[str, str] = field(default_factory=dict)
    size_gb: int = 0
    owner: str = ""  # the account that owns it
    copied_from: str = ""  # the ARN it was copied from, as AWS records it ("" when AWS keeps none)
    original_time: bool = False  # ``created`` is AWS's record of the source data's time, kept across copies
    managed_by: str = ""  # the other AWS feature that made it and keeps it (``MANAGERS``); "" when none does


@dataclass(frozen=True)
class CopyStart:
    """A copy asked for: its id, and whether this call started it (``False``: it existed already)."""

    copy_id: str
    arn: str  # "" when AWS answers with the id only (EC2): the copy is in the caller's account and Region
    started: bool


@dataclass(frozen=True)
class Quota:
    """A snapshot quota of the account: how many are used of how many allowed."""

    used: int
    max: int


class EventType(enum.StrEnum):
    CREATED = "created"  # a snapshot of a source was taken
    COPY_FINISHED = "copy finished"  # a copy made in this account and Region ended (ready or failed)


@dataclass(frozen=True)
class SnapshotEvent:
    """A kind's event, read from whatever format AWS sends it in."""

    kind: str
    type: EventType
    snapshot_id: str
    account: str = ""  # empty when the format doesn't say (RDS notifications)
    region: str = ""
    failed: bool = False


class NoticeFormat(enum.StrEnum):
    RDS_NOTIFICATION = "RDS notification"  # an RDS event subscription's SNS message
    EVENTBRIDGE = "EventBridge event"  # an EventBridge rule's SNS message: the event itself


@dataclass(frozen=True)
class Notice:
    """An AWS notification that reached an app's topic, parsed only as far as its format."""

    format: NoticeFormat
    doc: Mapping[str, Any]


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
    region: str  # where the app runs
    account: str  # the account whose role this is
    peers: tuple[str, ...]  # producer: the DR account; consumer: the source accounts
    tag_key: str  # TAG_KEY/TAG_VALUE: the tag on every DR copy
    tag_value: str
    peer_region: str = ""  # where the peers' snapshots are ("": the same Region)

    def arn(self, service: str, resource: str, *, account: str | None = None, region: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{account or self.account}:{resource}"

    @property
    def source_region(self) -> str:
        """The Region of the production snapshots and transit copies."""
        return self.peer_region or self.region

    @property
    def across_regions(self) -> bool:
        """DR is in another Region than production."""
        return self.source_region != self.region


class SnapshotApi(Protocol):
    """One kind's snapshots in one account and Region (a kind bound to an AWS client)."""

    def describe(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot with this id owned by this account, or ``None``."""

    def describe_many(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """Those of these snapshots that exist, by id, in as few calls as the API allows."""

    def owned(self) -> Iterator[Snapshot]:
        """Every snapshot of this kind this account owns (for operators' reports and checks)."""

    def recent(self, since: datetime) -> Iterator[Snapshot]:
        """This account's finished snapshots made since ``since``, DRACO's own copies included."""

    def shared(self, arn: str) -> Snapshot | None:
        """A snapshot another account shares with this one; ``None`` unless it is shared with it."""

    def announce(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot with what it lacks on its own for a copy request (EBS: its volume's tags)."""

    def find_copy(self, name: str) -> Snapshot | None:
        """DRACO's copy called ``name`` in this account (by id, or by its name tag)."""

    def copy(
        self, source_arn: str, name: str, kms_key_id: str | None, tags: Mapping[str, str], source_region: str = ""
    ) -> CopyStart:
        """Copy ``source_arn`` into a copy called ``name``; a repeat finds the copy it started."""

    def share(self, snapshot_id: str, account: str) -> None:
        """Let ``account`` copy the snapshot. Repeats are harmless."""

    def delete(self, snapshot_id: str) -> bool:
        """Delete a snapshot; ``False`` when it was already gone."""

    def lock(self, snapshot_id: str, days: int, mode: str) -> None:
        """Keep anyone from deleting the snapshot for ``days`` (kinds that can't lock raise)."""

    def quota(self) -> Quota | None:
        """The account's quota for this kind's snapshots, if AWS reports one."""

    def quotas(self) -> Mapping[str, Quota]:
        """Every snapshot quota the one call behind ``quota`` reports, by SnapshotType (kinds of one
        family share it: RDS reports instance and cluster snapshot quotas together)."""


class SnapshotKind(ABC):
    """What one kind of snapshot is; see the module docstring."""

    name: str  # SnapshotType in messages, e.g. "RDS"
    label: str  # for people and Sids, e.g. "DBInstance"
    service: str  # the boto3 client its API needs
    source_noun: str  # what its snapshots are taken of, e.g. "DB instance"
    source_name: re.Pattern[str]  # the names of those sources
    snapshot_id: re.Pattern[str]  # the ids of its snapshots
    copy_limit_variable: str  # the setting for copies in flight at most, per account and Region
    default_copy_limit: int  # AWS's limit
    encrypts_on_copy: bool  # an unencrypted snapshot can be encrypted by copying it
    lock_variable: str = ""  # the setting for how many days DR copies are locked (kinds AWS can lock)
    #: What AWS charges to store its snapshots, USD per GB-month (us-east-1 list price), for reports.
    storage_price: float = 0.0
    #: KMS actions a copy uses with the caller's own permissions on the source's and the copy's keys,
    #: besides CreateGrant and DescribeKey (which every kind's copy needs).
    key_actions: tuple[str, ...] = ()
    #: AWS copies a snapshot another account shared into another Region in one step;
    #: else DR copies it in the source Region first, then across (``consumer``).
    one_step_across_regions: bool = True
    #: AWS reports a snapshot quota for the kind (``SnapshotApi.quota``); without one, no client is made to ask.
    reports_quota: bool = True
    #: AWS announces the end of a copy of the kind in the account and Region it lands in: the app
    #: waits for that event and checks the copy itself only now and then, in case it was lost.
    copy_events: bool = True

    @abstractmethod
    def parse_arn(self, arn: str) -> SnapshotArn | None:
        """Split one of this kind's snapshot ARNs; ``None`` when ``arn`` is not one."""

    @abstractmethod
    def arn(self, partition: str, region: str, account: str, snapshot_id: str) -> str:
        """The ARN of one of this kind's snapshots."""

    @abstractmethod
    def api(self, client: Any) -> SnapshotApi:
        """This kind's snapshots through ``client`` (a boto3 client of ``service``)."""

    def restores(self, client: Any) -> RestoreApi:
        """This kind's restores through ``client`` (``kinds.restoring``), for restore drills."""
        raise NotImplementedError(f"{self.name} snapshots can't be restored by DRACO")

    @abstractmethod
    def events(self, notice: Notice) -> tuple[SnapshotEvent, ...]:
        """This kind's events in ``notice``; empty when it holds none."""

    @abstractmethod
    def event_sources(self, side: Side) -> tuple[EventSource, ...]:
        """What bootstrap must create so that ``side`` hears of this kind's events."""

    @abstractmethod
    def statements(self, side: Side, ctx: PolicyContext) -> list[dict[str, Any]]:
        """The IAM statements ``side``'s role needs for this kind, scoped to DRACO's own snapshots."""

    def __repr__(self) -> str:
        return f"<kind {self.name}>"
