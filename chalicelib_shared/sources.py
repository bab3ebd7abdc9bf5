"""DR's record of each source it protects: what DR, not production, has decided about it.

One item per source (source account, kind and name) in the consumer's job
table: the time of its newest DR copy (for the recovery-point check), the
lifecycle in force, and a lifecycle production asked for that would delete
copies the one in force keeps, waiting for an operator's approval in DR
(``draco approve``), with who approved the last change and when; a change an
operator rejected (``draco reject``: dismissed until production asks for another);
whether an operator retired the source (``draco retire``: no longer watched for the
recovery point); how many DR copies it held after its last pass (its use of DR's
snapshot quota, ``capacity``). The history of approvals and rejections is kept
apart, one item per decision (``draco.approvals``).

The record stays small whatever the source's history (DynamoDB refuses an item
over 400 KB, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items):
a dry run logs each would-delete once by remembering only *when* its last pass
ran (``reported_at``); the next pass logs what it would delete that a pass at that
time would not have (retention only ever lets go of a copy as it ages), instead
of remembering every id, which grew by one a snapshot, forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib_shared import clock


@dataclass(frozen=True)
class SourceRecord:
    inventory_key: str  # "<account>#<kind>#<name>", as on its jobs
    newest_time: str = ""  # ISO: when the source snapshot of its newest DR copy was taken
    lifecycle: str = ""  # the lifecycle in force, as tagged or approved ("" before the first copy)
    pending: str = ""  # a shortening production asked for, waiting for approval in DR
    pending_since: str = ""
    approved_by: str = ""  # the DR principal that approved the lifecycle in force, if one had to
    approved_at: str = ""
    reported_at: str = ""  # dry run: when the last pass logged its would-deletes (ISO)
    rejected: str = ""  # a change an operator dismissed; asked for again, it stays dismissed
    retired_by: str = ""  # the DR principal that retired the source, if one did
    retired_at: str = ""
    held: int = 0  # DR copies after the last lifecycle pass
    version: int = 0

    @property
    def retired(self) -> bool:
        """Retired, and no copy newer than the retirement has come since (a copy back watches it again)."""
        return bool(self.retired_at) and self.newest_time <= self.retired_at

    @property
    def newest(self) -> datetime | None:
        return clock.parse_iso(self.newest_time) if self.newest_time else None

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "source_time": self.newest_time or "0",
            "lifecycle": self.lifecycle,
            "pending": self.pending,
            "pending_since": self.pending_since,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "reported_at": self.reported_at,
            "rejected": self.rejected,
            "retired_by": self.retired_by,
            "retired_at": self.retired_at,
            "held": self.held,
            "version": self.version,
        }
        return {k: v for k, v in item.items() if v != ""}

    @classmethod
    def from_item(cls, inventory_key: str, item: Mapping[str, Any]) -> SourceRecord:
        newest = str(item.get("source_time", ""))
        return cls(
            inventory_key=inventory_key,
            newest_time="" if newest == "0" else newest,
            lifecycle=str(item.get("lifecycle", "")),
            pending=str(item.get("pending", "")),
            pending_since=str(item.get("pending_since", "")),
            approved_by=str(item.get("approved_by", "")),
            approved_at=str(item.get("approved_at", "")),
            reported_at=str(item.get("reported_at", "")),
            rejected=str(item.get("rejected", "")),
            retired_by=str(item.get("retired_by", "")),
            retired_at=str(item.get("retired_at", "")),
            held=int(item.get("held", 0)),
            version=int(item.get("version", 0)),
        )

    @property
    def source_acct(self) -> str:
        return self.inventory_key.split("#", 2)[0]

    @property
    def kind(self) -> str:
        return self.inventory_key.split("#", 2)[1]

    @property
    def source_name(self) -> str:
        return self.inventory_key.split("#", 2)[2]
