"""The resource models: names both deployment paths share, and a kind whose events come through EventBridge."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import boto3
import pytest

from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.base import EventRule, PolicyContext, Side, SnapshotKind
from draco.bootstrap import readers, sweeper
from draco.bootstrap.aws import connect
from draco.bootstrap.executor import Executor
from draco.bootstrap.models import Rule, Stack, Topic, producer_stack
from draco.bootstrap.names import FUNCTIONS, Account
from draco.bootstrap.options import producer_options
from draco.bootstrap.planner import plan

PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"
PATTERN = {"source": ["aws.ec2"], "detail-type": ["EBS Snapshot Notification"]}
ONLY_ONCE = {"Sid": "ReadVolumes", "Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": "*"}


class EventBridgeKind(SnapshotKind):
    """A test-only kind that hears of its snapshots through an EventBridge rule, as EBS will."""

    name = "Test EBS"
    label = "TestVolume"
    service = "ec2"
    source_noun = "volume"
    source_name = re.compile(".*")
    snapshot_id = re.compile(".*")
    copy_limit_variable = "TEST_COPY_LIMIT"
    default_copy_limit = 1
    encrypts_on_copy = True

    def parse_arn(self, arn: str) -> Any:
        return None

    def arn(self, partition: str, region: str, account: str, snapshot_id: str) -> str:
        return f"arn:{partition}:ec2:{region}::snapshot/{snapshot_id}"

    def api(self, client: Any) -> Any:
        raise NotImplementedError

    def events(self, notice: Any) -> tuple[Any, ...]:
        return ()

    def event_sources(self, side: Side) -> tuple[EventRule, ...]:
        return (EventRule("draco-producer-test-snapshots", PATTERN),) if side is Side.PRODUCER else ()

    def statements(self, side: Side, ctx: PolicyContext) -> list[dict[str, Any]]:
        return [ONLY_ONCE, dict(ONLY_ONCE)]


RDS_KINDS = tuple(kind for kind in KINDS.values() if kind.service == "rds")


def with_ebs(account: str = PROD) -> Stack:
    """The RDS kinds and the test-only kind (the registry's own EBS kind is left out, to test one rule)."""
    opts = producer_options(REGION, DR)
    return producer_stack(opts, Account("aws", account, REGION), (*RDS_KINDS, EventBridgeKind()))


def statements(document: Any) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.mark.parametrize("side", list(Side))
def test_the_functions_bootstrap_names_are_the_apps_handlers(side: Side) -> None:
    app = importlib.import_module(f"{side.value}_app.app").app
    assert sorted(FUNCTIONS[side]) == sorted(app.handler_map)


def test_an_event_rule_kind_gets_a_rule_and_eventbridge_may_publish_through_it_only() -> None:
    stack = with_ebs()
    rule_arn = f"arn:aws:events:{REGION}:{PROD}:rule/draco-producer-test-snapshots"
    (rule,) = [r for r in stack.resources if isinstance(r, Rule)]
    assert rule == Rule(
        "draco-producer-test-snapshots", rule_arn, PATTERN, f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
    )
    topic = next(r for r in stack.resources if isinstance(r, Topic))
    assert topic.publishers.endswith(", RDS, EventBridge")
    eventbridge = statements(topic.policy)["DracoEventBridgeRulesSendEvents"]
    assert eventbridge["Principal"] == {"Service": "events.amazonaws.com"}
    assert eventbridge["Condition"] == {"ArnEquals": {"aws:SourceArn": [rule_arn]}}
    key = next(r for r in stack.resources if getattr(r, "alias", "") == "alias/DRACO/Topics")
    key_statements = statements(key.policy)
    assert key_statements["RdsPublishesThisAccountsEvents"]["Principal"] == {"Service": "events.rds.amazonaws.com"}
    eventbridge_key = key_statements["EventBridgePublishesDracoRulesEvents"]
    assert not [k for k in eventbridge_key["Condition"]["StringEquals"] if k.startswith("aws:Source")]
    transit = next(r for r in stack.resources if getattr(r, "alias", "") == "alias/DRACO-Transit")
    dr_use = statements(transit.policy)["DrConsumerReadsSharedTransitCopiesThroughTheKindsServices"]
    assert dr_use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "ec2.us-east-1.amazonaws.com",
        "rds.us-east-1.amazonaws.com",
    ]
    role_policy = next(r for r in stack.resources if getattr(r, "name", "") == "draco-producer-dev").policy
    assert [s for s in role_policy["Statement"] if s == ONLY_ONCE] == [ONLY_ONCE]  # identical statements once


def test_without_an_event_rule_kind_eventbridge_may_do_nothing() -> None:
    stack = producer_stack(producer_options(REGION, DR), Account("aws", PROD, REGION), RDS_KINDS)
    text = json.dumps([getattr(r, "policy", None) for r in stack.resources], default=repr)
    assert "events.amazonaws.com" not in text and not [r for r in stack.resources if isinstance(r, Rule)]


def test_an_event_rule_is_made_targeted_and_removed_in_moto(mocked_aws: None, monkeypatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD)
    session = boto3.Session(region_name=REGION)
    acct, clients = connect(session, REGION, [DR])
    stack = with_ebs(acct.account)
    Executor(clients).execute(plan(stack, readers.read(clients, stack)))
    events = session.client("events")
    rule = events.describe_rule(Name="draco-producer-test-snapshots")
    assert json.loads(rule["EventPattern"]) == PATTERN and rule["State"] == "ENABLED"
    assert events.list_targets_by_rule(Rule="draco-producer-test-snapshots")["Targets"] == [
        {"Id": "DracoTopic", "Arn": f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"}
    ]
    assert plan(stack, readers.read(clients, stack)) == []

    found = sweeper.read(clients, acct, Side.PRODUCER, "dev")
    assert found.rules == {"draco-producer-test-snapshots": ["DracoTopic"]}
    Executor(clients).execute(sweeper.plan_removal(found, acct, Side.PRODUCER, "dev", delete_keys=False).steps)
    assert events.list_rules()["Rules"] == []
