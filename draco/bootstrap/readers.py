"""What exists in the account, read once per resource type into plain records.

The planner compares these records with a stack and never calls AWS itself, so
tests feed it records of their own. Every listing is read page by page (moto
answers in one page, AWS doesn't: KMS ListAliases pages at 50).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from draco.bootstrap.aws import Clients, missing
from draco.bootstrap.inbox import Queue, QueueRecord, QueueSubscription, read_queue, read_queue_endpoints
from draco.bootstrap.models import Alarm, AlertTopic, Key, RdsSubscription, Role, Rule, Stack, Table, Topic


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    arn: str
    state: str  # Enabled, Disabled, PendingDeletion, ...
    policy: str  # the default key policy, as JSON text
    rotation: bool


@dataclass(frozen=True)
class TableRecord:
    description: Mapping[str, Any]  # DescribeTable's Table
    pitr: bool  # point-in-time recovery on

    @property
    def deletion_protection(self) -> bool:
        return bool(self.description.get("DeletionProtectionEnabled"))


@dataclass(frozen=True)
class RuleRecord:
    pattern: str  # EventPattern, JSON text
    state: str
    targets: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class RoleRecord:
    trust: Mapping[str, Any]
    policies: Mapping[str, Mapping[str, Any]]  # inline policies by name


@dataclass
class Existing:
    """What the account holds of what a stack names (absent: not there)."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)  # by alias
    topics: dict[str, dict[str, str]] = field(default_factory=dict)  # attributes by topic ARN
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # RDS event subscriptions by name
    rules: dict[str, RuleRecord] = field(default_factory=dict)  # by name
    tables: dict[str, TableRecord] = field(default_factory=dict)
    roles: dict[str, RoleRecord] = field(default_factory=dict)
    emails: dict[str, frozenset[str]] = field(default_factory=dict)  # e-mail endpoints (lower case) by topic ARN
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, QueueRecord] = field(default_factory=dict)  # by name
    queue_endpoints: dict[str, dict[str, str]] = field(default_factory=dict)  # by topic ARN: queue -> subscription


def read(clients: Clients, stack: Stack) -> Existing:
    """Everything ``stack`` names, as it stands."""
    found = Existing()
    resources = stack.resources
    aliases = read_aliases(clients("kms")) if _of(resources, Key) else {}
    for key in _of(resources, Key):
        if key.alias in aliases:
            found.keys[key.alias] = read_key(clients("kms"), aliases[key.alias])
    for topic in _of(resources, Topic, AlertTopic):
        attributes = read_topic(clients("sns"), topic.arn)
        if attributes is not None:
            found.topics[topic.arn] = attributes
            if isinstance(topic, AlertTopic) and topic.email:
                found.emails[topic.arn] = read_emails(clients("sns"), topic.arn)
    if _of(resources, RdsSubscription):
        found.subscriptions = read_subscriptions(clients("rds"))
    for rule in _of(resources, Rule):
        record = read_rule(clients("events"), rule.name)
        if record is not None:
            found.rules[rule.name] = record
    for table in _of(resources, Table):
        record = read_table(clients("dynamodb"), table.name)
        if record is not None:
            found.tables[table.name] = record
    for role in _of(resources, Role):
        record = read_role(clients("iam"), role.name)
        if record is not None:
            found.roles[role.name] = record
    for queue in _of(resources, Queue):
        record = read_queue(clients("sqs"), queue.name)
        if record is not None:
            found.queues[queue.name] = record
    for sub in _of(resources, QueueSubscription):
        found.queue_endpoints[sub.topic_arn] = read_queue_endpoints(clients("sns"), sub.topic_arn)
    names = [alarm.name for alarm in _of(resources, Alarm)]
    if names:
        found.alarms = read_alarms(clients("cloudwatch"), names=names)
    return found


def _of(resources: Iterable[Any], *types: type) -> list[Any]:
    return [r for r in resources if isinstance(r, types)]


# --------------------------------------------------------------------------- one reader per type


def read_aliases(kms: Any) -> dict[str, str]:
    """Every alias of the account with a key behind it, to that key's id."""
    return {
        entry["AliasName"]: entry["TargetKeyId"]
        for page in kms.get_paginator("list_aliases").paginate()
        for entry in page["Aliases"]
        if entry.get("TargetKeyId")
    }


def read_key(kms: Any, key_id: str) -> KeyRecord:
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    if meta["KeyState"] == "PendingDeletion":  # AWS refuses policy and rotation reads then
        return KeyRecord(meta["KeyId"], meta["Arn"], meta["KeyState"], "", False)
    return KeyRecord(
        meta["KeyId"],
        meta["Arn"],
        meta["KeyState"],
        kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
        bool(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]),
    )


def read_topic(sns: Any, arn: str) -> dict[str, str] | None:
    try:
        return dict(sns.get_topic_attributes(TopicArn=arn)["Attributes"])
    except ClientError as err:
        if missing(err, "NotFound"):
            return None
        raise


def read_emails(sns: Any, topic_arn: str) -> frozenset[str]:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return frozenset(s["Endpoint"].lower() for page in pages for s in page["Subscriptions"] if s["Protocol"] == "email")


def read_subscriptions(rds: Any) -> dict[str, dict[str, Any]]:
    pages = rds.get_paginator("describe_event_subscriptions").paginate()
    return {s["CustSubscriptionId"]: s for page in pages for s in page["EventSubscriptionsList"]}


def read_rule(events: Any, name: str) -> RuleRecord | None:
    try:
        rule = events.describe_rule(Name=name)
    except ClientError as err:
        if missing(err, "ResourceNotFoundException"):
            return None
        raise
    pages = events.get_paginator("list_targets_by_rule").paginate(Rule=name)
    targets = tuple(t for page in pages for t in page["Targets"])
    return RuleRecord(rule.get("EventPattern", ""), rule.get("State", ""), targets)


def list_rules(events: Any, prefix: str) -> list[str]:
    pages = events.get_paginator("list_rules").paginate(NamePrefix=prefix)
    return [rule["Name"] for page in pages for rule in page["Rules"]]


def read_table(dynamodb: Any, name: str) -> TableRecord | None:
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as err:
        if missing(err, "ResourceNotFoundException"):
            return None
        raise
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED"
    return TableRecord(table, pitr)


def read_role(iam: Any, name: str) -> RoleRecord | None:
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as err:
        if missing(err, "NoSuchEntity"):
            return None
        raise
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=name)
    policies = {
        policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        for page in pages
        for policy in page["PolicyNames"]
    }
    return RoleRecord(role["AssumeRolePolicyDocument"], policies)


def read_alarms(cloudwatch: Any, *, names: list[str] | None = None, prefix: str = "") -> dict[str, dict[str, Any]]:
    selector: dict[str, Any] = {"AlarmNames": names} if names is not None else {"AlarmNamePrefix": prefix}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"], **selector)
    return {alarm["AlarmName"]: alarm for page in pages for alarm in page["MetricAlarms"]}
