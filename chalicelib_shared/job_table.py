"""The job table in DynamoDB: jobs, copy slots, source records and counters, one table per app.

It implements the ports the use-cases depend on (``chalicelib_shared.ports``);
the tests use in-memory fakes of the same ports. Every write is conditional:

* a job moves only if its ``version`` is still the one the caller read, and
  only along the app's ``jobs.Machine`` (``InvalidTransition`` otherwise);
* a slot is taken only while its pool has room (``take``); releasing it can
  ride in the same transaction as the job's move, so it happens if and only if
  the job moves;
* a source record (the consumer's: newest copy, lifecycle in force, a change
  waiting for approval) is written only at the version read.

Two sparse indexes keep the pollers and the lifecycle pass cheap:

* ``due``: only jobs with work left carry ``active``; the poller asks for
  ``active = "1" and due <= now`` in one Query, so an idle poll is one read;
* ``inventory``: only DR copies that exist carry ``inventory_key`` (source
  account, kind and name); the lifecycle pass reads one source's copies with
  one Query, however much else the DR account holds. Source records are listed
  under one key of the same index (``SOURCES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib_shared import clock
from chalicelib_shared.jobs import CONSUMER_JOBS, PRODUCER_JOBS, InvalidTransition, Job, Machine, State
from chalicelib_shared.sources import SourceRecord

KEY = "job_id"
DUE_INDEX = "due"
INVENTORY_INDEX = "inventory"
ACTIVE = "1"
SOURCES = "#sources"
SOURCE_PREFIX = "#source#"
SLOT_PREFIX = "#slots#"
COUNTER_PREFIX = "#count#"
FLAG_PREFIX = "#flag#"
_ABSENT = f"attribute_not_exists({KEY})"


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


class JobTable:
    """One app's job table; ``inventory`` lists finished DR copies (the consumer's).

    ``machine`` is the app's job moves: by default the consumer's for the table with the
    inventory, else the producer's.
    """

    def __init__(self, table: Any, inventory: bool = False, machine: Machine | None = None) -> None:
        self._table = table
        self._inventory = inventory
        self.machine = machine or (CONSUMER_JOBS if inventory else PRODUCER_JOBS)

    # --- jobs -------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key={KEY: job_id}, ConsistentRead=True).get("Item")
        return Job.from_item(item) if item and "state" in item else None

    def get_with_holders(self, job_id: str, pool: str) -> tuple[Job | None, set[str]]:
        """A job and the holders of a slot pool, in one BatchGetItem (consistent reads)."""
        keys = [{KEY: job_id}, {KEY: SLOT_PREFIX + pool}]
        request = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
        items: dict[str, dict[str, Any]] = {}
        while request:
            page = self._table.meta.client.batch_get_item(RequestItems=request)
            items |= {item[KEY]: item for item in page["Responses"].get(self._table.name, [])}
            request = page.get("UnprocessedKeys") or {}
        item = items.get(job_id)
        job = Job.from_item(item) if item and "state" in item else None
        return job, set(items.get(SLOT_PREFIX + pool, {}).get("holders") or ())

    def create(self, job: Job, due: datetime | None = None) -> Job | None:
        """Store a new job and return it as stored; ``None`` when one with that id exists already."""
        now = clock.now()
        job = replace(job, created=clock.iso(now), updated=clock.iso(now), due=clock.iso(due or now), version=1)
        try:
            self._table.put_item(Item=self.item_for(job), ConditionExpression=Attr(KEY).not_exists())
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return None
            raise
        return job

    def advance(
        self, job: Job, state: State, *, due: datetime | None = None, release: Iterable[str] = (), **changes: Any
    ) -> Job | None:
        """Move ``job`` on from the version read; ``None`` if another run changed it first.

        ``release`` names slot pools the job gives its slot back to, in the same transaction.
        """
        if not self.machine.allows(job, state):
            raise InvalidTransition(f"{job.job_id}: {job.state.value} -> {state.value}")
        now = clock.now()
        moved = replace(
            job, state=state, updated=clock.iso(now), due=clock.iso(due or now), version=job.version + 1, **changes
        )
        put: dict[str, Any] = {"TableName": self._table.name, "Item": self.item_for(moved), **_at_version(job.version)}
        pools = list(release)
        try:
            if pools:
                updates = [{"Update": self._release_update(pool, [job.job_id])} for pool in pools]
                self._table.meta.client.transact_write_items(TransactItems=[{"Put": put}, *updates])
            else:
                self._table.meta.client.put_item(**put)
        except ClientError as err:
            if _code(err) in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return None
            raise
        return moved

    def due_jobs(self, now: datetime) -> Iterator[Job]:
        """Jobs whose next check is due: one Query on the sparse ``due`` index."""
        condition = Key("active").eq(ACTIVE) & Key("due").lte(clock.iso(now))
        return (Job.from_item(item) for item in self._items(DUE_INDEX, condition))

    def next_due(self) -> datetime | None:
        """When the earliest job with work left falls due (``None``: none has any)."""
        page = self._table.query(IndexName=DUE_INDEX, KeyConditionExpression=Key("active").eq(ACTIVE), Limit=1)
        items = page.get("Items", [])
        return clock.parse_iso(items[0]["due"]) if items else None

    def existing(self, job_ids: Iterable[str]) -> set[str]:
        """Which of these jobs exist: one BatchGetItem per 100 ids (a sweep asks about many)."""
        found: set[str] = set()
        ids = sorted(set(job_ids))
        for start in range(0, len(ids), 100):
            request = {
                self._table.name: {
                    "Keys": [{KEY: job_id} for job_id in ids[start : start + 100]],
                    "ProjectionExpression": "#key",
                    "ExpressionAttributeNames": {"#key": KEY},
                }
            }
            while request:
                page = self._table.meta.client.batch_get_item(RequestItems=request)
                found |= {item[KEY] for item in page["Responses"].get(self._table.name, [])}
                request = page.get("UnprocessedKeys") or {}
        return found

    def inventory(self, inventory_key: str) -> list[Job]:
        """The DR copies of one source that exist, oldest first."""
        return [Job.from_item(item) for item in self._items(INVENTORY_INDEX, Key("inventory_key").eq(inventory_key))]

    # --- copy slots -------------------------------------------------------------------
    def take(self, pool: str, job_id: str, limit: int) -> bool:
        """Hold a place in ``pool`` for ``job_id``; ``False`` when all ``limit`` are held by others."""
        try:
            self._table.update_item(
                Key={KEY: SLOT_PREFIX + pool},
                UpdateExpression="ADD holders :job",
                ConditionExpression="attribute_not_exists(holders) OR size(holders) < :limit OR contains(holders, :id)",
                ExpressionAttributeValues={":job": {job_id}, ":id": job_id, ":limit": limit},
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, pool: str, job_ids: Iterable[str]) -> None:
        ids = sorted(set(job_ids))
        if ids:
            update = self._release_update(pool, ids)
            self._table.meta.client.update_item(**update)

    def holders(self, pool: str) -> set[str]:
        item = self._table.get_item(Key={KEY: SLOT_PREFIX + pool}, ConsistentRead=True).get("Item") or {}
        return set(item.get("holders") or ())

    def _release_update(self, pool: str, job_ids: list[str]) -> dict[str, Any]:
        return {
            "TableName": self._table.name,
            "Key": {KEY: SLOT_PREFIX + pool},
            "UpdateExpression": "DELETE holders :jobs",
            "ExpressionAttributeValues": {":jobs": set(job_ids)},
        }

    # --- counters ---------------------------------------------------------------------
    def count(self, name: str, limit: int) -> bool:
        """Add one to counter ``name`` unless it has reached ``limit`` (e.g. new keys per account and day)."""
        try:
            self._table.update_item(
                Key={KEY: COUNTER_PREFIX + name},
                UpdateExpression="ADD #n :one",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "count"},
                ExpressionAttributeValues={":one": 1, ":limit": limit},
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def draw(self, name: str, now: str) -> bool:
        """Take one from budget ``name`` while it has some left and ``now`` (ISO) is before its end."""
        try:
            self._table.update_item(
                Key={KEY: COUNTER_PREFIX + name},
                UpdateExpression="ADD #n :one",
                ConditionExpression="#until > :now AND (attribute_not_exists(#n) OR #n < #limit)",
                ExpressionAttributeNames={"#n": "count", "#until": "until", "#limit": "limit"},
                ExpressionAttributeValues={":one": 1, ":now": now},
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def append(self, item: dict[str, Any]) -> None:
        """Write a new item, never over one that exists (an entry of an append-only history)."""
        self._table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({KEY})")

    def grant(self, name: str, limit: int, until: str, **who: str) -> None:
        """Set budget ``name``: ``limit`` draws until ``until`` (ISO), a new budget replacing the old."""
        item = {KEY: COUNTER_PREFIX + name, "limit": limit, "until": until, "count": 0, **who}
        self._table.put_item(Item=item)

    def flip(self, name: str, expected: str, value: str) -> bool:
        """Set flag ``name`` to ``value`` if it is ``expected``; a flag never set counts as ``"on"``;
        ``expected`` empty: whatever it is (a write that cannot fail)."""
        condition = "#v = :expected" + (" OR attribute_not_exists(#v)" if expected == "on" else "")
        given = {
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":value": value, ":expected": expected},
        }
        try:
            self._table.update_item(
                Key={KEY: FLAG_PREFIX + name},
                UpdateExpression="SET #v = :value",
                ExpressionAttributeNames={"#v": "value"},
                **(given if expected else {"ExpressionAttributeValues": {":value": value}}),
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- source records (consumer) ------------------------------------------------------
    def source(self, inventory_key: str) -> SourceRecord | None:
        item = self._table.get_item(Key={KEY: SOURCE_PREFIX + inventory_key}, ConsistentRead=True).get("Item")
        return SourceRecord.from_item(inventory_key, item) if item else None

    def save_source(
        self,
        record: SourceRecord,
        entry: dict[str, Any] | None = None,
        release: tuple[str, Iterable[str]] | None = None,
    ) -> SourceRecord | None:
        """Write a source record at the version read; ``None`` if another run wrote it first.

        ``entry``: a new item written in the same transaction, only if it doesn't exist yet (an
        operator's decision, appended to the history); ``release``: a pool and the job ids that
        give their places back in the same transaction, if and only if the record is written.
        """
        saved = replace(record, version=record.version + 1)
        item = {KEY: SOURCE_PREFIX + record.inventory_key, "inventory_key": SOURCES, **saved.to_item()}
        put = {"TableName": self._table.name, "Item": item, **_at_version(record.version)}
        more: list[dict[str, Any]] = []
        if entry is not None:
            more.append({"Put": {"TableName": self._table.name, "Item": entry, "ConditionExpression": _ABSENT}})
        if release is not None and (ids := sorted(set(release[1]))):
            more.append({"Update": self._release_update(release[0], ids)})
        try:
            if more:
                self._table.meta.client.transact_write_items(TransactItems=[{"Put": put}, *more])
            else:
                self._table.meta.client.put_item(**put)
        except ClientError as err:
            if _code(err) in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return None
            raise
        return saved

    def sources(self) -> list[SourceRecord]:
        """Every source record: one Query."""
        items = self._items(INVENTORY_INDEX, Key("inventory_key").eq(SOURCES))
        return [SourceRecord.from_item(item[KEY].removeprefix(SOURCE_PREFIX), item) for item in items]

    # --- reading ----------------------------------------------------------------------
    def _items(self, index: str, condition: Any) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        while True:
            page = self._table.query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def item_for(self, job: Job) -> dict[str, Any]:
        return job_item(job, self._inventory)


def job_item(job: Job, inventory: bool) -> dict[str, Any]:
    """The stored item: the job, and the index keys it qualifies for (``inventory``: the consumer's table)."""
    item = job.to_item()
    if job.is_due_work:
        item["active"] = ACTIVE
    else:
        item.pop("due", None)
    if inventory and job.state is State.DONE:
        item["inventory_key"] = job.inventory_key
    return item


def _at_version(version: int) -> dict[str, Any]:
    """The condition that the stored item is still at ``version`` (0: it has no version yet)."""
    names = {"#version": "version"}
    if version == 0:
        return {"ConditionExpression": "attribute_not_exists(#version)", "ExpressionAttributeNames": names}
    return {
        "ConditionExpression": "#version = :version",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":version": version},
    }


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
