"""RDS event notifications, as an RDS event subscription delivers them through SNS.

The SNS ``Message`` is JSON with "Event Source", "Source ID" and an "Event ID"
that ends in ``#RDS-EVENT-0042``; RDS also sends one plain-English notice when
a subscription is created. ``parse_rds_event`` returns an ``RdsEvent``, ``None``
for notices DRACO ignores on purpose, or a ``Rejection``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chalicelib_shared.kinds import KINDS_BY_EVENT_SOURCE, SnapshotKind
from chalicelib_shared.messages import Rejection
from chalicelib_shared.naming import SNAPSHOT_ID

SUBJECT = "RDS Notification Message"
_EVENT_ID = re.compile(r"(RDS-EVENT-\d{4})$")
_MAX_BODY = 16 * 1024


@dataclass(frozen=True)
class RdsEvent:
    kind: SnapshotKind
    event_id: str  # e.g. RDS-EVENT-0042
    source_id: str  # the snapshot id, e.g. rds:db-2026-01-01-03-00

    @property
    def is_created(self) -> bool:
        return self.event_id in self.kind.created_events

    @property
    def is_copy_finished(self) -> bool:
        return self.event_id in self.kind.copy_finished_events


def parse_rds_event(body: Any) -> RdsEvent | Rejection | None:
    if not isinstance(body, str) or len(body) > _MAX_BODY:
        return Rejection("RDS notification body must be text of at most 16 KiB")
    if not body.lstrip().startswith("{"):
        return None  # the notice RDS sends when a subscription is created
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:
        return Rejection(f"RDS notification is not JSON: {err}")
    if not isinstance(doc, dict):
        return Rejection("RDS notification is not a JSON object")
    kind = KINDS_BY_EVENT_SOURCE.get(str(doc.get("Event Source")))
    if kind is None:
        return None  # instance, cluster, parameter group... events: not about snapshots
    match = _EVENT_ID.search(str(doc.get("Event ID", "")))
    source_id = doc.get("Source ID")
    if not match or not isinstance(source_id, str) or not SNAPSHOT_ID.match(source_id):
        return Rejection("RDS notification lacks a valid Event ID or Source ID")
    return RdsEvent(kind=kind, event_id=match.group(1), source_id=source_id)
