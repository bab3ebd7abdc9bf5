"""Pollers that cost next to nothing while nothing is in flight.

Each app has two schedules: the poller, every minute, and a wake-up, every
hour. At the end of a poll round the poller's own EventBridge rule
(``POLLER_RULE``) is switched off when no job falls due within the hour (a
copy in flight keeps its job due, so it keeps the poller on); the wake-up (at
most an hour later) makes the hourly checks and switches the poller on again
before anything falls due. Whatever creates a job due soon or starts a copy
switches it on at once (``wake``, through ``PacedJobs``), so work never waits on
a resting poller. Nothing waits forever: the wake-up runs every hour whatever
the rule's state, and an idle account costs 24 short runs a day instead of
1,440 poll rounds.

A flag item in the job table remembers the switch's state, so a wake is one
conditional write, and EnableRule is called only when the flag flips; switching
off re-checks the due jobs afterwards, so a job created meanwhile is never left
behind a switched-off rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib_shared import clock
from chalicelib_shared.log import logger

#: How far ahead a due job keeps the poller on: the wake-up's period.
WINDOW = timedelta(hours=1)
FLAG = "poller"
ON, OFF = "on", "off"


class Flags(Protocol):
    def flip(self, name: str, expected: str, value: str) -> bool:
        """Set flag ``name`` to ``value`` if it is ``expected`` (a missing flag counts as on)."""


class Switch(Protocol):
    def wake(self) -> None:
        """Work is due soon: make sure the poller runs."""

    def settle(self, next_due: Callable[[], datetime | None], wake_up: bool) -> None:
        """After a round: the poller rests when no job falls due within the hour.

        ``wake_up``: the hourly round, which also switches the poller on when work is due
        (a poller round needs not: it runs, so its rule is on). A copy in flight keeps its
        job due (the poller looks at it every round), so it keeps the poller on.
        """


class AlwaysOn:
    """No poller rule configured: the poller runs on its schedule, always."""

    def wake(self) -> None:
        return None

    def settle(self, next_due: Callable[[], datetime | None], wake_up: bool) -> None:
        return None


class RuleSwitch:
    """The poller's EventBridge rule, switched through a flag in the job table."""

    def __init__(self, events: Any, rule: str, flags: Flags) -> None:
        self._events = events
        self._rule = rule
        self._flags = flags
        self._awake = False  # this invocation switched it on already

    def wake(self) -> None:
        if self._awake:
            return
        self._awake = True
        if self._flags.flip(FLAG, OFF, ON):
            self._events.enable_rule(Name=self._rule)
            logger.info("poller switched on", rule=self._rule)

    def settle(self, next_due: Callable[[], datetime | None], wake_up: bool) -> None:
        if _soon(next_due()):
            if wake_up:
                self.wake()
            return
        if not self._flags.flip(FLAG, ON, OFF):
            return
        self._awake = False
        self._events.disable_rule(Name=self._rule)
        if _soon(next_due()):  # a job came while switching off: switch back on
            self.wake()
            return
        logger.info("poller resting until work is due", rule=self._rule)


def _soon(due: datetime | None) -> bool:
    return due is not None and due <= clock.now() + WINDOW


class PacedJobs:
    """A job store that wakes the poller whenever a write leaves a job due within the hour."""

    def __init__(self, jobs: Any, switch: Switch) -> None:
        self._jobs = jobs
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jobs, name)

    def create(self, job: Any, due: datetime | None = None) -> Any:
        return self._watch(self._jobs.create(job, due))

    def advance(self, job: Any, state: Any, **changes: Any) -> Any:
        return self._watch(self._jobs.advance(job, state, **changes))

    def _watch(self, job: Any) -> Any:
        if job is not None and job.is_due_work and _soon(clock.parse_iso(job.due)):
            self._switch.wake()
        return job
