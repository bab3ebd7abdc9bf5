"""``python -m draco bootstrap`` and the stage it writes into each Chalice project."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib_shared import config as cfg
from draco import bootstrap
from draco.bootstrap import cli
from draco.bootstrap.models import Deployment

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"
DEPLOYMENT = Deployment(
    f"arn:aws:iam::{PROD}:role/draco-producer-dev",
    {
        "on_producer_topic": "draco-producer-dev-on_producer_topic",
        "poll_jobs": "draco-producer-dev-poll_jobs",
        "wake_poller": "draco-producer-dev-wake_poller",
    },
    {"poll_jobs": "draco-producer-dev-poll_jobs-event", "wake_poller": "draco-producer-dev-wake_poller-event"},
    {"Version": "2012-10-17", "Statement": []},
)


@pytest.fixture
def session(mocked_aws: None) -> boto3.Session:
    return boto3.Session(region_name=REGION)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    bootstrap.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Temporary Chalice projects in place of the repository's."""
    dirs = {}
    for kind in ("producer", "consumer"):
        app_dir = tmp_path / f"{kind}_app"
        (app_dir / ".chalice").mkdir(parents=True)
        (app_dir / ".chalice" / "config.json").write_text(
            json.dumps({"version": "2.0", "app_name": f"draco-{kind}", "stages": {}}, indent=2) + "\n"
        )
        monkeypatch.setattr(cli, f"{kind.upper()}_APP_DIR", app_dir)
        dirs[kind] = app_dir
    return dirs


# --------------------------------------------------------------------------- the stage config


BASE_CONFIG = {
    "version": "2.0",
    "app_name": "draco-producer",
    "stages": {
        "dev": {
            "autogen_policy": False,
            "iam_policy_file": "policy-dev.json",
            "environment_variables": {"LOG_LEVEL": "DEBUG", "TAG_KEY": "old"},
        },
        "prod": {"environment_variables": {"TAG_KEY": "prod-key"}},
    },
}


def app_dir_with(tmp_path: Path, config: dict[str, Any]) -> Path:
    app_dir = tmp_path / "producer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    (app_dir / ".chalice" / "config.json").write_text(json.dumps(config, indent=4))
    return app_dir


def test_write_stage_config_merges_the_environment_and_keeps_everything_else(tmp_path: Path) -> None:
    app_dir = app_dir_with(tmp_path, BASE_CONFIG)
    bootstrap.write_stage_config(app_dir, "dev", {"TAG_KEY": "Draco_Copy", "DR_ACCT": DR})
    bootstrap.write_stage_config(app_dir, "qa", {"DR_ACCT": OTHER})

    path = app_dir / ".chalice" / "config.json"
    text = path.read_text()
    written = json.loads(text)
    assert text == json.dumps(written, indent=2) + "\n"
    assert written["stages"]["dev"]["environment_variables"] == {
        "LOG_LEVEL": "DEBUG",
        "TAG_KEY": "Draco_Copy",
        "DR_ACCT": DR,
    }
    assert written["stages"]["prod"] == BASE_CONFIG["stages"]["prod"]
    assert written["stages"]["qa"] == {"environment_variables": {"DR_ACCT": OTHER}}
    assert bootstrap.write_stage_config(app_dir, "dev", {"DR_ACCT": DR}) == []
    assert path.read_text() == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temporary files left


def test_with_a_deployment_the_stage_runs_as_the_role_and_names_its_functions(tmp_path: Path) -> None:
    app_dir = app_dir_with(tmp_path, BASE_CONFIG)
    chalice_dir = app_dir / ".chalice"
    changed = bootstrap.write_stage_config(app_dir, "dev", {"DR_ACCT": DR}, DEPLOYMENT)
    assert changed == [
        chalice_dir / "function-names-dev.json",
        chalice_dir / "role-policy-dev.json",
        chalice_dir / "config.json",
    ]

    stage = json.loads((chalice_dir / "config.json").read_text())["stages"]["dev"]
    assert stage == {
        "environment_variables": {"LOG_LEVEL": "DEBUG", "TAG_KEY": "old", "DR_ACCT": DR},
        "manage_iam_role": False,
        "iam_role_arn": DEPLOYMENT.role_arn,
    }  # the policy-file settings of earlier versions are gone: the role carries the policy
    assert json.loads((chalice_dir / "function-names-dev.json").read_text()) == {
        "Resources": {
            "OnProducerTopic": {"Properties": {"FunctionName": "draco-producer-dev-on_producer_topic"}},
            "PollJobs": {
                "Properties": {
                    "FunctionName": "draco-producer-dev-poll_jobs",
                    "Events": {"PollJobsEvent": {"Properties": {"Name": "draco-producer-dev-poll_jobs-event"}}},
                }
            },
            "WakePoller": {
                "Properties": {
                    "FunctionName": "draco-producer-dev-wake_poller",
                    "Events": {"WakePollerEvent": {"Properties": {"Name": "draco-producer-dev-wake_poller-event"}}},
                }
            },
        }
    }
    assert json.loads((chalice_dir / "role-policy-dev.json").read_text()) == DEPLOYMENT.role_policy
    before = {p.name: p.stat().st_mtime_ns for p in chalice_dir.iterdir()}
    assert bootstrap.write_stage_config(app_dir, "dev", {"DR_ACCT": DR}, DEPLOYMENT) == []
    assert {p.name: p.stat().st_mtime_ns for p in chalice_dir.iterdir()} == before


def test_chalice_reads_the_role_for_every_function_of_the_stage(tmp_path: Path) -> None:
    """What Chalice's own config makes of what bootstrap writes (chalice.config.Config, per function)."""
    from chalice.config import Config

    app_dir = app_dir_with(tmp_path, BASE_CONFIG)
    bootstrap.write_stage_config(app_dir, "dev", {}, DEPLOYMENT)
    raw = json.loads((app_dir / ".chalice" / "config.json").read_text())
    for function in ("on_producer_topic", "poll_jobs"):
        config = Config(chalice_stage="dev", function_name=function, config_from_disk=raw)
        assert (config.manage_iam_role, config.iam_role_arn) == (False, DEPLOYMENT.role_arn)


# --------------------------------------------------------------------------- the command


@pytest.mark.e2e
def test_dry_run_prints_plan_documents_and_stage_and_changes_nothing(session, as_account, app_dirs, capsys) -> None:
    as_account(PROD)
    config = app_dirs["producer"] / ".chalice" / "config.json"
    before = config.read_text()
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"account {PROD} in {REGION}: 16 step(s)" in out
    assert "  - create SNS topic DracoProducer (encrypted with alias/DRACO/Topics)\n" in out
    assert '"kms:GrantIsForAWSResource": "true"' in out
    assert f'"aws:SourceAccount": "{PROD}"' in out
    placeholder = f"arn:aws:kms:{REGION}:{PROD}:{bootstrap.NEW_TRANSIT_KEY}"
    assert f"  TRANSIT_KEY_ARN={placeholder}\n" in out  # the key doesn't exist yet
    assert f'"Resource": "{placeholder}"' in out  # in the role's policy
    assert f"  manage_iam_role=false, iam_role_arn=arn:aws:iam::{PROD}:role/draco-producer-dev\n" in out
    assert f"would write {config.parent / 'function-names-dev.json'} (new file)" in out
    assert out.rstrip().endswith("dry run: nothing changed")
    assert config.read_text() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["config.json"]
    assert session.client("sns").list_topics()["Topics"] == []
    assert session.client("iam").list_roles()["Roles"] == []


@pytest.mark.e2e
def test_apply_writes_the_stage_and_a_second_run_changes_nothing(session, as_account, app_dirs, capsys) -> None:
    as_account(DR)
    argv = ["bootstrap", "consumer", "--source-accounts", f"{OTHER},{PROD}", "--region", REGION, "--stage", "prod"]
    assert run_cli([*argv, "--no-dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  - create IAM role draco-consumer-prod (for the draco-consumer Lambda functions of stage prod)\n" in out
    assert "--merge-template .chalice/function-names-prod.json" in out
    chalice_dir = app_dirs["consumer"] / ".chalice"
    stage = json.loads((chalice_dir / "config.json").read_text())["stages"]["prod"]
    role = f"arn:aws:iam::{DR}:role/draco-consumer-prod"
    assert stage["manage_iam_role"] is False and stage["iam_role_arn"] == role
    env = stage["environment_variables"]
    assert env["SOURCE_ACCTS"] == f"{PROD},{OTHER}" and env["NO_DRY_RUN"] == "1"
    assert env[cfg.CONSUMER_ROLE_ARN] == role
    names = json.loads((chalice_dir / "function-names-prod.json").read_text())["Resources"]
    assert names["WakePoller"] == {"Properties": {"FunctionName": "draco-consumer-prod-wake_poller"}}
    assert names["PollJobs"]["Properties"]["Events"] == {
        "PollJobsEvent": {"Properties": {"Name": env[cfg.POLLER_RULE]}}
    }
    policy = json.loads((chalice_dir / "role-policy-prod.json").read_text())
    assert (
        policy
        == session.client("iam").get_role_policy(RoleName="draco-consumer-prod", PolicyName="draco")["PolicyDocument"]
    )

    assert run_cli([*argv, "--no-dry-run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"account {DR} in {REGION}: nothing to change" in out
    assert "function-names-prod.json (unchanged)" in out
    assert run_cli([*argv, "--no-dry-run"]) == 0
    assert f"account {DR} in {REGION}: nothing to change" in capsys.readouterr().out


@pytest.mark.e2e
def test_a_producer_without_alarms_plans_none(session, as_account, app_dirs, capsys) -> None:
    as_account(PROD)
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION, "--no-alarms", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "12 step(s)" in out and "alarm" not in out.split("\n\n")[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["producer", "--dr-account", "123", "--region", REGION], "DR_ACCT='123' must be a 12-digit"),
        (["consumer", "--source-accounts", PROD, "--region", REGION, "--stage", "a-b"], "stage 'a-b'"),
        (["producer", "--dr-account", DR, "--region", REGION, "--tag-key", "rds:x"], "TAG_KEY='rds:x'"),
        (["producer", "--dr-account", DR, "--region", REGION, "--profile", "no-such-profile"], "no-such-profile"),
        (["producer", "--dr-account", DR], "no AWS region"),
        (["producer", "--dr-account", DR, "--region", REGION, "--dr-region", "mars-1"], "--dr-region 'mars-1'"),
        (["consumer", "--source-accounts", PROD, "--region", "us-west-2", "--source-region", "east"], "'east'"),
        (["consumer", "--source-accounts", PROD, "--region", "westeurope"], "--region 'westeurope'"),
    ],
)
def test_errors_are_one_line_and_exit_2(app_dirs, monkeypatch, capsys, argv: list[str], message: str) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    assert run_cli(["bootstrap", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err and "Traceback" not in captured.err


def test_without_credentials_it_says_what_to_do(app_dirs, monkeypatch, capsys) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert run_cli(["bootstrap", "producer", "--dr-account", DR, "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bootstrap: no AWS credentials found") and err.count("\n") == 1
