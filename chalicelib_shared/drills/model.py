"""One restore drill, as DR records it: what was restored, when it was usable, what came of it."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from chalicelib_shared import clock


class Step(enum.StrEnum):
    RESTORING = "restoring"  # restore asked for; waiting until available, then checked
    CLEANING = "cleaning"  # result known; deleting what the drill made
    DONE = "done"  # nothing of it left (or kept, with ``--keep``)


PASSED = "passed"
FAILED = "failed"


def drill_id(source: str, started: datetime) -> str:
    """Unique per source and minute, short enough for DB identifiers (``draco-drill-<id>``, 63 at most)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"{started:%Y%m%d%H%M}-{digest}"


def resource_name(drill: str) -> str:
    return f"draco-drill-{drill}"


@dataclass(frozen=True)
class Drill:
    drill_id: str
    source: str  # the source's inventory key: account#kind#name
    kind: str  # SnapshotType
    source_name: str
    copy_id: str  # the DR copy restored (its AWS id)
    resource: str  # what the drill made: DB instance, cluster or (by its Draco_Name tag) volume
    step: Step
    started: str  # ISO: the drill began (the restore call follows at once)
    restore_called: str = ""  # ISO: the restore call returned
    available: str = ""  # ISO: AWS reported the resource available
    validated: str = ""  # ISO: the checks (and the validator, if any) answered
    finished: str = ""  # ISO: cleaned up (or kept)
    result: str = ""  # passed / failed ("" while running)
    reason: str = ""  # why it failed, or what the validator said
    engine: str = ""
    instance_class: str = ""
    size_gb: int = 0
    cost_usd: float = 0.0  # estimate: instance-hours and storage while it existed
    keep: bool = False  # left for use: not deleted
    version: int = 0

    @property
    def running(self) -> bool:
        return self.step is not Step.DONE

    def seconds(self, until: str) -> float | None:
        """Seconds from the restore call to ``until`` (an ISO field), ``None`` when either is missing."""
        if not self.restore_called or not until:
            return None
        return (clock.parse_iso(until) - clock.parse_iso(self.restore_called)).total_seconds()

    @property
    def rto_seconds(self) -> float | None:
        """The measured RTO: restore call to validated (the drill passed), else ``None``."""
        return self.seconds(self.validated) if self.result == PASSED else None

    def to_item(self) -> dict[str, Any]:
        item = {k: v for k, v in asdict(self).items() if v not in ("", None)}
        item["step"] = self.step.value
        item["cost_usd"] = str(self.cost_usd)  # DynamoDB takes no floats
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Drill:
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in item.items() if k in names}
        values["step"] = Step(str(item["step"]))
        values["cost_usd"] = float(item.get("cost_usd") or 0)
        values["size_gb"] = int(item.get("size_gb") or 0)
        values["version"] = int(item.get("version") or 0)
        values["keep"] = bool(item.get("keep"))
        return cls(**values)

    def report(self) -> dict[str, Any]:
        """For operators' JSON: the drill with its measured times."""
        return {
            "drill_id": self.drill_id,
            "source": self.source_name,
            "kind": self.kind,
            "copy": self.copy_id,
            "result": self.result or self.step.value,
            "reason": self.reason,
            "started": self.started,
            "available": self.available,
            "validated": self.validated,
            "rto_seconds": self.rto_seconds,
            "available_seconds": self.seconds(self.available),
            "instance_class": self.instance_class,
            "cost_usd": round(self.cost_usd, 4),
            "resource": self.resource,
            "kept": self.keep,
        }
