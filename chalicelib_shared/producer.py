"""The production account's side of the pipeline.

From "snapshot created" to "transit copy shared with DR", and the transit
copy's deletion once DR holds its own copy. Each step reads the job, acts, and
moves the job on with a conditional write, so a repeated event or message finds
the job already moved and does nothing. Unanswered messages are sent again by
the poller (``RESEND_AFTER``) until ``MAX_RESENDS``, so a lost SNS delivery
delays a copy but never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.config import ProducerConfig
from chalicelib_shared.jobs import Job, JobTable, State
from chalicelib_shared.kinds import KINDS, SnapshotKind
from chalicelib_shared.log import logger
from chalicelib_shared.messages import EventType, Message, Rejection
from chalicelib_shared.naming import (
    SOURCE_ARN_TAG,
    TRANSIT_TAG,
    is_transit_id,
    parse_snapshot_arn,
    transit_id,
)
from chalicelib_shared.pipeline import FAILED_STATUSES, RESEND_AFTER, Side
from chalicelib_shared.rds_events import RdsEvent


@dataclass
class Producer(Side):
    config: ProducerConfig
    rds: Any
    sns: Any
    jobs: JobTable

    # --- RDS events -------------------------------------------------------
    def on_rds_event(self, event: RdsEvent) -> str:
        if is_transit_id(event.source_id):
            if event.is_copy_finished:
                job = self.jobs.get(event.source_id.lower())
                return self.check_transit(job) if job and job.state is State.TRANSIT_COPYING else "ignored"
            return "ignored: DRACO's own transit copy"
        if event.is_created:
            return self.snapshot_created(event.kind, event.source_id)
        return "ignored"

    def snapshot_created(self, kind: SnapshotKind, snapshot_id: str) -> str:
        """Ask DR whether to copy a new snapshot; the job remembers the question."""
        snapshot = kind.describe(self.rds, snapshot_id)
        if snapshot is None:
            return f"ignored: snapshot {snapshot_id} not found"
        arn = parse_snapshot_arn(snapshot.arn)
        job = Job(
            job_id=transit_id(snapshot.snapshot_id),
            state=State.REQUESTED,
            kind=kind.name,
            source_acct=arn.account if arn else "",
            source_arn=snapshot.arn,
            source_id=snapshot.snapshot_id,
            source_name=snapshot.source_name,
            source_time=clock.iso(snapshot.created),
            tags=dict(snapshot.tags),
        )
        if not self.jobs.create(job, due=clock.now() + RESEND_AFTER):
            return "duplicate: already requested"
        self._send(job.message(EventType.COPY_REQUEST))
        return "copy requested"

    # --- messages from DR -------------------------------------------------
    def on_message(self, message: Message) -> str | Rejection:
        handler = {
            EventType.COPY_INITIATE: self.start_transit_copy,
            EventType.NO_COPY: self.skip,
            EventType.DELETE_SHARED: self.delete_transit,
        }.get(message.event_type)
        if handler is None:
            return Rejection(f"{message.event_type.value} is not a message for the producer")
        job = self.jobs.get(transit_id(message.source_id))
        if job is None or job.source_arn != message.source_arn:
            return Rejection("no DRACO job for this source snapshot in this account")
        return handler(job, message)

    def start_transit_copy(self, job: Job, message: Message) -> str:
        """Copy the source into a transit copy under the transit key, which DR may use."""
        if job.state is not State.REQUESTED:
            return f"duplicate: job is {job.state.value}"
        kind = KINDS[job.kind]
        source = kind.describe(self.rds, job.source_id)
        if source is None:
            return self._fail(job, "the source snapshot was deleted before it could be copied")
        key = self.config.transit_key_arn
        if not (source.encrypted or kind.encrypts_on_copy):
            logger.warning(
                "unencrypted cluster snapshot: the transit and DR copies stay unencrypted", source=job.source_arn
            )
            key = ""
        tags = {TRANSIT_TAG: "true", SOURCE_ARN_TAG: job.source_arn, self.config.tag_key: self.config.tag_value}
        if not kind.copy(self.rds, job.source_arn, job.job_id, key or None, tags):
            existing = kind.describe(self.rds, job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != job.source_arn:
                return self._fail(job, f"snapshot {job.job_id} exists and is not this source's transit copy")
        transit_arn = _sibling_arn(job.source_arn, job.job_id)
        moved = self.jobs.advance(job, State.TRANSIT_COPYING, transit_id=job.job_id, transit_arn=transit_arn)
        return "transit copy started" if moved else "duplicate: moved by another run"

    def check_transit(self, job: Job) -> str:
        """Once the transit copy is available: share it with DR and tell DR."""
        kind = KINDS[job.kind]
        transit = kind.describe(self.rds, job.transit_id)
        if transit is None:
            return self._fail(job, f"transit copy {job.transit_id} disappeared")
        if transit.status in FAILED_STATUSES:
            return self._fail(job, f"transit copy {job.transit_id} is {transit.status}")
        if transit.status != "available":
            return f"waiting: transit copy is {transit.status}"
        kind.share(self.rds, job.transit_id, self.config.dr_account)
        self._send(job.message(EventType.COPY_SHARED, encrypted=transit.encrypted))
        moved = self.jobs.advance(job, State.SHARED, due=clock.now() + RESEND_AFTER, encrypted=transit.encrypted)
        return "transit copy shared" if moved else "duplicate: moved by another run"

    def delete_transit(self, job: Job, message: Message) -> str | Rejection:
        """DR holds its copy: delete the transit copy, and only that."""
        if job.state is State.DONE:
            return "duplicate: transit copy already deleted"
        if job.state is not State.SHARED or message.transit_arn != job.transit_arn:
            return Rejection(f"the transit copy of this job is not awaiting deletion (job is {job.state.value})")
        kind = KINDS[job.kind]
        transit = kind.describe(self.rds, job.transit_id)
        if transit is not None and transit.tags.get(TRANSIT_TAG) != "true":
            return Rejection(f"{job.transit_id} is not tagged as a DRACO transit copy; not deleted")
        if transit is not None:
            kind.delete(self.rds, job.transit_id)
        moved = self.jobs.advance(job, State.DONE)
        return "transit copy deleted" if moved else "duplicate: moved by another run"

    def skip(self, job: Job, message: Message) -> str:
        if job.state is not State.REQUESTED:
            return f"duplicate: job is {job.state.value}"
        self.jobs.advance(job, State.SKIPPED, reason=message.reason)
        return f"not copied: {message.reason}"

    # --- the poller -------------------------------------------------------
    def step(self, job: Job) -> str:
        """One due job: check a running transit copy, or re-send an unanswered message."""
        if job.state is State.TRANSIT_COPYING:
            return self.check_transit(job)
        if job.state is State.REQUESTED:
            return self._resend(job, job.message(EventType.COPY_REQUEST))
        return self._resend(job, job.message(EventType.COPY_SHARED, encrypted=job.encrypted))

    def _topic(self, message: Message) -> str:
        return self.config.dr_topic_arn


def _sibling_arn(arn: str, snapshot_id: str) -> str:
    """The ARN of another snapshot of the same kind in the same account and Region."""
    parsed = parse_snapshot_arn(arn)
    resource = "snapshot" if parsed.snapshot_type == "RDS" else "cluster-snapshot"
    return f"arn:{parsed.partition}:rds:{parsed.region}:{parsed.account}:{resource}:{snapshot_id}"
