"""What both apps' use-cases share: the poll loop, re-sending, failing a job.

The producer and consumer each subclass ``Side`` and say where their peer
listens (``_topic``) and what to do with one due job (``step``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.jobs import Job, JobTable, State
from chalicelib_shared.log import logger
from chalicelib_shared.messages import Message, publish

RESEND_AFTER = timedelta(minutes=30)
MAX_RESENDS = 48  # a day without an answer: the job fails and is reported
#: Snapshot statuses after which a copy will never become available.
FAILED_STATUSES = frozenset({"failed", "incompatible-restore", "incompatible-parameters", "error"})


class Side:
    jobs: JobTable
    sns: Any

    def step(self, job: Job) -> str:
        raise NotImplementedError

    def _topic(self, message: Message) -> str:
        """The peer's topic for this message."""
        raise NotImplementedError

    def _send(self, message: Message) -> None:
        publish(self.sns, self._topic(message), message)
        logger.info("sent", event_type=message.event_type.value, correlation_id=message.source_arn)

    def poll(self) -> dict[str, int]:
        """Advance every job that is due; count the outcomes by their first word."""
        outcomes: dict[str, int] = {}
        for job in self.jobs.due_jobs(clock.now()):
            outcome = self.step(job).split(":")[0]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def _resend(self, job: Job, message: Message) -> str:
        """Send an unanswered message again, later and later, until ``MAX_RESENDS``."""
        if job.attempts >= MAX_RESENDS:
            return self._fail(job, f"no answer from the other account after {job.attempts} messages")
        self._send(message)
        self.jobs.advance(job, job.state, due=clock.now() + RESEND_AFTER, attempts=job.attempts + 1)
        return f"re-sent {message.event_type.value}"

    def _fail(self, job: Job, reason: str, **context: Any) -> str:
        logger.error("copy job failed", job_id=job.job_id, reason=reason, correlation_id=job.source_arn, **context)
        self.jobs.advance(job, State.FAILED, reason=reason)
        return f"failed: {reason}"
