"""What came of handling one event, message or job: a typed value, not a sentence.

Use-cases return a ``Result``; the handlers and the poll round log it and count
it, and the metric each outcome feeds is named here (``Outcome.metric``), so
no caller parses text to learn what happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """Each value reads as the start of a log line; ``metric`` is what it counts toward."""

    COPY_REQUESTED = "copy requested"  # producer: asked DR whether to copy a new snapshot
    COPY_INITIATED = "copy initiated"  # consumer: told production to make the transit copy
    NOT_COPIED = "not copied"  # no lifecycle, Ignore: the reason is the detail
    STARTED = "started"  # a transit or DR copy started
    QUEUED = "waiting for a copy slot"  # every copy slot of the kind is taken
    IN_PROGRESS = "in progress"  # a copy is still running, or is held back on purpose
    SHARED = "transit copy shared"  # producer: transit copy ready and shared with DR
    COPIED = "DR copy available"  # consumer: the DR copy is ready
    TRANSIT_DELETED = "transit copy deleted"
    RESENT = "re-sent"  # an unanswered message went out again
    RETRYING = "retrying"  # an AWS error is being waited out
    FAILED = "failed"  # the job gave up; the reason is the detail
    CLEANED_UP = "cleaned up"  # a failed job's transit copy was deleted after its keep time
    DUPLICATE = "duplicate"  # the job had moved on already: a repeat, or another run won
    IGNORED = "ignored"  # nothing for DRACO
    REJECTED = "rejected"  # malformed, unauthorised or unverifiable input

    @property
    def metric(self) -> str | None:
        """The CloudWatch metric this outcome counts toward, if any."""
        return _METRICS.get(self)


_METRICS = {
    Outcome.STARTED: "CopiesStarted",
    Outcome.SHARED: "CopiesCompleted",
    Outcome.COPIED: "CopiesCompleted",
    Outcome.QUEUED: "JobsWaitingForSlot",
    Outcome.FAILED: "JobsFailed",
    Outcome.REJECTED: "MessagesRejected",
}


@dataclass(frozen=True)
class Result:
    """One outcome, what it was about, and the source snapshot it concerns (the log's correlation id)."""

    outcome: Outcome
    detail: str = ""
    correlation_id: str = ""

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.detail}" if self.detail else self.outcome.value
