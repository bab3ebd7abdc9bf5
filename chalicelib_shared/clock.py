"""The one place DRACO asks for the current time.

Always UTC and timezone-aware. The local world moves time with ``time-machine``,
which this call follows like every other clock in the process.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """Sortable text form used in the job table (UTC, seconds, ``Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
