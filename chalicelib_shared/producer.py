"""The production account's side of the pipeline.

From "snapshot created" to "transit copy shared with DR", and the transit
copy's deletion once DR holds its own copy. Each step reads the job, acts, and
moves the job on with a conditional write, so a repeated event or message finds
the job already moved and does nothing. Unanswered messages are sent again by
the poller, so a lost SNS delivery delays a copy but never loses it; RDS events
that never arrive are made up for by ``sweep``.

The producer acts only on jobs it created itself, and deletes only a snapshot
that its job names as the transit copy and that carries DRACO's transit tag: a
forged message can't make it delete a production snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors
from chalicelib_shared.config import ProducerConfig
from chalicelib_shared.jobs import KEY, Job, State
from chalicelib_shared.kinds import KINDS, Snapshot, SnapshotKind
from chalicelib_shared.log import logger
from chalicelib_shared.messages import EventType, Message, Rejection
from chalicelib_shared.naming import SOURCE_ARN_TAG, TRANSIT_TAG, is_transit_id, parse_snapshot_arn, transit_id
from chalicelib_shared.pipeline import RESEND_AFTER, Side
from chalicelib_shared.rds_events import RdsEvent

#: Snapshots a sweep considers: the ones AWS has finished making, of these types.
SWEPT_TYPES = frozenset({"manual", "automated", "awsbackup"})


@dataclass
class Producer(Side):
    config: ProducerConfig

    # --- RDS events -------------------------------------------------------
    def on_rds_event(self, event: RdsEvent) -> str:
        if is_transit_id(event.source_id):
            if event.is_copy_finished:
                return self.copy_finished(event.source_id, State.TRANSIT_COPYING)
            return "ignored: DRACO's own transit copy"
        if event.is_created:
            snapshot = event.kind.describe(self.rds, event.source_id)
            if snapshot is None:
                return f"ignored: snapshot {event.source_id} not found"
            return self.snapshot_created(event.kind, snapshot)
        return "ignored"

    def snapshot_created(self, kind: SnapshotKind, snapshot: Snapshot) -> str:
        """Ask DR whether to copy a new snapshot; the job remembers the question."""
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
            encrypted=snapshot.encrypted or kind.encrypts_on_copy,
        )
        if self.jobs.create(job, due=clock.now() + RESEND_AFTER) is None:
            return "duplicate: already requested"
        self._send(job.message(EventType.COPY_REQUEST))
        return "copy requested"

    def sweep(self, days: int | None = None, source: str | None = None) -> dict[str, int]:
        """Start jobs for recent snapshots that have none (RDS events are best effort).

        Scheduled, it looks back ``SWEEP_DAYS``; an operator's backfill names its own
        window and, optionally, one source database. A snapshot that has a job, in
        any state, is left alone, so running it twice starts nothing new.
        """
        since = clock.now() - timedelta(days=days or self.config.sweep_days)
        recent = [
            (kind, snapshot)
            for kind in KINDS.values()
            for snapshot in kind.list(self.rds)
            if not is_transit_id(snapshot.snapshot_id)
            and snapshot.status == "available"
            and snapshot.snapshot_type in SWEPT_TYPES
            and snapshot.created >= since
            and (source is None or snapshot.source_name == source)
        ]
        known = _existing_jobs(self.jobs.table, {transit_id(snapshot.snapshot_id) for _, snapshot in recent})
        counts = {"seen": len(recent), "started": 0}
        for kind, snapshot in recent:
            if transit_id(snapshot.snapshot_id) in known:
                continue
            try:
                counts["started"] += self.snapshot_created(kind, snapshot) == "copy requested"
            except (ClientError, BotoCoreError) as error:  # the next sweep tries this one again
                counts["errors"] = counts.get("errors", 0) + 1
                logger.warning("sweep skipped a snapshot", snapshot=snapshot.arn, error=errors.describe(error))
        return counts

    # --- messages from DR -------------------------------------------------
    def on_message(self, message: Message) -> str | Rejection:
        handler = {
            EventType.COPY_INITIATE: self.copy_initiated,
            EventType.NO_COPY: self.skip,
            EventType.DELETE_SHARED: self.delete_transit,
        }.get(message.event_type)
        if handler is None:
            return Rejection(f"{message.event_type.value} is not a message for the producer")
        job = self.jobs.get(transit_id(message.source_id))
        if job is None or job.source_arn != message.source_arn:
            return Rejection("no DRACO job for this source snapshot in this account")
        return handler(job, message)

    def copy_initiated(self, job: Job, message: Message) -> str:
        """DR wants a copy: start the transit copy if a slot is free, else queue it."""
        if job.state is not State.REQUESTED:
            return f"duplicate: job is {job.state.value}"
        return self.start_or_queue(job, State.TRANSIT_QUEUED)

    def start_copy(self, job: Job) -> str:
        """Copy the source into a transit copy under the transit key, which DR may use."""
        kind = KINDS[job.kind]
        key = self.config.transit_key_arn
        if not job.encrypted:  # an unencrypted cluster snapshot: KmsKeyId would be refused
            logger.warning(
                "unencrypted cluster snapshot: the transit and DR copies stay unencrypted", source=job.source_arn
            )
            key = ""
        tags = {TRANSIT_TAG: "true", SOURCE_ARN_TAG: job.source_arn, self.config.tag_key: self.config.tag_value}
        if not kind.copy(self.rds, job.source_arn, job.job_id, key or None, tags):
            existing = kind.describe(self.rds, job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != job.source_arn:
                return self._fail(job, f"snapshot {job.job_id} exists and is not this source's transit copy")
        moved = self._started(
            job, State.TRANSIT_COPYING, transit_id=job.job_id, transit_arn=_sibling_arn(job.source_arn, job.job_id)
        )
        return "started transit copy" if moved else "duplicate: moved by another run"

    def copy_id(self, job: Job) -> str:
        return job.transit_id

    def check_copy(self, job: Job, copy: Snapshot | None = None) -> str:
        """Once the transit copy is available: share it with DR and tell DR."""
        transit = self._available(job, "transit copy", copy)
        if isinstance(transit, str):
            return transit
        KINDS[job.kind].share(self.rds, job.transit_id, self.config.dr_account)
        self._send(job.message(EventType.COPY_SHARED, encrypted=transit.encrypted))
        moved = self._finish(
            job, State.SHARED, due=clock.now() + RESEND_AFTER, encrypted=transit.encrypted, attempts=0, reason=""
        )
        return "transit copy shared" if moved else "duplicate: moved by another run"

    def delete_transit(self, job: Job, message: Message) -> str | Rejection:
        """DR holds its copy: delete the transit copy, and only that."""
        if job.state is State.DONE:
            return "duplicate: transit copy already deleted"
        if job.state is not State.SHARED or message.transit_arn != job.transit_arn:
            return Rejection(f"the transit copy of this job is not awaiting deletion (job is {job.state.value})")
        # The job proves the snapshot is DRACO's: it is this source's transit id, and
        # DRACO's own copy made it (a name taken by anything else failed the job).
        KINDS[job.kind].delete(self.rds, job.transit_id)
        moved = self.jobs.advance(job, State.DONE, reason="")
        return "transit copy deleted" if moved else "duplicate: moved by another run"

    def skip(self, job: Job, message: Message) -> str:
        if job.state is not State.REQUESTED:
            return f"duplicate: job is {job.state.value}"
        if self.jobs.advance(job, State.SKIPPED, reason=message.reason) is None:
            return "duplicate: moved by another run"
        return f"not copied: {message.reason}"

    # --- the poller -------------------------------------------------------
    def resend_message(self, job: Job) -> Message:
        if job.state is State.REQUESTED:
            return job.message(EventType.COPY_REQUEST)
        return job.message(EventType.COPY_SHARED, encrypted=job.encrypted)

    def _topic(self, message: Message) -> str:
        return self.config.dr_topic_arn


def _sibling_arn(arn: str, snapshot_id: str) -> str:
    """The ARN of another snapshot of the same kind in the same account and Region."""
    prefix = arn[: arn.index(":snapshot:" if ":snapshot:" in arn else ":cluster-snapshot:")]
    resource = "snapshot" if ":snapshot:" in arn else "cluster-snapshot"
    return f"{prefix}:{resource}:{snapshot_id}"


def _existing_jobs(table: Any, job_ids: set[str]) -> set[str]:
    """Which of these jobs exist: one BatchGetItem per 100 ids, as a sweep asks about many."""
    found: set[str] = set()
    ids = sorted(job_ids)
    for start in range(0, len(ids), 100):
        request = {
            table.name: {
                "Keys": [{KEY: job_id} for job_id in ids[start : start + 100]],
                "ProjectionExpression": "#key",
                "ExpressionAttributeNames": {"#key": KEY},
            }
        }
        while request:
            page = table.meta.client.batch_get_item(RequestItems=request)
            found |= {item[KEY] for item in page["Responses"].get(table.name, [])}
            request = page.get("UnprocessedKeys") or {}
    return found
