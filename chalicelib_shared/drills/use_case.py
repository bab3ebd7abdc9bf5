"""The restore drill use-case: choose sources, restore each newest DR copy, wait, check, clean up, sweep.

A drill is a small state machine kept in DR's job table (``table``), so any run
can move it on: ``draco drill`` steps it while it waits, the consumer's
scheduled function every few minutes. Whatever happens, what a drill made is
deleted (no final snapshot): a failed check, a refused restore, an exception
in a step, a run that dies (the next run finds the record), a drill past its
timeout; and ``sweep`` deletes anything tagged ``Draco_Drill`` older than the
timeout that no running drill owns. A drill only reads its DR copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, metrics
from chalicelib_shared.drills.checks import Validator, check
from chalicelib_shared.drills.costs import estimate
from chalicelib_shared.drills.model import FAILED, PASSED, Drill, Step, drill_id, resource_name
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.drills.table import DrillTable
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.base import Phase
from chalicelib_shared.kinds.restoring import (
    DRILL_KEEP_TAG,
    DRILL_SOURCE_TAG,
    DRILL_STARTED_TAG,
    DRILL_TAG,
    RestoreApi,
    instance_class_for,
)
from chalicelib_shared.log import logger

MONTH = timedelta(days=30)


class Inventory(Protocol):
    """What drills read of the job table: the sources, and each source's DR copies (oldest first)."""

    def sources(self) -> Sequence[Any]: ...
    def inventory(self, inventory_key: str) -> list[Job]: ...


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    retry: bool = False  # a limit: may start once a running drill ends


def source_name(key: str) -> str:
    return key.split("#", 2)[-1]


class Drills:
    def __init__(
        self,
        table: DrillTable,
        inventory: Inventory,
        restores: Callable[[str], RestoreApi],
        settings: DrillSettings,
        validator: Validator | None = None,
    ) -> None:
        self.table = table
        self.inventory = inventory
        self.restores = restores
        self.settings = settings
        self.validator = validator

    # --- choosing ---------------------------------------------------------------------
    def choose(self, source: str = "", tag: tuple[str, str] | None = None) -> list[str]:
        """Sources with a DR copy: all, the one named (by name or account#kind#name), or those tagged so."""
        keys = sorted(record.inventory_key for record in self.inventory.sources())
        if source:
            keys = [key for key in keys if source in (key, source_name(key))]
        chosen = []
        for key in keys:
            newest = self.newest_copy(key)
            if newest is not None and (tag is None or newest.tags.get(tag[0]) == tag[1]):
                chosen.append(key)
        return chosen

    def newest_copy(self, key: str) -> Job | None:
        copies = [job for job in self.inventory.inventory(key) if job.state is State.DONE]
        return max(copies, key=lambda job: job.source_time) if copies else None

    def due(self, now: datetime) -> list[str]:
        """The scheduled drill's sources whose last drill began ``every_days`` ago or more (or never)."""
        last: dict[str, datetime] = {}
        for drill in self.table.history():
            began = clock.parse_iso(drill.started)
            last[drill.source] = max(last.get(drill.source, began), began)
        every = timedelta(days=self.settings.every_days)
        return [key for key in self.choose(tag=self.settings.tag) if key not in last or now - last[key] >= every]

    # --- starting ---------------------------------------------------------------------
    def start(self, keys: Iterable[str], keep: bool = False) -> list[Drill | Skipped]:
        """Start a drill of each source, within the limits; what could not start says why."""
        running = self.table.running()
        out: list[Drill | Skipped] = []
        for key in keys:
            if any(drill.source == key for drill in running):
                out.append(Skipped(key, "a drill of this source is running", retry=True))
            elif len(running) >= self.settings.concurrency:
                out.append(Skipped(key, f"{self.settings.concurrency} drills running (DRILL_CONCURRENCY)", retry=True))
            elif self.hours_used(running) >= self.settings.hours_per_month:
                out.append(Skipped(key, f"{self.settings.hours_per_month:g} drill instance-hours used in 30 days"))
            else:
                started = self._start(key, keep)
                out.append(started)
                if isinstance(started, Drill) and started.running:
                    running.append(started)
        return out

    def _start(self, key: str, keep: bool) -> Drill | Skipped:
        job = self.newest_copy(key)
        if job is None:
            return Skipped(key, "no DR copy to restore")
        now = clock.now()
        new = drill_id(key, now)
        if not self.table.lock(key, new):
            return Skipped(key, "another drill holds this source", retry=True)
        drill = Drill(new, key, job.kind, job.source_name, job.copy_id or job.job_id, resource_name(new),
                      Step.RESTORING, started=clock.iso(now), keep=keep)  # fmt: skip
        saved = self.table.save(drill)
        if saved is None:
            return Skipped(key, "a drill with this id exists", retry=True)
        api = self.restores(job.kind)
        try:
            source = api.source(saved.copy_id)
            if source is None:
                return self._fail(saved, f"DR copy {saved.copy_id} not found")
            has_instance = bool(source.engine)
            chosen = instance_class_for(source.engine, self.settings.instance_class) if has_instance else ""
            tags = {DRILL_TAG: new, DRILL_SOURCE_TAG: key, DRILL_STARTED_TAG: saved.started}
            if keep:
                tags[DRILL_KEEP_TAG] = "true"
            called = clock.iso(clock.now())
            saved = self._save(replace(saved, engine=source.engine, size_gb=source.size_gb,
                                       instance_class=chosen, restore_called=called))  # fmt: skip
            api.restore(source, saved.resource, self.settings.place, chosen, tags)
        except (ClientError, BotoCoreError) as err:
            return self._fail(saved, f"restore refused: {_error(err)}")
        logger.info("drill started", drill=new, source=key, copy=saved.copy_id, resource=saved.resource)
        return saved

    def hours_used(self, running: Sequence[Drill] | None = None) -> float:
        """Instance-hours drills used in the last 30 days (running ones until now)."""
        now = clock.now()
        drills = [*self.table.history(), *(running if running is not None else self.table.running())]
        return sum(_hours(d, now) for d in drills if d.instance_class and now - clock.parse_iso(d.started) < MONTH)

    # --- moving on --------------------------------------------------------------------
    def advance(self, drill: Drill) -> Drill:
        """One step of a running drill: restoring -> checked -> cleaned up; never leaves an exception out."""
        try:
            if drill.step is Step.RESTORING:
                return self._restoring(drill)
            return self._cleaning(drill)
        except (ClientError, BotoCoreError) as err:
            if drill.step is Step.RESTORING:
                return self._fail(drill, f"AWS error: {_error(err)}")
            logger.warning("drill cleanup will be tried again", drill=drill.drill_id, error=_error(err))
            return drill

    def _restoring(self, drill: Drill) -> Drill:
        now = clock.now()
        api = self.restores(drill.kind)
        if now - clock.parse_iso(drill.started) > self.settings.timeout:
            minutes = self.settings.timeout.total_seconds() / 60
            return self._fail(drill, f"not available and checked within {minutes:g} minutes (DRILL_TIMEOUT_MINUTES)")
        restored = api.describe(drill.resource)
        if restored is None:
            return self._fail(drill, f"nothing was restored as {drill.resource} (the run making it ended first)")
        if restored.phase is Phase.FAILED:
            return self._fail(drill, f"the restore ended {restored.status!r}")
        if restored.phase is not Phase.READY:
            return drill
        drill = self._save(replace(drill, available=clock.iso(now)))
        source = api.source(drill.copy_id)
        why = "the DR copy is gone" if source is None else check(restored, source)
        if why:
            return self._fail(drill, f"check failed: {why}")
        passed, message = True, "the service reports it available, as the copy promised"
        if self.validator is not None:
            payload = {"drill_id": drill.drill_id, "source": drill.source, "kind": drill.kind,
                       "resource": drill.resource, "engine": restored.engine, "endpoint": restored.endpoint,
                       "port": restored.port}  # fmt: skip
            passed, message = self.validator.validate(payload)
        drill = replace(drill, validated=clock.iso(clock.now()), result=PASSED if passed else FAILED, reason=message)
        return self._cleaning(self._save(replace(drill, step=Step.CLEANING)))

    def _cleaning(self, drill: Drill) -> Drill:
        kept = drill.keep and drill.result == PASSED
        if not kept and not self.restores(drill.kind).delete(drill.resource):
            return drill  # deleting: the next step looks again
        now = clock.now()
        done = self._save(replace(drill, step=Step.DONE, finished=clock.iso(now),
                                  cost_usd=round(_cost(drill, now), 6)))  # fmt: skip
        self.table.unlock(drill.source, drill.drill_id)
        self._report(done)
        return done

    def _fail(self, drill: Drill, reason: str) -> Drill:
        failed = self._save(replace(drill, step=Step.CLEANING, result=FAILED, reason=reason))
        logger.error("drill failed", drill=drill.drill_id, source=drill.source, reason=reason)
        return self.advance(failed)

    def _save(self, drill: Drill) -> Drill:
        saved = self.table.save(drill)
        if saved is None:
            raise DrillConflict(f"drill {drill.drill_id} was moved on by another run")
        return saved

    def _report(self, drill: Drill) -> None:
        if drill.result == PASSED and drill.rto_seconds is not None:
            metrics.seconds("RestoreSeconds", drill.rto_seconds)
            logger.info("drill passed", **drill.report())
        else:
            metrics.count("DrillsFailed")
            logger.error("drill failed and was cleaned up", **drill.report())

    # --- rounds -----------------------------------------------------------------------
    def step_all(self) -> list[Drill]:
        """One step of every running drill; a drill another run moved on meanwhile is left to it."""
        moved = []
        for drill in self.table.running():
            try:
                moved.append(self.advance(drill))
            except DrillConflict:
                continue
        return moved

    def sweep(self) -> list[str]:
        """Delete what drills made, older than the timeout, that no running drill owns (kept ones stay)."""
        now = clock.now()
        owned = {drill.drill_id for drill in self.table.running()}
        deleted = []
        for kind in KINDS:
            api = self.restores(kind)
            for restored in api.drilled():
                tags = restored.tags
                if tags.get(DRILL_KEEP_TAG) == "true" or tags.get(DRILL_TAG) in owned:
                    continue
                if now - _started(tags.get(DRILL_STARTED_TAG, ""), restored.created, now) > self.settings.timeout:
                    api.delete(restored.resource_id)
                    deleted.append(restored.resource_id)
        if deleted:
            logger.warning("drill leftovers deleted", resources=deleted)
        return deleted

    def scheduled_round(self) -> dict[str, int]:
        """The consumer's scheduled run: sweep, move running drills on, start the sources due."""
        swept = self.sweep()
        moved = self.step_all()
        started = self.start(self.due(clock.now())) if self.settings.scheduled else []
        return {"swept": len(swept), "stepped": len(moved), "started": sum(isinstance(d, Drill) for d in started)}

    def run(
        self, keys: Sequence[str], wait: Callable[[timedelta], None], keep: bool = False,
        poll: timedelta = timedelta(seconds=30),
    ) -> list[Drill | Skipped]:  # fmt: skip
        """``draco drill``: drill each source (as the limits allow), step them until all are done."""
        pending = list(keys)
        mine: dict[str, Drill] = {}
        out: list[Drill | Skipped] = []
        while pending or any(d.running for d in mine.values()):
            still = []
            for result in self.start(pending, keep) if pending else []:
                if isinstance(result, Drill):
                    mine[result.drill_id] = result
                elif result.retry and any(d.running for d in mine.values()):
                    still.append(result.source)
                else:
                    out.append(result)
            pending = still
            if any(d.running for d in mine.values()):
                wait(poll)
            for drill_key, drill in list(mine.items()):
                if drill.running:
                    current = self.table.get(drill_key) or drill
                    mine[drill_key] = self.advance(current) if current.running else current
        return [*out, *mine.values()]

    def abandon(self, drills: Iterable[Drill]) -> None:
        """Fail running drills at once (the operator stopped ``draco drill``) and ask for their deletion."""
        for drill in drills:
            current = self.table.get(drill.drill_id)
            if current is not None and current.step is Step.RESTORING:
                self._fail(current, "stopped by the operator")


class DrillConflict(Exception):
    """Another run wrote the drill first: this run leaves it alone."""


def _error(err: Exception) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}"
    return str(err)


def _hours(drill: Drill, now: datetime) -> float:
    if not drill.restore_called:
        return 0.0
    end = clock.parse_iso(drill.finished) if drill.finished else now
    return max(0.0, (end - clock.parse_iso(drill.restore_called)).total_seconds() / 3600)


def _cost(drill: Drill, now: datetime) -> float:
    return estimate(drill.engine, drill.instance_class, drill.size_gb, _hours(drill, now))


def _started(tag: str, created: datetime | None, now: datetime) -> datetime:
    try:
        return clock.parse_iso(tag)
    except (TypeError, ValueError):
        return created or now - timedelta(days=365)
