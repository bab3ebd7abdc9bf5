"""The lifecycle pass over one source's DR copies, and the recovery point of every source.

The pass reads the source's copies from the job table's ``inventory`` index (one
Query): its cost depends on how many copies that source has, not on the size of
the DR account. What may be deleted is decided by ``lifecycles``, never by
production; in a dry run nothing is deleted and each would-be deletion is
reported once: the source's record remembers when its last pass ran, not every
id (``sources``), so it stays small however long the source's history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics, provenance, room
from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.recovery import recovery_point
from chalicelib_shared.sources import SourceRecord
from chalicelib_shared.steady_state import steady_state


@dataclass
class LifecycleRun:
    """Applies a source's lifecycle to its DR copies; reports how old each source's newest copy is."""

    side: ConsumerSide

    def apply(self, inventory_key: str) -> dict[str, list[str]]:
        """Apply the lifecycle in force to one source's DR copies (see ``lifecycles``)."""
        side = self.side
        copies = {job.job_id: job for job in side.inventory.inventory(inventory_key)}
        if not copies:
            return {"keep": [], "delete": []}
        record = side.inventory.source(inventory_key) or SourceRecord(inventory_key)
        newest = max(copies.values(), key=lambda job: job.source_time)
        requested = side.config.lifecycles.requested(newest.tags)
        now = clock.now()
        locked = [job.job_id for job in copies.values() if job.locked_until and clock.parse_iso(job.locked_until) > now]
        decided = provenance.plan(side.config.lifecycles, record, requested, copies.values(), now, locked)
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
        reported: set[str] = set()  # what the last dry-run pass logged: what a pass then would delete
        if record.reported_at and not side.config.live:
            then = clock.parse_iso(record.reported_at)
            earlier = [job for job in copies.values() if job.source_created <= then]
            reported = set(provenance.plan(side.config.lifecycles, record, requested, earlier, then, locked).delete)
        if side.config.live:
            deleted = [copy_id for copy_id in decided.delete if self._expire(copies[copy_id], decided.in_force)]
        else:
            deleted = []
            for copy_id in decided.delete:
                if copy_id not in reported:
                    logger.info(f"dry run: would delete {copy_id}", lifecycle=decided.in_force)
                metrics.count("SnapshotsWouldDelete")
        changes = {
            **room.after_pass(record, decided, len(copies) - len(deleted)),
            "pending_since": clock.iso(now) if decided.newly_pending else record.pending_since,
            "reported_at": "" if side.config.live else clock.iso(now),
        }
        self._save_source(record, newest.source_time, changes, counted=list(copies))
        return {"keep": [c for c in copies if c not in deleted], "delete": list(decided.delete)}

    def _save_source(
        self, record: SourceRecord, newest_time: str, changes: dict[str, object], counted: list[str]
    ) -> None:
        """Save the pass's decisions, the ``counted`` copies leaving the source's pool of copies in flight in the
        same write; a run that saved first is read again (its newer copy time kept)."""
        inventory = self.side.inventory
        release = (room.in_flight_pool(record.inventory_key), counted)
        for _ in range(3):
            saved = inventory.save_source(
                replace(record, newest_time=max(record.newest_time, newest_time), **changes),  # type: ignore[arg-type]
                release=release,
            )
            if saved is not None:
                return
            record = inventory.source(record.inventory_key) or SourceRecord(record.inventory_key)
        logger.warning("source record not saved: it kept changing", source=record.inventory_key)

    def _expire(self, job: Job, lifecycle: str) -> bool:
        side = self.side
        with correlated(job.source_arn):
            try:
                side.api(job.kind).delete(side.copy_id(job))
            except (ClientError, BotoCoreError) as error:  # the next pass tries again
                logger.warning(f"could not delete {side.copy_id(job)}", error=errors.describe(error))
                return False
            side.jobs.advance(job, State.EXPIRED, reason=f"expired by lifecycle {lifecycle}")
            metrics.count("SnapshotsDeleted")
            logger.info(f"deleted {side.copy_id(job)}", lifecycle=lifecycle)
            return True

    def report_recovery_point(self) -> dict[str, float]:
        """Each watched source's newest copy's age in hours, and which are late (``recovery``)."""
        records = self.side.inventory.sources()
        rpo_hours = self.side.config.rpo_hours
        point = recovery_point(records, clock.now(), rpo_hours)
        # Every hour, even with nothing protected yet: the alarm counts silence as breaching.
        metrics.count("SourcesLate", len(point.late))
        metrics.count("SourcesGoneLate", len(point.gone_late))
        metrics.count("RecoveryPointAgeHours", point.oldest)
        metrics.count("LifecycleChangesPending", sum(bool(record.pending) for record in records))
        if point.gone_late:
            logger.error("sources went late", sources=list(point.gone_late), rpo_hours=rpo_hours)
        if point.ages:
            logger.info("recovery point", age_hours=point.ages, late=list(point.late))
        self.report_quota_plan(records)
        return point.ages

    def report_quota_plan(self, records: list[SourceRecord]) -> dict[str, tuple[int, int]]:
        """The copies each kind will hold at steady state (each source's lifecycle in force, a snapshot a day)
        against its manual snapshot quota: ``SnapshotQuotaPlannedPercent``, and a warning when over.

        ``status`` and ``draco plan --quota`` plan with each source's real spacing; here, hourly and
        from the source records alone, a day is assumed: sources snapshotting more often count low.
        """
        planned: dict[str, int] = {}
        for record in records:
            if record.lifecycle:
                policy = self.side.config.lifecycles.policy(record.lifecycle)
                planned[record.kind] = planned.get(record.kind, 0) + steady_state(policy)
        plan: dict[str, tuple[int, int]] = {}
        for kind, copies in planned.items():
            try:
                quota = self.side.api(kind).quota()
            except (ClientError, BotoCoreError) as error:
                logger.warning("could not read the snapshot quota", kind=kind, error=errors.describe(error))
                continue
            if quota is not None and quota.max:
                plan[kind] = (copies, quota.max)
                if copies > quota.max:
                    logger.warning("planned copies exceed the snapshot quota", kind=kind, planned=copies, max=quota.max)
        if plan:
            metrics.percent("SnapshotQuotaPlannedPercent", max(100 * copies / most for copies, most in plan.values()))
        return plan
