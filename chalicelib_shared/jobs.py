"""The job table: one DynamoDB item per snapshot copy, moved through named states.

Each app keeps its own table (producer: one item per transit copy, keyed by the
transit snapshot id; consumer: one item per DR copy, keyed by the DR snapshot id).
Both ids are derived from the source snapshot, so a repeated message finds the
same item. Every state change is a conditional write on the state the caller
read: when two deliveries race, exactly one wins and the other is a no-op.

Two sparse indexes keep the pollers and the lifecycle pass cheap:

* ``due``: only jobs that still need work carry ``active``; the poller asks for
  ``active = "1" and due <= now`` in one Query, so an idle poll costs one read.
* ``inventory``: only DR copies that exist carry ``inventory_key`` (source
  account, kind and name); the lifecycle pass reads one source's copies with one
  Query, whatever else the DR account holds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib_shared import clock
from chalicelib_shared.messages import EventType, Message

KEY = "job_id"
DUE_INDEX = "due"
INVENTORY_INDEX = "inventory"
ACTIVE = "1"
#: One item per source holds its newest copy's time, listed under this inventory key.
SOURCES = "#sources"
SOURCE_PREFIX = "#source#"


class State(enum.StrEnum):
    """Where a copy job stands; the comments name who moves it on."""

    REQUESTED = "requested"  # producer: copy-request sent, waiting for DR's answer
    TRANSIT_QUEUED = "transit-queued"  # producer: DR said copy; waiting for a copy slot
    TRANSIT_COPYING = "transit-copying"  # producer: transit copy running; poller waits
    SHARED = "shared"  # producer: transit shared with DR, waiting for delete-shared
    INITIATED = "initiated"  # consumer: copy-initiate sent, waiting for copy-shared
    COPY_QUEUED = "copy-queued"  # consumer: transit copy shared; waiting for a copy slot
    COPYING = "copying"  # consumer: DR copy running; poller waits
    DONE = "done"  # both: finished (consumer: the DR copy exists)
    EXPIRED = "expired"  # consumer: DR copy deleted by its lifecycle
    SKIPPED = "skipped"  # both: not copied (no lifecycle, Ignore, or refused)
    FAILED = "failed"  # both: gave up; kept for operators, with the reason

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


#: Copies in flight: the poller looks at the snapshot until it is available.
POLLED_STATES = frozenset({State.TRANSIT_COPYING, State.COPYING})
#: Copies waiting for a slot: the poller starts them as slots free.
QUEUED_STATES = frozenset({State.TRANSIT_QUEUED, State.COPY_QUEUED})
#: Waiting for the other account's message: the poller re-sends ours when due.
WAITING_STATES = frozenset({State.REQUESTED, State.SHARED, State.INITIATED})
ACTIVE_STATES = POLLED_STATES | QUEUED_STATES | WAITING_STATES
#: A job in these states may hold a copy slot.
SLOT_STATES = POLLED_STATES | QUEUED_STATES


def table_definition(table_name: str) -> dict[str, Any]:
    """Keyword arguments for DynamoDB ``create_table``: on-demand, both indexes."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": KEY, "AttributeType": "S"},
            {"AttributeName": "active", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "S"},
            {"AttributeName": "inventory_key", "AttributeType": "S"},
            {"AttributeName": "source_time", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "active", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": INVENTORY_INDEX,
                "KeySchema": [
                    {"AttributeName": "inventory_key", "KeyType": "HASH"},
                    {"AttributeName": "source_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }


@dataclass(frozen=True)
class Job:
    """One copy job. The producer's is keyed by transit id, the consumer's by DR copy id."""

    job_id: str
    state: State
    kind: str  # SnapshotType, e.g. "RDS"
    source_acct: str
    source_arn: str
    source_id: str
    source_name: str
    source_time: str  # ISO, when the source snapshot was taken
    tags: Mapping[str, str] = field(default_factory=dict)
    transit_id: str = ""
    transit_arn: str = ""
    target_key: str = ""  # consumer: the per-source DR key
    encrypted: bool = True  # is the transit copy encrypted (not for an unencrypted cluster)
    reason: str = ""  # why it was skipped or failed, or the last error it is waiting out
    attempts: int = 0  # messages re-sent without an answer, or attempts that met an error
    failed_from: str = ""  # the state a failed job was in: where an operator's retry resumes
    created: str = ""
    updated: str = ""
    due: str = ""  # when the poller should look at it next

    @property
    def inventory_key(self) -> str:
        """The source this copy belongs to: account, kind and name, so sources never mix."""
        return f"{self.source_acct}#{self.kind}#{self.source_name}"

    def to_item(self, inventory: bool = False) -> dict[str, Any]:
        """The DynamoDB item; ``inventory`` lists a finished copy in the inventory index."""
        item = {k: v for k, v in self.__dict__.items() if v not in ("", None)}
        item["state"] = self.state.value
        item["tags"] = dict(self.tags)
        if self.state.is_active:
            item["active"] = ACTIVE
        else:
            item.pop("due", None)
        if inventory and self.state is State.DONE:
            item["inventory_key"] = self.inventory_key
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Job:
        names = cls.__dataclass_fields__.keys()
        values = {k: v for k, v in item.items() if k in names}
        values["state"] = State(item["state"])
        values["tags"] = dict(item.get("tags") or {})
        values["attempts"] = int(item.get("attempts", 0))
        return cls(**values)

    @property
    def source_created(self) -> datetime:
        return clock.parse_iso(self.source_time)

    def message(self, event_type: EventType, **fields: Any) -> Message:
        """The protocol message about this job's snapshot."""
        params: dict[str, Any] = {
            "snapshot_type": self.kind,
            "source_acct": self.source_acct,
            "source_arn": self.source_arn,
            "source_id": self.source_id,
            "source_name": self.source_name,
            "source_time": self.source_created,
            "tags": tuple(self.tags.items()),
            "transit_arn": self.transit_arn,
            "transit_id": self.transit_id,
        }
        return Message(event_type=event_type, **{**params, **fields})


class JobTable:
    """The app's job table; every write is conditional, so repeats are no-ops."""

    def __init__(self, table: Any, inventory: bool = False) -> None:
        self._table = table
        self._inventory = inventory  # the consumer keeps an inventory of DR copies

    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key={KEY: job_id}, ConsistentRead=True).get("Item")
        return Job.from_item(item) if item else None

    def create(self, job: Job, due: datetime | None = None) -> Job | None:
        """Store a new job and return it as stored; ``None`` when one with that id exists already."""
        now = clock.now()
        job = replace(job, created=clock.iso(now), updated=clock.iso(now), due=clock.iso(due or now))
        return job if self._conditional_put(job, Attr(KEY).not_exists()) else None

    def advance(
        self, job: Job, state: State, due: datetime | None = None, also: Sequence[dict[str, Any]] = (), **changes: Any
    ) -> Job | None:
        """Move ``job`` on from the item as it was read; ``None`` if another run changed it first.

        ``also`` names further updates (DynamoDB ``Update`` specs) made in the same
        transaction, so they happen if and only if the job moves.
        """
        now = clock.now()
        moved = replace(job, state=state, updated=clock.iso(now), due=clock.iso(due or now), **changes)
        if not also:
            unchanged = Attr("state").eq(job.state.value) & Attr("updated").eq(job.updated)
            return moved if self._conditional_put(moved, unchanged) else None
        put = {
            "TableName": self._table.name,
            "Item": moved.to_item(self._inventory),
            "ConditionExpression": "#state = :state AND #updated = :updated",
            "ExpressionAttributeNames": {"#state": "state", "#updated": "updated"},
            "ExpressionAttributeValues": {":state": job.state.value, ":updated": job.updated},
        }
        updates = [{"Update": {"TableName": self._table.name, **update}} for update in also]
        try:
            self._table.meta.client.transact_write_items(TransactItems=[{"Put": put}, *updates])
        except ClientError as err:
            if err.response["Error"]["Code"] == "TransactionCanceledException":
                return None
            raise
        return moved

    @property
    def table(self) -> Any:
        """The boto3 Table, for lookups only one app makes (the producer's sweep)."""
        return self._table

    def due_jobs(self, now: datetime) -> Iterator[Job]:
        """Active jobs whose next check is due: one Query on the sparse ``due`` index."""
        condition = Key("active").eq(ACTIVE) & Key("due").lte(clock.iso(now))
        yield from self._query(DUE_INDEX, condition)

    def inventory(self, inventory_key: str) -> list[Job]:
        """The DR copies of one source that exist, oldest first."""
        return list(self._query(INVENTORY_INDEX, Key("inventory_key").eq(inventory_key)))

    def record_newest(self, job: Job) -> None:
        """Remember the newest DR copy of the job's source (for the recovery-point check)."""
        try:
            self._table.update_item(
                Key={KEY: SOURCE_PREFIX + job.inventory_key},
                UpdateExpression="SET inventory_key = :sources, source_time = :time",
                ConditionExpression="attribute_not_exists(source_time) OR source_time < :time",
                ExpressionAttributeValues={":sources": SOURCES, ":time": job.source_time},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def newest(self) -> dict[str, datetime]:
        """Each source's newest DR copy time, by inventory key: one Query."""
        items = self._items(INVENTORY_INDEX, Key("inventory_key").eq(SOURCES))
        return {item[KEY].removeprefix(SOURCE_PREFIX): clock.parse_iso(item["source_time"]) for item in items}

    def _query(self, index: str, condition: Any) -> Iterator[Job]:
        return (Job.from_item(item) for item in self._items(index, condition))

    def _items(self, index: str, condition: Any) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        while True:
            page = self._table.query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _conditional_put(self, job: Job, condition: Any) -> bool:
        try:
            self._table.put_item(Item=job.to_item(self._inventory), ConditionExpression=condition)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
