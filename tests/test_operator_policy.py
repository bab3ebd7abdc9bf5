"""``draco operator-policy``: each command's policy allows every call the command makes, and fits IAM's limits.

The calls are recorded from the commands themselves, run in the strict local AWS: bootstrap
of both accounts (once, then again with changes), status, the DR decisions (approve of a
pending shortening, reject, retire, budget), and remove of both accounts with their keys.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

from chalicelib_shared.job_table import JobTable
from chalicelib_shared.sources import SourceRecord
from draco import operator_policy, ops
from draco.bootstrap import cli as bootstrap_cli
from draco.cli import main
from draco.world.moto_gaps import limits

PROD, DR = "111111111111", "222222222222"
#: botocore's signing names that differ from the IAM prefix; GetCallerIdentity needs no permission.
IAM_PREFIX = {"monitoring": "cloudwatch"}
FREE = {"sts:GetCallerIdentity"}
#: A transaction is authorised by the actions inside it ("Permissions for Put, Update, Delete, and Get
#: actions are governed by the permissions used for the underlying PutItem, UpdateItem, DeleteItem, and
#: GetItem operations", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@pytest.fixture
def recorded(mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, set[str]]]:
    """Every AWS call made while each command ran, as IAM actions, by command."""
    calls: dict[str, set[str]] = defaultdict(set)
    running = {"command": ""}
    original = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation: str, params: Any) -> Any:
        prefix = client.meta.service_model.signing_name
        if operation == "TransactWriteItems":
            actions = {ITEM_ACTIONS[kind] for item in params["TransactItems"] for kind in item}
            calls[running["command"]].update(f"dynamodb:{action}" for action in actions)
        else:
            calls[running["command"]].add(f"{IAM_PREFIX.get(prefix, prefix)}:{operation}")
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    for kind in ("producer", "consumer"):
        app_dir = tmp_path / f"{kind}_app"
        (app_dir / ".chalice").mkdir(parents=True)
        (app_dir / ".chalice" / "config.json").write_text(json.dumps({"version": "2.0", "stages": {}}))
        monkeypatch.setattr(bootstrap_cli, f"{kind.upper()}_APP_DIR", app_dir)
        monkeypatch.setitem(ops.APP_DIRS, kind, app_dir)

    def as_(account: str, command: str) -> None:
        monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
        running["command"] = command

    producer = ["bootstrap", "producer", "--dr-account", DR, "--alert-email", "ops@example.com"]
    consumer = ["bootstrap", "consumer", "--source-accounts", PROD, "--alert-email", "ops@example.com"]
    as_(PROD, "bootstrap")
    assert main(producer) == 0
    assert main([*producer[:-1], "dr@example.com", "--tag-value", "Kept", "--set", "MAX_ATTEMPTS=5"]) == 0
    as_(DR, "bootstrap")
    assert main(consumer) == 0
    assert main([*consumer, "--source-accounts", f"{PROD},333333333333", "--rpo-hours", "30"]) == 0
    as_(DR, "setting up")
    table = JobTable(boto3.resource("dynamodb").Table("DracoConsumerJobs"))
    table.save_source(SourceRecord(f"{PROD}#RDS#orders", lifecycle="Standard", pending="Test"))
    as_(DR, "status")
    assert main(["status"]) in (0, 1)
    as_(DR, "approve")  # the DR decisions: approve, reject, retire and budget share one policy
    assert main(["approve", "orders", "--lifecycle", "Test"]) == 0
    table.save_source(SourceRecord(f"{PROD}#RDS#invoices", lifecycle="Standard", pending="Test"))
    assert main(["reject", "invoices"]) == 0
    assert main(["retire", "invoices"]) == 0
    assert main(["budget", PROD, "--keys", "5"]) == 0
    as_(DR, "remove")
    assert main(["remove", "consumer", "--yes", "--delete-keys"]) == 0
    as_(PROD, "remove")
    assert main(["remove", "producer", "--yes", "--delete-keys"]) == 0
    yield calls


def allowed(command: str) -> list[str]:
    return [action for statement in operator_policy.POLICIES[command] for action in statement["Action"]]


def test_each_commands_policy_allows_every_call_it_makes(recorded: dict[str, set[str]]) -> None:
    for command in operator_policy.COMMANDS:  # one scenario for all: it bootstraps and removes two accounts
        made = recorded[command] - FREE
        assert made, f"{command} made no call: the scenario didn't run it"
        denied = [call for call in sorted(made) if not any(fnmatch.fnmatchcase(call, a) for a in allowed(command))]
        assert denied == [], (command, denied)


@pytest.mark.parametrize("command", operator_policy.COMMANDS)
def test_each_policy_fits_a_managed_policy_and_names_resources_where_iam_can(command: str) -> None:
    text = json.dumps(operator_policy.document(command))
    assert limits.iam_size(text) <= limits.MANAGED_POLICY
    for statement in operator_policy.POLICIES[command]:
        assert statement["Effect"] == "Allow" and not [a for a in statement["Action"] if a.endswith("*")]


def test_the_command_prints_the_policies_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["operator-policy", "status", "approve"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"status", "approve"}
    assert printed["approve"] == operator_policy.document("approve")
