"""What both apps' use-cases share: the poll round, copy slots, waiting out errors, failing.

The producer and consumer each subclass ``Side`` and say where their peer
listens (``_topic``), how to start a queued copy (``start_copy``), how to check
one in flight (``check_copy``), which copy a job waits for (``copy_id``), what
to do when a job waiting on the other account falls due (``on_due``) and what
room a copy needs besides its kind's copy slot (``take_room``).

A poll round is one Query, listing every job with work left (the few in
flight, never the history), then, of those due: every copy in flight is
checked (with one Describe per kind for all of them), every waiting job whose
time has come is handled, and queued copies start while slots are free. The
listing also tells which slot holders still copy and when the next job falls
due, so a round asks the table nothing else unless a holder is unlisted or the
poller switches off. A copy whose end AWS announces (``awaits_event``) waits
for that event and needs no poller: any round looks at it all the same (the
hourly wake-up's at least), a safety net for a lost event. Any
AWS error in a step is waited out with backoff (``errors.is_worth_waiting``)
or fails that job alone, with AWS's reason; it never stops the round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.container import Container
from chalicelib_shared.jobs import POLLED_STATES, QUEUED_STATES, SLOT_STATES, WAITING_STATES, Job, State
from chalicelib_shared.kinds import KINDS, Phase, Snapshot, SnapshotApi
from chalicelib_shared.kinds.base import Quota
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.messages import Message
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.pacing import AlwaysOn, PacedJobs, Switch
from chalicelib_shared.ports import JobStore, Publisher, SlotStore, Snapshots
from chalicelib_shared.report import report

MAX_BACKOFF = timedelta(hours=1)
#: Listing the jobs due by then lists every job with work left.
EVERY_DUE = datetime(9999, 1, 1, tzinfo=timezone.utc)
QUOTA_WARN_AT = 0.8


@dataclass
class Side:
    """The ports both apps' use-cases work with."""

    config: ProducerConfig | ConsumerConfig
    jobs: JobStore
    slots: SlotStore
    publisher: Publisher
    snapshots: Snapshots  # SnapshotType -> that kind's snapshots in this account and Region
    switch: Switch = field(default_factory=AlwaysOn, kw_only=True)  # the poller's schedule (``pacing``)
    #: During a round, every job with work left, as its Query listed them (by job id).
    listed: dict[str, Job] = field(default_factory=dict, init=False, repr=False)

    container: Container = field(default_factory=Container, kw_only=True)  # what the Lambda container remembers

    def __post_init__(self) -> None:
        if isinstance(self.jobs, PacedJobs):  # a copy waiting for its event wakes no poller
            self.jobs.quiet = self.awaits_event

    # --- what each side says ------------------------------------------------------
    def _topic(self, message: Message) -> str:
        """The peer's topic for this message."""
        raise NotImplementedError

    def start_copy(self, job: Job) -> Result:
        """Start the copy of a job that holds its room (``take_room``)."""
        raise NotImplementedError

    def check_copy(self, job: Job, copy: Snapshot | None) -> Result:
        """Move a copying job on if its copy is ready (``copy``: looked up already, ``None``: not found)."""
        raise NotImplementedError

    def copy_id(self, job: Job) -> str:
        """The id of the copy a copying job waits for."""
        raise NotImplementedError

    def on_due(self, job: Job) -> Result:
        """A job waiting on the other account fell due (re-send, or give up)."""
        raise NotImplementedError

    def take_room(self, job: Job) -> str:
        """Take what a copy needs besides its copy slot; empty when taken, else why it must wait."""
        return ""

    def slot(self, job: Job) -> str:
        """The pool of copy slots the job's copy takes: its kind's, in the Region the copy lands in.

        AWS limits copies in flight per kind, account and destination Region; the app's own
        Region's pool is named by the kind alone (``copy_region``).
        """
        region = self.copy_region(job)
        return f"{job.kind}@{region}" if region else job.kind

    def copy_region(self, job: Job) -> str:
        """The Region the job's copy lands in, when not the app's own ("")."""
        return ""

    def rooms(self, job: Job) -> tuple[str, ...]:
        """The slot pools a job holds while it copies: its copy slot's, and any ``take_room`` took."""
        return (self.slot(job),)

    # --- the poll round -----------------------------------------------------------
    def poll(self) -> Counter[Outcome]:
        """Advance every job that is due; count the outcomes; let the poller rest when idle (``pacing``)."""
        return self.round(wake_up=False)

    def wake_up(self) -> None:
        """The hourly wake-up: the hourly checks, a round for the timers that fell due, the poller
        switched on if work falls due within its window (``pacing``)."""
        self.hourly_checks()
        self.round(wake_up=True)

    def round(self, wake_up: bool) -> Counter[Outcome]:
        """One Query lists every job with work left; those due now are handled (see the module docstring)."""
        now = clock.now()
        listed = list(self.jobs.due_jobs(EVERY_DUE))
        due = [job for job in listed if clock.parse_iso(job.due) <= now]
        self.watch_quota()
        self.listed = {job.job_id: job for job in listed}
        try:
            results = self._handle(due)
        finally:
            self.listed = {}
        for result in results:
            report(result, quiet=result.outcome in (Outcome.IN_PROGRESS, Outcome.DUPLICATE))
        self.switch.settle(
            lambda: min((clock.parse_iso(job.due) for job in self._next_due()), default=None),
            wake_up=wake_up,
            listed=list(self._next_due(listed)),
        )
        if wake_up:
            self.switch.rest_wake_up(bool(listed), self.has_work, resting=True)
        return Counter(result.outcome for result in results)

    def has_work(self) -> bool:
        """Whether a job has work left, as stored now (one Query)."""
        return any(True for _ in self.jobs.due_jobs(EVERY_DUE))

    def _handle(self, due: list[Job]) -> list[Result]:
        results: list[Result] = []
        copying = [job for job in due if job.state in POLLED_STATES]
        copies, unread = self._look_up(copying)
        for job in copying:
            if (job.kind, self.copy_region(job)) in unread:  # each job looks at its own copy
                result = self.attempt(job, self._check)
            else:
                copy = copies.get(self.copy_id(job))
                result = self.attempt(job, lambda job, copy=copy: self.check_copy(job, copy))
            results.append(result)
        results += [self.attempt(job, self.on_due) for job in due if job.state in WAITING_STATES]
        results += [self.attempt(job, self.on_failed) for job in due if job.state is State.FAILED]
        results += self._start_queued([job for job in due if job.state in QUEUED_STATES])
        return results

    def awaits_event(self, job: Job) -> bool:
        """A copy in flight whose end AWS announces to this app (it lands in the app's own Region, and its
        kind's copies send an event there: ``SnapshotKind.copy_events``). It needs no poller: the event
        moves it on, and any round looks at it (the hourly wake-up's at least), in case the event is lost."""
        return job.state in POLLED_STATES and KINDS[job.kind].copy_events and not self.copy_region(job)

    def waits_for_a_place(self, job: Job) -> bool:
        """A queued copy that waits for a place the run freeing it hands on (``start_waiting``): it needs no
        poller either, and any round starts it too (the hourly wake-up's at least)."""
        return False

    def _next_due(self, listed: Iterable[Job] | None = None) -> Iterator[Job]:
        """The jobs that need the poller (``pacing``): all listed (or, asked again, all stored) with work left
        but the copies that wait for their event and those that wait for a place to be handed on."""
        jobs = self.jobs.due_jobs(EVERY_DUE) if listed is None else listed
        return (job for job in jobs if not (self.awaits_event(job) or self.waits_for_a_place(job)))

    def start_waiting(self) -> list[Result]:
        """A place came free outside a round: start the queued copies now, as a round would (one Query lists
        them), rather than leaving them to the poller."""
        now = clock.now()
        listed = list(self.jobs.due_jobs(EVERY_DUE))
        self.listed = {job.job_id: job for job in listed}
        try:
            queued = [job for job in listed if job.state in QUEUED_STATES and clock.parse_iso(job.due) <= now]
            results = self._start_queued(queued)
        finally:
            self.listed = {}
        for result in results:
            report(result, quiet=result.outcome is Outcome.QUEUED)
        return results

    def holds(self, job_id: str) -> Job | None:
        """A job as this round listed it, else as stored (only a job with no work left is not listed)."""
        return self.listed.get(job_id) or self.jobs.get(job_id)

    def hourly_checks(self) -> None:
        self.watch_quota(force=True)

    def on_failed(self, job: Job) -> Result:
        """A failed job listed as due: only the producer's transit cleanup does that."""
        return Result(Outcome.IGNORED, "failed job", job.source_arn)

    def _look_up(self, copying: list[Job]) -> tuple[dict[str, Snapshot], set[tuple[str, str]]]:
        """The copies in flight, one Describe per kind and Region, and the (kind, Region) that could not be read."""
        found: dict[str, Snapshot] = {}
        unread: set[tuple[str, str]] = set()
        for kind, region in sorted({(job.kind, self.copy_region(job)) for job in copying}):
            ids = [
                self.copy_id(job)
                for job in copying
                if (job.kind, self.copy_region(job)) == (kind, region) and self.copy_id(job)
            ]
            try:
                found.update(self.api(kind, region).describe_many(ids))
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not look at the copies in flight", kind=kind, error=errors.describe(error))
                unread.add((kind, region))
        return found, unread

    def _check(self, job: Job) -> Result:
        copy_id = self.copy_id(job)
        return self.check_copy(job, self.api(job.kind, self.copy_region(job)).describe(copy_id) if copy_id else None)

    def _start_queued(self, queued: list[Job]) -> list[Result]:
        """Start queued copies, oldest first, while their pool has free slots.

        Whether a copy has room besides its slot (``room_left``: the producer's transit pool)
        is asked once a round, before any slot is taken: a full room costs a round no write.
        Once ``take_room`` refuses a kind's copy (the room is shared: a transit pool, a
        quota), the round's other copies of that kind wait for the same reason without
        asking again.
        """
        results = []
        no_room: dict[str, str] = {}  # kind -> why take_room refused it this round
        room = self.room_left() if queued else None
        for pool in sorted({self.slot(job) for job in queued}):
            waiting = sorted((job for job in queued if self.slot(job) == pool), key=lambda job: job.created)
            if room is not None and room[0] <= 0:
                results += [Result(Outcome.QUEUED, room[1], job.source_arn) for job in waiting]
                continue
            copying = {job_id for job_id, job in self.listed.items() if self.slot(job) == pool}
            copying = {job_id for job_id in copying if self.listed[job_id].state in SLOT_STATES}
            limit = self.config.limits.copies[waiting[0].kind]
            flying = sum(self.listed[job_id].state in POLLED_STATES for job_id in copying)
            # The holders are read only when the listing fills the pool or a take is refused (a place left behind).
            holders = self._tidy(pool, copying) if flying >= limit else None
            free = limit - (len(holders & copying) if holders is not None else flying)
            for job in waiting:
                held = holders is not None and job.job_id in holders
                if job.kind in no_room or (free <= 0 and not held) or (room and room[0] <= 0):
                    reason = no_room.get(job.kind) or (room[1] if room and room[0] <= 0 else "")
                    results.append(Result(Outcome.QUEUED, reason, job.source_arn))
                    continue
                result = self.attempt(job, lambda job: self.start_queued(job, no_room))
                if holders is None and result.outcome is Outcome.QUEUED and not result.detail:
                    holders = self._tidy(pool, copying)  # places left behind given back, then once more
                    free = limit - len(holders & copying)
                    if free > 0:
                        result = self.attempt(job, lambda job: self.start_queued(job, no_room))
                free -= result.outcome is Outcome.STARTED
                room = (room[0] - (result.outcome is Outcome.STARTED), room[1]) if room else None
                results.append(result)
        return results

    def room_left(self) -> tuple[int, str] | None:
        """Places left in the room every copy of this side needs besides its slot, and why a copy
        waits when there are none; ``None``: no such room."""
        return None

    def _tidy(self, pool: str, copying: set[str]) -> set[str]:
        """The pool's holders, once places nobody holds any more (runs that died) are given back."""
        holders = self.slots.holders(pool)
        stale = [job_id for job_id in holders - copying if not self._still_copying(job_id)]
        self.slots.release(pool, stale)
        return holders - set(stale)

    def _still_copying(self, job_id: str) -> bool:
        job = self.holds(job_id)
        return job is not None and job.state in SLOT_STATES

    def start_queued(self, job: Job, no_room: dict[str, str]) -> Result:
        """Take a slot (and the side's room) for a queued job and start its copy; else it waits.

        A room refused is noted in ``no_room`` by kind, for the rest of the round.
        """
        if not self.slots.take(self.slot(job), job.job_id, self.config.limits.copies[job.kind]):
            return Result(Outcome.QUEUED, "", job.source_arn)
        wait = self.take_room(job)
        if wait:
            no_room[job.kind] = wait
            self.slots.release(self.slot(job), [job.job_id])
            return Result(Outcome.QUEUED, wait, job.source_arn)
        return self.start_copy(job)

    def start_or_queue(self, job: Job, queued: State) -> Result:
        """Start a copy now if there is room, else queue it for the poller.

        ``job`` may carry, in memory, what the copy needs (the consumer's verified
        transit copy); whichever way it goes, the write that moves the job stores it. The
        room besides the slot is taken first: when it is full (the transit pool, the copies
        queue behind) no slot is taken only to be given back.
        """
        release: list[str] = []
        wait = self.take_room(job)
        if not wait:
            if self.slots.take(self.slot(job), job.job_id, self.config.limits.copies[job.kind]):
                return self.attempt(job, self.start_copy, wait_in=queued)
            # the room taken is given back in the write that queues the job, and only then
            release = [pool for pool in self.rooms(job) if pool != self.slot(job)]
        if self.jobs.advance(job, queued, attempts=0, reason=wait, release=release) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.QUEUED, wait, job.source_arn)

    # --- errors and failures ------------------------------------------------------
    def attempt(self, job: Job, step: Callable[[Job], Result], wait_in: State | None = None) -> Result:
        """Run one step of a job; an AWS error is waited out (in ``wait_in``) or fails this job alone."""
        with correlated(job.source_arn):
            try:
                return step(job)
            except (ClientError, BotoCoreError) as error:
                return self._after_error(job, error, wait_in)

    def _after_error(self, job: Job, error: Exception, wait_in: State | None) -> Result:
        reason = errors.describe(error)
        if not errors.is_worth_waiting(error):
            return self.fail(job, reason, resume=wait_in)
        full = errors.is_quota_full(error)  # a full snapshot quota is waited out hourly, never counted
        attempts = job.attempts + (not full)
        if attempts >= self.config.limits.max_attempts:
            return self.fail(job, f"gave up after {attempts} attempts; last error {reason}", resume=wait_in)
        free = () if job.state in POLLED_STATES else self.rooms(job)  # no copy is running: its slots are free again
        backoff = MAX_BACKOFF if full else min(MAX_BACKOFF, timedelta(minutes=2**attempts))  # 2, 4, 8 ... minutes
        state = wait_in or job.state
        due = clock.now() + backoff
        if self.jobs.advance(job, state, due=due, release=free, attempts=attempts, reason=reason) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        logger.warning("waiting out an AWS error", job_id=job.job_id, error=reason, retry_in=str(backoff))
        return Result(Outcome.RETRYING, reason, job.source_arn)

    def fail(self, job: Job, reason: str, resume: State | None = None, **changes: Any) -> Result:
        """Give up on a job, with the reason; ``resume`` is where an operator's retry picks up."""
        pools = self.rooms_after_failure(job)  # given back in the same write: only if this run's write wins
        failed = {"reason": reason, "failed_from": resume or job.state, **changes}
        if self.jobs.advance(job, State.FAILED, release=pools, **failed) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.FAILED, reason, job.source_arn)

    def rooms_after_failure(self, job: Job) -> tuple[str, ...]:
        """The slot pools a failed job gives back (all, unless something it made still exists)."""
        return self.rooms(job)

    def ready(self, job: Job, what: str, copy: Snapshot | None) -> Snapshot | Result:
        """The job's copy once it is ready; else what came of looking (in progress, or failed)."""
        if copy is None:
            return self.fail(job, f"{what} {self.copy_id(job) or '(none)'} disappeared while copying")
        if copy.phase is Phase.FAILED:
            return self.fail(job, f"{what} {copy.snapshot_id} is {copy.status}")
        if copy.phase is not Phase.READY:
            return Result(Outcome.IN_PROGRESS, f"{what} is {copy.status}", job.source_arn)
        return copy

    def started(self, job: Job, state: State, **changes: Any) -> Result:
        """A copy is running: the job waits for it in ``state`` (``awaits_event``: for AWS's event)."""
        moved = self.jobs.advance(job, state, attempts=0, reason="", **changes)
        if moved is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.STARTED, f"{state.value} {self.copy_id(moved)}", job.source_arn)

    def finished(self, job: Job, state: State, **changes: Any) -> Job | None:
        """A copy is ready: move its job on and give its copy slot back, in one write."""
        moved = self.jobs.advance(job, state, release=[self.slot(job)], **changes)
        if moved is not None:
            metrics.seconds("CopyDurationSeconds", (clock.now() - clock.parse_iso(job.updated)).total_seconds())
        return moved

    def send(self, message: Message) -> None:
        self.publisher.publish(self._topic(message), message)
        logger.info("sent", event_type=message.event_type.value)

    def api(self, kind: str, region: str = "") -> SnapshotApi:
        """A kind's snapshots in this account: in the app's Region, or in ``region``."""
        return self.snapshots(kind, region) if region else self.snapshots(kind)

    # --- the manual snapshot quota ------------------------------------------------
    def watch_quota(self, force: bool = False) -> dict[str, tuple[int, int]]:
        """Warn when a snapshot quota is over 80 % used; at most hourly."""
        if not (self.container.hourly(f"{type(self).__name__}:quota") or force):
            return {}
        use: dict[str, tuple[int, int]] = {}
        read: dict[str, Quota] = {}
        asked: set[str] = set()
        for kind in KINDS.values():
            if not kind.reports_quota or kind.name in asked:
                continue  # no quota to read (no client made), or read with its family's
            try:
                read |= self.api(kind.name).quotas()
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not read the snapshot quota", kind=kind.name, error=errors.describe(error))
            asked |= {kind.name, *read}
        for name, quota in read.items():
            if quota.max:
                use[name] = (quota.used, quota.max)
                if quota.used >= QUOTA_WARN_AT * quota.max:
                    logger.warning("snapshot quota nearly used up", kind=name, used=quota.used, max=quota.max)
        if use:
            metrics.percent("SnapshotQuotaUsedPercent", max(100 * used / most for used, most in use.values()))
        return use
