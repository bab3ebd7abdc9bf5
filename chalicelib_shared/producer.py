"""The production account's side of the pipeline.

From "snapshot created" to "transit copy shared with DR", and the transit
copy's deletion once DR holds its own copy. Each step reads the job, acts, and
moves the job on with a conditional write, so a repeated event or message finds
the job already moved and does nothing. Unanswered messages are sent again by
the poller, paced by how long the copy should take, so a lost SNS delivery
delays a copy but never loses it; events that never arrive are made up for by
``sweep``.

The producer protects its own account: it acts only on jobs it created, deletes
only a snapshot its job names as the transit copy (and IAM lets it delete only
snapshots tagged as transit copies); at most ``TRANSIT_LIMIT`` transit copies
exist at once and none is started past 80 % of the manual snapshot quota
(transit copies count against it); and a failed job's transit copy is deleted
after ``TRANSIT_KEEP_DAYS``, but only while its source snapshot still exists,
so DRACO never deletes the last copy of anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors
from chalicelib_shared.config import ProducerConfig
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, Leg, State
from chalicelib_shared.kinds import KINDS, EventType, Snapshot, SnapshotEvent, SnapshotKind
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.managed import left_to_its_feature
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import (
    COPY_NAME_TAG,
    SOURCE_ARN_TAG,
    SOURCE_ID_TAG,
    TRANSIT_TAG,
    arn_tag,
    carried_tags,
    is_transit_id,
    transit_id,
)
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.pipeline import Side
from chalicelib_shared.rejection import Rejection

#: Re-sends start this long after a message, then double, up to ``MAX_RESEND_GAP``.
FIRST_RESEND = timedelta(minutes=30)
MAX_RESEND_GAP = timedelta(hours=8)
#: About three days of re-sends without an answer, then the job fails and is reported.
MAX_RESENDS = 12
TRANSIT_POOL = "transit"
QUOTA_CEILING = 0.8


def resend_delay(job: Job) -> timedelta:
    """When to send a waiting job's message again: after DR's copy should have ended, then backing off.

    DR copies the transit copy, which took ``copy_seconds`` to make from the same
    data, so copy-shared is first re-sent after twice that (at least 30 minutes):
    a long copy is not taken for a lost message.
    """
    base = max(FIRST_RESEND, timedelta(seconds=2 * job.copy_seconds))
    return min(MAX_RESEND_GAP, base * 2**job.attempts) if job.attempts else base


def _carried(snapshot: Snapshot) -> dict[str, str]:
    """The tags a copy-request carries (at most 50: EBS merges a volume's tags with its snapshot's)."""
    tags, dropped = carried_tags(snapshot.tags)
    if dropped:
        logger.warning("source tags dropped: a copy holds at most 50", dropped=dropped, kept_first="Draco_Lifecycle")
    return tags


def _is_draco_copy(snapshot: Snapshot) -> bool:
    return is_transit_id(snapshot.snapshot_id) or TRANSIT_TAG in snapshot.tags


@dataclass
class Producer(Side):
    config: ProducerConfig
    #: The transit pool's holders as this run read them (``None``: not read): a take is conditional all the same.
    _holding: set[str] | None = field(default=None, init=False, repr=False)

    # --- AWS events -------------------------------------------------------------------
    def on_event(self, event: SnapshotEvent) -> Result:
        api = self.api(event.kind)
        snapshot = api.describe(event.snapshot_id)
        if snapshot is None:
            return Result(Outcome.IGNORED, f"snapshot {event.snapshot_id} not found")
        with correlated(snapshot.arn):
            if event.type is EventType.COPY_FINISHED:
                job = self.jobs.get(snapshot.name)
                if job is None or job.state is not State.TRANSIT_COPYING:
                    return Result(Outcome.IGNORED, "not a transit copy in progress", snapshot.arn)
                return self.attempt(job, lambda job: self.check_copy(job, snapshot))
            if _is_draco_copy(snapshot):
                return Result(Outcome.IGNORED, "DRACO's own transit copy", snapshot.arn)
            elsewhere = left_to_its_feature(snapshot, self.config.copy_managed)
            if elsewhere:
                return Result(Outcome.IGNORED, elsewhere, snapshot.arn)
            return self.snapshot_created(KINDS[event.kind], api.announce(snapshot))

    def snapshot_created(self, kind: SnapshotKind, snapshot: Snapshot) -> Result:
        """Ask DR whether to copy a new snapshot; the job remembers the question."""
        job = Job(
            job_id=transit_id(snapshot.snapshot_id),
            state=State.REQUESTED,
            kind=kind.name,
            source_acct=snapshot.owner,
            source_arn=snapshot.arn,
            source_id=snapshot.snapshot_id,
            source_name=snapshot.source_name,
            source_time=clock.iso(snapshot.created),
            tags=_carried(snapshot),
            encrypted=snapshot.encrypted or kind.encrypts_on_copy,
            size_gb=snapshot.size_gb,
            leg=Leg.TRANSIT,
        )
        if self.jobs.create(job, due=clock.now() + resend_delay(job)) is None:
            return Result(Outcome.DUPLICATE, "already requested", snapshot.arn)
        self.send(message_about(job, Msg.COPY_REQUEST))
        return Result(Outcome.COPY_REQUESTED, "", snapshot.arn)

    def sweep(self, days: int | None = None, source: str | None = None) -> dict[str, int]:
        """Start jobs for recent snapshots that have none (events are best effort).

        Scheduled, it looks back ``SWEEP_DAYS``; an operator's backfill names its own
        window and, optionally, one source. A snapshot that has a job, in any state,
        is left alone, so running it twice starts nothing new; so is one another AWS
        feature made, unless asked for (``managed``).
        """
        since = clock.now() - timedelta(days=days or self.config.sweep_days)
        recent = [
            (kind, snapshot)
            for kind in KINDS.values()
            for snapshot in self.api(kind.name).recent(since)
            if not _is_draco_copy(snapshot)
            and not left_to_its_feature(snapshot, self.config.copy_managed)
            and (source is None or snapshot.source_name == source)
        ]
        known = self.jobs.existing(transit_id(snapshot.snapshot_id) for _, snapshot in recent)
        counts = {"seen": len(recent), "started": 0}
        for kind, snapshot in recent:
            if transit_id(snapshot.snapshot_id) in known:
                continue
            try:
                result = self.snapshot_created(kind, self.api(kind.name).announce(snapshot))
            except (ClientError, BotoCoreError) as error:  # the next sweep tries this one again
                counts["errors"] = counts.get("errors", 0) + 1
                logger.warning("sweep skipped a snapshot", snapshot=snapshot.arn, error=errors.describe(error))
                continue
            counts["started"] += result.outcome is Outcome.COPY_REQUESTED
        return counts

    def scheduled_sweep(self) -> dict[str, int]:
        """The scheduled sweep, which also stands in for the wake-up while it rests (``pacing``): the
        quota check, and the wake-up's rule enabled whenever a job has work left."""
        counts = self.sweep()
        self.watch_quota()
        self.switch.rest_wake_up(None, self.has_work, resting=False)
        return counts

    # --- messages from DR -------------------------------------------------------------
    def on_message(self, message: Message) -> Result | Rejection:
        handler = {
            Msg.COPY_INITIATE: self.copy_initiated,
            Msg.NO_COPY: self.skip,
            Msg.DELETE_SHARED: self.delete_transit,
        }.get(message.event_type)
        if handler is None:
            return Rejection(f"{message.event_type.value} is not a message for the producer")
        job_id, held = transit_id(message.source_id), None
        if message.event_type is Msg.DELETE_SHARED:  # the same read says whether the transit pool is full
            job, held = self.jobs.get_with_holders(job_id, TRANSIT_POOL)
        else:
            job = self.jobs.get(job_id)
        if job is None or job.source_arn != message.source_arn:
            return Rejection("no DRACO job for this source snapshot in this account")
        result = handler(job, message)
        if held is not None and len(held) >= self.config.transit_limit and result.outcome is Outcome.TRANSIT_DELETED:
            self._holding = held - {job.job_id}  # as just read, less the place given back: not read again
            try:
                self.start_waiting()  # the place this job gave back goes to the oldest copy waiting for one
            finally:
                self._holding = None
        return result

    def copy_initiated(self, job: Job, message: Message) -> Result:
        """DR wants a copy: start the transit copy if there is room, else queue it."""
        if job.state is not State.REQUESTED:
            return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)
        return self.start_or_queue(job, State.TRANSIT_QUEUED)

    def take_room(self, job: Job) -> str:
        """A transit copy needs room under ``TRANSIT_LIMIT`` and under 80 % of the snapshot quota."""
        quota = self.api(job.kind).quota()
        if quota is not None and quota.max and quota.used + 1 > QUOTA_CEILING * quota.max:
            return f"manual snapshot quota at {quota.used} of {quota.max}: waiting below {QUOTA_CEILING:.0%}"
        if not self._take_transit_room(job):
            return self._transit_full()
        return ""

    def _take_transit_room(self, job: Job) -> bool:
        """A place in the transit pool (a poll round, ``room_left``, gave back places nobody holds first).

        A place belongs to a job whose transit copy exists: copying, shared, or failed with the
        copy kept for cleanup. Outside a round a full pool only queues the copy: the round that
        starts queued copies finds places a run that died left behind, from its own listing.
        """
        return self.slots.take(TRANSIT_POOL, job.job_id, self.config.transit_limit)

    def room_left(self) -> tuple[int, str]:
        """Places left under ``TRANSIT_LIMIT``, once places nobody holds any more are given back.

        The round's listing says which holders still hold one; only an unlisted holder is read. When the
        listed jobs alone fill the pool, nothing is read at all: a full pool costs a round no call.
        """
        if sum(_transit_exists(job) for job in self.listed.values()) >= self.config.transit_limit:
            return 0, self._transit_full()
        holders = self.slots.holders(TRANSIT_POOL) if self._holding is None else self._holding
        stale = [job_id for job_id in holders if not _holds_transit(self.holds(job_id), clock.now())]
        self.slots.release(TRANSIT_POOL, stale)
        return self.config.transit_limit - len(holders) + len(stale), self._transit_full()

    def _transit_full(self) -> str:
        return f"{self.config.transit_limit} transit copies exist (TRANSIT_LIMIT)"

    def waits_for_a_place(self, job: Job) -> bool:
        """A copy queued because the transit pool was full: the run deleting a transit copy of a full pool
        starts it (``on_message``), so it keeps no poller on. One waiting out an error still does."""
        return job.state is State.TRANSIT_QUEUED and job.attempts == 0 and job.reason == self._transit_full()

    def rooms(self, job: Job) -> tuple[str, ...]:
        return (self.slot(job), TRANSIT_POOL)

    def start_copy(self, job: Job) -> Result:
        """Copy the source into a transit copy under the transit key, which DR may use."""
        kind = KINDS[job.kind]
        key = self.config.transit_key_arn
        if not job.encrypted:  # an unencrypted cluster snapshot: a key would be refused
            logger.warning("unencrypted snapshot that can't be encrypted by copying: copies stay unencrypted")
            key = ""
        tags = {
            TRANSIT_TAG: "true",
            SOURCE_ARN_TAG: arn_tag(job.source_arn),
            SOURCE_ID_TAG: job.source_id,
            COPY_NAME_TAG: job.job_id,
            self.config.tag_key: self.config.tag_value,
        }
        api = self.api(kind.name)
        copy = api.copy(job.source_arn, job.job_id, key or None, tags)
        arn = copy.arn
        if not copy.started:
            existing = api.find_copy(job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != arn_tag(job.source_arn):
                return self.fail(job, f"snapshot {job.job_id} exists and is not this source's transit copy")
            arn = existing.arn
        source = kind.parse_arn(job.source_arn)
        if not arn and source is not None:  # AWS gave the id only: the copy is in the source's account and Region
            arn = kind.arn(source.partition, source.region, source.account, copy.copy_id)
        return self.started(job, State.TRANSIT_COPYING, transit_id=copy.copy_id, transit_arn=arn)

    def copy_id(self, job: Job) -> str:
        return job.transit_id

    def check_copy(self, job: Job, copy: Snapshot | None) -> Result:
        """Once the transit copy is ready: share it with DR and tell DR."""
        transit = self.ready(job, "transit copy", copy)
        if not isinstance(transit, Snapshot):
            return transit
        self.api(job.kind).share(job.transit_id, self.config.dr_account)
        took = int((clock.now() - clock.parse_iso(job.updated)).total_seconds())
        shared = replace(job, copy_seconds=took, attempts=0)
        self.send(message_about(shared, Msg.COPY_SHARED, encrypted=transit.encrypted))
        moved = self.finished(
            job,
            State.SHARED,
            due=clock.now() + resend_delay(shared),
            encrypted=transit.encrypted,
            copy_seconds=took,
            attempts=0,
            reason="",
        )
        if moved is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.SHARED, job.transit_id, job.source_arn)

    def delete_transit(self, job: Job, message: Message) -> Result | Rejection:
        """DR holds its copy: delete the transit copy, and only that."""
        if job.state is State.DONE:
            return Result(Outcome.DUPLICATE, "transit copy already deleted", job.source_arn)
        if job.state is not State.SHARED or message.transit_arn != job.transit_arn:
            return Rejection(f"the transit copy of this job is not awaiting deletion (job is {job.state.value})")
        # The job proves the snapshot is DRACO's: this source's transit copy, made by DRACO's
        # own copy (a name taken by anything else failed the job).
        self.api(job.kind).delete(job.transit_id)
        if self.jobs.advance(job, State.DONE, release=[TRANSIT_POOL], reason="") is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.TRANSIT_DELETED, job.transit_id, job.source_arn)

    def skip(self, job: Job, message: Message) -> Result:
        if job.state is not State.REQUESTED:
            return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)
        if self.jobs.advance(job, State.SKIPPED, reason=message.reason) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.NOT_COPIED, message.reason, job.source_arn)

    # --- the poller -------------------------------------------------------------------
    def on_due(self, job: Job) -> Result:
        """Send an unanswered message again, until ``MAX_RESENDS``."""
        if job.attempts >= MAX_RESENDS:
            return self.fail(job, f"no answer from the DR account after {job.attempts} messages")
        if job.state is State.REQUESTED:
            message = message_about(job, Msg.COPY_REQUEST)
        else:
            message = message_about(job, Msg.COPY_SHARED, encrypted=job.encrypted)
        self.send(message)
        waited = replace(job, attempts=job.attempts + 1)
        self.jobs.advance(job, job.state, due=clock.now() + resend_delay(waited), attempts=waited.attempts)
        return Result(Outcome.RESENT, message.event_type.value, job.source_arn)

    def fail(self, job: Job, reason: str, resume: State | None = None, **changes: Any) -> Result:
        """A failed job that made a transit copy keeps it (and its transit room) for ``TRANSIT_KEEP_DAYS``."""
        if job.transit_id:
            changes = {"cleanup": True, "due": clock.now() + timedelta(days=self.config.transit_keep_days), **changes}
        return super().fail(job, reason, resume, **changes)

    def rooms_after_failure(self, job: Job) -> tuple[str, ...]:
        return (self.slot(job),) if job.transit_id else self.rooms(job)

    def on_failed(self, job: Job) -> Result:
        """A failed job's keep time is over: delete its transit copy if the source still exists."""
        api = self.api(job.kind)
        if api.describe(job.source_id) is None:
            # Kept for good: no longer DRACO's work in flight, so it leaves the transit pool (the
            # quota ceiling still counts it); an operator decides what becomes of it.
            self.jobs.advance(job, State.FAILED, release=[TRANSIT_POOL], cleanup=False)
            logger.warning("transit copy kept: its source snapshot is gone, it may be the last copy")
            return Result(Outcome.IGNORED, f"kept {job.transit_id}: the source is gone", job.source_arn)
        api.delete(job.transit_id)
        self.jobs.advance(job, State.FAILED, release=[TRANSIT_POOL], cleanup=False, transit_id="", transit_arn="")
        return Result(Outcome.CLEANED_UP, job.transit_id, job.source_arn)

    def _topic(self, message: Message) -> str:
        """This account's own outbox: DR learns the sending account from its ARN, which SNS sets."""
        return self.config.outbox_topic_arn


#: A place taken this recently may belong to a run still starting its copy: never taken back.
STARTING = timedelta(minutes=15)


def _holds_transit(job: Job | None, now: datetime) -> bool:
    """Whether a job's transit copy exists (or may be starting) and counts against ``TRANSIT_LIMIT``."""
    if job is None:
        return False
    return _transit_exists(job) or (job.state.is_active and now - clock.parse_iso(job.updated) < STARTING)


def _transit_exists(job: Job) -> bool:
    """The job's transit copy exists: copying, shared, or failed and kept for cleanup."""
    return job.state in (State.TRANSIT_COPYING, State.SHARED) or (job.state is State.FAILED and job.cleanup)
