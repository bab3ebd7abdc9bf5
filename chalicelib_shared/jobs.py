"""Copy jobs: one per snapshot copy, moved through named states by its app's state machine.

Each app keeps its own jobs (producer: one per transit copy, keyed by the
transit copy's name; consumer: one per DR copy, keyed by the DR copy's name).
Both names are derived from the source snapshot, so a repeated message finds
the same job. Each app's ``Machine`` (``PRODUCER_JOBS``, ``CONSUMER_JOBS``) lists
the moves its use-case makes; the app's job store refuses any other move
(``InvalidTransition``: a bug, not bad input), and every move is a conditional
write on the job's ``version``, so when two deliveries race exactly one wins and
the other is a no-op.

``STATES`` documents each state for operators; the README's job-state table is
``state_table()``, and a test keeps the two equal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib_shared import clock


class State(enum.StrEnum):
    REQUESTED = "requested"
    TRANSIT_QUEUED = "transit-queued"
    TRANSIT_COPYING = "transit-copying"
    SHARED = "shared"
    INITIATED = "initiated"
    COPY_QUEUED = "copy-queued"
    COPYING = "copying"
    RELAY_QUEUED = "relay-queued"
    RELAYING = "relaying"
    DONE = "done"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


@dataclass(frozen=True)
class StateDoc:
    app: str
    meaning: str
    moved_on_by: str


STATES: Mapping[State, StateDoc] = {
    State.REQUESTED: StateDoc("producer", "copy-request sent to DR", "copy-initiate / no-copy; re-sent until answered"),
    State.TRANSIT_QUEUED: StateDoc(
        "producer", "DR said copy; no copy slot or transit room free", "poller, as slots free"
    ),
    State.TRANSIT_COPYING: StateDoc("producer", "transit copy running", "poller, copy-finished event"),
    State.SHARED: StateDoc(
        "producer", "transit copy shared with DR", "delete-shared; copy-shared re-sent as DR's copy should end"
    ),
    State.INITIATED: StateDoc("consumer", "copy-initiate sent", "copy-shared; fails if none comes in 3 days"),
    State.COPY_QUEUED: StateDoc(
        "consumer", "transit copy verified; no copy slot (or no new key) free", "poller, as slots free"
    ),
    State.COPYING: StateDoc(
        "consumer",
        "DR copy running (or, across Regions for kinds AWS copies there in two steps, the copy in the source Region)",
        "poller, copy-finished event",
    ),
    State.RELAY_QUEUED: StateDoc(
        "consumer", "copy in the source Region ready; no copy slot free in the DR Region", "poller, as slots free"
    ),
    State.RELAYING: StateDoc(
        "consumer", "copying DR's copy from the source Region into the DR Region", "poller, copy-finished event"
    ),
    State.DONE: StateDoc("both", "finished (consumer: the DR copy exists)", "consumer: lifecycle"),
    State.EXPIRED: StateDoc("consumer", "DR copy deleted by its lifecycle", ""),
    State.SKIPPED: StateDoc("both", "not copied, with the reason", "consumer: a later message that says copy"),
    State.FAILED: StateDoc(
        "both", "gave up, with the reason; transit copy kept", "operator (`retry`); producer: transit cleanup"
    ),
}


@dataclass(frozen=True)
class Machine:
    """One app's job moves: the edges its use-case takes, and the rules both apps share.

    Besides ``moves``, any active state may stay where it is (a re-send, or an error
    waited out: a new due time) or fail; a failed job moves only back to the state it
    failed in (``failed_from``, an operator's ``retry``), or, where ``failed_stays``, to
    failed again (the producer's transit cleanup).
    """

    app: str
    moves: Mapping[State, frozenset[State]]
    failed_stays: bool = False

    @property
    def states(self) -> frozenset[State]:
        """The states this app's jobs can be in."""
        return frozenset(self.moves) | {State.FAILED}

    def allows(self, job: Job, target: State) -> bool:
        """Whether ``job`` may move to ``target`` in this app."""
        if job.state not in self.states or target not in self.states:
            return False
        if job.state is State.FAILED:
            return target == job.failed_from or (target is State.FAILED and self.failed_stays)
        if job.state.is_active and target in (job.state, State.FAILED):
            return True
        return target in self.moves[job.state]


PRODUCER_JOBS = Machine(
    "producer",
    {
        State.REQUESTED: frozenset({State.TRANSIT_QUEUED, State.TRANSIT_COPYING, State.SKIPPED}),
        State.TRANSIT_QUEUED: frozenset({State.TRANSIT_COPYING}),
        State.TRANSIT_COPYING: frozenset({State.SHARED}),
        State.SHARED: frozenset({State.DONE}),
        State.DONE: frozenset(),
        State.SKIPPED: frozenset(),
    },
    failed_stays=True,
)
CONSUMER_JOBS = Machine(
    "consumer",
    {
        State.INITIATED: frozenset({State.COPY_QUEUED, State.COPYING}),
        State.COPY_QUEUED: frozenset({State.COPYING}),
        State.COPYING: frozenset({State.DONE, State.RELAY_QUEUED}),
        State.RELAY_QUEUED: frozenset({State.RELAYING}),
        State.RELAYING: frozenset({State.DONE}),
        State.DONE: frozenset({State.EXPIRED}),
        State.EXPIRED: frozenset(),
        State.SKIPPED: frozenset({State.INITIATED}),  # a later message that says copy
    },
)
MACHINES = (PRODUCER_JOBS, CONSUMER_JOBS)


class Leg(enum.StrEnum):
    """Which copy a job's copy slot, Region and copy id are about: set when the job is made or moved on."""

    TRANSIT = "transit"  # producer: the transit copy, in the source Region
    DIRECT = "direct"  # consumer: the DR copy, in one step into DR's Region
    TO_RELAY = "to-relay"  # consumer, first of two steps: DR's relay copy in the source Region
    RELAY = "relay"  # consumer, second step: from the relay copy into DR's Region


#: Copies in flight: the poller looks at the snapshot until it is ready.
POLLED_STATES = frozenset({State.TRANSIT_COPYING, State.COPYING, State.RELAYING})
#: Copies waiting for a slot: the poller starts them as slots free.
QUEUED_STATES = frozenset({State.TRANSIT_QUEUED, State.COPY_QUEUED, State.RELAY_QUEUED})
#: Waiting for the other account: the producer re-sends, the consumer times out.
WAITING_STATES = frozenset({State.REQUESTED, State.SHARED, State.INITIATED})
ACTIVE_STATES = POLLED_STATES | QUEUED_STATES | WAITING_STATES
#: A job in these states may hold a copy slot.
SLOT_STATES = POLLED_STATES | QUEUED_STATES


class InvalidTransition(Exception):
    """A move the table doesn't allow: a bug in DRACO, never caused by input."""


def state_table() -> str:
    """The README's job-state table (markdown), from ``STATES`` and both apps' machines."""
    rows = ["| app | state | meaning | next states | moved on by |", "| --- | --- | --- | --- | --- |"]
    for state, doc in STATES.items():
        following = [s.value for machine in MACHINES for s in machine.moves.get(state, ())]
        if state.is_active:
            following.append(State.FAILED.value)
        nexts = ", ".join(f"`{s}`" for s in sorted(set(following))) or "(final)"
        if state is State.FAILED:
            nexts = "the state it failed in"
        rows.append(f"| {doc.app} | `{state.value}` | {doc.meaning} | {nexts} | {doc.moved_on_by} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Job:
    """One copy job. The producer's is keyed by transit copy name, the consumer's by DR copy name."""

    job_id: str
    state: State
    kind: str  # SnapshotType, e.g. "RDS"
    source_acct: str
    source_arn: str
    source_id: str
    source_name: str
    source_time: str  # ISO, when the source snapshot was taken
    tags: Mapping[str, str] = field(default_factory=dict)
    transit_id: str = ""  # the transit copy in production
    transit_arn: str = ""
    copy_id: str = ""  # consumer: the DR copy's id (for kinds whose ids AWS chooses, unlike the job's)
    relay_id: str = ""  # consumer, across Regions in two steps: DR's copy in the source Region
    relay_arn: str = ""
    target_key: str = ""  # consumer: the per-source DR key
    encrypted: bool = True  # the transit copy is encrypted (not for an unencrypted cluster)
    size_gb: int = 0
    copy_seconds: int = 0  # producer: how long the transit copy took (paces re-sends of copy-shared)
    reason: str = ""  # why it was skipped or failed, or the last error it is waiting out
    attempts: int = 0  # messages re-sent without an answer, or attempts that met an error
    failed_from: State | None = None  # the state a failed job was in: where an operator's retry resumes
    leg: Leg | None = None  # which copy the job is on (``Leg``); None until the app decides
    cleanup: bool = False  # producer: a failed job's transit copy waits for its keep time to pass
    locked_until: str = ""  # consumer: the DR copy can't be deleted before then (EBS snapshot lock)
    created: str = ""
    updated: str = ""
    due: str = ""  # when the poller should look at it next
    version: int = 0  # bumped by every write: the condition of the next one

    @property
    def inventory_key(self) -> str:
        """The source this copy belongs to: account, kind and name, so sources never mix."""
        return f"{self.source_acct}#{self.kind}#{self.source_name}"

    @property
    def source_created(self) -> datetime:
        return clock.parse_iso(self.source_time)

    @property
    def is_due_work(self) -> bool:
        """Listed in the ``due`` index: active, or a failed job whose transit copy awaits cleanup."""
        return self.state.is_active or (self.state is State.FAILED and self.cleanup)

    def to_item(self) -> dict[str, Any]:
        """The job's DynamoDB item (without the index keys the store adds); empty, false and zero fields
        are left out and read back as their defaults, but ``encrypted`` is always written."""
        item = {k: v for k, v in self.__dict__.items() if v not in ("", None, False, 0) or k == "encrypted"}
        item["state"] = self.state.value
        item["tags"] = dict(self.tags)
        for name in ("failed_from", "leg"):
            if item.get(name) is not None:
                item[name] = str(item[name])
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Job:
        names = cls.__dataclass_fields__.keys()
        values = {k: v for k, v in item.items() if k in names}
        values["state"] = State(item["state"])
        values["tags"] = dict(item.get("tags") or {})
        # A value this version doesn't know (written by an older one) reads as none: a retry then says so.
        values["failed_from"] = State._value2member_map_.get(item.get("failed_from") or "")
        values["leg"] = Leg._value2member_map_.get(item.get("leg") or "")
        for number in ("attempts", "size_gb", "copy_seconds", "version"):
            values[number] = int(item.get(number, 0))
        return cls(**values)
