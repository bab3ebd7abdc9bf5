"""Operator commands in the local world: list jobs, retry a failed one, backfill production."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib_shared.config import WAKE_RULE
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from draco import ops
from draco.cli import main
from draco.world.core import DR, PROD, LocalWorld
from draco.world.faults import FaultPlan
from tests.test_status import REFUSAL, refuse_once_in_dr

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Chalice projects whose dev stage holds the world's environments (written once the world exists)."""

    def write(world: LocalWorld) -> None:
        for app in ("producer", "consumer"):
            app_dir = tmp_path / f"{app}_app"
            (app_dir / ".chalice").mkdir(parents=True, exist_ok=True)
            config = {"version": "2.0", "stages": {"dev": {"environment_variables": world.env[app]}}}
            (app_dir / ".chalice" / "config.json").write_text(json.dumps(config))
            monkeypatch.setitem(ops.APP_DIRS, app, app_dir)

    return write


def test_a_failed_dr_copy_is_listed_retried_and_then_copied(app_dirs, capsys) -> None:
    plan, armed = FaultPlan(seed=0), {"on": True}
    refuse_once_in_dr(plan, armed)
    with LocalWorld(log_stream=io.StringIO(), faults=plan) as world:
        app_dirs(world)
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.run_until_quiet(limit=timedelta(hours=1))
        [failed] = [job for job in world.jobs(DR) if job.state is State.FAILED]
        assert REFUSAL in failed.reason

        with world.as_account(DR):
            assert main(["jobs", "--failed", "--json"]) == 0
            listed = json.loads(capsys.readouterr().out)
            assert [(j["job_id"], j["state"]) for j in listed] == [(failed.job_id, "failed")]
            assert listed[0]["reason"] == failed.reason and listed[0]["failed_from"] == failed.failed_from

            assert main(["retry", failed.job_id]) == 0
            assert f"{failed.job_id}: failed -> {failed.failed_from}" in capsys.readouterr().out
            assert main(["retry", failed.job_id]) == 2  # no longer failed
            assert "not failed: nothing to retry" in capsys.readouterr().err
            assert main(["retry", "draco-nope"]) == 2
            assert "no job 'draco-nope'" in capsys.readouterr().err

        retried = world.jobs(DR)[0]
        assert (retried.state.value, retried.attempts, retried.reason) == (failed.failed_from, 0, "")
        assert world.run_until_quiet()
        assert [job.state for job in world.jobs(DR)] == [State.DONE]
        assert [s.snapshot_id for s in KINDS["RDS"].api(world.client("rds", DR)).owned()] == [failed.job_id]


def test_a_retried_production_job_switches_its_resting_wake_up_on(app_dirs, capsys) -> None:
    with LocalWorld(log_stream=io.StringIO()) as world:
        app_dirs(world)
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.deliver()
        [job] = world.jobs(PROD)
        JobTable(world.job_table(PROD)).advance(job, State.FAILED, reason="lost", failed_from=job.state.value)
        world.client("events", PROD).disable_rule(Name=world.env["producer"][WAKE_RULE])  # nothing left: it rests
        with world.as_account(PROD):
            assert main(["retry", "--account", "producer", job.job_id]) == 0
        assert "the next poll round picks it up" in capsys.readouterr().out
        assert world.wake_up_on(PROD)  # the retried job's re-send timer has a wake-up to fire it


def test_a_job_without_failed_from_cannot_be_retried() -> None:
    with LocalWorld(log_stream=io.StringIO()) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.deliver()
        jobs = JobTable(world.job_table(DR), inventory=True)
        [job] = world.jobs(DR)
        old = jobs.advance(job, State.FAILED, reason="lost", failed_from="")
        with pytest.raises(ops.OperatorError, match="can't be retried"):
            ops.retry(jobs, old.job_id)
        outcome = ops.retry_all_failed(jobs, [old])
        assert outcome.retried == [] and len(outcome.refused) == 1


def test_backfill_queues_what_dr_lacks_once(app_dirs, capsys) -> None:
    with LocalWorld(log_stream=io.StringIO(), sweep_interval=timedelta(days=365)) as world:  # no scheduled sweep
        app_dirs(world)
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_instance("billing", {"Draco_Lifecycle": "Test"})
        for day in range(3):
            world.move_to(world.start + timedelta(days=day, hours=3))
            world.take_snapshot("orders", notify=False)  # RDS never said so
            world.take_snapshot("billing", notify=False)
        world.move_to(world.start + timedelta(days=2, hours=3, minutes=1))  # the day-0 one: 2 days and a minute old
        with world.as_account(PROD):
            assert main(["backfill", "--since", "2d", "--source", "orders"]) == 0
        out = capsys.readouterr().out
        assert out.count("queued orders-") == 2 and "billing" not in out  # the day-0 one is older than 2 days
        assert "2 queued" in out
        assert world.run_until_quiet()
        with world.as_account(PROD):
            assert main(["backfill", "--since", "30d"]) == 0
        out = capsys.readouterr().out
        assert out.count("queued billing-") == 3 and out.count("queued orders-") == 1
        assert world.run_until_quiet()
        assert len(list(KINDS["RDS"].api(world.client("rds", DR)).owned())) == 6
        with world.as_account(PROD):
            assert main(["backfill", "--since", "30d"]) == 0  # twice: nothing new
        assert "6 snapshot(s) in the last 30 days, 0 queued" in capsys.readouterr().out


def test_backfill_errors_are_one_line(app_dirs, capsys, monkeypatch) -> None:
    assert main(["backfill", "--since", "forever"]) == 2
    expected = "draco backfill: --since 'forever': give days, from 1d to 3660d (e.g. 30d)"
    assert capsys.readouterr().err.strip() == expected
    monkeypatch.setitem(ops.APP_DIRS, "producer", Path("/nonexistent"))
    assert main(["backfill"]) == 2
    assert "/nonexistent/.chalice/config.json not found: pass --app-dir" in capsys.readouterr().err
