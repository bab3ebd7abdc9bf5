"""What both apps' use-cases share: the poll round, copy slots, waiting out errors, failing.

The producer and consumer each subclass ``Side`` and say where their peer
listens (``_topic``), how to start a queued copy (``start_copy``), how to check
one in flight (``check_copy``), which copy a job waits for (``copy_id``), what
to do when a job waiting on the other account falls due (``on_due``) and what
room a copy needs besides its kind's copy slot (``take_room``).

A poll round is one Query for the due jobs, then: every copy in flight is
checked (with one Describe per kind for all of them), every waiting job whose
time has come is handled, and queued copies start while slots are free. Any
AWS error in a step is waited out with backoff (``errors.is_worth_waiting``)
or fails that job alone, with AWS's reason; it never stops the round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.container import Container
from chalicelib_shared.jobs import POLLED_STATES, QUEUED_STATES, SLOT_STATES, WAITING_STATES, Job, State
from chalicelib_shared.kinds import KINDS, Phase, Snapshot, SnapshotApi
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.messages import Message
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.pacing import AlwaysOn, Switch
from chalicelib_shared.ports import JobStore, Publisher, SlotStore, Snapshots
from chalicelib_shared.report import report

MAX_BACKOFF = timedelta(hours=1)
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
    container: Container = field(default_factory=Container, kw_only=True)  # what the Lambda container remembers

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
        due = list(self.jobs.due_jobs(clock.now()))
        self.watch_quota()
        results: list[Result] = []
        copying = [job for job in due if job.state in POLLED_STATES]
        copies, unread = self._look_up(copying)
        for job in copying:
            if (job.kind, self.copy_region(job)) in unread:  # each job looks at its own copy
                results.append(self.attempt(job, self._check))
            else:
                copy = copies.get(self.copy_id(job))
                results.append(self.attempt(job, lambda job, copy=copy: self.check_copy(job, copy)))
        results += [self.attempt(job, self.on_due) for job in due if job.state in WAITING_STATES]
        results += [self.attempt(job, self.on_failed) for job in due if job.state is State.FAILED]
        results += self._start_queued([job for job in due if job.state in QUEUED_STATES], due)
        for result in results:
            report(result, quiet=result.outcome in (Outcome.IN_PROGRESS, Outcome.DUPLICATE))
        self.switch.settle(self.jobs.next_due, wake_up=False)
        return Counter(result.outcome for result in results)

    def wake_up(self) -> None:
        """The hourly wake-up: the hourly checks, and the poller switched on if work falls due within the hour."""
        self.hourly_checks()
        self.switch.settle(self.jobs.next_due, wake_up=True)

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

    def _start_queued(self, queued: list[Job], due: list[Job]) -> list[Result]:
        """Start queued copies, oldest first, while their pool has free slots.

        Once ``take_room`` refuses a kind's copy (the room is shared: a transit pool, a
        quota), the round's other copies of that kind wait for the same reason without
        asking again: a full room cost each queued job its reads every minute.
        """
        results = []
        no_room: dict[str, str] = {}  # kind -> why take_room refused it this round
        for pool in sorted({self.slot(job) for job in queued}):
            waiting = sorted((job for job in queued if self.slot(job) == pool), key=lambda job: job.created)
            copying = {job.job_id for job in due if self.slot(job) == pool and job.state in SLOT_STATES}
            holders = self.slots.holders(pool)
            stale = [job_id for job_id in holders - copying if not self._still_copying(job_id)]
            self.slots.release(pool, stale)
            free = self.config.limits.copies[waiting[0].kind] - len((holders - set(stale)) & copying)
            for job in waiting:
                if job.kind in no_room or (free <= 0 and job.job_id not in holders):
                    results.append(Result(Outcome.QUEUED, no_room.get(job.kind, ""), job.source_arn))
                    continue
                result = self.attempt(job, lambda job: self.start_queued(job, no_room))
                free -= result.outcome is Outcome.STARTED
                results.append(result)
        return results

    def _still_copying(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
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
        transit copy); whichever way it goes, the write that moves the job stores it.
        """
        release: list[str] = []
        wait = ""
        if self.slots.take(self.slot(job), job.job_id, self.config.limits.copies[job.kind]):
            wait = self.take_room(job)
            if not wait:
                return self.attempt(job, self.start_copy, wait_in=queued)
            release = [self.slot(job)]  # given back in the write that queues the job, and only then
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
        if job.attempts + 1 >= self.config.limits.max_attempts:
            return self.fail(job, f"gave up after {job.attempts + 1} attempts; last error {reason}", resume=wait_in)
        free = () if job.state in POLLED_STATES else self.rooms(job)  # no copy is running: its slots are free again
        backoff = min(MAX_BACKOFF, timedelta(minutes=2 ** (job.attempts + 1)))  # 2, 4, 8 ... minutes
        state = wait_in or job.state
        due = clock.now() + backoff
        if self.jobs.advance(job, state, due=due, release=free, attempts=job.attempts + 1, reason=reason) is None:
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
        """A copy is running: the job waits for it in ``state``."""
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
        for kind in KINDS:
            try:
                quota = self.api(kind).quota()
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not read the snapshot quota", kind=kind, error=errors.describe(error))
                continue
            if quota is not None and quota.max:
                use[kind] = (quota.used, quota.max)
                if quota.used >= QUOTA_WARN_AT * quota.max:
                    logger.warning("snapshot quota nearly used up", kind=kind, used=quota.used, max=quota.max)
        if use:
            metrics.percent("SnapshotQuotaUsedPercent", max(100 * used / most for used, most in use.values()))
        return use
