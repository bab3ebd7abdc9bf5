"""The registry of snapshot kinds: the one list of what DRACO can copy.

A kind is a module of this package (see ``base`` for the protocol) and one
line below. Everything else (messages, config, handlers, bootstrap, status,
the local world) reads ``KINDS`` and never names a kind.
"""

from __future__ import annotations

from chalicelib_shared.kinds.base import (
    MANAGERS,
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
from chalicelib_shared.kinds.notices import InvalidNotice, parse_notice
from chalicelib_shared.kinds.rds import CLUSTER, INSTANCE
from chalicelib_shared.rejection import Rejection

KINDS: dict[str, SnapshotKind] = {kind.name: kind for kind in (INSTANCE, CLUSTER, EBS)}
"""Every kind, by its ``SnapshotType`` in messages."""

__all__ = [
    "KINDS",
    "MANAGERS",
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
    "read_notice",
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


def read_notice(subject: str | None, body: object) -> tuple[SnapshotEvent, ...] | Rejection:
    """The snapshot events in an AWS notification (none for what DRACO ignores), or why it is rejected."""
    notice = parse_notice(subject, body)
    if notice is None:
        return ()
    if isinstance(notice, Rejection):
        return notice
    try:
        return events_in(notice)
    except InvalidNotice as err:
        return Rejection(str(err))
