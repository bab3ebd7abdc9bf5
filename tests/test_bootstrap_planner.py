"""The planner and the executor without AWS: stacks against hand-made records of what exists."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from draco.bootstrap.executor import Executor
from draco.bootstrap.inbox import Queue, QueueRecord, QueueSubscription
from draco.bootstrap.instructions import APICall, BootstrapError, Json, Step, Var, Wait, resolve
from draco.bootstrap.models import (
    Alarm,
    AlertTopic,
    Key,
    RdsSubscription,
    Role,
    Rule,
    Stack,
    Table,
    Topic,
    consumer_stack,
    producer_stack,
)
from draco.bootstrap.names import Account
from draco.bootstrap.options import Alarms, consumer_options, producer_options
from draco.bootstrap.planner import RULE_TARGET_ID, plan
from draco.bootstrap.readers import Existing, KeyRecord, RoleRecord, RuleRecord, TableRecord

PROD = "111111111111"
DR = "222222222222"
REGION = "eu-west-1"
PROD_ACCT = Account("aws", PROD, REGION)
DR_ACCT = Account("aws", DR, REGION)
TRANSIT_ARN = f"arn:aws:kms:{REGION}:{PROD}:key/transit-id"


def producer(**options: Any) -> Stack:
    return producer_stack(producer_options(REGION, DR, **options), PROD_ACCT)


def consumer(**options: Any) -> Stack:
    return consumer_stack(consumer_options(REGION, [PROD], **options), DR_ACCT)


def of(stack: Stack, kind: type) -> list[Any]:
    return [r for r in stack.resources if isinstance(r, kind)]


def as_wanted(stack: Stack) -> Existing:
    """Records of an account that already holds ``stack`` exactly (transit key id ``transit-id``)."""
    found = Existing()
    known: dict[str, str] = {}
    for key in of(stack, Key):
        key_id = key.label.replace(" key", "-id")
        arn = f"arn:aws:kms:{REGION}:{stack.account.account}:key/{key_id}"
        found.keys[key.alias] = KeyRecord(key_id, arn, "Enabled", json.dumps(key.policy), True)
        known[key.var("arn").name] = arn
    for topic in of(stack, Topic):
        found.topics[topic.arn] = {"Policy": json.dumps(topic.policy), "KmsMasterKeyId": topic.key_alias}
    for sub in of(stack, RdsSubscription):
        found.subscriptions[sub.name] = {
            "SnsTopicArn": sub.topic_arn,
            "SourceType": sub.source_type,
            "Enabled": True,
            "SourceIdsList": [],
        }
    for rule in of(stack, Rule):
        target = {"Id": RULE_TARGET_ID, "Arn": rule.topic_arn}
        found.rules[rule.name] = RuleRecord(json.dumps(rule.pattern), "ENABLED", (target,))
    for table in of(stack, Table):
        found.tables[table.name] = TableRecord({**table.definition, "DeletionProtectionEnabled": True}, True)
    for role in of(stack, Role):
        found.roles[role.name] = RoleRecord(role.trust, {"draco": resolve(role.policy, known)})
    for topic in of(stack, AlertTopic):
        found.topics[topic.arn] = {}
        found.emails[topic.arn] = frozenset({topic.email.lower()} if topic.email else ())  # as read_emails keeps them
    for alarm in of(stack, Alarm):
        found.alarms[alarm.name] = dict(alarm.definition)
    for queue in of(stack, Queue):
        attributes = {k: json.dumps(v.value) if isinstance(v, Json) else v for k, v in queue.attributes.items()}
        found.queues[queue.name] = QueueRecord(f"https://sqs/{queue.name}", attributes)
    for sub in of(stack, QueueSubscription):
        found.queue_endpoints[sub.topic_arn] = {sub.queue_arn: f"{sub.topic_arn}:sub-id"}
    return found


def descriptions(steps: list[Step]) -> list[str]:
    return [str(step) for step in steps]


def calls(steps: list[Step]) -> list[tuple[str, str]]:
    return [(c.service, c.method if isinstance(c, APICall) else f"wait {c.waiter}") for s in steps for c in s.calls]


# --------------------------------------------------------------------------- nothing, everything


@pytest.mark.parametrize("stack", [producer(), consumer(alarms=Alarms(email="ops@example.com"))], ids=["prod", "dr"])
def test_an_account_that_holds_the_stack_plans_nothing(stack: Stack) -> None:
    assert plan(stack, as_wanted(stack)) == []


def test_an_empty_account_gets_every_resource_in_order() -> None:
    steps = plan(producer(), Existing())
    assert calls(steps) == [
        ("kms", "create_key"), ("kms", "enable_key_rotation"), ("kms", "create_alias"),
        ("sns", "create_topic"), ("sns", "set_topic_attributes"),
        ("rds", "create_event_subscription"), ("rds", "create_event_subscription"),
        ("events", "put_rule"), ("events", "put_targets"),
        ("kms", "create_key"), ("kms", "enable_key_rotation"), ("kms", "create_alias"),
        ("sns", "create_topic"), ("sns", "set_topic_attributes"), ("sns", "subscribe"),  # the outbox
        ("dynamodb", "create_table"), ("dynamodb", "wait table_exists"), ("dynamodb", "update_continuous_backups"),
        ("iam", "create_role"), ("iam", "put_role_policy"),
        ("sns", "create_topic"),
        ("cloudwatch", "put_metric_alarm"), ("cloudwatch", "put_metric_alarm"), ("cloudwatch", "put_metric_alarm"),
    ]  # fmt: skip


def test_a_new_key_is_named_and_rotated_through_the_id_create_key_returns() -> None:
    (create, rotate, alias) = plan(producer(), Existing())[6].calls
    assert create.outputs == {"transit key.id": "KeyMetadata.KeyId", "transit key.arn": "KeyMetadata.Arn"}
    assert rotate.params == {"KeyId": Var("transit key.id", "<new transit key>")}
    assert alias.params == {
        "AliasName": "alias/DRACO-Transit",
        "TargetKeyId": Var("transit key.id", "<new transit key>"),
    }


def test_the_role_policy_waits_for_a_new_transit_key_and_uses_an_existing_one() -> None:
    stack = producer()
    new = plan(stack, Existing())
    put_policy = next(c for s in new for c in s.calls if getattr(c, "method", "") == "put_role_policy")
    document = put_policy.params["PolicyDocument"]
    assert isinstance(document, Json)
    assert TRANSIT_ARN not in json.dumps(resolve(document, {}, preview=True))
    assert TRANSIT_ARN in resolve(document, {"transit key.arn": TRANSIT_ARN})

    existing = as_wanted(stack)
    existing.roles.clear()
    (step,) = plan(stack, existing)
    assert step.description.startswith("create IAM role draco-producer-dev")
    assert TRANSIT_ARN in json.dumps(resolve(step.calls[1].params, {"transit key.arn": TRANSIT_ARN}))


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("state", ["PendingDeletion", "Disabled", "PendingImport"])
def test_a_key_not_enabled_is_an_error_that_says_what_to_do(state: str) -> None:
    stack = producer()
    existing = as_wanted(stack)
    existing.keys["alias/DRACO-Transit"] = replace(existing.keys["alias/DRACO-Transit"], state=state)
    with pytest.raises(BootstrapError, match=f"is {state}; enable it .*cancel-key-deletion --key-id transit-id"):
        plan(stack, existing)


def test_key_policy_and_rotation_drift_is_repaired_on_the_key_found() -> None:
    stack = producer()
    existing = as_wanted(stack)
    record = existing.keys["alias/DRACO-Transit"]
    existing.keys["alias/DRACO-Transit"] = replace(record, policy='{"Statement": []}', rotation=False)
    steps = plan(stack, existing)
    assert descriptions(steps) == [
        f"update key policy of alias/DRACO-Transit (only arn:aws:iam::{DR}:role/draco-consumer-dev may use it, "
        "through EC2, RDS)",
        "enable rotation of KMS key alias/DRACO-Transit",
    ]
    assert steps[0].calls[0].params["KeyId"] == steps[1].calls[0].params["KeyId"] == "transit-id"


def test_a_reordered_policy_is_the_same_policy() -> None:
    stack = producer()
    existing = as_wanted(stack)
    policy = json.loads(existing.keys["alias/DRACO/Topics"].policy)
    policy["Statement"].reverse()
    for statement in policy["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"].reverse()
    existing.keys["alias/DRACO/Topics"] = replace(existing.keys["alias/DRACO/Topics"], policy=json.dumps(policy))
    assert plan(stack, existing) == []


# --------------------------------------------------------------------------- topics and event sources


def test_a_topic_without_encryption_or_with_another_policy_is_brought_in_line() -> None:
    stack = producer()
    existing = as_wanted(stack)
    topic = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
    existing.topics[topic] = {"Policy": json.dumps({"Statement": []})}
    steps = plan(stack, existing)
    assert [c.params["AttributeName"] for s in steps for c in s.calls] == ["KmsMasterKeyId", "Policy"]
    assert steps[1].document == of(stack, Topic)[0].policy


@pytest.mark.parametrize(
    "found, differs",
    [
        ({"Enabled": False}, "Enabled"),
        ({"SnsTopicArn": "arn:aws:sns:eu-west-1:111111111111:elsewhere"}, "SnsTopicArn"),
        ({"SourceType": "db-instance", "Enabled": False}, "SourceType, Enabled"),
    ],
)
def test_a_changed_event_subscription_is_modified(found: dict[str, Any], differs: str) -> None:
    stack = producer()
    existing = as_wanted(stack)
    existing.subscriptions["draco-producer-db-snapshot"].update(found)
    (step,) = plan(stack, existing)
    assert step.description == f"update RDS event subscription draco-producer-db-snapshot ({differs})"
    assert step.calls[0].method == "modify_event_subscription"


def test_an_event_subscription_for_some_sources_is_an_error() -> None:
    stack = producer()
    existing = as_wanted(stack)
    existing.subscriptions["draco-producer-db-cluster-snapshot"]["SourceIdsList"] = ["ledger-1"]
    with pytest.raises(BootstrapError, match="only covers ledger-1; delete it"):
        plan(stack, existing)


def rule_stack() -> Stack:
    """A stack with one more EventBridge rule, as a kind with EventBridge events would have."""
    stack = producer()
    topic = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
    rule = Rule("draco-producer-ebs", f"arn:aws:events:{REGION}:{PROD}:rule/draco-producer-ebs", {"a": ["b"]}, topic)
    return replace(stack, resources=(*stack.resources, rule))


def test_a_missing_rule_is_put_with_its_topic_as_only_target() -> None:
    stack = rule_stack()
    existing = as_wanted(stack)
    del existing.rules["draco-producer-ebs"]
    (step,) = plan(stack, existing)
    assert step.description == "create EventBridge rule draco-producer-ebs (matching events to DracoProducer)"
    assert [c.method for c in step.calls] == ["put_rule", "put_targets"]
    assert resolve(step.calls[0].params, {})["EventPattern"] == '{"a": ["b"]}'


def test_a_rule_with_another_pattern_or_target_is_brought_in_line() -> None:
    stack = rule_stack()
    existing = as_wanted(stack)
    stranger = {"Id": "stranger", "Arn": "arn:aws:sns:eu-west-1:999999999999:theirs"}
    existing.rules["draco-producer-ebs"] = RuleRecord('{"a": ["c"]}', "DISABLED", (stranger,))
    steps = plan(stack, existing)
    assert calls(steps) == [("events", "put_rule"), ("events", "remove_targets"), ("events", "put_targets")]
    assert steps[1].calls[0].params == {"Rule": "draco-producer-ebs", "Ids": ["stranger"]}


# --------------------------------------------------------------------------- tables, roles, alarms


def test_a_table_without_protection_or_recovery_gets_both() -> None:
    stack = consumer()
    existing = as_wanted(stack)
    table = existing.tables["DracoConsumerJobs"]
    existing.tables["DracoConsumerJobs"] = TableRecord({**table.description, "DeletionProtectionEnabled": False}, False)
    assert descriptions(plan(stack, existing)) == [
        "turn on deletion protection of DynamoDB table DracoConsumerJobs",
        "turn on point-in-time recovery of DynamoDB table DracoConsumerJobs",
    ]


def test_a_table_with_other_keys_is_an_error() -> None:
    stack = consumer()
    existing = as_wanted(stack)
    other = {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "DeletionProtectionEnabled": True}
    existing.tables["DracoConsumerJobs"] = TableRecord(other, True)
    with pytest.raises(BootstrapError, match="other keys or indexes"):
        plan(stack, existing)


def test_a_role_is_brought_back_to_lambda_trust_and_its_one_policy() -> None:
    stack = consumer()
    existing = as_wanted(stack)
    role = existing.roles["draco-consumer-dev"]
    anyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}
    existing.roles["draco-consumer-dev"] = RoleRecord(anyone, {**role.policies, "admin": {"Statement": []}})
    steps = plan(stack, existing)
    assert descriptions(steps) == [
        "let only Lambda assume IAM role draco-consumer-dev",
        "remove other inline policies of IAM role draco-consumer-dev (admin)",
    ]
    assert steps[1].calls == (
        APICall("iam", "delete_role_policy", {"RoleName": "draco-consumer-dev", "PolicyName": "admin"}),
    )


def test_a_changed_threshold_updates_the_recovery_point_alarms_only_and_email_case_is_ignored() -> None:
    stack = consumer(alarms=Alarms(email="Ops@Example.com"))
    existing = as_wanted(consumer(alarms=Alarms(email="ops@example.com", rpo_hours=30)))
    assert [step.description for step in plan(stack, existing)] == [
        "update CloudWatch alarm draco-consumer-dev-RecoveryPointAge "
        "(DRACO SourcesLate Maximum > 0; was different: AlarmDescription)",
        "update CloudWatch alarm draco-consumer-dev-SourceWentLate "
        "(DRACO SourcesGoneLate Sum > 0; was different: AlarmDescription)",
    ]


def test_an_address_not_yet_subscribed_is_subscribed() -> None:
    stack = consumer(alarms=Alarms(email="ops@example.com"))
    existing = as_wanted(stack)
    existing.emails[f"arn:aws:sns:{REGION}:{DR}:DracoAlerts"] = frozenset({"someone@example.com"})
    (step,) = plan(stack, existing)
    assert step.calls[0].params == {
        "TopicArn": f"arn:aws:sns:{REGION}:{DR}:DracoAlerts",
        "Protocol": "email",
        "Endpoint": "ops@example.com",
    }


# --------------------------------------------------------------------------- the executor


class Recorder:
    """Stands for boto3 clients: records every call, answers create_key like KMS."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str) -> Any:
        recorder = self

        class Client:
            def __getattr__(self, method: str) -> Any:
                def call(**params: Any) -> dict[str, Any]:
                    recorder.calls.append((service, method, params))
                    if method == "create_key":
                        return {"KeyMetadata": {"KeyId": "new-id", "Arn": f"arn:aws:kms:{REGION}:{PROD}:key/new-id"}}
                    return {}

                return call

            def get_waiter(self, name: str) -> Any:
                return type("Waiter", (), {"wait": lambda _self, **p: recorder.calls.append((service, name, p))})()

        return Client()


def test_the_executor_passes_what_a_call_returns_to_the_calls_after_it() -> None:
    stack = producer()
    existing = as_wanted(stack)
    del existing.keys["alias/DRACO-Transit"]
    existing.roles["draco-producer-dev"] = RoleRecord(of(stack, Role)[0].trust, {})  # the role, without its policy
    client = Recorder()
    executor = Executor(client, {"topic key.id": "topic-id"})
    executor.execute(plan(stack, existing))
    methods = [(service, method) for service, method, _ in client.calls]
    assert methods == [
        ("kms", "create_key"),
        ("kms", "enable_key_rotation"),
        ("kms", "create_alias"),
        ("iam", "put_role_policy"),
    ]
    assert client.calls[1][2] == {"KeyId": "new-id"}
    assert client.calls[2][2] == {"AliasName": "alias/DRACO-Transit", "TargetKeyId": "new-id"}
    policy = json.loads(client.calls[3][2]["PolicyDocument"])
    assert f"arn:aws:kms:{REGION}:{PROD}:key/new-id" in json.dumps(policy)
    assert executor.created == ["KMS key alias/DRACO-Transit"]
    assert resolve(dict(stack.env), executor.variables)["TRANSIT_KEY_ARN"] == f"arn:aws:kms:{REGION}:{PROD}:key/new-id"


def test_the_executor_waits_where_the_plan_says() -> None:
    client = Recorder()
    Executor(client).execute([Step("x", (Wait("dynamodb", "table_exists", {"TableName": "t"}),))])
    assert client.calls == [("dynamodb", "table_exists", {"TableName": "t"})]
