"""Deploy state lives in AWS, not in the clone that deployed: bootstrap reads what exists by name and tag,
and ``remove`` works from any clone, taking the stage out of that clone's ``config.json`` too."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import boto3
import pytest

from draco import bootstrap
from draco.bootstrap import cli

REGION = "us-east-1"
PRODUCER = ["bootstrap", "producer", "--dr-account", "222222222222", "--region", REGION, "--stage", "prod"]


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    bootstrap.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def clone(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh checkout's producer_app (no stages), made the one the CLI uses."""
    app_dir = root / "producer_app"
    (app_dir / ".chalice").mkdir(parents=True)
    config = {"version": "2.0", "app_name": "draco-producer", "stages": {"dev": {"environment_variables": {}}}}
    (app_dir / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    monkeypatch.setattr(cli, "PRODUCER_APP_DIR", app_dir)
    return app_dir


def stages(app_dir: Path) -> set[str]:
    return set(json.loads((app_dir / ".chalice" / "config.json").read_text())["stages"])


def test_a_fresh_clone_sees_the_deployment_and_removes_it(
    mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = clone(tmp_path / "first", monkeypatch)
    assert run_cli(PRODUCER) == 0
    assert stages(first) == {"dev", "prod"} and (first / ".chalice" / "function-names-prod.json").is_file()
    capsys.readouterr()

    second = clone(tmp_path / "second", monkeypatch)
    assert run_cli([*PRODUCER, "--dry-run"]) == 0  # bootstrap reads AWS: nothing to make again
    assert "nothing to change" in capsys.readouterr().out
    assert run_cli(["remove", "producer", "--region", REGION, "--stage", "prod", "--yes"]) == 0
    assert boto3.client("sns", region_name=REGION).list_topics()["Topics"] == []
    assert stages(second) == {"dev"}

    monkeypatch.setattr(cli, "PRODUCER_APP_DIR", first)  # the first clone, after another removed it all
    assert run_cli(["remove", "producer", "--region", REGION, "--stage", "prod", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "nothing to remove" in out and f"removed stage prod from {first / '.chalice' / 'config.json'}" in out
    assert stages(first) == {"dev"} and not (first / ".chalice" / "function-names-prod.json").exists()
