"""The consumer's DR copies: start each under the source's DR key, see it finish, lock it.

A source's DR key is made only once a verified transit copy of it exists, and at
most ``KEY_CAP`` new keys a day per source account; past the cap the copy waits in
its queue. Once the DR copy is ready, the transit copy (or relay copy) is let go,
the copy locked for the kind's lock days, and the source's lifecycle applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics, provenance, room
from chalicelib_shared.consumer_relay import Relay, arn_of
from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, Leg, State
from chalicelib_shared.kinds import EventType, Snapshot, SnapshotEvent
from chalicelib_shared.log import logger
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.naming import (
    COPY_NAME_TAG,
    SOURCE_ARN_TAG,
    SOURCE_ID_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TIME_TAG,
    TAGS_DROPPED_TAG,
    arn_tag,
    dr_copy_tags,
)
from chalicelib_shared.outcomes import Outcome, Result

#: A copy waiting for room in DR's snapshot quota or for a new key looks again this often.
ROOM_WAIT = timedelta(hours=1)
#: A copy whose room check could not read DR's capacity (a passing AWS error) looks again this soon.
READ_WAIT = timedelta(minutes=5)


@dataclass
class Copies:
    """Starting, finishing and locking DR copies; ``after_done`` runs for a source once a copy of it is done."""

    side: ConsumerSide
    relay: Relay
    after_done: Callable[[str], object]

    def start(self, job: Job) -> Result:
        """Copy the verified transit copy into this account under the source's DR key.

        By the job's leg: straight into DR's Region; or first into the source Region
        under DR's relay key there (the relay copy), then from there into DR's Region
        (the relay step, from ``relay-queued``). The source's DR key is found or made
        before the first step and kept for the relay step, so a copy past ``KEY_CAP``
        waits before anything is copied, whichever way it travels.
        """
        try:
            full = room.why_wait(self.side, job)
        except (ClientError, BotoCoreError) as error:
            if not errors.is_worth_waiting(error):
                raise
            # Only reads failed and nothing was tried: the copy waits again without spending one of its
            # attempts, so passing errors in the checks before a copy never fail it (``room``).
            return self._wait(job, f"could not read DR's capacity: {errors.describe(error)}", None, READ_WAIT)
        if full:
            return self._wait(job, full, "CopiesWaitingForRoom")
        key = job.target_key
        if job.encrypted and not key:
            key = self._key(job)
            if not key:
                config = self.side.config
                logger.error("new DR keys capped", account=job.source_acct, key_cap=config.key_cap)
                reason = f"{config.key_cap} new DR keys made today for account {job.source_acct} (KEY_CAP)"
                return self._wait(job, reason, "KeysCapped")
        if job.leg is Leg.RELAY:
            return self._copy(job, job.relay_arn, key, State.RELAYING)
        if job.leg is Leg.TO_RELAY:
            return self._copy(job, job.transit_arn, self.relay.key() if job.encrypted else "", State.COPYING, key)
        return self._copy(job, job.transit_arn, key, State.COPYING)

    def _copy(self, job: Job, source_arn: str, key: str, state: State, dr_key: str | None = None) -> Result:
        """Copy ``source_arn`` under ``key`` into the copy the job waits for in ``state``: its DR copy, or,
        with ``dr_key`` (the DR key kept for the relay step), its relay copy in the source Region."""
        side = self.side
        api = side.api(job.kind, side.copy_region(job))
        relay = dr_key is not None
        across = side.source_region if side.source_region != side.region and not relay else ""
        copy = api.copy(source_arn, job.job_id, key or None, self._tags(job), across)
        if not copy.started:
            existing = api.find_copy(job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != arn_tag(job.source_arn):
                return side.fail(job, f"snapshot {job.job_id} exists and is not this source's DR copy")
        if relay:
            arn = copy.arn or arn_of(api, job)
            return side.started(job, state, relay_id=copy.copy_id, relay_arn=arn, target_key=dr_key)
        return side.started(job, state, copy_id=copy.copy_id, target_key=key)

    def _tags(self, job: Job) -> dict[str, str]:
        config = self.side.config
        own = {
            config.tag_key: config.tag_value,
            SOURCE_ARN_TAG: arn_tag(job.source_arn),
            SOURCE_ID_TAG: job.source_id,
            SOURCE_NAME_TAG: job.source_name,
            SOURCE_TIME_TAG: job.source_time,
            COPY_NAME_TAG: job.job_id,
        }
        tags, dropped = dr_copy_tags(job.tags, own)
        if dropped:
            logger.warning("source tags dropped: AWS allows 50 per snapshot", dropped=dropped, tag=TAGS_DROPPED_TAG)
        if not job.encrypted:
            logger.warning("unencrypted snapshot that can't be encrypted by copying: the DR copy stays unencrypted")
        return tags

    def _key(self, job: Job) -> str:
        """The job's DR key; a new one only within ``KEY_CAP`` a day per source account ("": capped).

        ``KEY_SCOPE`` says whose key: the source's (``alias/DRACO-<source>``, as the original),
        or the source account's (``alias/DRACO-<account>``).
        """
        side = self.side
        owner = job.source_acct if side.config.key_scope == "account" else job.source_name
        key = side.keys.find(owner)
        if key:
            return key
        day = clock.now().strftime("%Y-%m-%d")
        capped = not side.slots.count(f"keys#{job.source_acct}#{day}", side.config.key_cap)
        if capped and not side.slots.draw(room.key_budget(job.source_acct), clock.iso(clock.now())):
            return ""
        return side.keys.create(owner)

    def _wait(self, job: Job, reason: str, metric: str | None, after: timedelta = ROOM_WAIT) -> Result:
        """The copy waits in its queue (its slot freed) for room or a key, an hour at a time, with an alert."""
        side = self.side
        if metric:
            metrics.count(metric)
        queue = State.RELAY_QUEUED if job.leg is Leg.RELAY else State.COPY_QUEUED
        wait = clock.now() + after
        if side.jobs.advance(job, queue, due=wait, release=[side.slot(job)], reason=reason) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.QUEUED, reason, job.source_arn)

    def on_event(self, event: SnapshotEvent) -> Result:
        """A copy finished in DR's Region (where its event subscriptions and rules are): the DR copy of a
        job copying or relaying; a relay copy, in the source Region, is left to the poller."""
        side = self.side
        if event.type is not EventType.COPY_FINISHED:
            return Result(Outcome.IGNORED)
        copy = side.api(event.kind).describe(event.snapshot_id)
        if copy is None:
            return Result(Outcome.IGNORED, f"snapshot {event.snapshot_id} not found")
        job = side.jobs.get(copy.name)
        if job is None or job.state not in (State.COPYING, State.RELAYING) or side.copy_region(job):
            return Result(Outcome.IGNORED, "not a DR copy in progress")
        return side.attempt(job, lambda job: self.check(job, copy))

    def check(self, job: Job, copy: Snapshot | None) -> Result:
        """Once the DR copy is ready: release the transit copy, lock the copy, apply the lifecycle."""
        side = self.side
        to_relay = job.leg is Leg.TO_RELAY
        ready = side.ready(job, "relay copy" if to_relay else "DR copy", copy)  # failed: all kept
        if not isinstance(ready, Snapshot):
            return ready
        if to_relay:
            return self.relay.ready(job)
        locked_until = self._lock(job)
        if job.leg is Leg.RELAY:
            self.relay.done(job)
        else:
            side.send(message_about(job, Msg.DELETE_SHARED))
        done = side.finished(job, State.DONE, reason="", locked_until=locked_until)
        if done is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        self.after_done(done.inventory_key)
        return Result(Outcome.COPIED, side.copy_id(job), job.source_arn)

    def _lock(self, job: Job) -> str:
        """Lock the DR copy against deletion for the kind's lock days, if set and the kind can."""
        side = self.side
        lock = side.config.locks.get(job.kind)
        if lock is None or provenance.add_only(job):  # DR must stay able to remove what may only add
            return ""
        side.api(job.kind).lock(side.copy_id(job), lock.days, lock.mode)
        return clock.iso(clock.now() + timedelta(days=lock.days))
