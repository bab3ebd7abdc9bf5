"""Never lose a snapshot: copy limits, AWS errors, quota, lost events, seeded fault runs."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from chalicelib_shared import errors
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from draco.bench.soak import run_once
from draco.world.core import DR, PROD, LocalWorld
from draco.world.faults import FaultPlan


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CopyDBSnapshot"
    )


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (client_error("Throttling", "Rate exceeded"), True),
        (client_error("InternalFailure", status=500), True),
        (client_error("SomethingNew", status=503), True),
        (client_error("SnapshotQuotaExceeded"), True),
        (client_error("InvalidParameterCombination", "too many concurrent copies in progress"), True),
        (ConnectTimeoutError(endpoint_url="https://rds"), True),
        (client_error("InvalidParameterValue", "TDE snapshots cannot be shared"), False),
        (client_error("InvalidParameterCombination", "option group has a permanent option"), False),
        (client_error("AccessDenied", "not authorized"), False),
        (ValueError("not an AWS error"), False),
    ],
)
def test_errors_worth_waiting_out(error: Exception, wait: bool) -> None:
    assert errors.is_worth_waiting(error) is wait


@pytest.mark.e2e
def test_a_burst_never_exceeds_the_copy_limits() -> None:
    """30 instance and 8 cluster snapshots at once: at most 20 and 5 copies in flight, none lost.

    The transit limit and the new-key cap are raised, so the copy limits are what holds copies back."""
    roomy = {"producer": {"TRANSIT_LIMIT": "100"}, "consumer": {"KEY_CAP": "100"}}
    with LocalWorld(log_stream=io.StringIO(), copy_time=timedelta(minutes=30), app_env=roomy) as world:
        for n in range(30):
            world.add_instance(f"db{n}", {"Draco_Lifecycle": "Test"})
        for n in range(8):
            world.add_cluster(f"cl{n}", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        for n in range(30):
            world.take_snapshot(f"db{n}")
        for n in range(8):
            world.take_snapshot(f"cl{n}")
        assert world.run_until_quiet()
        peaks = world.stats.in_flight_peak
        assert peaks[f"{PROD}:instance"] == 20 and peaks[f"{DR}:instance"] == 20
        assert peaks[f"{PROD}:cluster"] == 5 and peaks[f"{DR}:cluster"] == 5
        dr = world.client("rds", DR)
        assert len(list(KINDS["RDS"].api(dr).owned())) == 30 and len(list(KINDS["RDS Cluster"].api(dr).owned())) == 8


@pytest.mark.e2e
def test_a_permanent_refusal_fails_one_job_at_once_and_holds_up_no_other() -> None:
    refused = FaultPlan(seed=0)

    def refuse_orders(operation: str) -> None:
        if operation == "CopyDBSnapshot" and refused.counts["refused"] == 0:
            refused.counts["refused"] += 1
            raise client_error("InvalidParameterValue", "The snapshot uses TDE and cannot be copied")

    refused.before_call = refuse_orders  # type: ignore[method-assign]
    with LocalWorld(log_stream=io.StringIO(), faults=refused) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.add_instance("billing", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.take_snapshot("billing")
        world.run_until_quiet(limit=timedelta(hours=6))
        states = {job.source_name: job for job in world.jobs(PROD)}
        assert states["orders"].state is State.FAILED
        assert "TDE" in states["orders"].reason and states["orders"].failed_from == "transit-queued"
        assert states["billing"].state is State.DONE
        assert refused.counts["refused"] == 1  # no retry storm
        waiting = {job.source_name: job for job in world.jobs(DR)}["orders"]
        assert waiting.state is State.INITIATED  # DR waits for a transit copy that won't come...
        world.advance(timedelta(days=3))
        failed = {job.source_name: job for job in world.jobs(DR)}["orders"]
        assert failed.state is State.FAILED and "no transit copy was shared" in failed.reason  # ...then says so


@pytest.mark.e2e
def test_transient_errors_are_waited_out_with_backoff() -> None:
    plan = FaultPlan(seed=7, error=0.1)
    with LocalWorld(log_stream=io.StringIO(), faults=plan) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        for day in range(3):
            world.move_to(world.start + timedelta(days=day, hours=3))
            world.take_snapshot("orders")
            world.advance(timedelta(hours=4))
        plan.error = 0.0
        world.advance(timedelta(hours=6))  # a calm day: the sweep finds what errors lost
        assert world.run_until_quiet()
        assert sum(v for k, v in plan.counts.items() if k.startswith("AWS ")) > 5
        assert not [job for job in world.jobs(PROD) + world.jobs(DR) if job.state is State.FAILED]
        assert len(list(KINDS["RDS"].api(world.client("rds", DR)).owned())) == 3


@pytest.mark.e2e
def test_the_sweep_copies_snapshots_whose_event_never_came() -> None:
    with LocalWorld(log_stream=io.StringIO()) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders", notify=False)
        world.take_snapshot("orders", automated=True, notify=False)
        assert world.sweep() == {"seen": 2, "started": 2}
        assert world.run_until_quiet()
        assert len(list(KINDS["RDS"].api(world.client("rds", DR)).owned())) == 2
        assert world.sweep() == {"seen": 2, "started": 0}  # twice: nothing new


@pytest.mark.e2e
def test_quota_use_over_80_percent_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "10")
    log = io.StringIO()
    with LocalWorld(log_stream=log) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        for day in range(8):
            world.move_to(world.start + timedelta(days=day, hours=3))
            world.take_snapshot("orders")
        world.poll()
        warnings = [json.loads(line) for line in log.getvalue().splitlines() if "quota" in line]
        assert any(w["message"] == "snapshot quota nearly used up" and w["used"] >= 8 for w in warnings)


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2])
def test_seeded_fault_runs_lose_nothing(seed: int) -> None:
    result = run_once(seed, days=2, rate=0.25)
    assert sum(result.injected.values()) > 10, "the run injected almost nothing"
    assert result.violations == []
    assert result.copied + result.failed == result.taken
