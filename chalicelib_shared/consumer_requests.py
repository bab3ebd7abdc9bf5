"""The consumer's answers to production's messages: copy-request and copy-shared.

Decides what to copy (allowed account, ``Draco_Lifecycle``) and verifies each
shared transit copy against AWS's own record of it before anything is copied.
What a message claims is believed only as far as AWS confirms it:

* a copy-shared is acted on only for a transit copy that AWS shows shared with
  this account, owned by the claimed source account, ready, named as DRACO's
  transit copy of the claimed source and taken of the claimed source;
* the job is then bound to AWS's record of that copy (``provenance``): its
  source, kind and ARN are AWS's, and a later message that disagrees is
  rejected; the source time comes from AWS where the kind keeps it across
  copies, and is otherwise believed only up to the transit copy's own creation
  time, so it is never in the future and the recovery-point age never negative;
  a copy dated too long before DR first heard of it may only add.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from chalicelib_shared import clock, provenance
from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import Phase, Snapshot
from chalicelib_shared.log import logger
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import LIFECYCLE_TAG, dr_copy_id, transit_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.rejection import Rejection

#: How long a copy-initiate waits for production's copy-shared before the job fails.
SHARE_TIMEOUT = timedelta(days=3)
#: A message may claim a time this far ahead of DR's clock (clock skew), no further.
CLOCK_SKEW = timedelta(minutes=5)
#: Job states in which DR holds a copy of its own: the transit copy is no longer needed.
TRANSIT_NOT_NEEDED = frozenset({State.RELAY_QUEUED, State.RELAYING, State.DONE, State.EXPIRED})


@dataclass
class Requests:
    """Production's messages, authorised, decided and verified."""

    side: ConsumerSide

    def on_message(self, message: Message) -> Result | Rejection:
        refusal = self._authorize(message)
        if refusal:
            return refusal
        if message.event_type is Msg.COPY_REQUEST:
            return self.copy_requested(message)
        if message.event_type is Msg.COPY_SHARED:
            return self.copy_shared(message)
        return Rejection(f"{message.event_type.value} is not a message for the consumer")

    def _authorize(self, message: Message) -> Rejection | None:
        side = self.side
        if not side.config.trusts(message.source_acct):
            return Rejection(f"account {message.source_acct} is not an allowed source account")
        for arn in filter(None, (message.source_arn, message.transit_arn)):
            parsed = message.kind.parse_arn(arn)
            if parsed is None or parsed.region != side.source_region:
                return Rejection(f"{arn} is not in the source Region ({side.source_region})")
        if message.source_time and message.source_time > clock.now() + CLOCK_SKEW:
            return Rejection(f"SourceTime {clock.iso(message.source_time)} is in the future")
        return None

    def copy_requested(self, message: Message) -> Result | Rejection:
        """Answer a copy request: initiate, or no-copy with the reason. Nothing is spent yet: no key."""
        job = self._job_for(message)
        refusal = provenance.disagreement(job, message)
        if refusal:
            return refusal
        if job.state is State.INITIATED:
            self.side.send(message_about(provenance.answering(job, message), Msg.COPY_INITIATE))
            return Result(Outcome.COPY_INITIATED, "", job.source_arn)
        if job.state is State.SKIPPED:
            self.side.send(message_about(job, Msg.NO_COPY, reason=job.reason))
            return Result(Outcome.NOT_COPIED, job.reason, job.source_arn)
        return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)

    def _job_for(self, message: Message, *, read: bool = False, stored: Job | None = None) -> Job:
        """The job of the message's snapshot, decided on first hearing of it (``read``: ``stored`` is the job
        as this run read it already, so it isn't read again; every write is conditional on its version).

        A skipped job is decided again by a later message that says copy: a forged
        request can't make DR skip a snapshot production really sends.
        """
        jobs = self.side.jobs
        tags = dict(message.tags)
        wanted = self._decide(message, tags)
        stored = stored if read else jobs.get(wanted.job_id)
        if stored is None:
            return jobs.create(wanted, due=clock.now() + SHARE_TIMEOUT) or jobs.get(wanted.job_id) or wanted
        if stored.state is State.SKIPPED and wanted.state is State.INITIATED:
            moved = jobs.advance(stored, State.INITIATED, due=clock.now() + SHARE_TIMEOUT, tags=tags, reason="")
            return moved or jobs.get(wanted.job_id) or stored
        return stored

    def _decide(self, message: Message, tags: dict[str, str]) -> Job:
        policy = self.side.config.lifecycles.source_lifecycle(tags)
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
            leg=self.side.first_leg(message.snapshot_type),
        )
        if policy.ignore:
            return replace(job, state=State.SKIPPED, reason=policy.problem or f"{LIFECYCLE_TAG} is Ignore")
        if policy.keep_all:
            logger.warning("unknown lifecycle: copying, deleting nothing", problem=policy.problem)
        return job

    def copy_shared(self, message: Message) -> Result | Rejection:
        """Verify the shared transit copy, then copy it (now if a slot is free, else queued).

        A copy-shared for a snapshot DR holds a copy of already (its DR copy or, across
        Regions in two steps, its relay copy) is answered without verifying: the transit
        copy may be gone (production deleted it, and the answer to a delete-shared got
        lost, or a late delivery came), and answering only lets production delete its own
        transit copy, which it checks against its own job.
        """
        side = self.side
        held = side.jobs.get(dr_copy_id(message.source_acct, message.source_id))
        refusal = provenance.disagreement(held, message) if held else None
        if refusal:
            return refusal
        if held is not None and held.state in TRANSIT_NOT_NEEDED:
            return self._not_needed(held, message)
        transit = side.api(message.snapshot_type, side.elsewhere(side.source_region)).shared(message.transit_arn)
        refusal = _verify(message, transit)
        if refusal or transit is None:
            return refusal or Rejection("transit copy not found")
        job = self._job_for(message, read=True, stored=held)
        if job.state in (State.DONE, State.EXPIRED, State.SKIPPED):
            return self._not_needed(job, message)
        if job.state is not State.INITIATED:
            return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)
        bound = provenance.bind(job, message, transit)  # what AWS says the copy is, not what was claimed
        if isinstance(bound, Rejection):
            return bound
        verified = replace(
            bound,
            transit_id=message.transit_id,
            transit_arn=message.transit_arn,
            tags=dict(message.tags),
            encrypted=transit.encrypted,
            size_gb=transit.size_gb,
        )
        return side.start_or_queue(verified, State.COPY_QUEUED)

    def _not_needed(self, job: Job, message: Message) -> Result:
        self.side.send(
            message_about(job, Msg.DELETE_SHARED, transit_arn=message.transit_arn, transit_id=message.transit_id)
        )
        return Result(Outcome.DUPLICATE, f"transit copy not needed (job is {job.state.value})", job.source_arn)


def _verify(message: Message, transit: Snapshot | None) -> Rejection | None:
    """AWS's record of the transit copy must match every claim acted on."""
    if transit is None:
        return Rejection(f"{message.transit_arn} is not a snapshot shared with this account")
    problems = []
    if transit.owner != message.source_acct:
        problems.append(f"it is owned by {transit.owner or 'another account'}")
    if transit.snapshot_id.lower() != message.transit_id.lower():
        problems.append("its id is not the TransitId")
    if transit.name != transit_id(message.source_id):
        problems.append("it is not DRACO's transit copy of the source snapshot")
    if transit.source_name and transit.source_name != message.source_name:
        problems.append(f"it was taken of {transit.source_name}, not {message.source_name}")
    if transit.copied_from and transit.copied_from != message.source_arn:
        problems.append("AWS records it as a copy of another snapshot")
    if transit.phase is not Phase.READY:
        problems.append(f"it is {transit.status}")
    if problems:
        return Rejection(f"transit copy {message.transit_arn} failed verification: {'; '.join(problems)}")
    return None
