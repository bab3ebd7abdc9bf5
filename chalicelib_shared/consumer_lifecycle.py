"""The lifecycle pass over one source's DR copies, and the recovery point of every source.

The pass reads the source's copies from the job table's ``inventory`` index (one
Query): its cost depends on how many copies that source has, not on the size of
the DR account. What may be deleted is decided by ``lifecycles``, never by
production; in a dry run nothing is deleted and each would-be deletion is
reported once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors, metrics
from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.lifecycles import plan_pass
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.sources import SourceRecord


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
        decided = plan_pass(
            side.config.lifecycles,
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
        if side.config.live:
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
            "reported": () if side.config.live else tuple(sorted(decided.delete)),
        }
        self._save_source(record, newest.source_time, changes)
        return {"keep": [c for c in copies if c not in deleted], "delete": list(decided.delete)}

    def _save_source(self, record: SourceRecord, newest_time: str, changes: dict[str, object]) -> None:
        """Save the pass's decisions; a run that saved first is read again (its newer copy time kept)."""
        inventory = self.side.inventory
        for _ in range(3):
            saved = inventory.save_source(
                replace(record, newest_time=max(record.newest_time, newest_time), **changes)  # type: ignore[arg-type]
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
        """Each source's newest copy's age in hours; never negative, whatever a time claims."""
        now = clock.now()
        records = self.side.inventory.sources()
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
