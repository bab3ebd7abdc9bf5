"""The DR account's side of the pipeline.

Decides what to copy (allowed account, ``Draco_Lifecycle``), copies each shared
transit copy under the source's own DR key, tells the producer to delete the
transit copy once the DR copy is available, then applies the source's current
lifecycle to that source's DR copies. Like the producer, every step is a
conditional job transition, and unanswered messages are re-sent by the poller.

The lifecycle pass reads the source's copies from the job table's ``inventory``
index (one Query), not by listing every snapshot in the account: its cost
depends on how many copies that source has, not on the size of the DR account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.log import logger
from chalicelib_shared.messages import EventType, Message, Rejection
from chalicelib_shared.naming import (
    LIFECYCLE_TAG,
    SOURCE_ARN_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TIME_TAG,
    dr_copy_id,
    dr_copy_tags,
    parse_snapshot_arn,
    transit_id,
)
from chalicelib_shared.pipeline import RESEND_AFTER, Side, hourly
from chalicelib_shared.rds_events import RdsEvent
from chalicelib_shared.retention import Policy, apply_policy, resolve_lifecycle


@dataclass
class Consumer(Side):
    config: ConsumerConfig
    keys: SourceKeys
    region: str

    # --- messages from production -----------------------------------------
    def on_message(self, message: Message) -> str | Rejection:
        refusal = self._authorize(message)
        if refusal:
            return refusal
        handler = {
            EventType.COPY_REQUEST: self.copy_requested,
            EventType.COPY_SHARED: self.copy_shared,
        }.get(message.event_type)
        if handler is None:
            return Rejection(f"{message.event_type.value} is not a message for the consumer")
        return handler(message)

    def _authorize(self, message: Message) -> Rejection | None:
        if message.source_acct not in self.config.source_accounts:
            return Rejection(f"account {message.source_acct} is not an allowed source account")
        for arn in filter(None, (message.source_arn, message.transit_arn)):
            parsed = parse_snapshot_arn(arn)
            if parsed is None or parsed.region != self.region:
                return Rejection(f"{arn} is not in this Region ({self.region})")
        return None

    def lifecycle(self, tags: Mapping[str, str]) -> Policy:
        return resolve_lifecycle(tags.get(LIFECYCLE_TAG), self.config.custom_lifecycles, self.config.default_lifecycle)

    def copy_requested(self, message: Message) -> str:
        """Answer a copy request: initiate (with the DR key) or no-copy (with the reason).

        The job is created first, and read only when that finds one (a repeat).
        """
        job = self._new_job(message)
        if job.state is State.INITIATED:
            self._send(job.message(EventType.COPY_INITIATE, target_kms_id=job.target_key))
            return "copy initiated"
        if job.state is State.SKIPPED:
            self._send(job.message(EventType.NO_COPY, reason=job.reason))
            return f"not copied: {job.reason}"
        return f"duplicate: job is {job.state.value}"

    def _new_job(self, message: Message) -> Job:
        """The job for a snapshot DR hears of first: copy it or not, by its lifecycle."""
        tags = dict(message.tags)
        policy = self.lifecycle(tags)
        job = Job(
            job_id=dr_copy_id(message.source_acct, message.source_id),
            state=State.INITIATED,
            kind=message.snapshot_type,
            source_acct=message.source_acct,
            source_arn=message.source_arn,
            source_id=message.source_id,
            source_name=message.source_name,
            source_time=clock.iso(message.source_time or clock.now()),
            tags=tags,
        )
        if policy.ignore:
            job = replace(job, state=State.SKIPPED, reason=policy.problem or f"{LIFECYCLE_TAG} is Ignore")
        else:
            if policy.keep_all:
                logger.warning(
                    "unknown lifecycle: copying, deleting nothing",
                    problem=policy.problem,
                    correlation_id=job.source_arn,
                )
            job = replace(job, target_key=self.keys.ensure(message.source_name))
        # None: a job for this snapshot exists already (a repeat, or another run); use it.
        return self.jobs.create(job, due=clock.now() + RESEND_AFTER) or self.jobs.get(job.job_id) or job

    def copy_shared(self, message: Message) -> str | Rejection:
        """Queue the copy of a shared transit copy, and start it if a slot is free."""
        if message.transit_id.lower() != transit_id(message.source_id):
            return Rejection("TransitId is not the DRACO transit copy of SourceId")
        job = self.jobs.get(dr_copy_id(message.source_acct, message.source_id))
        if job is None:  # the request was lost; decide now, as for a request
            job = self._new_job(message)
        if job.state in (State.DONE, State.EXPIRED, State.SKIPPED):
            transit = {"transit_arn": message.transit_arn, "transit_id": message.transit_id}
            self._send(job.message(EventType.DELETE_SHARED, **transit))
            return f"transit copy not needed (job is {job.state.value}): asked producer to delete it"
        if job.state is not State.INITIATED:
            return f"duplicate: job is {job.state.value}"
        shared = replace(
            job,
            transit_id=message.transit_id,
            transit_arn=message.transit_arn,
            tags=dict(message.tags),
            source_time=clock.iso(message.source_time or job.source_created),
            encrypted=message.encrypted,
        )
        return self.start_or_queue(shared, State.COPY_QUEUED)

    def start_copy(self, job: Job) -> str:
        """Copy the shared transit copy into this account under the source's DR key."""
        kind = KINDS[job.kind]
        own = {
            self.config.tag_key: self.config.tag_value,
            SOURCE_ARN_TAG: job.source_arn,
            SOURCE_NAME_TAG: job.source_name,
            SOURCE_TIME_TAG: job.source_time,
        }
        tags, dropped = dr_copy_tags(job.tags, own)
        if dropped:
            logger.warning(
                "source tags dropped: AWS allows 50 per snapshot", dropped=dropped, correlation_id=job.source_arn
            )
        if not job.encrypted:
            logger.warning("unencrypted cluster snapshot: the DR copy stays unencrypted", correlation_id=job.source_arn)
        if not kind.copy(self.rds, job.transit_arn, job.job_id, job.target_key if job.encrypted else None, tags):
            existing = kind.describe(self.rds, job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != job.source_arn:
                return self._fail(job, f"snapshot {job.job_id} exists and is not this source's DR copy")
        moved = self._started(job, State.COPYING, attempts=0, reason="")
        return "started DR copy" if moved else "duplicate: moved by another run"

    # --- RDS events in the DR account ---------------------------------------
    def on_rds_event(self, event: RdsEvent) -> str:
        if not event.is_copy_finished:
            return "ignored"
        return self.copy_finished(event.source_id, State.COPYING)

    def copy_id(self, job: Job) -> str:
        return job.job_id

    def check_copy(self, job: Job, copy: Snapshot | None = None) -> str:
        """Once the DR copy is available: release the transit copy, apply the lifecycle."""
        copy = self._available(job, "DR copy", copy)  # failed: the transit copy is kept
        if isinstance(copy, str):
            return copy
        self._send(job.message(EventType.DELETE_SHARED))
        done = self._finish(job, State.DONE, reason="")
        if done is None:
            return "duplicate: moved by another run"
        self.jobs.record_newest(done)
        self.apply_lifecycle(job.inventory_key)
        return "DR copy available"

    def apply_lifecycle(self, inventory_key: str) -> dict[str, list[str]]:
        """Apply the source's current lifecycle (from its newest copy's tags) to its DR copies."""
        copies = {job.job_id: job for job in self.jobs.inventory(inventory_key)}
        if not copies:
            return {"keep": [], "delete": []}
        newest = max(copies.values(), key=lambda job: job.source_time)
        policy = self.lifecycle(newest.tags)
        if policy.ignore or policy.keep_all:
            logger.warning("lifecycle not applied", source=inventory_key, problem=policy.problem or "Ignore")
            return {"keep": list(copies), "delete": []}
        result = apply_policy(policy, [(job.job_id, job.source_created) for job in copies.values()])
        for copy_id in result.delete:
            job = copies[copy_id]
            if not self.config.live:
                logger.info(f"dry run: would delete {copy_id}", lifecycle=str(policy), correlation_id=job.source_arn)
                metrics.count("SnapshotsWouldDelete")
                continue
            try:
                KINDS[job.kind].delete(self.rds, copy_id)
            except (ClientError, BotoCoreError) as error:  # the next pass tries again
                logger.warning(f"could not delete {copy_id}", error=errors.describe(error))
                continue
            self.jobs.advance(job, State.EXPIRED, reason=f"expired by lifecycle {policy}")
            metrics.count("SnapshotsDeleted")
            logger.info(f"deleted {copy_id}", lifecycle=str(policy), correlation_id=job.source_arn)
        return {"keep": list(result.keep), "delete": list(result.delete)}

    # --- the poller -------------------------------------------------------
    def poll(self) -> dict[str, int]:
        """A poll round, and hourly the recovery point: how old each source's newest copy is."""
        outcomes = super().poll()
        if hourly("Consumer:recovery-point"):
            self.report_recovery_point()
        return outcomes

    def report_recovery_point(self) -> dict[str, float]:
        ages = {
            key: round((clock.now() - newest).total_seconds() / 3600, 2) for key, newest in self.jobs.newest().items()
        }
        # Every hour, even with nothing protected yet: the alarm counts silence as breaching.
        metrics.count("RecoveryPointAgeHours", max(ages.values(), default=0))
        if ages:
            logger.info("recovery point", age_hours=ages)
        return ages

    def resend_message(self, job: Job) -> Message:
        return job.message(EventType.COPY_INITIATE, target_kms_id=job.target_key)

    def _topic(self, message: Message) -> str:
        """The producer topic of the message's own source account."""
        partition = message.source_arn.split(":")[1]
        return f"arn:{partition}:sns:{self.region}:{message.source_acct}:{self.config.producer_topic_name}"
