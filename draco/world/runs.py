"""How the apps run in the local world: Lambda runs, and the schedules EventBridge starts them on.

Each app's poller runs every ``poll_interval`` while its rule (``POLLER_RULE``,
switched by the app, see ``chalicelib_shared.pacing``) is enabled; each app's
``wake_poller`` every hour while its rule is (DR's always, production's
``WAKE_RULE`` while a job has work left); the production sweep every
``sweep_interval``. All run on a grid from the world's start, as EventBridge's
rate rules run on the minute.

Every run is counted by function, with what it would be billed for: the AWS
calls it made, the bytes it logged, the custom metrics it emitted (by hour) and
the DynamoDB request units it used (``draco.world.meter``); a run is cold when
its function did not run in the ``LAMBDA_WARM`` before.

``LocalWorld`` takes these methods from ``Runs``; they use its apps, jobs, copies and clock.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from moto.events.models import events_backends

from chalicelib_shared import clock, handlers
from chalicelib_shared.jobs import POLLED_STATES, Job
from chalicelib_shared.pacing import WINDOW
from draco.world import meter as world_meter
from draco.world.faults import Killed

if TYPE_CHECKING:
    from draco.world.core import LocalWorld

WAKE_INTERVAL = timedelta(hours=1)  # each app's wake_poller: rate(1 hour)
#: How long Lambda keeps a function's idle environment for its next run. AWS publishes no
#: figure: an assumption, used only to count cold runs (``WorldStats.cold_runs``).
LAMBDA_WARM = timedelta(minutes=10)
#: How far past a copy's end ``run_until_quiet`` steps: the clock ticks on while the world works.
QUIET_MARGIN = timedelta(seconds=1)


class Runs:
    """How ``LocalWorld`` runs the apps' functions."""

    def _run(self: LocalWorld, app: Any, function: str, event: dict[str, Any], tries: int) -> Any:
        self._running, self._running_app = function, app
        name = f"{app.topic}:{function}"
        try:
            for _ in range(tries):
                self._count_run(name)
                started = time.perf_counter()
                try:
                    app.enter()
                    with contextlib.redirect_stdout(self._log_stream or sys.stdout):  # Lambda's stdout: the log
                        return app.client.lambda_.invoke(function, event).payload
                except (Killed, Exception) as error:  # what Lambda would record as a failed run
                    if self.faults is None:
                        raise
                    self.stats.failed_runs[type(error).__name__] += 1
                finally:
                    self.stats.seconds[name] += time.perf_counter() - started
                    self._track_copies()
            return None
        finally:
            self._running, self._running_app = "", None

    def _count_run(self: LocalWorld, name: str) -> None:
        now = clock.now()
        last = self._last_run.get(name)
        self.stats.invocations[name] += 1
        self.stats.cold_runs[name] += last is None or now - last > LAMBDA_WARM
        self._last_run[name] = now

    def _on_units(self: LocalWorld, account: str, kind: str, units: float) -> None:
        self.stats.units[(self._running, account, kind)] += units

    def _on_log(self: LocalWorld, text: str) -> None:
        app = self._running_app
        if app is None:
            return
        self.stats.log_bytes[f"{app.topic}:{self._running}"] += len(text.encode())
        hour = clock.now().strftime("%Y-%m-%dT%H")
        self.stats.metric_hours.update((app.account, name, hour) for name in world_meter.metric_names(text))

    def poll(self: LocalWorld) -> None:
        """One run of both apps' pollers, whether or not their rules are enabled."""
        self._unpolled = False
        for app in self._apps.values():
            self._run(app, "poll_jobs", self._schedule_event(app), tries=1)

    def wake(self: LocalWorld) -> None:
        """One run of both apps' hourly ``wake_poller``."""
        for app in self._apps.values():
            self._run(app, "wake_poller", self._schedule_event(app), tries=1)

    def sweep(self: LocalWorld) -> Any:
        """One scheduled run of the production sweep."""
        app = self._apps["producer"]
        return self._run(app, "sweep_snapshots", self._schedule_event(app), tries=1)

    @staticmethod
    def _schedule_event(app: Any) -> dict[str, Any]:
        return app.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )

    def advance(self: LocalWorld, duration: timedelta) -> None:
        """Let simulated time pass: copies finish when they finish, scheduled functions run on their schedules.

        Notifications already published are delivered first. A copy becomes available
        at its own moment, and its copy-finished event (if any) is delivered then; the
        scheduled functions run on the
        ``poll_interval`` grid (``_scheduled``). With ``every_poll`` off, runs in
        which nothing can change are skipped: the outcome is the same, faster.
        """
        end = clock.now() + duration
        self.deliver()  # what was published before now arrives now, not at the next tick
        while clock.now() < end:
            tick = clock.now() + self._next_step()
            finishing = min((copy.ready_at for copy in self._copies.values()), default=tick)
            moment = min(tick, max(finishing, clock.now()), end)
            self._traveller.shift(moment - clock.now())
            self._finish_copies()
            self.deliver()
            if moment == tick:
                self._scheduled()

    def _scheduled(self: LocalWorld) -> None:
        """What EventBridge starts at this tick: the sweep and the wake-ups when due, each poller whose rule is on."""
        self._sweep_if_due()
        self._wake_if_due()
        self._drills_if_due()
        self._unpolled = False
        for app in self._apps.values():
            if self.poller_on(app.account):
                self._run(app, "poll_jobs", self._schedule_event(app), tries=1)
        self.deliver()

    def _sweep_if_due(self: LocalWorld) -> None:
        """The production sweep runs on its own schedule (every six hours by default)."""
        if clock.now() >= self._next_sweep:
            self.sweep()
            self.deliver()
            while self._next_sweep <= clock.now():
                self._next_sweep += self.sweep_interval

    def _drill_every(self: LocalWorld) -> timedelta | None:
        """How often the consumer's ``run_drills`` runs: every ``DRACO_DRILL_MINUTES`` while ``DRILL_EVERY_DAYS``
        is set in its environment (``None``: drills off; its rule runs it anyway, to do nothing)."""
        if self.env.get("consumer", {}).get("DRILL_EVERY_DAYS", "0") in ("", "0"):
            return None
        return timedelta(minutes=handlers.drill_minutes())

    def _next_drills(self: LocalWorld) -> datetime | None:
        every = self._drill_every()
        return None if every is None else (self._last_drills or self.start) + every

    def _drills_if_due(self: LocalWorld) -> None:
        """One run of the consumer's scheduled drill when its tick has come (once, after a jump)."""
        every, due = self._drill_every(), self._next_drills()
        if every is not None and due is not None and clock.now() >= due:
            self._last_drills = self.start + ((clock.now() - self.start) // every) * every
            self.drill_round()

    def drill_round(self: LocalWorld) -> Any:
        """One run of the consumer's ``run_drills`` (sweep, step running drills, start due ones)."""
        app = self._apps["consumer"]
        result = self._run(app, "run_drills", self._schedule_event(app), tries=1)
        self.deliver()
        return result

    def _wake_if_due(self: LocalWorld) -> None:
        """Each app's hourly wake-up whose rule is on; with ``every_poll`` off, only one that has a resting poller
        to switch on."""
        if clock.now() < self._next_wake:
            return
        for app in self._apps.values():
            if not self.wake_up_on(app.account):
                continue
            if self.every_poll or self._to_wake(app, clock.now()):
                self._run(app, "wake_poller", self._schedule_event(app), tries=1)
        self.deliver()
        while self._next_wake <= clock.now():
            self._next_wake += WAKE_INTERVAL

    def poller_on(self: LocalWorld, account: str) -> bool:
        """Whether EventBridge runs the app's poller: its rule is enabled (an app without one: always)."""
        app = self._app(account)
        return _enabled(app, app.rule)

    def wake_up_on(self: LocalWorld, account: str) -> bool:
        """Whether EventBridge runs the app's hourly wake-up: its rule is enabled (an app without one: always)."""
        app = self._app(account)
        return _enabled(app, app.wake_rule)

    def _due(self: LocalWorld, app: Any) -> datetime | None:
        """When the app's earliest job with work left falls due (as its ``due`` index lists them), or, for a
        copying job whose copy is in flight in the world, when that copy is ready if later (``_can_change``)."""
        ready = {(account, snapshot_id): copy.ready_at for (account, _, _, snapshot_id), copy in self._copies.items()}
        return min((self._can_change(app, job, ready) for job in self.due_work(app.account)), default=None)

    def _can_change(self: LocalWorld, app: Any, job: Job, ready: dict[tuple[str, str], datetime]) -> datetime:
        """When a round can change a job. One whose copy the world holds in flight only finds it in progress
        again until the copy is ready, so with ``every_poll`` off the rounds before are skipped, as runs in
        which nothing can change are; with faults planned none is (a round's calls could fail)."""
        due = clock.parse_iso(job.due)
        if job.state not in POLLED_STATES or self.faults is not None:
            return due
        ids = {job.transit_id, job.relay_id, job.copy_id, job.job_id} - {""}
        copying = [ready[(app.account, copy_id)] for copy_id in ids if (app.account, copy_id) in ready]
        return max(due, min(copying)) if copying else due

    def _to_wake(self: LocalWorld, app: Any, at: datetime) -> bool:
        """A wake-up at ``at`` switches the app's resting poller on: a job falls due within the hour."""
        due = self._due(app)
        return due is not None and due <= at + WINDOW and not self.poller_on(app.account)

    def _next_step(self: LocalWorld) -> timedelta:
        """How long until the next tick at which a scheduled function runs (``every_poll``), or can change something.

        The schedules run on a grid from the world's start (as EventBridge runs them
        on the minute), so a copy that finishes between two ticks waits for the next
        one. With ``every_poll`` on, every run EventBridge would start happens: each
        tick while a poller's rule is on, else the next wake-up or sweep. Off, only
        ticks at which something can change: a copy finished, a job falls due under
        a running poller (a copying job, once its copy in flight is ready: ``_can_change``),
        a wake-up switches a resting one on, the sweep.
        """
        now = clock.now()
        resting = [app for app in self._apps.values() if not self.poller_on(app.account)]
        if self.every_poll:
            return self._tick_at(min(self._next_wake, self._next_sweep) if len(resting) == len(self._apps) else now)
        waiting = [copy.ready_at for copy in self._copies.values()] + [self._next_sweep]
        drills = self._next_drills()
        waiting += [drills] if drills is not None else []
        waiting += [now] if self._unpolled else []
        for app in self._apps.values():
            due = self._due(app)
            if due is not None:
                waiting.append(self._first_wake(due - WINDOW) if app in resting else due)
        return self._tick_at(min(waiting))

    def _first_wake(self: LocalWorld, moment: datetime) -> datetime:
        """The first wake-up at or after ``moment`` (the next one, if that has passed)."""
        late = max(timedelta(0), moment - self._next_wake)
        return self._next_wake - (-late // WAKE_INTERVAL) * WAKE_INTERVAL

    def _tick_at(self: LocalWorld, moment: datetime) -> timedelta:
        """Time until the first tick at or after ``moment`` that is later than now."""
        now = clock.now()
        after = max(moment, now + timedelta(microseconds=1))
        ticks = -((self.start - after) // self.poll_interval)  # rounded up
        return self.start + ticks * self.poll_interval - now

    def run_until_quiet(self: LocalWorld, limit: timedelta = timedelta(days=2)) -> bool:
        """Deliver and poll until no job is active; ``False`` if ``limit`` passed first."""
        deadline = clock.now() + limit
        self.deliver()
        while self.active_jobs():
            if clock.now() >= deadline:
                return False
            self.advance(min(self._quiet_step(), deadline - clock.now()))
        return True

    def _quiet_step(self: LocalWorld) -> timedelta:
        """The next step, but, while every poller rests, no further than the next copy to finish: the work may
        end there, and the next wake-up (``every_poll``) is not counted as the work's."""
        step = self._next_step()
        finishing = min((copy.ready_at for copy in self._copies.values()), default=None)
        if finishing is None or any(self.poller_on(app.account) for app in self._apps.values()):
            return step
        return min(step, max(finishing - clock.now(), timedelta(0)) + QUIET_MARGIN)

    def move_to(self: LocalWorld, moment: datetime) -> None:
        """Jump the clock forward; a sweep or wake-up that fell due on the way runs once, on arrival."""
        self._traveller.move_to(moment)
        self._finish_copies()
        self._sweep_if_due()
        self._wake_if_due()


def _enabled(app: Any, rule: str) -> bool:
    """Whether the app's schedule ``rule`` is enabled in moto ("": the app switches none, so it always runs)."""
    return not rule or events_backends[app.account][app.region].describe_rule(rule, None).state == "ENABLED"
