"""The local world runs the scheduled functions as EventBridge would: a poller only while its rule is
on, DR's wake-up every hour and production's while a job has work left, the sweep every six hours, the
hourly checks at their real rate; and a resting poller or wake-up leaves nothing waiting."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from chalicelib_shared.config import POLLER_RULE, WAKE_RULE
from draco.bench import idle as bench_idle
from draco.world.core import DR, PROD, Delivery, LocalWorld

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

IDLE_DAY = {"DracoConsumer:wake_poller": 24, "DracoProducer:sweep_snapshots": 4}  # production's wake-up rests


def copied(world: LocalWorld) -> int:
    return sum(1 for job in world.jobs(DR) if job.state.value == "done")


def test_an_idle_day_costs_dr_24_wake_ups_and_production_its_sweeps_and_a_new_snapshot_still_goes_through() -> None:
    with LocalWorld(log_stream=io.StringIO(), every_poll=True, copy_time=timedelta(minutes=30)) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.advance(timedelta(hours=3))
        world.take_snapshot("orders")
        world.advance(timedelta(hours=21))
        assert copied(world) == 1 and not world.poller_on(PROD) and not world.poller_on(DR)
        assert not world.wake_up_on(PROD) and world.wake_up_on(DR)  # no job with work left in production
        world.stats.clear()
        world.advance(timedelta(days=1))
        assert world.stats.invocations == IDLE_DAY
        assert world.stats.cold_runs == IDLE_DAY  # hours apart, every run starts a new environment
        world.take_snapshot("orders")
        world.deliver()  # its job only waits for DR's answer (a re-send timer): no poller for that
        assert not world.poller_on(PROD) and world.wake_up_on(PROD)  # but the timer needs the wake-up
        world.advance(timedelta(hours=2))
        assert copied(world) == 2  # on AWS's events and the apps' messages alone: no poll round ran
        assert not [name for name in world.stats.invocations if name.endswith(":poll_jobs")]


def test_a_job_falling_due_while_the_poller_rests_goes_out_within_the_hour() -> None:
    waited = bench_idle.waiting(hours=8)
    # re-sent 30, 60, 120, 240 min after the one before, each by the hourly wake-up's own round
    assert waited["resends"] == 4 and waited["minutes_resting"] > 7 * 60
    assert 0 <= waited["latest_seconds"] <= 3600 and waited["copied_after"]


def test_skipping_idle_ticks_wakes_a_resting_poller_only_to_handle_what_falls_due() -> None:
    blocked = True

    def to_dr_dropped(deliveries: list[Delivery]) -> list[Delivery]:
        return [d for d in deliveries if not (blocked and d.account == DR)]

    with LocalWorld(log_stream=io.StringIO(), transport=to_dr_dropped) as world:  # every_poll off
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.advance(timedelta(hours=8))
        (job,) = world.jobs(PROD)
        assert job.attempts == 4  # as many re-sends as when every tick runs (30 min, then 1, 2 and 4 hours apart)
        assert world.stats.invocations["DracoProducer:wake_poller"] < 8  # only the wake-ups that switch it on
        blocked = False
        assert world.run_until_quiet() and copied(world) == 1


def test_skipping_the_rounds_before_a_copy_in_flight_is_ready_changes_nothing_but_their_number() -> None:
    seen = {}
    for every_poll in (True, False):
        with LocalWorld(log_stream=io.StringIO(), every_poll=every_poll, copy_time=timedelta(minutes=30)) as world:
            world.add_cluster("ledger", {"Draco_Lifecycle": "Test"})  # AWS announces no cluster copy's end
            world.move_to(world.start + timedelta(hours=3))
            world.take_snapshot("ledger")
            assert world.run_until_quiet()
            jobs = sorted((job.job_id, job.state, job.updated) for account in (PROD, DR) for job in world.jobs(account))
            rounds = sum(world.stats.invocations[f"{app}:poll_jobs"] for app in ("DracoProducer", "DracoConsumer"))
            seen[every_poll] = jobs, rounds
    assert seen[False][0] == seen[True][0]  # the same jobs, ended in the same states at the same moments
    assert 0 < seen[False][1] < seen[True][1] / 5  # the rounds that found the copies still in progress: skipped


def test_a_wake_up_left_off_with_work_left_is_switched_on_by_the_next_sweep() -> None:
    blocked = True

    def to_dr_dropped(deliveries: list[Delivery]) -> list[Delivery]:
        return [d for d in deliveries if not (blocked and d.account == DR)]

    with LocalWorld(log_stream=io.StringIO(), every_poll=True, transport=to_dr_dropped) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.advance(timedelta(hours=1))
        world.take_snapshot("orders")
        world.deliver()
        rule = world.env["producer"][WAKE_RULE]
        world.client("events", PROD).disable_rule(Name=rule)  # as if its EnableRule had been lost
        world.advance(timedelta(hours=4, minutes=50))
        (job,) = world.jobs(PROD)
        assert job.attempts == 0 and not world.wake_up_on(PROD)  # the re-send timer fell due: nothing ran it
        world.advance(timedelta(minutes=20))  # the sweep, six hours from the start, then that hour's wake-up
        assert world.wake_up_on(PROD) and world.jobs(PROD)[0].attempts == 1  # re-sent by the wake-up's round
        blocked = False
        assert world.run_until_quiet() and copied(world) == 1


def test_the_hourly_checks_run_hourly_by_the_simulated_clock() -> None:
    always_on = {"producer": {POLLER_RULE: ""}, "consumer": {POLLER_RULE: ""}}
    quota = [("poll_jobs", account, "rds", "DescribeAccountAttributes") for account in (PROD, DR)]
    with LocalWorld(log_stream=io.StringIO(), every_poll=True, app_env=always_on) as world:
        world.advance(timedelta(hours=1))
        first_hour = [world.stats.calls[key] for key in quota]
        world.advance(timedelta(hours=2))
        assert world.stats.invocations["DracoProducer:poll_jobs"] == 180  # every minute: the rule is not switched
        assert all(first_hour) and [world.stats.calls[key] for key in quota] == [3 * n for n in first_hour]
