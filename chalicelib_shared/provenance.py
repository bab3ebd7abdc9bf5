"""Where a DR copy's facts come from: what DR observed or AWS vouches for, never a message's claim.

Production may only *add* copies to DR. Every fact a deletion depends on is
therefore bound here to something production can't write:

* **What the copy is** (source account, kind, source name, source ARN): from
  AWS's record of the verified shared transit copy (``bind``). For RDS and
  Aurora the database (``DBInstanceIdentifier`` / ``DBClusterIdentifier``),
  the owner and the ARN's kind are AWS's; the first message about a snapshot id
  only opens a job, it never names it. Once bound, a message that disagrees
  with the job is rejected (``disagreement``) and changes nothing.
* **When it arrived**: ``Job.created`` (DR first heard of the snapshot) and
  ``Job.verified`` (DR verified its transit copy), both written by DR alone.
* **When its data was taken**: AWS's ``OriginalSnapshotCreateTime`` where the
  kind keeps one (DB instances), else the claim bounded by the transit copy's
  own creation time (AWS's record). A time more than ``WINDOW`` before DR
  first heard of the snapshot is not believed to date a copy that competes for
  a retention slot: such a copy is *add-only* (``add_only``), a separate class
  that is kept and thinned by the lifecycle among all copies but never
  displaces a dated copy, never holds a slot or the ``MIN_KEEP`` floor of the
  dated ones, and is never locked (``EBS_LOCK_DAYS``), so DR can always remove
  it. A backfill of older snapshots (``draco backfill``) lands in that class.
* **Late copies**: a copy verified after its period (day, week, ...) closed
  never displaces the copy that period keeps (``retention``: ``arrived``).

``WINDOW`` is 12 hours: the longest an honest snapshot waits between being
taken and DR hearing of it. A snapshot whose event is lost is found by the
producer's sweep, every 6 hours by default (``DRACO_SWEEP_HOURS``); the snapshot
itself may take some hours to finish (RDS dates it when it starts); a lost
copy-request is sent again after 30 minutes, then 1 and 2 hours. An honest
copy outside the window loses nothing: it is kept as add-only. A wider window
would let a back-dated claim reach further into closed periods, where only the
lateness rule would stop it; a narrower one would make ordinary sweeps backfills.

EBS: AWS gives a copy the placeholder volume ``vol-ffffffff`` and records no
source snapshot, so nothing DR can read names the volume a transit copy's
data came from (the README's threat model says what that leaves open).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib_shared import clock
from chalicelib_shared.jobs import Job
from chalicelib_shared.kinds import Snapshot
from chalicelib_shared.lifecycles import LifecyclePass, Lifecycles, plan_pass
from chalicelib_shared.log import logger
from chalicelib_shared.messages import Message
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.sources import SourceRecord

#: How long before DR first heard of a snapshot its data may have been taken and still date a copy.
WINDOW = timedelta(hours=12)


def source_time(message: Message, job: Job, transit: Snapshot) -> datetime:
    """The data's time: AWS's where the kind keeps it across copies, else the claim up to the transit copy's."""
    if transit.original_time:
        return transit.created
    return min(message.source_time or job.source_created, transit.created)


def bind(job: Job, message: Message, transit: Snapshot) -> Job | Rejection:
    """The job as AWS's record of the verified transit copy says, whatever the first message claimed.

    A job not yet bound takes the verified facts (its claims are logged where they differ);
    a bound job must agree with them, or the message is rejected.
    """
    facts = {
        "kind": message.snapshot_type,  # the transit ARN parsed as this kind and that kind's API found it
        "source_acct": transit.owner,
        "source_name": transit.source_name or message.source_name,  # EBS: AWS doesn't say
        "source_arn": transit.copied_from or message.source_arn,
    }
    differing = {name: getattr(job, name) for name, value in facts.items() if getattr(job, name) != value}
    if job.verified and differing:
        return Rejection(f"message disagrees with the job DR verified ({', '.join(sorted(differing))})")
    if differing:
        logger.warning("job bound to the verified snapshot, not to the first message's claim", claimed=differing)
    return replace(
        job,
        **facts,
        source_time=clock.iso(source_time(message, job, transit)),
        verified=job.verified or clock.iso(clock.now()),
    )


def disagreement(job: Job, message: Message) -> Rejection | None:
    """Why a message about a bound job's snapshot is rejected: it names the snapshot otherwise."""
    if not job.verified:
        return None
    claims = {
        "kind": message.snapshot_type,
        "source_acct": message.source_acct,
        "source_name": message.source_name,
        "source_arn": message.source_arn,
    }
    differing = sorted(name for name, value in claims.items() if getattr(job, name) != value)
    if differing:
        return Rejection(f"message disagrees with the job DR verified ({', '.join(differing)})")
    return None


def answering(job: Job, message: Message) -> Job:
    """What a copy-initiate says of a job: a job not yet bound answers each request in the requester's
    own words (its producer checks them against its own job), so an earlier request's claim of another
    kind or source can't leave the real snapshot unanswered."""
    if job.verified:
        return job
    return replace(job, kind=message.snapshot_type, source_arn=message.source_arn, source_name=message.source_name)


def add_only(job: Job) -> bool:
    """A copy dated more than ``WINDOW`` before DR first heard of it: it may add, never displace."""
    return bool(job.created) and job.source_created < clock.parse_iso(job.created) - WINDOW


def arrival(job: Job) -> datetime | None:
    """When DR verified the copy's transit copy (``None`` for copies made before DR recorded it)."""
    return clock.parse_iso(job.verified) if job.verified else None


def plan(
    settings: Lifecycles,
    record: SourceRecord | None,
    requested: str,
    copies: Iterable[Job],
    now: datetime,
    locked: Iterable[str] = (),
) -> LifecyclePass:
    """A lifecycle pass over one source's copies in which add-only copies never displace dated ones.

    Dated copies are judged among themselves. Add-only copies are judged among all
    copies, and only their own fate is taken from that judgement.
    """
    copies = list(copies)
    locked = list(locked)
    dated = [job for job in copies if not add_only(job)]
    extra = {job.job_id for job in copies if add_only(job)}
    decided = plan_pass(settings, record, requested, _times(dated), now, locked, _arrivals(dated))
    if not extra:
        return decided
    whole = plan_pass(settings, record, requested, _times(copies), now, locked, _arrivals(copies))
    times = dict(_times(copies))
    delete = sorted([*decided.delete, *(c for c in whole.delete if c in extra)], key=times.__getitem__, reverse=True)
    held = (*decided.held, *(c for c in whole.held if c in extra))
    return replace(decided, delete=tuple(delete), held=held)


def _times(copies: list[Job]) -> list[tuple[str, datetime]]:
    return [(job.job_id, job.source_created) for job in copies]


def _arrivals(copies: list[Job]) -> dict[str, datetime]:
    return {job.job_id: at for job in copies if (at := arrival(job)) is not None}
