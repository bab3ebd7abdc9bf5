"""The status model: plain dataclasses and ``build_status``, a pure function of jobs and snapshots.

One row per protected source (source account, kind and name: the job table's
``inventory_key``), i.e. any source with a job that is not ``skipped``:

* **lifecycle** in force, decided as the consumer decides it
  (``chalicelib_shared.lifecycles.plan_pass`` over the source's record in DR and
  the newest copy's ``Draco_Lifecycle`` tag), and a **pending** change: a shorter
  lifecycle production asked for, which waits for ``draco approve`` in DR.
* **newest copy** and **RPO**: hours from when the newest existing DR copy's
  source snapshot was taken (the data's time) to now. Over the threshold
  (default 26 h: a daily snapshot plus two hours of copying) the row is ``late``;
  a source with no copy yet is late once its first snapshot is that old.
* **copies**, the **oldest**, their **allocated storage** (sum of
  ``AllocatedStorage``) and an estimated **monthly cost** at
  the kind's storage price (RDS $0.095, Aurora, DocumentDB and Neptune $0.021, EBS $0.05 per GB-month). AWS bills
  snapshot storage incrementally, so this is an upper bound (the first copy of a
  source is full size, later ones mostly smaller).
* **encrypted**: whether the source's DR copies are encrypted (under its DR key
  ``alias/DRACO-<source>``), from the newest copy's job, which records the transit
  copy's encryption. An unencrypted Aurora cluster snapshot can't be encrypted by
  copying it, so its copies stay unencrypted; an unencrypted DB instance snapshot
  is encrypted by the transit copy. None until a transit copy was shared.
* **pending** jobs (active states) and **failed** jobs, each with its reason.
* **to delete next**: what the consumer's next lifecycle pass deletes (the same
  ``plan_pass``: only what both the lifecycle in force and a pending one delete,
  never one of the newest ``MIN_KEEP``, never a locked copy; nothing is deleted
  here). With ``NO_DRY_RUN`` set, the consumer deletes them at its next pass for
  that source.

``health`` summarises a row, worst first: ``late`` (RPO over the threshold),
``failed`` (a failed job waits for an operator), ``approve`` (a shorter lifecycle,
or one keeping more than ``MAX_KEEP``, waits for approval in DR), ``waiting`` (a
copy waits for room in DR's snapshot quota or for a key, ``waiting`` says why),
``check`` (unknown lifecycle: nothing is deleted until the tag is fixed; or copies
missing from DR), ``pending`` (no copy yet, still in time), ``ok``, ``retired`` (an
operator retired it: not watched for the RPO). Ages are never negative.

Each row also carries the source's **decisions**: every approval, rejection and
retirement in DR, oldest first, with who took it, when, and what was in force before
(``draco.approvals``); ``Status.decisions`` holds them all, key budgets included.

Sources whose every job is ``skipped`` (no tag and no default, ``Ignore``, a
refused account) are listed apart with the latest reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib_shared import clock, provenance
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS, Snapshot
from chalicelib_shared.lifecycles import LifecyclePass
from chalicelib_shared.retention import Policy, RetentionResult, apply_policy
from chalicelib_shared.sources import SourceRecord
from draco.approvals import Decision

#: RDS snapshot storage, USD per GB-month (us-east-1 "backup storage" beyond the free
#: allowance; a DR account has no databases, so no allowance). Other Regions differ.
#: Each kind prices its own storage (``SnapshotKind.storage_price``), by its ``SnapshotType``.
PRICES_PER_GB_MONTH: dict[str, float] = {name: kind.storage_price for name, kind in KINDS.items()}
DEFAULT_RPO_HOURS = 26.0
HEALTH_ORDER = ("late", "failed", "approve", "waiting", "check", "pending", "ok", "retired")
#: Consumer states in which a job has heard from copy-shared, so knows its transit copy's encryption.
_SHARED_STATES = frozenset({State.COPY_QUEUED, State.COPYING, State.DONE, State.EXPIRED})
_QUEUED = frozenset({State.COPY_QUEUED, State.RELAY_QUEUED})


@dataclass(frozen=True)
class Copy:
    """One DR copy the job table lists as done."""

    copy_id: str
    source_time: datetime
    allocated_gb: int | None  # None when the snapshot is not in DR (or DR was not read)
    status: str  # the snapshot's status in DR; "missing" when it is gone
    to_delete: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    source_id: str
    failed_from: str
    reason: str
    updated: str


@dataclass(frozen=True)
class SourceStatus:
    source_acct: str
    source_name: str
    kind: str
    policy: Policy  # the lifecycle in force
    retention: RetentionResult  # its reasons to keep each copy
    decided: LifecyclePass  # what the consumer's next pass decides: in force, pending, to delete
    record: SourceRecord  # DR's record of the source: who approved what, since when a change waits
    copies: tuple[Copy, ...]  # newest first
    pending: Mapping[str, int]
    failed: tuple[FailedJob, ...]
    encrypted: bool | None  # are its DR copies encrypted; None before a transit copy was shared
    skipped: int
    last_skip_reason: str | None
    first_seen: datetime  # the oldest source snapshot DRACO heard of for this source
    rpo_threshold: float
    now: datetime
    waiting: tuple[str, ...] = ()  # why queued copies wait (room in DR's quota, a key), newest first
    decisions: tuple[Decision, ...] = ()  # DR's decisions about the source, oldest first

    @property
    def inventory_key(self) -> str:
        return f"{self.source_acct}#{self.kind}#{self.source_name}"

    @property
    def existing(self) -> list[Copy]:
        return [copy for copy in self.copies if copy.status != "missing"]

    @property
    def missing(self) -> list[Copy]:
        return [copy for copy in self.copies if copy.status == "missing"]

    @property
    def newest(self) -> Copy | None:
        return self.existing[0] if self.existing else None

    @property
    def oldest(self) -> Copy | None:
        return self.existing[-1] if self.existing else None

    @property
    def rpo_hours(self) -> float | None:
        newest = self.newest
        return None if newest is None else _hours(self.now - newest.source_time)

    @property
    def over_rpo(self) -> bool:
        if self.record.retired:
            return False
        rpo = self.rpo_hours
        if rpo is None:
            return _hours(self.now - self.first_seen) > self.rpo_threshold
        return rpo > self.rpo_threshold

    @property
    def storage_gb(self) -> int:
        return sum(copy.allocated_gb or 0 for copy in self.existing)

    @property
    def monthly_cost(self) -> float:
        return round(self.storage_gb * KINDS[self.kind].storage_price, 2)

    @property
    def would_delete(self) -> list[str]:
        return [copy.copy_id for copy in self.existing if copy.to_delete]

    @property
    def lifecycle(self) -> str:
        return str(self.policy)

    @property
    def pending_lifecycle(self) -> str:
        return self.decided.pending

    @property
    def health(self) -> str:
        if self.over_rpo:
            return "late"
        if self.failed:
            return "failed"
        if self.pending_lifecycle:
            return "approve"
        if self.waiting:
            return "waiting"
        if self.record.retired:
            return "retired"
        if self.policy.keep_all or self.missing:
            return "check"
        if self.newest is None:
            return "pending"
        return "ok"


@dataclass(frozen=True)
class SkippedSource:
    source_acct: str
    source_name: str
    kind: str
    reason: str
    snapshots: int
    last_seen: datetime


@dataclass(frozen=True)
class Status:
    generated_at: datetime
    table: str
    live: bool
    rpo_threshold: float
    sources: tuple[SourceStatus, ...]
    skipped: tuple[SkippedSource, ...]
    drills: tuple[Any, ...] = ()  # each protected source's restore drills (``draco.status.drills``)
    decisions: tuple[Decision, ...] = ()  # every decision taken in DR, oldest first

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "sources": len(self.sources),
            "late": sum(s.over_rpo for s in self.sources),
            "failed_jobs": sum(len(s.failed) for s in self.sources),
            "pending_jobs": sum(sum(s.pending.values()) for s in self.sources),
            "copies": sum(len(s.existing) for s in self.sources),
            "storage_gb": sum(s.storage_gb for s in self.sources),
            "monthly_cost_usd": round(sum(s.monthly_cost for s in self.sources), 2),
            "would_delete": sum(len(s.would_delete) for s in self.sources),
            "lifecycle_changes_pending": sum(bool(s.pending_lifecycle) for s in self.sources),
            "waiting": sum(bool(s.waiting) for s in self.sources),
            "retired": sum(s.record.retired for s in self.sources),
            "skipped_sources": len(self.skipped),
        }


def _hours(delta: Any) -> float:
    """Hours, never negative (a copy's time is never after now, whatever a message claimed)."""
    return max(0.0, round(delta.total_seconds() / 3600, 1))


def build_status(
    jobs: Iterable[Job],
    snapshots: Mapping[str, Snapshot] | None,
    config: ConsumerConfig,
    *,
    now: datetime,
    records: Mapping[str, SourceRecord] | None = None,
    rpo_hours: float = DEFAULT_RPO_HOURS,
    table: str = "",
    decisions: Iterable[Decision] = (),
) -> Status:
    """The operator's view from the consumer's jobs, source records and the DR account's snapshots (by id).

    ``snapshots`` None means DR was not read: every done copy counts as existing.
    """
    records = records or {}
    decisions = tuple(decisions)
    groups: dict[tuple[str, str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.source_acct, job.kind, job.source_name)].append(job)
    sources, skipped = [], []
    for (acct, kind, name), group in groups.items():
        group.sort(key=lambda job: (job.source_time, job.job_id), reverse=True)  # newest first
        not_skipped = [job for job in group if job.state is not State.SKIPPED]
        skips = [job for job in group if job.state is State.SKIPPED]
        if not not_skipped:
            skipped.append(SkippedSource(acct, name, kind, skips[0].reason, len(skips), skips[0].source_created))
            continue
        record = records.get(f"{acct}#{kind}#{name}") or SourceRecord(f"{acct}#{kind}#{name}")
        source = _source(record, group, not_skipped, skips, snapshots, config, now, rpo_hours)
        sources.append(replace(source, decisions=tuple(d for d in decisions if d.source == record.inventory_key)))
    sources.sort(key=lambda s: (HEALTH_ORDER.index(s.health), s.source_name, s.kind, s.source_acct))
    skipped.sort(key=lambda s: (s.source_name, s.kind, s.source_acct))
    return Status(now, table, config.live, rpo_hours, tuple(sources), tuple(skipped), decisions=decisions)


def _source(
    record: SourceRecord,
    group: list[Job],
    not_skipped: list[Job],
    skips: list[Job],
    snapshots: Mapping[str, Snapshot] | None,
    config: ConsumerConfig,
    now: datetime,
    rpo_hours: float,
) -> SourceStatus:
    done = [job for job in group if job.state is State.DONE]
    found = {job.job_id: (snapshots.get(job.copy_id or job.job_id) if snapshots is not None else None) for job in done}
    existing = [job for job in done if snapshots is None or found[job.job_id] is not None]
    newest = (existing or done or not_skipped)[0]
    lifecycles = config.lifecycles
    copies_at = [(job.job_id, job.source_created) for job in existing]
    locked = [job.job_id for job in existing if job.locked_until and clock.parse_iso(job.locked_until) > now]
    decided = provenance.plan(lifecycles, record, lifecycles.requested(newest.tags), existing, now, locked)
    policy = lifecycles.policy(decided.in_force) if decided.in_force else lifecycles.source_lifecycle(newest.tags)
    result = _held(apply_policy(policy, copies_at, now), decided, copies_at, lifecycles.min_keep, locked)
    to_delete = set(decided.delete)
    copies = []
    for job in done:
        snapshot = found[job.job_id]
        missing = snapshots is not None and snapshot is None
        copies.append(
            Copy(
                copy_id=job.job_id,
                source_time=job.source_created,
                allocated_gb=snapshot.size_gb if snapshot else None,
                status="missing" if missing else (snapshot.status if snapshot else "done"),
                to_delete=job.job_id in to_delete,
                reasons=tuple(result.reasons.get(job.job_id, ())),
            )
        )
    return SourceStatus(
        source_acct=record.source_acct,
        source_name=record.source_name,
        kind=record.kind,
        policy=policy,
        retention=result,
        decided=decided,
        record=record,
        copies=tuple(copies),
        pending=dict(Counter(job.state.value for job in group if job.state.is_active)),
        failed=tuple(
            FailedJob(job.job_id, job.source_id, job.failed_from, job.reason, job.updated)
            for job in group
            if job.state is State.FAILED
        ),
        encrypted=_encrypted(existing, group),
        skipped=len(skips),
        last_skip_reason=skips[0].reason if skips else None,
        first_seen=min(job.source_created for job in not_skipped),
        rpo_threshold=rpo_hours,
        now=now,
        waiting=tuple(job.reason for job in group if job.state in _QUEUED and job.reason),
    )


def _held(
    result: RetentionResult,
    decided: LifecyclePass,
    copies: list[tuple[str, datetime]],
    min_keep: int,
    locked: list[str],
) -> RetentionResult:
    """The lifecycle's own verdict, corrected by what the pass keeps anyway, with the reason (lock, floor, approval)."""
    floor = {copy for copy, _ in sorted(copies, key=lambda c: c[1], reverse=True)[:min_keep]}
    reasons = {copy: list(why) for copy, why in result.reasons.items()}
    for copy in result.delete:
        if copy in decided.delete:
            continue
        if copy in locked:
            reasons[copy] = ["locked"]
        elif copy in floor:
            reasons[copy] = [f"newest {min_keep} (MIN_KEEP)"]
        else:
            reasons[copy] = [f"kept until {decided.pending} is approved"]
    return RetentionResult(
        keep=[copy for copy in (*result.keep, *result.delete) if copy not in decided.delete],
        delete=[copy for copy in result.delete if copy in decided.delete],
        reasons=reasons,
    )


def _encrypted(existing: list[Job], group: list[Job]) -> bool | None:
    """The newest existing copy's encryption, else that of the newest job told of its transit copy."""
    told = existing or [job for job in group if job.state in _SHARED_STATES]
    return told[0].encrypted if told else None
