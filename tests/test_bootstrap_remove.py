"""``python -m draco remove``: all bootstrap made goes; keys only on request, and not at once; snapshots never."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from draco import bootstrap
from draco.cli import main

pytestmark = pytest.mark.e2e  # whole accounts bootstrapped in moto: run with -m e2e (see the README)

PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"


@pytest.fixture
def session(mocked_aws: None) -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture
def dr(session: boto3.Session, as_account) -> boto3.Session:
    """The DR account bootstrapped, with a DR key and a DR copy, as the consumer leaves them."""
    as_account(DR)
    bootstrap.consumer(session, [PROD], alarms=bootstrap.Alarms(email="ops@example.com"))
    kms, rds = session.client("kms"), session.client("rds")
    kms.create_alias(AliasName="alias/DRACO-orders", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    rds.create_db_instance(
        DBInstanceIdentifier="restored", Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20
    )
    rds.create_db_snapshot(DBInstanceIdentifier="restored", DBSnapshotIdentifier=f"draco-{PROD}-orders-1")
    return session


def remove(*argv: str) -> int:
    return main(["remove", *argv, "--region", REGION])


def keys(session: boto3.Session) -> dict[str, str]:
    kms = session.client("kms")
    aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if "DRACO" in a["AliasName"]}
    return {alias: kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] for alias, key in aliases.items()}


def test_removing_the_consumer_leaves_only_keys_and_snapshots(dr, account_state, capsys) -> None:
    before = account_state(dr)
    assert remove("consumer", "--yes") == 0
    out = capsys.readouterr().out
    assert "  - turn off deletion protection of DynamoDB table DracoConsumerJobs and delete it (DR's inventory" in out
    assert "  kept: KMS key alias/DRACO-orders" in out and "  kept: snapshots: never deleted" in out
    after = account_state(dr)
    assert after == {
        **before,
        "topics": [],
        "tables": [],
        "roles": [],
        "event subscriptions": [],
        "rules": [],
        "alarms": [],
    }
    assert set(keys(dr).values()) == {"Enabled"}
    assert "  - delete SQS queue DracoInbox (production's messages to DR)" in out
    assert dr.client("sqs").list_queues().get("QueueUrls", []) == []
    assert remove("consumer", "--yes") == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_delete_keys_schedules_every_draco_key_for_deletion_in_30_days(dr, account_state) -> None:
    snapshots = account_state(dr)["snapshots"]
    assert remove("consumer", "--yes", "--delete-keys") == 0
    assert keys(dr) == {"alias/DRACO/Topics": "PendingDeletion", "alias/DRACO-orders": "PendingDeletion"}
    deletion = dr.client("kms").describe_key(KeyId="alias/DRACO-orders")["KeyMetadata"]["DeletionDate"]
    assert deletion - datetime.now(timezone.utc) > timedelta(days=29)
    assert account_state(dr)["snapshots"] == snapshots and f"draco-{PROD}-orders-1" in snapshots


def test_a_dry_run_or_an_unconfirmed_removal_changes_nothing(dr, account_state, monkeypatch, capsys) -> None:
    before = account_state(dr)
    assert remove("consumer", "--dry-run", "--delete-keys") == 0
    out = capsys.readouterr().out
    assert "  - schedule deletion of KMS key alias/DRACO-orders in 30 days\n" in out
    assert out.rstrip().endswith("dry run: nothing changed")
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert remove("consumer") == 2
    assert capsys.readouterr().err == "remove: not confirmed: nothing changed\n"
    assert account_state(dr) == before
    monkeypatch.setattr("builtins.input", lambda prompt: DR)
    assert remove("consumer") == 0
    assert account_state(dr)["tables"] == []


def test_removal_waits_for_the_functions_to_be_gone(dr, account_state, capsys) -> None:
    role = dr.client("iam").get_role(RoleName="draco-consumer-dev")["Role"]["Arn"]
    dr.client("lambda").create_function(
        FunctionName="draco-consumer-dev-poll_jobs", Runtime="python3.11", Role=role, Handler="app.poll_jobs",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    before = account_state(dr)
    assert remove("consumer", "--yes") == 2
    assert "run chalice delete --stage dev" in capsys.readouterr().err
    assert account_state(dr) == before


def test_alerts_stay_while_another_stage_still_raises_them(dr, account_state, capsys) -> None:
    bootstrap.consumer(dr, [PROD], stage="qa")
    assert remove("consumer", "--yes", "--stage", "qa") == 0
    assert "  kept: SNS topic DracoAlerts: other DRACO alarms notify it" in capsys.readouterr().out
    state = account_state(dr)
    assert state["roles"] == ["draco-consumer-dev", "draco-drill-dev"]
    assert [a for a in state["alarms"] if "-qa-" in a] == [] and len(state["alarms"]) == 9 + 2
    assert state["topics"] == [f"arn:aws:sns:{REGION}:{DR}:DracoAlerts"]


def test_removing_the_producer_schedules_the_transit_and_topic_keys(session, as_account, account_state) -> None:
    as_account(PROD)
    bootstrap.producer(session, DR)
    assert remove("producer", "--yes", "--delete-keys") == 0
    assert keys(session) == {"alias/DRACO/Topics": "PendingDeletion", "alias/DRACO-Transit": "PendingDeletion"}
    state = account_state(session)
    assert state["topics"] == state["tables"] == state["roles"] == state["alarms"] == []
    with pytest.raises(bootstrap.BootstrapError, match="is PendingDeletion; enable it"):
        bootstrap.plan_producer(session, DR)  # a key scheduled for deletion comes back only by hand
