"""The DR account's side of the pipeline.

Decides what to copy (allowed account, ``Draco_Lifecycle``), verifies each
shared transit copy against AWS's own record of it, copies it under the
source's DR key, tells the producer to delete the transit copy once the DR copy
is ready, then applies the source's lifecycle to that source's DR copies.

Production is a source of requests, never of authority over what DR holds
(``lifecycles`` decides what may be deleted). What a message claims is
believed only as far as AWS confirms it:

* a copy-shared is acted on only for a transit copy that AWS shows shared with
  this account, owned by the claimed source account, ready, named as DRACO's
  transit copy of the claimed source and taken of the claimed source;
* the source time comes from AWS where the kind keeps it across copies, and is
  otherwise believed only up to the transit copy's own creation time, so it is
  never in the future and the recovery-point age never negative;
* a source's DR key is made only once a verified transit copy of it exists, and
  at most ``KEY_CAP`` new keys a day per source account.

The lifecycle pass reads the source's copies from the job table's
``inventory`` index (one Query): its cost depends on how many copies that
source has, not on the size of the DR account.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS, EventType, Phase, Snapshot, SnapshotApi, SnapshotEvent
from chalicelib_shared.lifecycles import plan_pass
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import (
    COPY_NAME_TAG,
    LIFECYCLE_TAG,
    SOURCE_ARN_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TIME_TAG,
    dr_copy_id,
    dr_copy_tags,
    transit_id,
)
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.pipeline import Side, hourly
from chalicelib_shared.ports import Inventory, KeyStore
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.sources import SourceRecord

#: How long a copy-initiate waits for production's copy-shared before the job fails.
SHARE_TIMEOUT = timedelta(days=3)
#: A message may claim a time this far ahead of DR's clock (clock skew), no further.
CLOCK_SKEW = timedelta(minutes=5)
KEY_WAIT = timedelta(hours=1)
#: DR's key in the source Region, for relay copies across Regions: ``alias/DRACO-Relay``.
RELAY_KEY = "Relay"
#: Job states in which DR holds a copy of its own: the transit copy is no longer needed.
TRANSIT_NOT_NEEDED = frozenset({State.RELAY_QUEUED, State.RELAYING, State.DONE, State.EXPIRED})


@dataclass
class Consumer(Side):
    config: ConsumerConfig
    keys: KeyStore  # DR keys, in DR's Region
    inventory: Inventory
    region: str  # DR's Region
    relay_keys: KeyStore | None = field(default=None, kw_only=True)  # across Regions: in the source Region

    @property
    def source_region(self) -> str:
        """Where production's snapshots and transit copies are (``SOURCE_REGION``, else DR's own)."""
        return self.config.source_region or self.region

    def two_steps(self, job: Job) -> bool:
        """Across Regions, a kind AWS can't copy from another account into another Region in one step."""
        return self.source_region != self.region and not KINDS[job.kind].one_step_across_regions

    def copy_region(self, job: Job) -> str:
        """The first of two steps lands in the source Region; anything else in DR's."""
        first = job.state in (State.INITIATED, State.COPY_QUEUED, State.COPYING)
        return self.source_region if first and self.two_steps(job) else ""

    # --- messages from production -------------------------------------------------------
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
        if not self.config.trusts(message.source_acct):
            return Rejection(f"account {message.source_acct} is not an allowed source account")
        for arn in filter(None, (message.source_arn, message.transit_arn)):
            parsed = message.kind.parse_arn(arn)
            if parsed is None or parsed.region != self.source_region:
                return Rejection(f"{arn} is not in the source Region ({self.source_region})")
        if message.source_time and message.source_time > clock.now() + CLOCK_SKEW:
            return Rejection(f"SourceTime {clock.iso(message.source_time)} is in the future")
        return None

    def copy_requested(self, message: Message) -> Result:
        """Answer a copy request: initiate, or no-copy with the reason. Nothing is spent yet: no key."""
        job = self._job_for(message)
        if job.state is State.INITIATED:
            self.send(job.message(Msg.COPY_INITIATE))
            return Result(Outcome.COPY_INITIATED, "", job.source_arn)
        if job.state is State.SKIPPED:
            self.send(job.message(Msg.NO_COPY, reason=job.reason))
            return Result(Outcome.NOT_COPIED, job.reason, job.source_arn)
        return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)

    def _job_for(self, message: Message) -> Job:
        """The job of the message's snapshot, decided on first hearing of it.

        A skipped job is decided again by a later message that says copy: a forged
        request can't make DR skip a snapshot production really sends.
        """
        tags = dict(message.tags)
        wanted = self._decide(message, tags)
        stored = self.jobs.get(wanted.job_id)
        if stored is None:
            return self.jobs.create(wanted, due=clock.now() + SHARE_TIMEOUT) or self.jobs.get(wanted.job_id) or wanted
        if stored.state is State.SKIPPED and wanted.state is State.INITIATED:
            moved = self.jobs.advance(stored, State.INITIATED, due=clock.now() + SHARE_TIMEOUT, tags=tags, reason="")
            return moved or self.jobs.get(wanted.job_id) or stored
        return stored

    def _decide(self, message: Message, tags: dict[str, str]) -> Job:
        policy = self.config.lifecycles.source_lifecycle(tags)
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
        held = self.jobs.get(dr_copy_id(message.source_acct, message.source_id))
        if held is not None and held.state in TRANSIT_NOT_NEEDED:
            return self._not_needed(held, message)
        transit = self.api(message.snapshot_type, self._elsewhere(self.source_region)).shared(message.transit_arn)
        refusal = self._verify(message, transit)
        if refusal or transit is None:
            return refusal or Rejection("transit copy not found")
        job = self._job_for(message)
        if job.state in (State.DONE, State.EXPIRED, State.SKIPPED):
            return self._not_needed(job, message)
        if job.state is not State.INITIATED:
            return Result(Outcome.DUPLICATE, f"job is {job.state.value}", job.source_arn)
        claimed = message.source_time or job.source_created
        source_time = transit.created if transit.original_time else min(claimed, transit.created)
        verified = replace(
            job,
            transit_id=message.transit_id,
            transit_arn=message.transit_arn,
            tags=dict(message.tags),
            source_time=clock.iso(source_time),
            encrypted=transit.encrypted,
            size_gb=transit.size_gb,
        )
        return self.start_or_queue(verified, State.COPY_QUEUED)

    def _not_needed(self, job: Job, message: Message) -> Result:
        self.send(job.message(Msg.DELETE_SHARED, transit_arn=message.transit_arn, transit_id=message.transit_id))
        return Result(Outcome.DUPLICATE, f"transit copy not needed (job is {job.state.value})", job.source_arn)

    def _verify(self, message: Message, transit: Snapshot | None) -> Rejection | None:
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

    # --- the DR copy -------------------------------------------------------------------
    def start_copy(self, job: Job) -> Result:
        """Copy the verified transit copy into this account under the source's DR key.

        Across Regions, a kind AWS copies in one step lands straight in DR's Region; any
        other is first copied in the source Region under DR's relay key there (the relay
        copy), then from there into DR's Region (the relay step, from ``relay-queued``).
        The source's DR key is found or made before the first step and kept for the
        relay step, so a copy past ``KEY_CAP`` waits before anything is copied,
        whichever way it travels.
        """
        key = job.target_key
        if job.encrypted and not key:
            key = self._key(job)
            if not key:
                return self._wait_for_key(job)
        if job.state is State.RELAY_QUEUED:
            return self._copy(job, job.relay_arn, key, State.RELAYING)
        if self.two_steps(job):
            return self._copy(job, job.transit_arn, self._relay_key() if job.encrypted else "", State.COPYING, key)
        return self._copy(job, job.transit_arn, key, State.COPYING)

    def _copy(self, job: Job, source_arn: str, key: str, state: State, dr_key: str | None = None) -> Result:
        """Copy ``source_arn`` under ``key`` into the copy the job waits for in ``state``: its DR copy, or,
        with ``dr_key`` (the DR key kept for the relay step), its relay copy in the source Region."""
        api = self.api(job.kind, self.copy_region(job))
        relay = dr_key is not None
        across = self.source_region if self.source_region != self.region and not relay else ""
        copy = api.copy(source_arn, job.job_id, key or None, self._tags(job), across)
        if not copy.started:
            existing = api.find_copy(job.job_id)
            if existing is None or existing.tags.get(SOURCE_ARN_TAG) != job.source_arn:
                return self.fail(job, f"snapshot {job.job_id} exists and is not this source's DR copy")
        if relay:
            arn = copy.arn or _arn_of(api, job)
            return self.started(job, state, relay_id=copy.copy_id, relay_arn=arn, target_key=dr_key)
        return self.started(job, state, copy_id=copy.copy_id, target_key=key)

    def _relay_key(self) -> str:
        """DR's one key in the source Region, for relay copies (made once, like a DR key)."""
        if self.relay_keys is None:
            raise RuntimeError("copies across Regions in two steps need the relay key store")
        return self.relay_keys.find(RELAY_KEY) or self.relay_keys.create(RELAY_KEY)

    def _tags(self, job: Job) -> dict[str, str]:
        own = {
            self.config.tag_key: self.config.tag_value,
            SOURCE_ARN_TAG: job.source_arn,
            SOURCE_NAME_TAG: job.source_name,
            SOURCE_TIME_TAG: job.source_time,
            COPY_NAME_TAG: job.job_id,
        }
        tags, dropped = dr_copy_tags(job.tags, own)
        if dropped:
            logger.warning("source tags dropped: AWS allows 50 per snapshot", dropped=dropped)
        if not job.encrypted:
            logger.warning("unencrypted snapshot that can't be encrypted by copying: the DR copy stays unencrypted")
        return tags

    def _key(self, job: Job) -> str:
        """The job's DR key; a new one only within ``KEY_CAP`` a day per source account ("": capped).

        ``KEY_SCOPE`` says whose key: the source's (``alias/DRACO-<source>``, as the original),
        or the source account's (``alias/DRACO-<account>``).
        """
        owner = job.source_acct if self.config.key_scope == "account" else job.source_name
        key = self.keys.find(owner)
        if key:
            return key
        day = clock.now().strftime("%Y-%m-%d")
        if not self.slots.count(f"keys#{job.source_acct}#{day}", self.config.key_cap):
            return ""
        return self.keys.create(owner)

    def _wait_for_key(self, job: Job) -> Result:
        """Past the day's new-key cap the copy waits in its queue (its slot freed) and an alert goes out."""
        reason = f"{self.config.key_cap} new DR keys made today for account {job.source_acct} (KEY_CAP)"
        metrics.count("KeysCapped")
        logger.error("new DR keys capped", account=job.source_acct, key_cap=self.config.key_cap)
        queue = State.RELAY_QUEUED if job.state is State.RELAY_QUEUED else State.COPY_QUEUED
        wait = clock.now() + KEY_WAIT
        if self.jobs.advance(job, queue, due=wait, release=[self.slot(job)], reason=reason) is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return Result(Outcome.QUEUED, reason, job.source_arn)

    # --- copies finishing ---------------------------------------------------------------
    def on_event(self, event: SnapshotEvent) -> Result:
        """A copy finished in DR's Region (where its event subscriptions and rules are): the DR copy of a
        job copying or relaying; a relay copy, in the source Region, is left to the poller."""
        if event.type is not EventType.COPY_FINISHED:
            return Result(Outcome.IGNORED)
        copy = self.api(event.kind).describe(event.snapshot_id)
        if copy is None:
            return Result(Outcome.IGNORED, f"snapshot {event.snapshot_id} not found")
        job = self.jobs.get(copy.name)
        if job is None or job.state not in (State.COPYING, State.RELAYING) or self.copy_region(job):
            return Result(Outcome.IGNORED, "not a DR copy in progress")
        return self.attempt(job, lambda job: self.check_copy(job, copy))

    def copy_id(self, job: Job) -> str:
        if self.copy_region(job):
            return job.relay_id or job.job_id
        return job.copy_id or job.job_id

    def check_copy(self, job: Job, copy: Snapshot | None) -> Result:
        """Once the DR copy is ready: release the transit copy, lock the copy, apply the lifecycle."""
        ready = self.ready(job, "relay copy" if self.copy_region(job) else "DR copy", copy)  # failed: all kept
        if not isinstance(ready, Snapshot):
            return ready
        if self.copy_region(job):
            return self._relay_ready(job)
        locked_until = self._lock(job)
        if job.state is State.RELAYING:  # the transit copy went when the relay copy was ready
            self.api(job.kind, self.source_region).delete(job.relay_id)
        else:
            self.send(job.message(Msg.DELETE_SHARED))
        done = self.finished(job, State.DONE, reason="", locked_until=locked_until)
        if done is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        self.apply_lifecycle(done.inventory_key)
        return Result(Outcome.COPIED, self.copy_id(job), job.source_arn)

    def _relay_ready(self, job: Job) -> Result:
        """DR holds its relay copy: production's transit copy can go; start the copy into DR's Region."""
        self.send(job.message(Msg.DELETE_SHARED))
        queued = self.finished(job, State.RELAY_QUEUED, reason="")
        if queued is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return self.start_or_queue(queued, State.RELAY_QUEUED)

    def _lock(self, job: Job) -> str:
        """Lock the DR copy against deletion for the kind's lock days, if set and the kind can."""
        lock = self.config.locks.get(job.kind)
        if lock is None:
            return ""
        self.api(job.kind).lock(self.copy_id(job), lock.days, lock.mode)
        return clock.iso(clock.now() + timedelta(days=lock.days))

    # --- the lifecycle ------------------------------------------------------------------
    def apply_lifecycle(self, inventory_key: str) -> dict[str, list[str]]:
        """Apply the lifecycle in force to one source's DR copies (see ``lifecycles``)."""
        copies = {job.job_id: job for job in self.inventory.inventory(inventory_key)}
        if not copies:
            return {"keep": [], "delete": []}
        record = self.inventory.source(inventory_key) or SourceRecord(inventory_key)
        newest = max(copies.values(), key=lambda job: job.source_time)
        requested = self.config.lifecycles.requested(newest.tags)
        now = clock.now()
        locked = [job.job_id for job in copies.values() if job.locked_until and clock.parse_iso(job.locked_until) > now]
        decided = plan_pass(
            self.config.lifecycles,
            record,
            requested,
            [(job.job_id, job.source_created) for job in copies.values()],
            now,
            locked,
        )
        if decided.problem:
            logger.warning("lifecycle not applied", source=inventory_key, problem=decided.problem)
        if decided.newly_pending:
            metrics.count("LifecycleChangesPending")
            logger.error(
                "lifecycle change waits for approval in DR",
                source=inventory_key,
                in_force=decided.in_force,
                requested=decided.pending,
                held=len(decided.held),
            )
        reported = set(record.reported)
        if self.config.live:
            deleted = [copy_id for copy_id in decided.delete if self._expire(copies[copy_id], decided.in_force)]
        else:
            deleted = []
            for copy_id in decided.delete:
                if copy_id not in reported:
                    logger.info(f"dry run: would delete {copy_id}", lifecycle=decided.in_force)
                metrics.count("SnapshotsWouldDelete")
        changes = {
            "lifecycle": decided.in_force,
            "pending": decided.pending,
            "pending_since": clock.iso(now) if decided.newly_pending else record.pending_since,
            "reported": () if self.config.live else tuple(sorted(decided.delete)),
        }
        self._save_source(record, newest.source_time, changes)
        return {"keep": [c for c in copies if c not in deleted], "delete": list(decided.delete)}

    def _save_source(self, record: SourceRecord, newest_time: str, changes: dict[str, object]) -> None:
        """Save the pass's decisions; a run that saved first is read again (its newer copy time kept)."""
        for _ in range(3):
            saved = self.inventory.save_source(
                replace(record, newest_time=max(record.newest_time, newest_time), **changes)  # type: ignore[arg-type]
            )
            if saved is not None:
                return
            record = self.inventory.source(record.inventory_key) or SourceRecord(record.inventory_key)
        logger.warning("source record not saved: it kept changing", source=record.inventory_key)

    def _expire(self, job: Job, lifecycle: str) -> bool:
        with correlated(job.source_arn):
            try:
                self.api(job.kind).delete(self.copy_id(job))
            except (ClientError, BotoCoreError) as error:  # the next pass tries again
                logger.warning(f"could not delete {self.copy_id(job)}", error=errors.describe(error))
                return False
            self.jobs.advance(job, State.EXPIRED, reason=f"expired by lifecycle {lifecycle}")
            metrics.count("SnapshotsDeleted")
            logger.info(f"deleted {self.copy_id(job)}", lifecycle=lifecycle)
            return True

    # --- the poller -------------------------------------------------------------------
    def poll(self) -> Counter[Outcome]:
        """A poll round, and hourly the recovery point: how old each source's newest copy is."""
        outcomes = super().poll()
        if hourly("Consumer:recovery-point"):
            self.report_recovery_point()
        return outcomes

    def hourly_checks(self) -> None:
        super().hourly_checks()
        self.report_recovery_point()

    def report_recovery_point(self) -> dict[str, float]:
        """Each source's newest copy's age in hours; never negative, whatever a time claims."""
        now = clock.now()
        records = self.inventory.sources()
        ages = {
            record.inventory_key: round(max(0.0, (now - record.newest).total_seconds() / 3600), 2)
            for record in records
            if record.newest is not None
        }
        # Every hour, even with nothing protected yet: the alarm counts silence as breaching.
        metrics.count("RecoveryPointAgeHours", max(ages.values(), default=0))
        metrics.count("LifecycleChangesPending", sum(bool(record.pending) for record in records))
        if ages:
            logger.info("recovery point", age_hours=ages)
        return ages

    def on_due(self, job: Job) -> Result:
        """A copy-initiate that no copy-shared followed within ``SHARE_TIMEOUT``."""
        return self.fail(job, f"no transit copy was shared within {SHARE_TIMEOUT.days} days")

    def _topic(self, message: Message) -> str:
        """The producer topic of the message's own source account, in the source Region."""
        partition = message.source_arn.split(":")[1]
        return f"arn:{partition}:sns:{self.source_region}:{message.source_acct}:{self.config.producer_topic_name}"

    def _elsewhere(self, region: str) -> str:
        """``region`` when it is not DR's own ("": DR's)."""
        return "" if region == self.region else region


def _arn_of(api: SnapshotApi, job: Job) -> str:
    """A relay copy's ARN, when AWS answered a copy with its id only."""
    found = api.find_copy(job.job_id)
    return found.arn if found else ""
