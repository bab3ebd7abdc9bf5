"""The protocol message about a job's snapshot.

Kept out of ``jobs`` so the state machine does not load the wire protocol (and,
through it, every kind): only the use-cases, which send messages, need this.
"""

from __future__ import annotations

from typing import Any

from chalicelib_shared.jobs import Job
from chalicelib_shared.messages import EventType, Message


def message_about(job: Job, event_type: EventType, **fields: Any) -> Message:
    """The ``event_type`` message about ``job``'s snapshot; ``fields`` add to or override the job's own."""
    params: dict[str, Any] = {
        "snapshot_type": job.kind,
        "source_acct": job.source_acct,
        "source_arn": job.source_arn,
        "source_id": job.source_id,
        "source_name": job.source_name,
        "source_time": job.source_created,
        "tags": tuple(job.tags.items()),
        "transit_arn": job.transit_arn,
        "transit_id": job.transit_id,
    }
    return Message(event_type=event_type, **{**params, **fields})
