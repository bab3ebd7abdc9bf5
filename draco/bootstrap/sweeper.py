"""Removal: everything bootstrap made for one app in an account, as a plan like bootstrap's.

Deleted: the app's topic, its RDS event subscriptions and EventBridge rules
(targets first), its job table (deletion protection turned off first), the
stage's IAM role and alarms, and DracoAlerts once no DRACO alarm is left on it.

KMS keys only on request (``delete_keys``), and then only scheduled for
deletion after AWS's longest wait, 30 days, in which ``aws kms
cancel-key-deletion`` brings a key back: the transit and topic keys, and in DR
the per-source keys ``alias/DRACO-*``, under which every DR copy is encrypted.
Snapshots are never touched: no call here names one.

The stage's Lambda functions must be gone first (``chalice delete``, or the
CloudFormation stack), so nothing acts while the rest goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib_shared.kinds.base import Side
from draco.bootstrap import readers
from draco.bootstrap.aws import Clients
from draco.bootstrap.instructions import APICall, BootstrapError, Step
from draco.bootstrap.names import (
    ALERT_TOPIC,
    DR_KEY_ALIAS_PREFIX,
    FUNCTIONS,
    TABLES,
    TOPIC_KEY_ALIAS,
    TOPICS,
    TRANSIT_KEY_ALIAS,
    Account,
    alarm_name,
    app_name,
    function_name,
    role_name,
)

KEY_DELETION_DAYS = 30  # AWS's longest waiting period


@dataclass
class Found:
    """What DRACO's bootstrap made for one app and stage that is still in the account."""

    functions: list[str] = field(default_factory=list)  # the stage's Lambda functions still deployed
    subscriptions: list[str] = field(default_factory=list)
    rules: dict[str, list[str]] = field(default_factory=dict)  # rule -> its target ids
    topic: bool = False
    alarms: list[str] = field(default_factory=list)
    other_alarms: list[str] = field(default_factory=list)  # other DRACO alarms (other stages, the other app)
    alert_topic: bool = False
    table: readers.TableRecord | None = None
    role: readers.RoleRecord | None = None
    attached: list[str] = field(default_factory=list)  # managed policies attached to the role
    drill_role: readers.RoleRecord | None = None  # the consumer's drill role (``drill_policy``)
    keys: dict[str, readers.KeyRecord] = field(default_factory=dict)  # by alias


@dataclass(frozen=True)
class Removal:
    steps: list[Step]
    kept: list[str]  # what stays, and why


def read(clients: Clients, acct: Account, side: Side, stage: str) -> Found:
    """Everything of ``side`` and ``stage`` that bootstrap makes, as it stands."""
    found = Found()
    lam = clients("lambda")
    for handler in FUNCTIONS[side]:
        name = function_name(side, stage, handler)
        try:
            lam.get_function(FunctionName=name)
            found.functions.append(name)
        except lam.exceptions.ResourceNotFoundException:
            pass
    prefix = f"{app_name(side)}-"
    found.subscriptions = sorted(n for n in readers.read_subscriptions(clients("rds")) if n.startswith(prefix))
    events = clients("events")
    for rule in readers.list_rules(events, prefix):
        record = readers.read_rule(events, rule)
        # Chalice's schedule rules share the prefix; DRACO's send to the app's topic.
        if record and acct.topic_arn(side) in {t.get("Arn") for t in record.targets}:
            found.rules[rule] = [t["Id"] for t in record.targets]
    sns = clients("sns")
    found.topic = readers.read_topic(sns, acct.topic_arn(side)) is not None
    found.alert_topic = readers.read_topic(sns, acct.arn("sns", ALERT_TOPIC)) is not None
    ours = alarm_name(side, stage, "")
    draco = readers.read_alarms(clients("cloudwatch"), prefix="draco-")
    found.alarms = sorted(name for name in draco if name.startswith(ours))
    found.other_alarms = sorted(name for name in draco if not name.startswith(ours))
    found.table = readers.read_table(clients("dynamodb"), TABLES[side])
    found.role = readers.read_role(clients("iam"), role_name(side, stage))
    if found.role is not None:
        pages = clients("iam").get_paginator("list_attached_role_policies").paginate(RoleName=role_name(side, stage))
        found.attached = [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]
    if side is Side.CONSUMER:
        from draco.bootstrap.drill_policy import drill_role_name  # it builds on the models, as bootstrap does

        found.drill_role = readers.read_role(clients("iam"), drill_role_name(stage))
    kms = clients("kms")
    for alias, key_id in readers.read_aliases(kms).items():
        if alias in _key_aliases(side) or (side is Side.CONSUMER and alias.startswith(DR_KEY_ALIAS_PREFIX)):
            found.keys[alias] = readers.read_key(kms, key_id)
    return found


def _key_aliases(side: Side) -> tuple[str, ...]:
    return (TRANSIT_KEY_ALIAS, TOPIC_KEY_ALIAS) if side is Side.PRODUCER else (TOPIC_KEY_ALIAS,)


def plan_removal(found: Found, acct: Account, side: Side, stage: str, *, delete_keys: bool) -> Removal:
    """The steps that remove what ``found`` holds; pure."""
    if found.functions:
        raise BootstrapError(
            f"the stage's Lambda functions are still deployed ({', '.join(found.functions)}): "
            f"run chalice delete --stage {stage} (or delete the CloudFormation stack) first"
        )
    steps = [
        Step(
            f"delete RDS event subscription {name}",
            (APICall("rds", "delete_event_subscription", {"SubscriptionName": name}),),
        )
        for name in found.subscriptions
    ]
    for rule, targets in found.rules.items():
        calls = [APICall("events", "remove_targets", {"Rule": rule, "Ids": targets})] if targets else []
        calls.append(APICall("events", "delete_rule", {"Name": rule}))
        steps.append(Step(f"delete EventBridge rule {rule}", tuple(calls)))
    if found.topic:
        steps.append(_delete_topic(acct, TOPICS[side]))
    if found.alarms:
        call = APICall("cloudwatch", "delete_alarms", {"AlarmNames": found.alarms})
        steps.append(Step(f"delete CloudWatch alarms {', '.join(found.alarms)}", (call,)))
    kept = []
    if found.alert_topic and not found.other_alarms:
        steps.append(_delete_topic(acct, ALERT_TOPIC))
    elif found.alert_topic:
        kept.append(f"SNS topic {ALERT_TOPIC}: other DRACO alarms notify it ({', '.join(found.other_alarms)})")
    if found.table is not None:
        steps.append(_delete_table(found.table, TABLES[side], side))
    if found.role is not None:
        steps.append(_delete_role(found.role, found.attached, role_name(side, stage)))
    if found.drill_role is not None:
        from draco.bootstrap.drill_policy import drill_role_name

        steps.append(_delete_role(found.drill_role, [], drill_role_name(stage)))
    for alias, key in sorted(found.keys.items()):
        if key.state == "PendingDeletion":
            kept.append(f"KMS key {alias}: already pending deletion")
        elif delete_keys:
            call = APICall(
                "kms", "schedule_key_deletion", {"KeyId": key.key_id, "PendingWindowInDays": KEY_DELETION_DAYS}
            )
            steps.append(Step(f"schedule deletion of KMS key {alias} in {KEY_DELETION_DAYS} days", (call,)))
        else:
            kept.append(f"KMS key {alias} ({key.key_id}): --delete-keys schedules its deletion")
    kept.append("snapshots: never deleted by DRACO's removal")
    return Removal(steps, kept)


def _delete_topic(acct: Account, name: str) -> Step:
    return Step(f"delete SNS topic {name}", (APICall("sns", "delete_topic", {"TopicArn": acct.arn("sns", name)}),))


def _delete_table(table: readers.TableRecord, name: str, side: Side) -> Step:
    calls = []
    if table.deletion_protection:
        calls.append(APICall("dynamodb", "update_table", {"TableName": name, "DeletionProtectionEnabled": False}))
    calls.append(APICall("dynamodb", "delete_table", {"TableName": name}))
    what = "DR's inventory of copies" if side is Side.CONSUMER else "the production jobs"
    return Step(f"turn off deletion protection of DynamoDB table {name} and delete it ({what})", tuple(calls))


def _delete_role(role: readers.RoleRecord, attached: list[str], name: str) -> Step:
    calls = [APICall("iam", "delete_role_policy", {"RoleName": name, "PolicyName": p}) for p in sorted(role.policies)]
    calls += [APICall("iam", "detach_role_policy", {"RoleName": name, "PolicyArn": arn}) for arn in attached]
    calls.append(APICall("iam", "delete_role", {"RoleName": name}))
    return Step(f"delete IAM role {name}", tuple(calls))
