"""Restore drills in the local two-account world: DR copies made by the pipeline restore, are measured and
cleaned up; injected failures (a disabled DR key, a missing subnet group, a run that dies mid-drill, an RTO
past its target) are reported and alarmed, leave nothing behind and change no DR copy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib_shared.drills.model import FAILED, PASSED
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.kinds.restoring import Place
from chalicelib_shared.naming import key_alias
from draco.bootstrap.drill_alarms import DRILL_FAILED, RTO_MISSED
from draco.world.core import DR, LocalWorld
from draco.world.restores import drill, drills_of, leftovers, timed_restores

pytestmark = pytest.mark.e2e

LIFECYCLE = {"Draco_Lifecycle": "Test"}


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with LocalWorld(log_stream=io.StringIO()) as made:
        made.add_instance("orders", LIFECYCLE)
        made.add_cluster("ledger", LIFECYCLE)
        made.add_cluster("graph", LIFECYCLE, engine="neptune")
        volume = made.add_volume("files", LIFECYCLE)
        for source in ("orders", "ledger", "graph", volume):
            made.take_snapshot(source)
        assert made.run_until_quiet()
        yield made


def dr_copies(world: LocalWorld) -> Any:
    return world.state()[DR][world.dr_region]["snapshots"]


def test_every_protected_source_restores_is_measured_and_leaves_nothing(world: LocalWorld) -> None:
    before = dr_copies(world)
    outcome = drill(world)
    rows = {row["kind"] + ":" + row["source"]: row for row in outcome.rows()}
    assert len(rows) == 4 and all(row["result"] == PASSED for row in rows.values())
    assert all(row["rto_seconds"] > 0 for row in rows.values())
    # As modelled: a volume is fastest, a DB instance next, a cluster slowest.
    assert rows["EBS:" + outcome.drills[0].source_name]["rto_seconds"] < rows["RDS:orders"]["rto_seconds"]
    assert rows["RDS:orders"]["rto_seconds"] < rows["RDS Cluster:ledger"]["rto_seconds"]
    assert outcome.leftovers == [] and outcome.alarms == []
    assert dr_copies(world) == before
    assert sorted(outcome.emitted) == ["RestoreSeconds"]
    drilled = {d.source_name: d for d in world.status().drills}
    assert len(drilled) == 4 and not any(d.overdue or d.running for d in drilled.values())
    assert drilled["orders"].last is not None and drilled["orders"].last.result == PASSED


def test_a_disabled_dr_key_fails_alarms_and_leaves_nothing(world: LocalWorld) -> None:
    kms = world.client("kms", DR)
    key = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == key_alias("orders"))
    kms.disable_key(KeyId=key)
    before = dr_copies(world)
    outcome = drill(world, source="orders")
    [failed] = outcome.drills
    assert failed.result == FAILED and "KMSKeyNotAccessibleFault" in failed.reason
    assert outcome.alarms == [DRILL_FAILED] and outcome.emitted["DrillsFailed"] == [1.0]
    assert outcome.leftovers == [] and dr_copies(world) == before


def test_a_missing_subnet_group_fails_every_rds_drill_and_leaves_nothing(world: LocalWorld) -> None:
    before = dr_copies(world)
    outcome = drill(world, settings=DrillSettings(place=Place(subnet_group="drills-gone")))
    by_kind = {d.kind: d for d in outcome.drills}
    assert by_kind["RDS"].result == FAILED and "DBSubnetGroupNotFoundFault" in by_kind["RDS"].reason
    assert by_kind["RDS Cluster"].result == FAILED
    assert by_kind["EBS"].result == PASSED  # a volume has no subnet group
    assert outcome.alarms == [DRILL_FAILED] and outcome.leftovers == [] and dr_copies(world) == before


def test_a_run_that_dies_mid_drill_is_timed_out_and_cleaned_by_the_next_round(world: LocalWorld) -> None:
    settings = DrillSettings(timeout=timedelta(minutes=15))
    before = dr_copies(world)
    with timed_restores():
        drills = drills_of(world, settings)
        started = drills.start(drills.choose(source="ledger"))
        assert leftovers(world) != []
        world.advance(timedelta(minutes=30))  # the function timed out: nobody stepped the drill
        drills_of(world, settings).scheduled_round()
    [done] = drills.table.history()
    assert done.drill_id == started[0].drill_id and done.result == FAILED and "within 15 minutes" in done.reason
    with timed_restores():
        world.advance(timedelta(minutes=5))
        drills_of(world, settings).scheduled_round()
    assert leftovers(world) == [] and dr_copies(world) == before


def test_an_rto_past_the_target_raises_its_alarm(world: LocalWorld) -> None:
    outcome = drill(world, source="orders", settings=DrillSettings(rto_target=timedelta(minutes=5)))
    assert outcome.drills[0].result == PASSED and outcome.alarms == [RTO_MISSED]
