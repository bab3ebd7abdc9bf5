"""The pollers at rest, and re-sends paced by the copies, measured in the local world.

``idle``: a day with nothing in flight costs DR 24 hourly wake-ups (production's
wake-up rests; its sweep runs 4 times) while the pollers rest, against a poll round a minute
each when they are always on (``POLLER_RULE`` unset, as at the round's start,
whose apps had no wake-up: those runs are left out of "before"). And nothing
waits: with DR unreachable, production's re-sends back off past the hour and its
poller rests between them; each re-send must still go out within the hour of
falling due (``waiting``).

``resends``: DR copies that take longer than 30 minutes, with copy-shared re-sent
after a fixed 30 minutes (the round's start) and paced by the transit copy's
measured duration (now): how many re-sends go out that no loss called for.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any
from unittest import mock

from chalicelib_shared import clock, producer
from chalicelib_shared.config import POLLER_RULE
from chalicelib_shared.jobs import State
from draco.bench import costs
from draco.bench.usage import COPY_TIME, run_days, runs_by_function, usage
from draco.world.core import DR, PROD, Delivery, LocalWorld

ALWAYS_ON = {"producer": {POLLER_RULE: ""}, "consumer": {POLLER_RULE: ""}}
ALWAYS_ON_HOURS = 6  # an always-on day repeats every 6 hours (the sweep's period): measured 6 h, times 4
WAKE = "wake_poller"
SWEEP = "sweep_snapshots"
LONG_COPY = timedelta(hours=2)


def idle(steady: dict[str, Any], assume: costs.Assumptions) -> dict[str, Any]:
    """An idle day, pollers resting and always on, with as many sources as the steady state; and ``waiting``.

    The pollers' cost is the poller's and the wake-up's runs (before: the poller's);
    the sweep runs alike either way and is shown apart.
    """
    sources = [f"db{n}" for n in range(steady["sources"])]
    rested = _idle_day(sources, {}, timedelta(hours=24), assume)
    always = _idle_day(sources, ALWAYS_ON, timedelta(hours=ALWAYS_ON_HOURS), assume)
    pollers = {"resting": rested["pollers"], "before": always["pollers_before"]}
    free_start = replace(assume, init_seconds=0.0)
    dollars = {label: sum(costs.bill(use, assume).values()) for label, use in pollers.items()}
    without_init = {label: sum(costs.bill(use, free_start).values()) for label, use in pollers.items()}
    return {
        "sources": len(sources),
        "runs_per_day": {"resting": rested["runs"], "always_on": always["runs"]},
        "poller_runs": {"resting": pollers["resting"].runs, "before": pollers["before"].runs},
        "lines_per_day": {label: costs.bill(use, assume) for label, use in pollers.items()},
        "dollars_per_day": dollars,
        "sweep_per_day": sum(costs.bill(rested["sweep"], assume).values()),
        "share_of_before": dollars["resting"] / dollars["before"],
        "share_without_init": without_init["resting"] / without_init["before"],
        "waiting": waiting(),
    }


def _idle_day(
    sources: list[str], env: dict[str, dict[str, str]], hours: timedelta, assume: costs.Assumptions
) -> dict[str, Any]:
    with LocalWorld(log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, every_poll=True, app_env=env) as world:
        for name in sources:
            world.add_instance(name, {"Draco_Lifecycle": "Standard"})
        run_days(world, sources, 0, 1)  # a day of copies, then nothing in flight
        world.stats.clear()
        world.advance(hours)
        scale = timedelta(days=1) / hours
        everything = usage(world, assume)
        return {
            "runs": runs_by_function(world, 1 / scale),
            "pollers": usage(world, assume, skip=(SWEEP,)) * scale,
            "pollers_before": usage(world, assume, skip=(SWEEP, WAKE)) * scale,
            "sweep": (everything + usage(world, assume, skip=(SWEEP,)) * -1) * scale,
        }


def waiting(hours: int = 16) -> dict[str, Any]:
    """DR unreachable for ``hours``: how late each of production's re-sends goes out after falling due.

    Walked a minute at a time, as EventBridge ticks; the poller's rule is read each
    minute, so the minutes it rested are counted too.
    """
    blocked = True

    def to_dr_dropped(deliveries: list[Delivery]) -> list[Delivery]:
        return [d for d in deliveries if not (blocked and d.account == DR)]

    late: list[float] = []
    rested = 0
    with LocalWorld(log_stream=io.StringIO(), copy_time=COPY_TIME, every_poll=True, transport=to_dr_dropped) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.advance(timedelta(hours=3))
        world.take_snapshot("orders")
        world.deliver()
        (job,) = world.jobs(PROD)
        for _ in range(hours * 60):
            world.advance(timedelta(minutes=1))
            rested += not world.poller_on(PROD)
            (now,) = world.jobs(PROD)
            if now.attempts > job.attempts:  # re-sent: the job was written then
                late.append((clock.parse_iso(now.updated) - clock.parse_iso(job.due)).total_seconds())
            job = now
        blocked = False
        world.run_until_quiet()
        done = all(job.state is State.DONE for job in world.jobs(DR))
    return {
        "hours": hours,
        "resends": len(late),
        "minutes_resting": rested,
        "latest_seconds": max(late, default=0.0),
        "copied_after": done,
    }


def resends(snapshots: int = 3) -> dict[str, Any]:
    """Re-sends while DR's copies take ``LONG_COPY``: a fixed 30 minutes (before) and paced (now)."""
    fixed = mock.patch.object(producer, "resend_delay", lambda job: producer.FIRST_RESEND)
    out = {}
    for label, patch in (("before", fixed), ("now", None)):
        log = io.StringIO()
        with patch or contextlib.nullcontext(), LocalWorld(log_stream=log, copy_time=LONG_COPY) as world:
            for n in range(snapshots):
                world.add_instance(f"db{n}", {"Draco_Lifecycle": "Test"})
            world.move_to(world.start + timedelta(hours=3))
            for n in range(snapshots):
                world.take_snapshot(f"db{n}")
            world.run_until_quiet()
            runs = sum(world.stats.invocations[f"DracoConsumer:{name}"] for name in ("on_consumer_topic", "on_inbox"))
        outcomes = _outcomes(log.getvalue())
        out[label] = {
            "resends_per_snapshot": outcomes["re-sent"] / snapshots,
            "dr_handler_runs_per_snapshot": runs / snapshots,
        }
    return {"copy_hours": LONG_COPY.total_seconds() / 3600, "snapshots": snapshots, **out}


def _outcomes(log: str) -> Counter[str]:
    counted: Counter[str] = Counter()
    for line in log.splitlines():
        if line.startswith("{") and '"outcome"' in line:
            counted[json.loads(line).get("outcome", "")] += 1
    return counted
