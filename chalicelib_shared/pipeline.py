"""What both apps' use-cases share: the poll round, copy slots, waiting out errors, failing.

The producer and consumer each subclass ``Side`` and say where their peer
listens (``_topic``), how to start a queued copy (``start_copy``), how to check
one in flight (``check_copy``) and what to re-send for a job waiting on the
peer (``resend_message``).

A poll round is one Query for the due jobs, then: every copy in flight is
checked (and releases its slot when it ends), every unanswered message whose
time has come is re-sent, and queued copies start while slots are free. Any AWS
error in a step is waited out with backoff (``errors.is_worth_waiting``) or
fails that job alone, with AWS's reason; it never stops the round.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.config import ConsumerConfig, Limits, ProducerConfig
from chalicelib_shared.jobs import POLLED_STATES, QUEUED_STATES, SLOT_STATES, WAITING_STATES, Job, JobTable, State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.log import logger
from chalicelib_shared.messages import Message, publish
from chalicelib_shared.slots import CopySlots

RESEND_AFTER = timedelta(minutes=30)
MAX_RESENDS = 48  # a day without an answer: the job fails and is reported
MAX_BACKOFF = timedelta(hours=1)
#: Snapshot statuses after which a copy will never become available.
FAILED_STATUSES = frozenset({"failed", "incompatible-restore", "incompatible-parameters", "error"})
QUOTA_NAMES = {"RDS": "ManualSnapshots", "RDS Cluster": "ManualClusterSnapshots"}
QUOTA_WARN_AT = 0.8
HOURLY = 3600.0  # seconds: quota and recovery-point checks, at most hourly per container
_last_checked: dict[str, float] = {}  # when each app last made each hourly check


def forget_hourly_checks() -> None:
    """Make the hourly checks on the next poll (a new local world starts from scratch)."""
    _last_checked.clear()


def hourly(check: str) -> bool:
    """True at most once an hour per Lambda container for each named check."""
    last = _last_checked.get(check)
    if last is not None and time.monotonic() - last < HOURLY:
        return False
    _last_checked[check] = time.monotonic()
    return True


@dataclass
class Side:
    """The clients and tables both apps' use-cases work with."""

    config: ProducerConfig | ConsumerConfig
    rds: Any
    sns: Any
    jobs: JobTable
    slots: CopySlots

    @property
    def limits(self) -> Limits:
        return self.config.limits

    # --- what each side says ------------------------------------------------------
    def _topic(self, message: Message) -> str:
        """The peer's topic for this message."""
        raise NotImplementedError

    def start_copy(self, job: Job) -> str:
        """Start the copy of a queued job that holds a slot."""
        raise NotImplementedError

    def check_copy(self, job: Job, copy: Snapshot | None = None) -> str:
        """Move a copying job on if its copy is available (``copy``: already looked up)."""
        raise NotImplementedError

    def copy_id(self, job: Job) -> str:
        """The id of the copy a job waits for."""
        raise NotImplementedError

    def resend_message(self, job: Job) -> Message:
        raise NotImplementedError

    # --- the poll round -----------------------------------------------------------
    def poll(self) -> dict[str, int]:
        """Advance every job that is due; count the outcomes by their first word."""
        due = list(self.jobs.due_jobs(clock.now()))
        outcomes: list[str] = []
        try:
            self.watch_quota()
        except (ClientError, BotoCoreError) as error:
            logger.warning("could not read the snapshot quota", error=errors.describe(error))
        copying = [job for job in due if job.state in POLLED_STATES]
        copies = self._look_up([(job.kind, self.copy_id(job)) for job in copying])
        for job in copying:
            copy = copies.get(self.copy_id(job))
            outcomes.append(self.attempt(job, lambda job, copy=copy: self.check_copy(job, copy)))
        outcomes += [self.attempt(job, self._resend) for job in due if job.state in WAITING_STATES]
        outcomes += self._start_queued([job for job in due if job.state in QUEUED_STATES], due)
        return dict(Counter(outcome.split(":")[0] for outcome in outcomes))

    def _look_up(self, copies: list[tuple[str, str]]) -> dict[str, Snapshot]:
        """The copies in flight, one Describe call per kind (each job describes its own if this fails)."""
        found: dict[str, Snapshot] = {}
        for kind in sorted({kind for kind, _ in copies}):
            try:
                found.update(KINDS[kind].describe_many(self.rds, [i for k, i in copies if k == kind]))
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not look at the copies in flight", kind=kind, error=errors.describe(error))
        return found

    def _start_queued(self, queued: list[Job], due: list[Job]) -> list[str]:
        """Start queued copies, oldest first, while their kind has free slots."""
        outcomes = []
        for kind in sorted({job.kind for job in queued}):
            waiting = sorted((job for job in queued if job.kind == kind), key=lambda job: job.created)
            copying = {job.job_id for job in due if job.kind == kind and job.state in SLOT_STATES}
            holders = self.slots.holders(kind)
            self.slots.release(kind, [job_id for job_id in holders - copying if not self._still_copying(job_id)])
            free = self.limits.copies[kind] - len(holders & copying)
            for job in waiting:
                if free <= 0 and job.job_id not in holders:
                    outcomes.append("waiting: no free copy slot")
                    metrics.count("JobsWaitingForSlot")
                    continue
                outcome = self.attempt(job, self.start_queued)
                free -= outcome.startswith("started")
                outcomes.append(outcome)
        return outcomes

    def _still_copying(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        return job is not None and job.state in SLOT_STATES

    def start_queued(self, job: Job) -> str:
        """Take a slot for a queued job and start its copy; without a slot, it waits."""
        if not self.slots.take(job.kind, job.job_id):
            return "waiting: no free copy slot"
        return self.start_copy(job)

    def start_or_queue(self, job: Job, queued: State) -> str:
        """Start a copy now if a slot is free, else queue it for the poller.

        ``job`` may carry, in memory, what the copy needs (the consumer's transit
        copy); whichever way it goes, the write that moves the job stores it.
        """
        if self.slots.take(job.kind, job.job_id):
            return self.attempt(job, self.start_copy, wait_in=queued)
        moved = self.jobs.advance(job, queued, attempts=0, reason="")
        if moved is None:
            return "duplicate: moved by another run"
        metrics.count("JobsWaitingForSlot")
        return "waiting: no free copy slot"

    # --- errors, re-sends, failures -----------------------------------------------
    def attempt(self, job: Job, step: Callable[[Job], str], wait_in: State | None = None) -> str:
        """Run one step of a job; an AWS error is waited out (in ``wait_in``) or fails this job alone."""
        try:
            return step(job)
        except (ClientError, BotoCoreError) as error:
            reason = errors.describe(error)
            if not errors.is_worth_waiting(error):
                return self._fail(job, reason, resume=wait_in)
            if job.attempts + 1 >= self.limits.max_attempts:
                return self._fail(
                    job, f"gave up after {job.attempts + 1} attempts; last error {reason}", resume=wait_in
                )
            if job.state not in POLLED_STATES:  # no copy is running: its slot is free again
                self.slots.release(job.kind, [job.job_id])
            backoff = min(MAX_BACKOFF, timedelta(minutes=2**job.attempts))
            state = wait_in or job.state
            self.jobs.advance(job, state, due=clock.now() + backoff, attempts=job.attempts + 1, reason=reason)
            logger.warning("waiting out an AWS error", job_id=job.job_id, error=reason, retry_in=str(backoff))
            return f"retrying: {reason}"

    def _resend(self, job: Job) -> str:
        """Send an unanswered message again, until ``MAX_RESENDS``."""
        if job.attempts >= MAX_RESENDS:
            return self._fail(job, f"no answer from the other account after {job.attempts} messages")
        message = self.resend_message(job)
        self._send(message)
        self.jobs.advance(job, job.state, due=clock.now() + RESEND_AFTER, attempts=job.attempts + 1)
        return f"re-sent {message.event_type.value}"

    def _send(self, message: Message) -> None:
        publish(self.sns, self._topic(message), message)
        logger.info("sent", event_type=message.event_type.value, correlation_id=message.source_arn)

    def _fail(self, job: Job, reason: str, resume: State | None = None) -> str:
        """Give up on a job, with the reason; ``resume`` is where an operator's retry picks up."""
        metrics.count("JobsFailed")
        logger.error("copy job failed", job_id=job.job_id, reason=reason, correlation_id=job.source_arn)
        self.jobs.advance(job, State.FAILED, reason=reason, failed_from=(resume or job.state).value)
        self.slots.release(job.kind, [job.job_id])
        return f"failed: {reason}"

    def _available(self, job: Job, what: str, copy: Snapshot | None) -> Snapshot | str:
        """The job's copy once it is available; else what came of looking (waiting, or failed)."""
        snapshot_id = self.copy_id(job)
        copy = copy or KINDS[job.kind].describe(self.rds, snapshot_id)
        if copy is None:
            return self._fail(job, f"{what} {snapshot_id} disappeared while copying")
        if copy.status in FAILED_STATUSES:
            return self._fail(job, f"{what} {snapshot_id} is {copy.status}")
        if copy.status != "available":
            return f"waiting: {what} is {copy.status}"
        return copy

    def copy_finished(self, snapshot_id: str, copying: State) -> str:
        """A copy-finished event (RDS-EVENT-0197) for one of this side's copies: check it now."""
        job = self.jobs.get(snapshot_id.lower())
        if job is None or job.state is not copying:
            return "ignored"
        return self.attempt(job, self.check_copy)

    def _started(self, job: Job, state: State, **changes: Any) -> Job | None:
        """A copy is running: the job waits for it in ``state``."""
        moved = self.jobs.advance(job, state, **changes)
        if moved is not None:
            metrics.count("CopiesStarted")
        return moved

    def _finish(self, job: Job, state: State, **changes: Any) -> Job | None:
        """A copy is available: move its job on and give its slot back, in one write."""
        moved = self.jobs.advance(job, state, also=[self.slots.release_update(job.kind, job.job_id)], **changes)
        if moved is not None:
            metrics.count("CopiesCompleted")
            metrics.seconds("CopyDurationSeconds", (clock.now() - clock.parse_iso(job.updated)).total_seconds())
        return moved

    # --- the manual snapshot quota ------------------------------------------------
    def watch_quota(self, force: bool = False) -> dict[str, tuple[int, int]]:
        """Warn when a manual snapshot quota is over 80 % used; at most hourly."""
        if not (hourly(f"{type(self).__name__}:quota") or force):
            return {}
        quotas = self.rds.describe_account_attributes()["AccountQuotas"]
        use = {
            kind: (int(q["Used"]), int(q["Max"]))
            for kind, name in QUOTA_NAMES.items()
            for q in quotas
            if q["AccountQuotaName"] == name
        }
        for kind, (used, most) in use.items():
            if most and used >= QUOTA_WARN_AT * most:
                logger.warning("manual snapshot quota nearly used up", kind=kind, used=used, max=most)
        if use:
            metrics.percent("SnapshotQuotaUsedPercent", max(100 * u / m for u, m in use.values() if m))
        return use
