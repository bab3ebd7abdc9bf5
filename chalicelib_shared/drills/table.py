"""Drill records and per-source drill locks, in the consumer's job table.

* a drill is the item ``#drill#<id>``, listed through the table's sparse
  ``inventory`` index under ``#drills-running`` while it runs and
  ``#drills`` once done, ranged by its start: a round reads the running ones
  with one Query, ``status`` the history with another;
* ``#drilling#<source>`` holds the id of the one drill restoring that source:
  taken conditionally, so two restores of one source never run at once.

Every write of a drill is conditional on the version read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib_shared.drills.model import Drill

KEY = "job_id"  # the job table's key
INDEX = "inventory"
RUNNING = "#drills-running"
HISTORY = "#drills"
DRILL_PREFIX = "#drill#"
LOCK_PREFIX = "#drilling#"


def _conflict(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DrillTable:
    """The drill records of the consumer's job table (a boto3 ``Table``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def save(self, drill: Drill) -> Drill | None:
        """Write ``drill`` at the version read (0: new); ``None`` if another run wrote it first."""
        saved = replace(drill, version=drill.version + 1)
        item = {
            KEY: DRILL_PREFIX + drill.drill_id,
            "inventory_key": RUNNING if saved.running else HISTORY,
            "source_time": drill.started,
            **saved.to_item(),
        }
        if drill.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#v)"}
        else:
            condition = {"ConditionExpression": "#v = :v", "ExpressionAttributeValues": {":v": drill.version}}
        try:
            self._table.put_item(Item=item, ExpressionAttributeNames={"#v": "version"}, **condition)
        except ClientError as err:
            if _conflict(err):
                return None
            raise
        return saved

    def get(self, drill_id: str) -> Drill | None:
        item = self._table.get_item(Key={KEY: DRILL_PREFIX + drill_id}, ConsistentRead=True).get("Item")
        return Drill.from_item(item) if item else None

    def running(self) -> list[Drill]:
        return self._query(RUNNING)

    def history(self) -> list[Drill]:
        """Every finished drill, oldest first."""
        return self._query(HISTORY)

    def _query(self, key: str) -> list[Drill]:
        params: dict[str, Any] = {"IndexName": INDEX, "KeyConditionExpression": Key("inventory_key").eq(key)}
        drills: list[Drill] = []
        while True:
            page = self._table.query(**params)
            drills += [Drill.from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return drills
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def lock(self, source: str, drill_id: str) -> bool:
        """Hold ``source`` for ``drill_id``; ``False`` when another drill holds it."""
        try:
            self._table.put_item(
                Item={KEY: LOCK_PREFIX + source, "drill": drill_id},
                ConditionExpression="attribute_not_exists(#d) OR #d = :d",
                ExpressionAttributeNames={"#d": "drill"},
                ExpressionAttributeValues={":d": drill_id},
            )
        except ClientError as err:
            if _conflict(err):
                return False
            raise
        return True

    def unlock(self, source: str, drill_id: str) -> None:
        """Let ``source`` go, if ``drill_id`` still holds it."""
        try:
            self._table.delete_item(
                Key={KEY: LOCK_PREFIX + source},
                ConditionExpression="#d = :d",
                ExpressionAttributeNames={"#d": "drill"},
                ExpressionAttributeValues={":d": drill_id},
            )
        except ClientError as err:
            if not _conflict(err):
                raise
