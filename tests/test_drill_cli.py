"""``python -m draco drill`` against moto: drills the chosen sources and prints them; bad options change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from draco import drill as drill_command
from draco.cli import main
from draco.world.moto_gaps import restoring
from tests.drill_rig import Rig, dr_account

BASE = ["drill", "--table", "DracoConsumerJobs", "--region", "us-east-1", "--app-dir", "/nonexistent"]


@pytest.fixture
def rig(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    with dr_account(monkeypatch) as made:
        # the command waits between steps: in the test, simulated time passes instead
        monkeypatch.setattr(
            drill_command.time, "sleep", lambda seconds: made.traveller.shift(timedelta(seconds=seconds))
        )
        yield made


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["drill", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(option in out for option in ("--source", "--tag", "--keep", "--subnet-group", "--validator"))


def test_drills_one_source_and_prints_json(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig.add_copy("RDS", "orders")
    rig.add_copy("EBS", "files", team="storage")
    assert main([*BASE, "--source", "orders", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [row] = doc["drills"]
    assert (row["source"], row["result"], row["kept"]) == ("orders", "passed", False)
    assert row["rto_seconds"] >= 600 and rig.leftovers() == []
    assert main([*BASE, "--tag", "team=storage"]) == 0
    assert "files" in capsys.readouterr().out


def test_a_failed_drill_exits_1_and_keep_leaves_a_passed_one(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig.add_copy("RDS", "orders")
    assert main([*BASE, "--subnet-group", "nowhere", "--json"]) == 1
    assert "DBSubnetGroupNotFoundFault" in capsys.readouterr().out and rig.leftovers() == []
    assert main([*BASE, "--keep", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)["drills"][0]
    assert rig.leftovers() == [kept["resource"]]
    rig.traveller.shift(timedelta(days=1))
    assert main([*BASE, "--sweep", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": []}  # kept ones are never swept


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tag", "no-equals-sign"], "must be KEY=VALUE"),
        (["--security-group", "default"], "not a security group id"),
        (["--timeout-minutes", "5"], "--timeout-minutes must be from 15 to 2880"),
        (["--source", "nothing"], "no protected source with a DR copy matches"),
    ],
)
def test_bad_options_exit_2_and_change_nothing(rig: Rig, capsys, options: list[str], message: str) -> None:
    rig.add_copy("RDS", "orders")
    before = rig.snapshots()
    assert main([*BASE, *options]) == 2
    assert message in capsys.readouterr().err
    assert rig.snapshots() == before and rig.leftovers() == [] and rig.drills().table.history() == []
    assert restoring.restore_time is not None
