"""No reserved concurrency unless asked: a new account (concurrency quota 10, all kept unreserved by AWS)
must deploy both apps' committed stages; ``--reserved-concurrency N`` writes a reservation for those who
want one. Checked in the strict local world (``draco.world.moto_gaps.limits``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib_shared.kinds.base import Side
from draco import bootstrap
from draco.bootstrap import cli
from draco.world import moto_gaps

REPO = Path(__file__).resolve().parent.parent


def reservations(config: dict[str, Any], stage: str) -> dict[str, int]:
    """Each function's reserved concurrency as Chalice resolves it: the stage's over the app's."""
    functions: dict[str, dict[str, Any]] = {}
    for level in (config, config.get("stages", {}).get(stage, {})):
        for name, settings in level.get("lambda_functions", {}).items():
            functions.setdefault(name, {}).update(settings)
        if "reserved_concurrency" in level:
            raise AssertionError("an app-wide reservation applies to every function")
    return {name: s["reserved_concurrency"] for name, s in functions.items() if "reserved_concurrency" in s}


@pytest.fixture
def strict(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", raising=False)
    with mock_aws():
        moto_gaps.install()  # the local world's AWS: gaps filled, AWS's limits enforced
        try:
            yield boto3.client("lambda", region_name="us-east-1")
        finally:
            moto_gaps.uninstall()


def deploy(lam: Any, app: str, reserved: dict[str, int]) -> None:
    """What chalice deploy does with the stage's reservations: create the functions, then reserve."""
    role = boto3.client("iam", region_name="us-east-1").create_role(RoleName=app, AssumeRolePolicyDocument="{}")
    for name in ("poll_jobs", "sweep_snapshots", "on_topic"):
        lam.create_function(
            FunctionName=f"{app}-{name}",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": b"x"},
        )
    for name, count in reserved.items():
        lam.put_function_concurrency(FunctionName=f"{app}-{name}", ReservedConcurrentExecutions=count)


@pytest.mark.parametrize("app", ["producer_app", "consumer_app"])
def test_the_committed_stages_deploy_in_a_new_account(strict: Any, app: str) -> None:
    config = json.loads((REPO / app / ".chalice" / "config.json").read_text())
    for stage in config["stages"]:
        assert reservations(config, stage) == {}
    deploy(strict, app, reservations(config, "dev"))


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    bootstrap.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    dirs = {}
    for kind in ("producer", "consumer"):
        app_dir = tmp_path / f"{kind}_app"
        (app_dir / ".chalice").mkdir(parents=True)
        (app_dir / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "stages": {}}))
        monkeypatch.setattr(cli, f"{kind.upper()}_APP_DIR", app_dir)
        dirs[kind] = app_dir
    return dirs


def test_reserved_concurrency_is_written_only_when_asked_and_then_needs_a_larger_quota(
    strict: Any, app_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["bootstrap", "producer", "--dr-account", "222222222222", "--region", "us-east-1", "--no-alarms"]
    assert run_cli(base) == 0
    path = app_dirs["producer"] / ".chalice" / "config.json"
    assert reservations(json.loads(path.read_text()), "dev") == {}
    assert run_cli([*base, "--reserved-concurrency", "1"]) == 0
    reserved = reservations(json.loads(path.read_text()), "dev")
    assert reserved == dict.fromkeys(cli.RESERVABLE[Side.PRODUCER], 1)
    with pytest.raises(ClientError, match=r"minimum value of \[10\]"):
        deploy(strict, "producer", reserved)  # a new account refuses it
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")
    strict.put_function_concurrency(FunctionName="producer-poll_jobs", ReservedConcurrentExecutions=1)
    assert run_cli(base) == 0  # asked no more: the reservation goes
    assert reservations(json.loads(path.read_text()), "dev") == {}


def test_a_negative_reservation_is_refused_before_anything_changes(
    strict: Any, app_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bootstrap", "consumer", "--source-accounts", "111111111111", "--region", "us-east-1"]
    assert run_cli([*argv, "--reserved-concurrency", "-1"]) == 2
    assert "--reserved-concurrency -1 must be 1 or more" in capsys.readouterr().err
    assert boto3.client("sns", region_name="us-east-1").list_topics()["Topics"] == []


# --------------------------------------------------------------------------- --set: settings without an option


def test_set_writes_a_documented_setting_checked_as_the_app_reads_it(
    strict: Any, app_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bootstrap", "consumer", "--source-accounts", "111111111111", "--region", "us-east-1", "--no-alarms"]
    assert run_cli([*argv, "--set", "EBS_LOCK_DAYS=30", "--set", "EBS_LOCK_MODE=compliance"]) == 0
    config = json.loads((app_dirs["consumer"] / ".chalice" / "config.json").read_text())
    env = config["stages"]["dev"]["environment_variables"]
    assert (env["EBS_LOCK_DAYS"], env["EBS_LOCK_MODE"]) == ("30", "compliance")


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("INSTANCE_COPY_LIMIT=500", "INSTANCE_COPY_LIMIT='500' must be a whole number from 1 to 100"),
        ("JOB_TABLE=Other", "--set JOB_TABLE: not a setting --set takes for the consumer"),
        ("MAX_ATTEMPTS", "--set 'MAX_ATTEMPTS': write NAME=VALUE"),
    ],
)
def test_set_refuses_what_the_app_would_and_what_bootstrap_owns_before_anything_changes(
    strict: Any, app_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str], pair: str, message: str
) -> None:
    argv = ["bootstrap", "consumer", "--source-accounts", "111111111111", "--region", "us-east-1"]
    assert run_cli([*argv, "--set", pair]) == 2
    assert message in capsys.readouterr().err
    assert boto3.client("sns", region_name="us-east-1").list_topics()["Topics"] == []
    assert json.loads((app_dirs["consumer"] / ".chalice" / "config.json").read_text())["stages"] == {}
