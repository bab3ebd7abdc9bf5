"""Restore drills in the operator's view: each protected source's last drill, and which are overdue.

Read from the drill records in the consumer's job table
(``chalicelib_shared.drills``). A source's drill is **overdue** when its last
drill began more than ``every_days`` ago (``DRILL_EVERY_DAYS``; 30 when the
scheduled drill is off), or when it was never drilled and its first DR copy
is that old. ``status`` shows them in the terminal, in ``--json`` (``drills``,
and ``drills_overdue`` / ``drills_failed`` counts) and in the HTML page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.drills.model import FAILED, Drill
from chalicelib_shared.drills.table import DRILL_PREFIX

DEFAULT_EVERY_DAYS = 30


@dataclass(frozen=True)
class SourceDrill:
    source: str  # inventory key: account#kind#name
    source_name: str
    kind: str
    last: Drill | None  # the newest finished drill
    running: bool  # a drill of it is under way
    overdue: bool

    def to_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "source": self.source_name,
            "kind": self.kind,
            "last_drill": last.started if last else None,
            "result": last.result if last else None,
            "rto_seconds": last.rto_seconds if last else None,
            "reason": last.reason if last else "",
            "copy": last.copy_id if last else None,
            "running": self.running,
            "overdue": self.overdue,
        }

    def cells(self) -> tuple[str, ...]:
        """source, kind, last drill, result, RTO, overdue, reason: for the terminal and the page."""
        last = self.last
        rto = f"{last.rto_seconds / 60:.1f} min" if last and last.rto_seconds is not None else "-"
        return (
            self.source_name,
            self.kind,
            last.started[:16].replace("T", " ") if last else "never",
            (last.result if last else "-") + (" (running)" if self.running else ""),
            rto,
            "overdue" if self.overdue else "",
            last.reason if last and last.result == FAILED else "",
        )


def drill_status(
    items: Iterable[Mapping[str, Any]],
    sources: Mapping[str, datetime],
    now: datetime,
    every_days: int = 0,
) -> tuple[SourceDrill, ...]:
    """Each source's drills (``sources``: inventory key -> when its first DR copy's data was taken)."""
    drills = [Drill.from_item(item) for item in items if str(item.get("job_id", "")).startswith(DRILL_PREFIX)]
    every = timedelta(days=every_days or DEFAULT_EVERY_DAYS)
    out = []
    for key, first in sorted(sources.items()):
        mine = sorted((d for d in drills if d.source == key), key=lambda d: d.started)
        done = [d for d in mine if not d.running]
        last = done[-1] if done else None
        since = clock.parse_iso(last.started) if last else first
        _, kind, name = key.split("#", 2)
        out.append(SourceDrill(key, name, kind, last, any(d.running for d in mine), now - since > every))
    return tuple(out)


HEADERS = ("source", "kind", "last drill", "result", "RTO", "overdue", "why it failed")
