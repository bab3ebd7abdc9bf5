"""Pollers that cost next to nothing while nothing needs them.

Each app has two schedules: the poller, every minute, and a wake-up, every
hour. The poller's own EventBridge rule (``POLLER_RULE``) is on only while a
job falls due within ``WINDOW`` (a few minutes): a copy of a kind whose end
AWS does not announce, a copy waiting for a slot, an AWS error waited out.
Everything further off is a timer (a re-send, a share timeout, the safety
check of a copy whose end AWS announces): the hourly wake-up runs a poll round
itself and handles whatever has fallen due, so a timer fires within the hour
of falling due and a resting account costs 24 short runs a day instead of
1,440 poll rounds. Whatever creates a job due within the window switches the
poller on at once (``wake``, through ``PacedJobs``).

A flag item in the job table remembers the switch's state, so a wake is one
conditional write, and EnableRule is called only when the flag flips. A poll
round decides from the jobs its one Query listed and from what it wrote
itself (``saw``) whether the poller may rest; only switching off asks the
table again, afterwards, so a job created meanwhile is never left behind a
switched-off rule. Should a call be lost between the flag and the rule (an AWS
error, a run that dies), the next hourly wake-up or poll round mends it
(``RuleSwitch.settle``); the wake-up never writes the flag conditionally, so
no conditional write fails on a schedule.

The wake-up can rest too, where it has nothing to do but timers: production's
(``WAKE_RULE``; DR's wake-up reports the recovery point every hour, so DR has
none). Its rule is on while the app holds a job with work left. A write that
gives a job work again (a new job, or one brought back from done) enables it,
once per run, with no flag: one EnableRule a snapshot, and no DynamoDB call. The
wake-up that finds no job with work left disables it, then asks the table once
more and enables it again if a job came meanwhile. Should the enabling call be
lost, the production sweep (every few hours) enables it whenever jobs have work
left (``rest_wake_up``), so a timer is then late by at most the sweep's period.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import clock, errors
from chalicelib_shared.log import logger

#: How far ahead a due job keeps the poller on; later ones are the hourly wake-up's.
WINDOW = timedelta(minutes=5)
FLAG = "poller"
ON, OFF = "on", "off"


class Flags(Protocol):
    def flip(self, name: str, expected: str, value: str) -> bool:
        """Set flag ``name`` to ``value`` if it is ``expected`` (a missing flag counts as on; "": whatever it is)."""


class Switch(Protocol):
    def wake(self) -> None:
        """Work is due soon: make sure the poller runs."""

    def saw(self, job_id: str, due: datetime | None) -> None:
        """This run wrote a job that now needs the poller from ``due`` on (``None``: not at all): what
        ``settle`` knows of it without asking again."""

    def settle(
        self, next_due: Callable[[], datetime | None], wake_up: bool, listed: Iterable[Any] | None = None
    ) -> None:
        """After a round: the poller rests when no job falls due within ``WINDOW``.

        ``wake_up``: the hourly round, which also switches the poller on when work is due
        (a poller round needs not: it runs, so its rule is on). ``listed``: every job with
        work left that needs the poller, as the round read it (else ``next_due`` is asked).
        """

    def work_added(self) -> None:
        """A write gave a job work (a new job, or one back from done): the hourly wake-up must run."""

    def rest_wake_up(self, has_work: bool | None, has_work_now: Callable[[], bool], resting: bool) -> None:
        """After a wake-up (``resting``: it may rest) or a sweep (it may not): the wake-up's rule rests
        while no job has work left (``has_work`` as the run read it, ``None``: not read; ``has_work_now``
        asks the table), else is on."""


class AlwaysOn:
    """No rules configured: the poller and the wake-up run on their schedules, always."""

    def wake(self) -> None:
        return None

    def saw(self, job_id: str, due: datetime | None) -> None:
        return None

    def settle(
        self, next_due: Callable[[], datetime | None], wake_up: bool, listed: Iterable[Any] | None = None
    ) -> None:
        return None

    def work_added(self) -> None:
        return None

    def rest_wake_up(self, has_work: bool | None, has_work_now: Callable[[], bool], resting: bool) -> None:
        return None


class RuleSwitch:
    """The poller's EventBridge rule, switched through a flag in the job table; and the wake-up's, if any."""

    def __init__(self, events: Any, rule: str, flags: Flags, wake_rule: str = "") -> None:
        self._events = events
        self._rule = rule
        self._flags = flags
        self._wake_rule = wake_rule  # "": the wake-up never rests
        self._awake = False  # this invocation switched it on already
        self._wake_up_on = False  # this invocation enabled the wake-up's rule already
        self._written: dict[str, datetime | None] = {}  # job id -> when it falls due (None: no work left)

    def work_added(self) -> None:
        if not self._wake_rule or self._wake_up_on:
            return
        try:
            self._enable_wake_up()
        except (ClientError, BotoCoreError) as error:  # the sweep enables it (``rest_wake_up``)
            logger.warning("could not switch the wake-up on", rule=self._wake_rule, error=errors.describe(error))

    def rest_wake_up(self, has_work: bool | None, has_work_now: Callable[[], bool], resting: bool) -> None:
        if not self._wake_rule or self._wake_up_on:  # none, or this run enabled it already
            return
        if has_work_now() if has_work is None else has_work:
            if not resting:  # the sweep mends a lost EnableRule
                self._enable_wake_up()
            return
        if not resting:
            return
        self._events.disable_rule(Name=self._wake_rule)
        if has_work_now():  # a job came while switching off: switch back on
            self._enable_wake_up()
            return
        logger.info("wake-up resting until a job has work", rule=self._wake_rule)

    def _enable_wake_up(self) -> None:
        self._events.enable_rule(Name=self._wake_rule)
        self._wake_up_on = True

    def saw(self, job_id: str, due: datetime | None) -> None:
        self._written[job_id] = due

    def wake(self) -> None:
        if self._awake:
            return
        self._awake = True
        if self._flags.flip(FLAG, OFF, ON):
            self._events.enable_rule(Name=self._rule)
            logger.info("poller switched on", rule=self._rule)

    def settle(
        self, next_due: Callable[[], datetime | None], wake_up: bool, listed: Iterable[Any] | None = None
    ) -> None:
        """See ``Switch.settle``; the flag and the rule can disagree after a lost call, and each case mends it.

        A lost EnableRule leaves the flag on and the rule off: the hourly wake-up enables the
        rule whenever work falls due, whatever the flag says. A lost DisableRule leaves the
        flag off and the rule on: the poll round that then runs disables the rule again. A
        wake-up with nothing due soon writes nothing: a poller still on rests itself.
        """
        if _soon(self._next(listed) if listed is not None else next_due()):
            if wake_up:
                self._switch_on()
            return
        if wake_up:
            return
        self._flags.flip(FLAG, ON, OFF)  # already off: a lost DisableRule, mended below
        self._awake = False
        self._events.disable_rule(Name=self._rule)
        if _soon(next_due()):  # a job came while switching off: switch back on
            self._switch_on()
            return
        logger.info("poller resting until work is due", rule=self._rule)

    def _next(self, listed: Iterable[Any]) -> datetime | None:
        """When the next job falls due, from the round's listing and this run's own writes."""
        dues = {job.job_id: clock.parse_iso(job.due) for job in listed} | self._written
        return min((due for due in dues.values() if due is not None), default=None)

    def _switch_on(self) -> None:
        """Enable the rule, then say so in the flag, whatever it said (a write that cannot fail)."""
        self._awake = True
        self._events.enable_rule(Name=self._rule)
        self._flags.flip(FLAG, "", ON)
        logger.info("poller on", rule=self._rule)


def _soon(due: datetime | None) -> bool:
    return due is not None and due <= clock.now() + WINDOW


class PacedJobs:
    """A job store that wakes the poller whenever a write leaves a job due within the hour, and the
    wake-up whenever a write gives a job work."""

    def __init__(self, jobs: Any, switch: Switch) -> None:
        self._jobs = jobs
        self._switch = switch
        self.quiet: Callable[[Any], bool] = lambda job: False  # jobs that need no poller though due

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jobs, name)

    def create(self, job: Any, due: datetime | None = None) -> Any:
        made = self._jobs.create(job, due)
        if made is not None and made.is_due_work:
            self._switch.work_added()
        return self._watch(made)

    def advance(self, job: Any, state: Any, **changes: Any) -> Any:
        moved = self._jobs.advance(job, state, **changes)
        if moved is not None and moved.is_due_work and not job.is_due_work:
            self._switch.work_added()
        return self._watch(moved)

    def _watch(self, job: Any) -> Any:
        if job is not None:
            due = clock.parse_iso(job.due) if job.is_due_work and not self.quiet(job) else None
            self._switch.saw(job.job_id, due)
            if _soon(due):
                self._switch.wake()
        return job
