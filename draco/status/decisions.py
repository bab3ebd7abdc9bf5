"""The status's rows for DR's decisions and for copies waiting for room, shared by every report."""

from __future__ import annotations

from typing import Any

from draco.approvals import Decision
from draco.status.model import Status

DECISION_HEADERS = ("when", "what", "source", "lifecycle", "was", "asked for", "who")
WAITING_HEADERS = ("source", "kind", "copies waiting", "why")
#: The lines of history a terminal shows (the newest); JSON and HTML show all of it.
TERMINAL_DECISIONS = 10


def decision_row(decision: Decision) -> tuple[str, ...]:
    return (
        decision.at,
        decision.action,
        decision.source,
        decision.what,
        decision.was or "-",
        decision.asked or "-",
        decision.who,
    )


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "at": decision.at,
        "action": decision.action,
        "source": decision.source,
        "lifecycle": decision.what,
        "from": decision.was or None,
        "asked": decision.asked or None,
        "who": decision.who,
    }


def waiting_rows(status: Status) -> list[tuple[str, ...]]:
    """One row per source with copies waiting for room or a key: how many, and the newest reason."""
    return [
        (source.source_name, source.kind, str(len(source.waiting)), source.waiting[0])
        for source in status.sources
        if source.waiting
    ]
