"""Bootstrap with DR in another Region: production in us-east-1, DR in us-west-2, in moto.

Each app is bootstrapped in its own account's Region and names the peer's Region:
the producer publishes to ``DracoConsumer`` in DR's Region, the consumer answers on
``DracoProducer`` in the source Region and hears of its own copies finishing in its
own Region (where its event subscription and rule are).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from test_bootstrap_cli import app_dirs, run_cli  # noqa: F401 (app_dirs: a fixture)

from chalicelib_shared import config as cfg
from draco import bootstrap

pytestmark = pytest.mark.e2e  # whole accounts bootstrapped in moto: run with -m e2e (see the README)
PROD = "111111111111"
DR = "222222222222"
SOURCE = "us-east-1"
DR_REGION = "us-west-2"


@pytest.fixture
def sessions(mocked_aws: None) -> dict[str, boto3.Session]:
    return {region: boto3.Session(region_name=region) for region in (SOURCE, DR_REGION)}


def made(session: boto3.Session) -> dict[str, Any]:
    """The topics, event subscriptions, rules, tables and key aliases bootstrap made in the session's Region."""
    kms = session.client("kms")
    return {
        "topics": sorted(t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]),
        "subscriptions": sorted(
            (s["CustSubscriptionId"], s["SnsTopicArn"])
            for s in session.client("rds").describe_event_subscriptions()["EventSubscriptionsList"]
        ),
        "rules": sorted(r["Name"] for r in session.client("events").list_rules()["Rules"]),
        "tables": session.client("dynamodb").list_tables()["TableNames"],
        "aliases": sorted(
            a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/DRACO")
        ),
    }


def statements(policy: str | dict[str, Any]) -> dict[str, dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    return {s["Sid"]: s for s in doc["Statement"]}


def test_producer_publishes_to_its_outbox_which_sends_to_the_inbox_in_the_dr_region(sessions, as_account) -> None:
    as_account(PROD)
    env = bootstrap.producer(sessions[SOURCE], DR, dr_region=DR_REGION)
    assert env[cfg.OUTBOX_TOPIC_ARN] == f"arn:aws:sns:{SOURCE}:{PROD}:DracoOutbox"
    outbox = sessions[SOURCE].client("sns").list_subscriptions_by_topic(TopicArn=env[cfg.OUTBOX_TOPIC_ARN])
    assert [s["Endpoint"] for s in outbox["Subscriptions"]] == [f"arn:aws:sqs:{DR_REGION}:{DR}:DracoInbox"]
    here = made(sessions[SOURCE])
    assert here["topics"][-1] == f"arn:aws:sns:{SOURCE}:{PROD}:DracoProducer"
    assert {topic for _, topic in here["subscriptions"]} == {f"arn:aws:sns:{SOURCE}:{PROD}:DracoProducer"}
    assert here["aliases"] == ["alias/DRACO-Transit", "alias/DRACO/Topics"]
    assert made(sessions[DR_REGION]) == {"topics": [], "subscriptions": [], "rules": [], "tables": [], "aliases": []}
    kms = sessions[SOURCE].client("kms")
    key = kms.describe_key(KeyId="alias/DRACO-Transit")["KeyMetadata"]["KeyId"]
    transit = statements(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    reads = transit["DrConsumerReadsSharedTransitCopiesThroughTheKindsServices"]
    via = reads["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == [f"{service}.{region}.amazonaws.com" for service in ("ec2", "rds") for region in (SOURCE, DR_REGION)]
    assert bootstrap.plan_producer(sessions[SOURCE], DR, dr_region=DR_REGION) == []


def test_consumer_runs_in_the_dr_region_and_hears_of_its_copies_there(sessions, as_account) -> None:
    as_account(DR)
    env = bootstrap.consumer(sessions[DR_REGION], [PROD], source_region=SOURCE)
    assert env[cfg.SOURCE_REGION] == SOURCE
    config = cfg.ConsumerConfig.from_env(env)
    assert config.problems == () and config.source_region == SOURCE
    there = made(sessions[DR_REGION])
    topic = f"arn:aws:sns:{DR_REGION}:{DR}:DracoConsumer"
    assert there["topics"][-1] == topic and there["tables"] == [cfg.CONSUMER_TABLE]
    assert there["subscriptions"] == [("draco-consumer-db-snapshot", topic)]  # RDS-EVENT-0197 of DR copies
    assert there["rules"] == ["draco-consumer-ebs-snapshots"]  # copySnapshot of DR copies
    # Nothing in the source Region: the relay key is the consumer's own, made on first use.
    assert made(sessions[SOURCE]) == {"topics": [], "subscriptions": [], "rules": [], "tables": [], "aliases": []}
    assert bootstrap.plan_consumer(sessions[DR_REGION], [PROD], source_region=SOURCE) == []


def test_the_apps_own_region_named_as_the_peers_is_the_same_region(sessions, as_account) -> None:
    as_account(DR)
    same = bootstrap.consumer(sessions[DR_REGION], [PROD], source_region=DR_REGION)
    assert same[cfg.SOURCE_REGION] == ""
    assert bootstrap.plan_consumer(sessions[DR_REGION], [PROD]) == []
    as_account(PROD)
    assert bootstrap.producer(sessions[SOURCE], DR, dr_region=SOURCE) == bootstrap.producer(sessions[SOURCE], DR)


def test_moving_the_sources_back_to_dr_s_region_clears_source_region(sessions, as_account, app_dirs, capsys) -> None:  # noqa: F811
    as_account(DR)
    argv = ["bootstrap", "consumer", "--source-accounts", PROD, "--region", DR_REGION]
    assert run_cli([*argv, "--source-region", SOURCE]) == 0
    config = app_dirs["consumer"] / ".chalice" / "config.json"
    assert json.loads(config.read_text())["stages"]["dev"]["environment_variables"][cfg.SOURCE_REGION] == SOURCE
    assert run_cli(argv) == 0
    assert json.loads(config.read_text())["stages"]["dev"]["environment_variables"][cfg.SOURCE_REGION] == ""
    out = capsys.readouterr().out
    assert "update the policy of IAM role draco-consumer-dev" in out  # its ARNs back in one Region


def test_a_dry_run_shows_the_dr_topic_in_the_dr_region(sessions, as_account, app_dirs, capsys) -> None:  # noqa: F811
    as_account(PROD)
    argv = ["bootstrap", "producer", "--dr-account", DR, "--region", SOURCE, "--dr-region", DR_REGION, "--dry-run"]
    assert run_cli(argv) == 0
    out = capsys.readouterr().out
    assert f"  OUTBOX_TOPIC_ARN=arn:aws:sns:{SOURCE}:{PROD}:DracoOutbox\n" in out
    assert f"subscribe DR's inbox arn:aws:sqs:{DR_REGION}:{DR}:DracoInbox to DracoOutbox" in out
    assert not Path(app_dirs["producer"] / ".chalice" / "function-names-dev.json").exists()
