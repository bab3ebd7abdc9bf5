"""The registry of snapshot kinds: the one list of what DRACO can copy.

A kind is a module of this package (see ``base`` for the protocol) and one
line below. Everything else (messages, config, handlers, bootstrap, status,
the local world) reads ``KINDS`` and never names a kind.
"""

from __future__ import annotations

from chalicelib_shared.kinds.base import (
    EventType,
    Notice,
    Phase,
    Snapshot,
    SnapshotApi,
    SnapshotArn,
    SnapshotEvent,
    SnapshotKind,
)
from chalicelib_shared.kinds.ebs import EBS
from chalicelib_shared.kinds.notices import InvalidNotice
from chalicelib_shared.kinds.rds import CLUSTER, INSTANCE

KINDS: dict[str, SnapshotKind] = {kind.name: kind for kind in (INSTANCE, CLUSTER, EBS)}
"""Every kind, by its ``SnapshotType`` in messages."""

__all__ = [
    "KINDS",
    "EventType",
    "InvalidNotice",
    "Notice",
    "Phase",
    "Snapshot",
    "SnapshotApi",
    "SnapshotArn",
    "SnapshotEvent",
    "SnapshotKind",
    "events_in",
    "parse_arn",
]


def parse_arn(arn: str) -> SnapshotArn | None:
    """Any kind's snapshot ARN taken apart; ``None`` when no kind knows it."""
    for kind in KINDS.values():
        parsed = kind.parse_arn(arn)
        if parsed is not None:
            return parsed
    return None


def events_in(notice: Notice) -> tuple[SnapshotEvent, ...]:
    """Every kind's events in one notification (``InvalidNotice`` for a malformed one)."""
    return tuple(event for kind in KINDS.values() for event in kind.events(notice))
