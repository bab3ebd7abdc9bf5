"""Restore drills against moto (its restore gaps filled, restores taking time): every kind restores,
passes its checks, is measured and cleaned up; failures are reported, cleaned up, and no DR copy changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib_shared import metrics
from chalicelib_shared.drills.checks import LambdaValidator
from chalicelib_shared.drills.model import FAILED, PASSED, Drill, Step
from chalicelib_shared.drills.use_case import Skipped
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.restoring import DRILL_KEEP_TAG, DRILL_STARTED_TAG, DRILL_TAG, Place
from draco.world.moto_gaps import restoring
from tests.drill_rig import PROD, Rig, dr_account

MINUTE = timedelta(minutes=1)


@pytest.fixture
def rig(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with dr_account(monkeypatch) as made:
        yield made


def values(name: str) -> list[float]:
    return list(metrics.metrics.metric_set.get(name, {}).get("Value", []))


def drill_all(rig: Rig, **settings: Any) -> list[Drill | Skipped]:
    drills = rig.drills(**settings)
    return drills.run(drills.choose(), wait=rig.traveller.shift, poll=MINUTE)


@pytest.mark.parametrize(
    ("kind", "engine", "size", "instance_class"),
    [
        ("RDS", "postgres", 100, "db.t3.micro"),
        ("RDS Cluster", "aurora-postgresql", 20, "db.t3.medium"),
        ("RDS Cluster", "neptune", 20, "db.t3.medium"),
        ("EBS", "", 50, ""),
    ],
)
def test_each_kind_restores_passes_is_timed_and_leaves_nothing(
    rig: Rig, kind: str, engine: str, size: int, instance_class: str
) -> None:
    rig.add_copy(kind, "orders", size_gb=size, engine=engine or "postgres")
    before = rig.snapshots()
    [drill] = drill_all(rig)
    assert isinstance(drill, Drill)
    assert (drill.result, drill.step, drill.instance_class) == (PASSED, Step.DONE, instance_class)
    # The model restores in 10 minutes plus one per 10 GB (Aurora reports 1 GB); steps come a minute apart.
    expected = 600 + drill.size_gb // 10 * 60
    assert expected <= drill.rto_seconds <= expected + 60
    assert drill.copy_id == rig.copies["orders"] and drill.cost_usd > 0
    assert rig.leftovers() == []
    assert rig.snapshots() == before
    assert values("RestoreSeconds") == [drill.rto_seconds]
    assert rig.drills().table.history() == [drill]


def test_a_disabled_dr_key_fails_the_drill_reported_and_nothing_left(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    rig.add_copy("RDS Cluster", "ledger", engine="aurora-postgresql")
    rig.client("kms").disable_key(KeyId=rig.key.rsplit("/", 1)[-1])
    before = rig.snapshots()
    results = drill_all(rig)
    assert {(d.source_name, d.result) for d in results if isinstance(d, Drill)} == {
        ("orders", FAILED),
        ("ledger", FAILED),
    }
    assert all("KMSKeyNotAccessibleFault" in d.reason for d in results if isinstance(d, Drill))
    assert values("DrillsFailed") == [1, 1]
    assert rig.leftovers() == [] and rig.snapshots() == before


def test_a_volume_under_a_disabled_key_ends_in_error_and_is_deleted(rig: Rig) -> None:
    rig.add_copy("EBS", "files")
    rig.client("kms").disable_key(KeyId=rig.key.rsplit("/", 1)[-1])
    [drill] = drill_all(rig)
    assert isinstance(drill, Drill) and drill.result == FAILED and "'error'" in drill.reason
    assert rig.leftovers() == []


def test_a_missing_subnet_group_fails_the_drill_and_changes_nothing(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    before = rig.snapshots()
    [drill] = drill_all(rig, place=Place(subnet_group="drills-nowhere"))
    assert isinstance(drill, Drill) and drill.result == FAILED
    assert "DBSubnetGroupNotFoundFault" in drill.reason
    assert rig.leftovers() == [] and rig.snapshots() == before
    assert rig.drills().table.running() == []


def test_the_instance_quota_fails_the_drill(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.add_copy("RDS", "orders")
    monkeypatch.setattr(restoring, "INSTANCE_QUOTA", 0)
    [drill] = drill_all(rig)
    assert isinstance(drill, Drill) and "InstanceQuotaExceeded" in drill.reason and rig.leftovers() == []


def test_a_run_that_dies_mid_drill_is_finished_by_the_next_round_timed_out_and_cleaned(rig: Rig) -> None:
    rig.add_copy("RDS", "orders", size_gb=100)
    drills = rig.drills(timeout=timedelta(minutes=15))
    [started] = drills.start(drills.choose())
    assert isinstance(started, Drill) and started.step is Step.RESTORING
    # The run ends here (Lambda's timeout); 20 minutes pass with no step.
    rig.traveller.shift(timedelta(minutes=20))
    rounds = rig.drills(timeout=timedelta(minutes=15)).scheduled_round()
    assert rounds["stepped"] == 1
    [done] = rig.drills().table.history()
    assert done.result == FAILED and "within 15 minutes" in done.reason
    assert rig.leftovers() == []


def test_a_run_that_dies_inside_the_restore_call_is_failed_by_the_next(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()

    class Killed(BaseException):
        pass

    api = KINDS["RDS"].restores(rig.client("rds"))
    monkeypatch.setattr(type(api), "restore", lambda *args, **kwargs: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        drills.start(drills.choose())
    monkeypatch.undo()
    rig.traveller.shift(MINUTE)
    drills.step_all()
    [done] = drills.table.history()
    assert done.result == FAILED and "nothing was restored" in done.reason
    assert drills.start(drills.choose())[0].step is Step.RESTORING  # the source is free again


def test_stopping_the_command_fails_its_drills_and_deletes_what_they_made(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()

    def interrupted(pause: timedelta) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        drills.run(drills.choose(), wait=interrupted, poll=MINUTE)
    [stopped] = drills.table.history()
    assert stopped.result == FAILED and stopped.reason == "stopped by the operator" and rig.leftovers() == []


def test_never_two_restores_of_one_source(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()
    first, again = drills.start(["111111111111#RDS#orders", "111111111111#RDS#orders"])
    assert isinstance(first, Drill) and isinstance(again, Skipped) and "running" in again.reason
    assert not drills.table.lock("111111111111#RDS#orders", "someone-else")


def test_a_lock_left_by_a_finished_drill_is_taken_over(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()
    [first] = drills.run(drills.choose(), wait=rig.traveller.shift, poll=MINUTE)
    assert isinstance(first, Drill) and first.result == PASSED
    assert drills.table.lock(first.source, first.drill_id)  # the run died before it let the source go
    rig.traveller.shift(MINUTE)
    [second] = drills.start(drills.choose())
    assert isinstance(second, Drill) and drills.table.holder(first.source) == second.drill_id


def test_concurrency_limits_restores_at_once_and_the_rest_wait(rig: Rig) -> None:
    for name in ("a1", "b2", "c3"):
        rig.add_copy("RDS", name)
    drills = rig.drills(concurrency=2)
    started = drills.start(drills.choose())
    assert [type(d).__name__ for d in started] == ["Drill", "Drill", "Skipped"]
    rig.traveller.shift(timedelta(hours=1))
    drills.step_all()
    results = drills.run([started[2].source], wait=rig.traveller.shift, poll=MINUTE)
    assert sorted(d.source_name for d in drills.table.history()) == ["a1", "b2", "c3"]
    assert all(d.result == PASSED for d in results if isinstance(d, Drill))


def test_instance_hours_limit_stops_new_drills(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drill_all(rig)
    drills = rig.drills(hours_per_month=1)
    rig.traveller.shift(MINUTE)
    # The first drill used a fraction of an hour; a limit of one hour lets one more start, not past it.
    assert isinstance(drills.start(drills.choose())[0], Drill)
    rig.traveller.shift(timedelta(hours=2))
    drills.step_all()
    [blocked] = drills.start(drills.choose())
    assert isinstance(blocked, Skipped) and "instance-hours" in blocked.reason


def test_keep_leaves_the_restored_instance_and_the_sweep_spares_it(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()
    [drill] = drills.run(drills.choose(), wait=rig.traveller.shift, keep=True, poll=MINUTE)
    assert isinstance(drill, Drill) and drill.keep and drill.result == PASSED
    rig.traveller.shift(timedelta(days=2))
    assert drills.sweep() == []
    assert rig.leftovers() == [drill.resource]


def test_sweep_deletes_old_leftovers_only(rig: Rig) -> None:
    copy = rig.add_copy("RDS", "orders")
    api = KINDS["RDS"].restores(rig.client("rds"))
    source = api.source(copy)
    assert source is not None
    before = rig.snapshots()
    old = {DRILL_TAG: "old", DRILL_STARTED_TAG: "2026-03-01T00:00:00Z"}
    api.restore(source, "draco-drill-old", Place(), "db.t3.micro", old)
    api.restore(source, "draco-drill-kept", Place(), "db.t3.micro", {**old, DRILL_KEEP_TAG: "true"})
    api.restore(
        source, "draco-drill-new", Place(), "db.t3.micro", {DRILL_TAG: "new", DRILL_STARTED_TAG: "2026-03-02T11:30:00Z"}
    )
    assert rig.drills().sweep() == ["draco-drill-old"]
    assert sorted(rig.leftovers()) == ["draco-drill-kept", "draco-drill-new"]
    assert rig.snapshots() == before


def test_choose_by_name_and_by_tag(rig: Rig) -> None:
    rig.add_copy("RDS", "orders", team="shop")
    rig.add_copy("RDS Cluster", "ledger", engine="aurora-postgresql", team="finance")
    drills = rig.drills()
    assert drills.choose() == [f"{PROD}#RDS Cluster#ledger", f"{PROD}#RDS#orders"]
    assert drills.choose(source="orders") == [f"{PROD}#RDS#orders"]
    assert drills.choose(tag=("team", "finance")) == [f"{PROD}#RDS Cluster#ledger"]
    assert drills.choose(source="nothing") == []


class Answer:
    def __init__(self, passed: bool, message: str) -> None:
        self.answer = (passed, message)
        self.payloads: list[dict[str, Any]] = []

    def validate(self, payload: dict[str, Any]) -> tuple[bool, str]:
        self.payloads.append(payload)
        return self.answer


def test_a_validator_that_says_failed_fails_the_drill_and_it_is_cleaned_up(rig: Rig) -> None:
    rig.add_copy("RDS", "orders")
    drills = rig.drills()
    drills.validator = Answer(False, "table orders is empty")
    [drill] = drills.run(drills.choose(), wait=rig.traveller.shift, poll=MINUTE)
    assert isinstance(drill, Drill) and drill.result == FAILED and drill.reason == "table orders is empty"
    [payload] = drills.validator.payloads
    assert payload["endpoint"].startswith("draco-drill-") and payload["port"] == 5432
    assert rig.leftovers() == []


def test_lambda_validator_reads_the_contract() -> None:
    import boto3

    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    validator = LambdaValidator(client, "check-orders")
    with Stubber(client) as stub:
        for body, error in [
            ({"result": "passed", "message": "42 rows"}, None),
            ({"result": "maybe"}, None),
            ({"errorMessage": "boom"}, "Unhandled"),
        ]:
            response: dict[str, Any] = {"StatusCode": 200, "Payload": BytesIO(json.dumps(body).encode())}
            if error:
                response["FunctionError"] = error
            stub.add_response("invoke", response, {"FunctionName": "check-orders", "InvocationType": "RequestResponse",
                                                   "Payload": b'{"port": 1}'})  # fmt: skip
        assert validator.validate({"port": 1}) == (True, "42 rows")
        assert validator.validate({"port": 1})[0] is False
        passed, message = validator.validate({"port": 1})
        assert not passed and "boom" in message
