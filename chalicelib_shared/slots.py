"""Copy slots: at most N copies of a kind in flight per account and Region.

AWS refuses a copy beyond 20 in-progress DB snapshot copies (5 for cluster
snapshots) per account and Region. DRACO keeps under the limit itself: the job
table holds one item per kind whose string set names the jobs holding a slot.
Taking a slot adds the job id only while the set is smaller than the limit (or
already names the job, so a repeat is a no-op); releasing removes it. Ids of
jobs that no longer copy (a run that died between taking a slot and starting
the copy) are cleared by the poller, which sees every copy in flight.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared.jobs import KEY

SLOT_PREFIX = "#slots#"


class CopySlots:
    def __init__(self, table: Any, limits: dict[str, int]) -> None:
        self._table = table
        self._limits = limits

    def take(self, kind: str, job_id: str) -> bool:
        """Hold a slot for ``job_id``; ``False`` when all are taken by others."""
        try:
            self._table.update_item(
                Key={KEY: SLOT_PREFIX + kind},
                UpdateExpression="ADD holders :job",
                ConditionExpression="attribute_not_exists(holders) OR size(holders) < :limit OR contains(holders, :id)",
                ExpressionAttributeValues={":job": {job_id}, ":id": job_id, ":limit": self._limits[kind]},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_update(self, kind: str, job_id: str) -> dict[str, Any]:
        """The update that gives ``job_id``'s slot back, to make along with the job's move."""
        return {
            "Key": {KEY: SLOT_PREFIX + kind},
            "UpdateExpression": "DELETE holders :jobs",
            "ExpressionAttributeValues": {":jobs": {job_id}},
        }

    def release(self, kind: str, job_ids: Iterable[str]) -> None:
        ids = set(job_ids)
        if ids:
            self._table.update_item(
                Key={KEY: SLOT_PREFIX + kind},
                UpdateExpression="DELETE holders :jobs",
                ExpressionAttributeValues={":jobs": ids},
            )

    def holders(self, kind: str) -> set[str]:
        item = self._table.get_item(Key={KEY: SLOT_PREFIX + kind}, ConsistentRead=True).get("Item") or {}
        return set(item.get("holders") or ())
