"""The diff: a stack against what exists, as the steps still needed. Pure: no AWS call.

One function per resource type; a resource already as wanted yields no step,
so a second run plans nothing. Policies are compared as parsed JSON ignoring
the order of statements and list values (AWS may hand them back reordered),
and ``"x"`` equals ``["x"]``.

Some states are not repaired, because a script can't know what the operator
wants: a key pending deletion or disabled, a table with another key schema, an
event subscription limited to some sources. Those raise ``BootstrapError``
with what to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from draco.bootstrap.alarms import alarm_differences
from draco.bootstrap.inbox import Queue, QueueSubscription, plan_queue, plan_subscription
from draco.bootstrap.instructions import APICall, BootstrapError, Json, Step, Unresolved, Wait, resolve
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
)
from draco.bootstrap.names import ROLE_POLICY_NAME
from draco.bootstrap.readers import Existing

RULE_TARGET_ID = "DracoTopic"


def plan(stack: Stack, existing: Existing) -> list[Step]:
    """The steps that make the account hold ``stack``, in the stack's order."""
    known = known_values(stack, existing)
    return [step for resource in stack.resources for step in _PLANNERS[type(resource)](resource, existing, known)]


def known_values(stack: Stack, existing: Existing) -> dict[str, str]:
    """The values a plan may hold as ``Var`` that the account already has (existing keys' ids and ARNs)."""
    known: dict[str, str] = {}
    for key in (r for r in stack.resources if isinstance(r, Key)):
        found = existing.keys.get(key.alias)
        if found is not None:
            known[key.var("id").name] = found.key_id
            known[key.var("arn").name] = found.arn
    return known


def canonical(value: Any) -> Any:
    """A policy in a form where order doesn't matter and ``"x"`` equals ``["x"]``."""
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [canonical(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def same_document(current: str | Mapping[str, Any] | None, wanted: Any, known: Mapping[str, str]) -> bool:
    """Whether ``current`` (JSON text or parsed) already is ``wanted``; never, while ``wanted`` waits on a value."""
    if not current:
        return False
    try:
        resolved = resolve(wanted, known)
    except Unresolved:
        return False
    parsed = json.loads(current) if isinstance(current, str) else current
    return canonical(parsed) == canonical(resolved)


# --------------------------------------------------------------------------- one planner per type


def _key(key: Key, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    """A new key is made with its policy, rotation and alias; the alias, made last, is how a rerun finds it.

    A run killed between CreateKey and CreateAlias leaves an unnamed key behind
    (a month of key storage until scheduled for deletion); the next run makes a new one.
    """
    found = existing.keys.get(key.alias)
    if found is None:
        id_var = key.var("id")
        created = APICall(
            "kms",
            "create_key",
            {
                "Policy": Json(key.policy),
                "Description": key.description,
                "KeyUsage": "ENCRYPT_DECRYPT",
                "KeySpec": "SYMMETRIC_DEFAULT",
            },
            outputs={id_var.name: "KeyMetadata.KeyId", key.var("arn").name: "KeyMetadata.Arn"},
            creates=f"KMS key {key.alias}",
        )
        calls = (
            created,
            APICall("kms", "enable_key_rotation", {"KeyId": id_var}),
            APICall("kms", "create_alias", {"AliasName": key.alias, "TargetKeyId": id_var}),
        )
        return [Step(f"create KMS key {key.alias} ({key.summary}; rotation on)", calls, key.policy)]
    if found.state != "Enabled":
        raise BootstrapError(
            f"KMS key {key.alias} ({found.key_id}) is {found.state}; enable it (or cancel its deletion: "
            f"aws kms cancel-key-deletion --key-id {found.key_id}) and run bootstrap again"
        )
    steps = []
    if not same_document(found.policy, key.policy, known):
        call = APICall(
            "kms", "put_key_policy", {"KeyId": found.key_id, "PolicyName": "default", "Policy": Json(key.policy)}
        )
        steps.append(Step(f"update key policy of {key.alias} ({key.summary})", (call,), key.policy))
    if not found.rotation:
        call = APICall("kms", "enable_key_rotation", {"KeyId": found.key_id})
        steps.append(Step(f"enable rotation of KMS key {key.alias}", (call,)))
    return steps


def _topic(topic: Topic, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    found = existing.topics.get(topic.arn)
    steps = []
    if found is None:
        call = APICall(
            "sns",
            "create_topic",
            {"Name": topic.name, "Attributes": {"KmsMasterKeyId": topic.key_alias}},
            creates=f"SNS topic {topic.name}",
        )
        steps.append(Step(f"create SNS topic {topic.name} (encrypted with {topic.key_alias})", (call,)))
    elif found.get("KmsMasterKeyId") != topic.key_alias:
        call = _set_topic(topic.arn, "KmsMasterKeyId", topic.key_alias)
        steps.append(Step(f"encrypt SNS topic {topic.name} with {topic.key_alias}", (call,)))
    if found is None or not same_document(found.get("Policy"), topic.policy, known):
        call = _set_topic(topic.arn, "Policy", Json(topic.policy))
        steps.append(Step(f"set topic policy of {topic.name} (publish: {topic.publishers})", (call,), topic.policy))
    return steps


def _set_topic(arn: str, name: str, value: Any) -> APICall:
    return APICall("sns", "set_topic_attributes", {"TopicArn": arn, "AttributeName": name, "AttributeValue": value})


def _subscription(sub: RdsSubscription, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    """All events of all sources of one type; event categories are left open (DRACO filters event ids itself).

    A subscription limited to some sources can't be widened by ModifyEventSubscription, so that is an error.
    """
    wanted = {"SnsTopicArn": sub.topic_arn, "SourceType": sub.source_type, "Enabled": True}
    topic = sub.topic_arn.rsplit(":", 1)[-1]
    found = existing.subscriptions.get(sub.name)
    if found is None:
        call = APICall("rds", "create_event_subscription", {"SubscriptionName": sub.name, **wanted}, creates=sub.arn)
        return [Step(f"create RDS event subscription {sub.name} ({sub.source_type} events to {topic})", (call,))]
    if found.get("SourceIdsList"):
        raise BootstrapError(
            f"RDS event subscription {sub.name} only covers {', '.join(found['SourceIdsList'])}; delete it "
            f"(aws rds delete-event-subscription --subscription-name {sub.name}) and run bootstrap again"
        )
    differs = [k for k, v in wanted.items() if found.get(k) != v]
    if not differs:
        return []
    call = APICall("rds", "modify_event_subscription", {"SubscriptionName": sub.name, **wanted})
    return [Step(f"update RDS event subscription {sub.name} ({', '.join(differs)})", (call,))]


def _rule(rule: Rule, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    """The rule, enabled, with the app's topic as its one target."""
    found = existing.rules.get(rule.name)
    topic = rule.topic_arn.rsplit(":", 1)[-1]
    put_rule = APICall(
        "events",
        "put_rule",
        {"Name": rule.name, "EventPattern": Json(rule.pattern), "State": "ENABLED"},
        creates=rule.arn if found is None else "",
    )
    put_target = APICall(
        "events", "put_targets", {"Rule": rule.name, "Targets": [{"Id": RULE_TARGET_ID, "Arn": rule.topic_arn}]}
    )
    if found is None:
        return [
            Step(
                f"create EventBridge rule {rule.name} (matching events to {topic})",
                (put_rule, put_target),
                rule.pattern,
            )
        ]
    steps = []
    if found.state != "ENABLED" or not same_document(found.pattern, rule.pattern, known):
        steps.append(Step(f"update EventBridge rule {rule.name} (pattern, enabled)", (put_rule,), rule.pattern))
    targets = [(t.get("Id"), t.get("Arn")) for t in found.targets]
    if targets != [(RULE_TARGET_ID, rule.topic_arn)]:
        stale = [target_id for target_id, _ in targets if target_id != RULE_TARGET_ID]
        calls = (APICall("events", "remove_targets", {"Rule": rule.name, "Ids": stale}),) if stale else ()
        steps.append(Step(f"send EventBridge rule {rule.name}'s events to {topic} only", (*calls, put_target)))
    return steps


def _table(table: Table, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    """The job table from its definition; one with other keys or indexes is an error."""
    found = existing.tables.get(table.name)
    pitr = APICall(
        "dynamodb",
        "update_continuous_backups",
        {"TableName": table.name, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
    )
    if found is None:
        indexes = ", ".join(i["IndexName"] for i in table.definition["GlobalSecondaryIndexes"])
        calls = (
            APICall(
                "dynamodb",
                "create_table",
                {**table.definition, "DeletionProtectionEnabled": True},
                creates=f"DynamoDB table {table.name}",
            ),
            Wait("dynamodb", "table_exists", {"TableName": table.name}),
            pitr,
        )
        description = (
            f"create DynamoDB table {table.name} (on-demand, indexes {indexes}, "
            "point-in-time recovery, deletion protection)"
        )
        return [Step(description, calls)]
    current = found.description
    have = {i["IndexName"]: i["KeySchema"] for i in current.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: i["KeySchema"] for i in table.definition["GlobalSecondaryIndexes"]}
    if current["KeySchema"] != table.definition["KeySchema"] or any(have.get(k) != v for k, v in want.items()):
        raise BootstrapError(
            f"DynamoDB table {table.name} exists with other keys or indexes than DRACO's; "
            "rename it (or delete it, if it holds nothing you need) and run bootstrap again"
        )
    steps = []
    if not found.deletion_protection:
        call = APICall("dynamodb", "update_table", {"TableName": table.name, "DeletionProtectionEnabled": True})
        steps.append(Step(f"turn on deletion protection of DynamoDB table {table.name}", (call,)))
    if not found.pitr:
        steps.append(Step(f"turn on point-in-time recovery of DynamoDB table {table.name}", (pitr,)))
    return steps


def _role(role: Role, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    found = existing.roles.get(role.name)
    put_policy = APICall(
        "iam",
        "put_role_policy",
        {"RoleName": role.name, "PolicyName": ROLE_POLICY_NAME, "PolicyDocument": Json(role.policy)},
    )
    if found is None:
        create = APICall(
            "iam",
            "create_role",
            {
                "RoleName": role.name,
                "AssumeRolePolicyDocument": Json(role.trust),
                "Description": f"DRACO: the role of {role.summary}",
            },
            creates=role.arn,
        )
        return [Step(f"create IAM role {role.name} (for {role.summary})", (create, put_policy), role.policy)]
    steps = []
    if not same_document(found.trust, role.trust, known):
        call = APICall("iam", "update_assume_role_policy", {"RoleName": role.name, "PolicyDocument": Json(role.trust)})
        steps.append(Step(f"let only Lambda assume IAM role {role.name}", (call,), role.trust))
    if not same_document(found.policies.get(ROLE_POLICY_NAME), role.policy, known):
        steps.append(Step(f"update the policy of IAM role {role.name}", (put_policy,), role.policy))
    others = sorted(set(found.policies) - {ROLE_POLICY_NAME})
    if others:
        calls = tuple(APICall("iam", "delete_role_policy", {"RoleName": role.name, "PolicyName": p}) for p in others)
        steps.append(Step(f"remove other inline policies of IAM role {role.name} ({', '.join(others)})", calls))
    return steps


def _alert_topic(topic: AlertTopic, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    steps = []
    if topic.arn not in existing.topics:
        call = APICall("sns", "create_topic", {"Name": topic.name}, creates=f"SNS topic {topic.name}")
        steps.append(Step(f"create SNS topic {topic.name} (alarm notifications)", (call,)))
    if topic.email and topic.email.lower() not in existing.emails.get(topic.arn, frozenset()):
        call = APICall("sns", "subscribe", {"TopicArn": topic.arn, "Protocol": "email", "Endpoint": topic.email})
        steps.append(Step(f"subscribe {topic.email} to {topic.name} (AWS e-mails a confirmation link)", (call,)))
    return steps


def _alarm(alarm: Alarm, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    wanted = alarm.definition
    what = f"{wanted['Namespace']} {wanted['MetricName']} {wanted['Statistic']} > {wanted['Threshold']:g}"
    found = existing.alarms.get(alarm.name)
    if found is None:
        description = f"create CloudWatch alarm {alarm.name} ({what})"
    else:
        differs = alarm_differences(found, dict(wanted))
        if not differs:
            return []
        description = f"update CloudWatch alarm {alarm.name} ({what}; was different: {', '.join(differs)})"
    return [Step(description, (APICall("cloudwatch", "put_metric_alarm", dict(wanted)),), wanted)]


def _queue(queue: Queue, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    return plan_queue(queue, existing.queues.get(queue.name), lambda have, want: same_document(have, want, known))


def _queue_subscription(sub: QueueSubscription, existing: Existing, known: Mapping[str, str]) -> list[Step]:
    return plan_subscription(sub, existing.queue_endpoints.get(sub.topic_arn, {}))


_PLANNERS: dict[type, Callable[[Any, Existing, Mapping[str, str]], list[Step]]] = {
    Key: _key,
    Topic: _topic,
    RdsSubscription: _subscription,
    Rule: _rule,
    Table: _table,
    Role: _role,
    AlertTopic: _alert_topic,
    Alarm: _alarm,
    Queue: _queue,
    QueueSubscription: _queue_subscription,
}
