"""Bootstrap: create, idempotently, what Chalice doesn't create for the two apps.

Chalice deploys the Lambdas, their roles and their SNS subscriptions; it can't make
the topics they listen on (each named in a fixed way so the two accounts can find
each other without a circular dependency), their cross-account policies, the RDS
event subscriptions, the transit KMS key or the job tables. This module does.

Plan, then apply (see DESIGN.md): ``plan_producer``/``plan_consumer`` only read the
account and return the steps still needed, each a line an operator can check and
the call that makes it so; ``producer``/``consumer`` apply that plan and return the
app's Lambda environment. A resource that is already as wanted yields no step, so a
second run has an empty plan. Policies are compared as parsed JSON, ignoring the
order of statements and of list values, because AWS may hand them back reordered.

Alerting (``Alarms``): the SNS topic ``DracoAlerts`` (optionally with an e-mail
subscription) and CloudWatch alarms on the apps' metrics, made the same plan-then-apply
way; ``alarm_definitions`` says which. The CLI makes them in the DR account by default
(``--no-alarms`` to skip) and in production with ``--alarms`` or ``--alert-email``.

Some states can't be repaired safely by a script (a transit key pending deletion, a
table with another key schema, an event subscription limited to some sources): those
raise ``BootstrapError`` with what the operator should do, rather than guess.

Least privilege: each app's Lambda role gets a hand-written IAM policy
(``producer_policy``/``consumer_policy``, pure functions of the accounts, Region,
table and key), written next to the stage's config as ``policy-<stage>.json``
with ``autogen_policy: false`` (Chalice's generated policy only sees app.py).
Its actions are exactly the AWS calls ``chalicelib_shared`` makes, plus what
RDS needs on the caller's behalf (KMS grants, tags on create) and CloudWatch
Logs; ``tests/test_policies.py`` derives the called operations from the code
and fails when one is missing or a granted one is never used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from chalicelib_shared import config as cfg
from chalicelib_shared.job_table import table_definition
from chalicelib_shared.naming import DR_PREFIX, SOURCE_NAME_TAG, TRANSIT_PREFIX, key_alias

DEFAULT_TAG_KEY = cfg.DEFAULT_TAG_KEY
DEFAULT_TAG_VALUE = cfg.DEFAULT_TAG_VALUE

# Chalice names an app's Lambda role ``<app_name>-<stage>``; these are the app names.
PRODUCER_APP_NAME = "draco-producer"
CONSUMER_APP_NAME = "draco-consumer"

# The Chalice projects, found next to this package (the repository root).
REPO_ROOT = Path(__file__).resolve().parent.parent
PRODUCER_APP_DIR = REPO_ROOT / "producer_app"
CONSUMER_APP_DIR = REPO_ROOT / "consumer_app"

RDS_EVENTS_PRINCIPAL = "events.rds.amazonaws.com"
# What the owning account may do with its own topic (the actions of SNS's default policy).
_TOPIC_OWNER_ACTIONS = [
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
]
_TRANSIT_KEY_DESCRIPTION = (
    "DRACO transit key: re-encrypts RDS snapshot copies so they can be shared with the DR account"
)

_ACCOUNT = re.compile(r"\d{12}")
_STAGE = re.compile(r"[A-Za-z0-9_]+")
# AWS tag rules (the same the apps check when they read TAG_KEY/TAG_VALUE).
_TAG_KEY = re.compile(r"(?!aws:)[\w .:/=+@-]{1,128}")


class BootstrapError(Exception):
    """The account is in a state bootstrap won't repair on its own; the message says what to do."""


@dataclass(frozen=True)
class Step:
    """One change: the line an operator reads, and the call that makes it so."""

    description: str
    action: Callable[[], object]
    document: Mapping[str, Any] | None = None  # the policy this step sets, shown by --dry-run

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Bootstrap:
    """A plan and how to read the app's environment once it is applied (the CLI shows one, then the other)."""

    account: str
    region: str
    plan: list[Step]
    env: Callable[[], dict[str, str]]
    # The app's IAM policy for a given environment (the one ``env`` returns, or a preview of it).
    policy: Callable[[Mapping[str, str]], dict[str, Any]] | None = None
    # The environment as it will be, computable before the plan is applied (for --dry-run).
    preview_env: Callable[[], dict[str, str]] | None = None


def apply(plan: Sequence[Step]) -> None:
    """Run the steps in order (later steps rely on earlier ones, e.g. a policy on a new topic)."""
    for step in plan:
        step.action()


# --------------------------------------------------------------------------- the account


class _Account:
    """The account being bootstrapped: its id, region and partition, and cached clients."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.region: str = session.region_name  # checked by _validate before we get here
        self._clients: dict[str, Any] = {}
        identity = self.client("sts").get_caller_identity()
        self.account: str = identity["Account"]
        self.partition: str = identity["Arn"].split(":")[1]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str, account: str | None = None) -> str:
        """An ARN in this region, in this account unless ``account`` is given."""
        return f"arn:{self.partition}:{service}:{self.region}:{account or self.account}:{resource}"

    def root(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:root"


def _validate(session: boto3.Session, peers: Sequence[str], stage: str, tag_key: str, tag_value: str) -> None:
    """Reject bad input before any AWS call, so a typo never half-bootstraps an account."""
    if not session.region_name:
        raise ValueError("no AWS region: pass --region or set AWS_DEFAULT_REGION (session.region_name is None)")
    if not peers:
        raise ValueError("no peer account given: name at least one 12-digit AWS account id")
    for peer in peers:
        if not _ACCOUNT.fullmatch(peer):
            raise ValueError(f"{peer!r} is not a 12-digit AWS account id")
    if not _STAGE.fullmatch(stage):
        raise ValueError(f"stage {stage!r} must be letters, digits and underscores only")
    if not _TAG_KEY.fullmatch(tag_key):
        raise ValueError(f"tag key {tag_key!r} must be 1-128 letters, digits, spaces or _.:/=+-@, not starting aws:")
    if len(tag_value) > 256:
        raise ValueError("tag value is longer than 256 characters")


def _connect(session: boto3.Session, peers: Sequence[str]) -> _Account:
    acct = _Account(session)
    if acct.account in peers:
        raise ValueError(f"account {acct.account} is the account being bootstrapped; name the other account")
    return acct


# --------------------------------------------------------------------------- policies


def _canonical(value: Any) -> Any:
    """A policy in a form where order doesn't matter and ``"x"`` equals ``["x"]``."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _same_policy(current: str | None, wanted: Mapping[str, Any]) -> bool:
    return current is not None and _canonical(json.loads(current)) == _canonical(dict(wanted))


def _topic_policy(acct: _Account, topic_arn: str, publishers: Sequence[str]) -> dict[str, Any]:
    """The owner uses its topic; the peer accounts and RDS (for this account's events) publish to it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerAccountUsesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": acct.root(acct.account)},
                "Action": _TOPIC_OWNER_ACTIONS,
                "Resource": topic_arn,
            },
            {
                "Sid": "PeerAccountsSendDracoMessages",
                "Effect": "Allow",
                "Principal": {"AWS": [acct.root(a) for a in publishers]},
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            {
                "Sid": "RdsSendsThisAccountsSnapshotEvents",
                "Effect": "Allow",
                "Principal": {"Service": RDS_EVENTS_PRINCIPAL},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": acct.account}},
            },
        ],
    }


def _transit_key_policy(acct: _Account, dr_account: str) -> dict[str, Any]:
    """The owner administers the key; the DR account may only use it to copy shared transit snapshots."""
    dr = {"AWS": acct.root(dr_account)}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerAccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": acct.root(acct.account)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "DrAccountReadsSharedTransitSnapshots",
                "Effect": "Allow",
                "Principal": dr,
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
            {
                "Sid": "DrAccountLetsRdsUseKeyForCopyOnly",
                "Effect": "Allow",
                "Principal": dr,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


# --------------------------------------------------------------------------- Lambda role policies
#
# Resource patterns follow DRACO's own names (chalicelib_shared.naming): transit copies
# are ``draco-transit-<source id>`` in the production account, DR copies are
# ``draco-<source account>-<source id>`` in the DR account, per-source DR keys are
# ``alias/DRACO-<source name>``. Statements whose action AWS can't scope by resource
# (kms:CreateKey) carry a condition instead. KMS actions that RDS performs on the
# caller's behalf while copying (CreateGrant, DescribeKey, Decrypt) are limited to
# grants for AWS resources or calls made through RDS.

# keys.py creates DR keys with BypassPolicyLockoutSafetyCheck (their policy gives the account
# root kms:*), so the consumer needs no kms:PutKeyPolicy.

# Key operations the consumer must never perform, whatever a key policy says: an
# explicit Deny in the role's own policy beats any Allow, including one the role could
# write into a DRACO key's policy.
_KEY_DESTRUCTION = [
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:DisableKeyRotation",
    "kms:DeleteImportedKeyMaterial",
]


def lambda_role_name(app_name: str, stage: str, function: str) -> str:
    """The role ``chalice deploy`` makes for one function when ``autogen_policy`` is false.

    With a policy file Chalice gives every function its own role, ``<app>-<stage>-<function>``,
    each with that file's policy (``chalice package`` lets CloudFormation name them instead).
    """
    return f"{app_name}-{stage}-{function}"


# The consumer function that creates DR keys and starts DR copies (its SNS handler,
# see consumer_app/app.py); its role is the one DR key policies name (keys.key_policy).
CONSUMER_KEY_USER_FUNCTION = "on_consumer_topic"


def _arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _logs_statement(partition: str, region: str, account: str, app_name: str, stage: str) -> dict[str, Any]:
    """Chalice names functions ``<app>-<stage>-<handler>``; their log groups are /aws/lambda/<function>."""
    group = _arn(partition, "logs", region, account, f"log-group:/aws/lambda/{app_name}-{stage}-*")
    return {
        "Sid": "WriteOwnFunctionLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [group, f"{group}:*"],
    }


def _job_table_statements(partition: str, region: str, account: str, table: str) -> list[dict[str, Any]]:
    table_arn = _arn(partition, "dynamodb", region, account, f"table/{table}")
    return [
        {
            # UpdateItem: the copy-slot counters (chalicelib_shared.slots) live in the same table.
            "Sid": "ReadAndWriteOwnJobRecordsAndCopySlots",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": table_arn,
        },
        {
            "Sid": "QueryOwnJobIndexesForDueJobsAndInventory",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{table_arn}/index/*",
        },
    ]


def _read_snapshots_statement() -> dict[str, Any]:
    """Read-only, and on "*": the sweep lists every snapshot of the account, and a poll round
    asks about all copies in flight in one filtered call; neither names one snapshot ARN."""
    return {
        "Sid": "ReadSnapshotsForTheSweepAndCopiesInFlight",
        "Effect": "Allow",
        "Action": ["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"],
        "Resource": "*",
    }


def _quota_statement() -> dict[str, Any]:
    """DescribeAccountAttributes has no resource type: AWS only accepts "*" for it."""
    return {
        "Sid": "WatchTheManualSnapshotQuota",
        "Effect": "Allow",
        "Action": "rds:DescribeAccountAttributes",
        "Resource": "*",
    }


def _snapshot_arns(partition: str, region: str, account: str, name: str) -> list[str]:
    """Instance and cluster snapshot ARNs for one name pattern."""
    return [
        _arn(partition, "rds", region, account, f"snapshot:{name}"),
        _arn(partition, "rds", region, account, f"cluster-snapshot:{name}"),
    ]


def producer_policy(
    *,
    partition: str,
    region: str,
    account: str,
    stage: str,
    dr_account: str,
    transit_key_arn: str,
    table: str = cfg.PRODUCER_TABLE,
) -> dict[str, Any]:
    """The producer Lambda role's policy in the production account ``account``."""
    transit = f"{TRANSIT_PREFIX}*"
    own_keys = _arn(partition, "kms", region, account, "key/*")
    dr_topic = _arn(partition, "sns", region, dr_account, cfg.CONSUMER_TOPIC)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _read_snapshots_statement(),
            _quota_statement(),
            {
                # The source may be any snapshot of the account, so the statement can't
                # tell source from target by ARN; the target is always draco-transit-*.
                "Sid": "CopyAnySnapshotOfThisAccountIntoATransitCopy",
                "Effect": "Allow",
                "Action": ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
                "Resource": _snapshot_arns(partition, region, account, "*"),
            },
            {
                "Sid": "TagTransitCopiesWhenCreated",
                "Effect": "Allow",
                "Action": "rds:AddTagsToResource",
                "Resource": _snapshot_arns(partition, region, account, transit),
            },
            {
                "Sid": "ShareOnlyTransitCopiesWithTheDrAccount",
                "Effect": "Allow",
                "Action": ["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"],
                "Resource": _snapshot_arns(partition, region, account, transit),
            },
            {
                "Sid": "DeleteOnlyTransitCopies",
                "Effect": "Allow",
                "Action": ["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"],
                "Resource": _snapshot_arns(partition, region, account, transit),
            },
            {
                "Sid": "RdsEncryptsTransitCopiesWithTheTransitKey",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": transit_key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "RdsReadsTheTransitKey",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": transit_key_arn,
            },
            {
                # Only for databases encrypted with a customer managed key of this account;
                # aws/rds's own key policy already lets RDS use it for the account.
                "Sid": "RdsDecryptsSourceSnapshotsEncryptedWithCustomerKeys",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": own_keys,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "RdsReadsSourceSnapshotKeys",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": own_keys,
                "Condition": {"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}},
            },
            {
                "Sid": "SendDracoMessagesToTheDrAccountOnly",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": dr_topic,
            },
            *_job_table_statements(partition, region, account, table),
            {
                "Sid": "SweepAsksWhichSnapshotsHaveJobsInBatches",
                "Effect": "Allow",
                "Action": "dynamodb:BatchGetItem",
                "Resource": _arn(partition, "dynamodb", region, account, f"table/{table}"),
            },
            _logs_statement(partition, region, account, PRODUCER_APP_NAME, stage),
        ],
    }


def consumer_policy(
    *,
    partition: str,
    region: str,
    account: str,
    stage: str,
    source_accounts: Sequence[str],
    table: str = cfg.CONSUMER_TABLE,
    producer_topic: str = cfg.PRODUCER_TOPIC,
) -> dict[str, Any]:
    """The consumer Lambda role's policy in the DR account ``account``."""
    sources = sorted(set(source_accounts))
    dr_copies = [arn for a in sources for arn in _snapshot_arns(partition, region, account, f"{DR_PREFIX}{a}-*")]
    transit_copies = [arn for a in sources for arn in _snapshot_arns(partition, region, a, f"{TRANSIT_PREFIX}*")]
    own_keys = _arn(partition, "kms", region, account, "key/*")
    source_keys = [_arn(partition, "kms", region, a, "key/*") for a in sources]
    draco_aliases = {"ForAnyValue:StringLike": {"kms:ResourceAliases": key_alias("*")}}
    statements: list[dict[str, Any]] = [
        _read_snapshots_statement(),
        _quota_statement(),
        {
            # CopyDB*Snapshot is authorised on both ARNs: the shared transit copy
            # (source account) and the new DR copy (this account).
            "Sid": "CopySharedTransitCopiesIntoDrCopies",
            "Effect": "Allow",
            "Action": ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
            "Resource": [*transit_copies, *dr_copies],
        },
        {
            "Sid": "TagDrCopiesWhenCreated",
            "Effect": "Allow",
            "Action": "rds:AddTagsToResource",
            "Resource": dr_copies,
        },
        {
            "Sid": "DeleteOnlyDrCopiesExpiredByTheirLifecycle",
            "Effect": "Allow",
            "Action": ["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"],
            "Resource": dr_copies,
        },
        {
            "Sid": "FindDrKeysByAlias",
            "Effect": "Allow",
            "Action": "kms:DescribeKey",
            "Resource": own_keys,
        },
        {
            "Sid": "CreateDrKeysTaggedWithTheirSource",
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {"Null": {f"aws:RequestTag/{SOURCE_NAME_TAG}": "false"}},
        },
        {
            "Sid": "TagNewDrKeysWithTheirSourceOnly",
            "Effect": "Allow",
            "Action": "kms:TagResource",
            "Resource": own_keys,
            "Condition": {
                "Null": {f"aws:RequestTag/{SOURCE_NAME_TAG}": "false"},
                "ForAllValues:StringEquals": {"aws:TagKeys": [SOURCE_NAME_TAG]},
            },
        },
        {
            "Sid": "TurnOnRotationOfNewDrKeys",
            "Effect": "Allow",
            "Action": "kms:EnableKeyRotation",
            "Resource": own_keys,
        },
        {
            "Sid": "NameNewDrKeysWithDracoAliases",
            "Effect": "Allow",
            "Action": "kms:CreateAlias",
            "Resource": [_arn(partition, "kms", region, account, key_alias("*")), own_keys],
        },
        {
            "Sid": "RdsEncryptsDrCopiesWithDracoKeysOnly",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": own_keys,
            "Condition": {**draco_aliases, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "RdsDecryptsSharedTransitCopiesOfSourceAccounts",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": source_keys,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "RdsReadsTransitKeysOfSourceAccounts",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:Decrypt"],
            "Resource": source_keys,
            "Condition": {"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}},
        },
        {
            "Sid": "AnswerEachSourceAccountOnItsProducerTopic",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": [_arn(partition, "sns", region, a, producer_topic) for a in sources],
        },
        *_job_table_statements(partition, region, account, table),
        _logs_statement(partition, region, account, CONSUMER_APP_NAME, stage),
        {
            "Sid": "NeverDestroyOrRepointKeys",
            "Effect": "Deny",
            "Action": _KEY_DESTRUCTION,
            "Resource": "*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


# --------------------------------------------------------------------------- shared steps


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _topic_steps(acct: _Account, name: str, publishers: Sequence[str]) -> list[Step]:
    """The topic and its policy; a new topic always gets our policy in place of SNS's default."""
    sns = acct.client("sns")
    arn = acct.arn("sns", name)
    wanted = _topic_policy(acct, arn, publishers)
    steps: list[Step] = []
    try:
        current = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
    except ClientError as err:
        if _error_code(err) != "NotFound":
            raise
        current = None
        steps.append(Step(f"create SNS topic {name}", lambda: sns.create_topic(Name=name)))
    if not _same_policy(current, wanted):
        who = ", ".join([*publishers, "RDS"])
        steps.append(
            Step(
                f"set topic policy of {name} (allow publish from {who})",
                lambda: sns.set_topic_attributes(
                    TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(wanted)
                ),
                wanted,
            )
        )
    return steps


def _subscription_steps(acct: _Account, app: str, topic: str, source_types: Sequence[str]) -> list[Step]:
    """One RDS event subscription per source type, all events of all sources, to ``topic``.

    Event categories are not compared: the subscriptions are created without any (all
    categories) and DRACO filters event ids itself. A subscription limited to some
    sources can't be widened by ModifyEventSubscription, so that is an error.
    """
    rds = acct.client("rds")
    topic_arn = acct.arn("sns", topic)
    pages = rds.get_paginator("describe_event_subscriptions").paginate()
    existing = {s["CustSubscriptionId"]: s for page in pages for s in page["EventSubscriptionsList"]}
    steps: list[Step] = []
    for source_type in source_types:
        name = f"{app}-{source_type}"
        wanted = {"SnsTopicArn": topic_arn, "SourceType": source_type, "Enabled": True}
        found = existing.get(name)
        if found is None:
            steps.append(
                Step(
                    f"create RDS event subscription {name} ({source_type} events to {topic})",
                    lambda name=name, wanted=wanted: rds.create_event_subscription(SubscriptionName=name, **wanted),
                )
            )
            continue
        if found.get("SourceIdsList"):
            raise BootstrapError(
                f"RDS event subscription {name} only covers {', '.join(found['SourceIdsList'])}; "
                f"delete it (aws rds delete-event-subscription --subscription-name {name}) and run bootstrap again"
            )
        differs = [k for k, v in wanted.items() if found.get(k) != v]
        if differs:
            steps.append(
                Step(
                    f"update RDS event subscription {name} ({', '.join(differs)})",
                    lambda name=name, wanted=wanted: rds.modify_event_subscription(SubscriptionName=name, **wanted),
                )
            )
    return steps


def _table_steps(acct: _Account, name: str) -> list[Step]:
    """The app's job table, from ``table_definition``; one with other keys or indexes is an error."""
    dynamodb = acct.client("dynamodb")
    wanted = table_definition(name)
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as err:
        if _error_code(err) != "ResourceNotFoundException":
            raise
        indexes = ", ".join(i["IndexName"] for i in wanted["GlobalSecondaryIndexes"])

        def create() -> None:
            dynamodb.create_table(**wanted)
            dynamodb.get_waiter("table_exists").wait(TableName=name)

        return [Step(f"create DynamoDB table {name} (on-demand, indexes {indexes})", create)]
    have = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
    want = {i["IndexName"]: i["KeySchema"] for i in wanted["GlobalSecondaryIndexes"]}
    if table["KeySchema"] != wanted["KeySchema"] or any(have.get(k) != v for k, v in want.items()):
        raise BootstrapError(
            f"DynamoDB table {name} exists with other keys or indexes than DRACO's; "
            f"delete or rename it (it holds only job records) and run bootstrap again"
        )
    return []


def _transit_key_steps(acct: _Account, dr_account: str) -> list[Step]:
    """The transit key behind TRANSIT_KEY_ALIAS: created with its policy and rotation, or brought in line.

    The alias is how a rerun finds the key, so it is made last in the same step; a run
    killed between CreateKey and CreateAlias leaves an unnamed key behind (costs a month
    of key storage until scheduled for deletion) and the next run makes a new one.
    """
    kms = acct.client("kms")
    alias = cfg.TRANSIT_KEY_ALIAS
    wanted = _transit_key_policy(acct, dr_account)
    key_id = _alias_target(kms, alias)
    if key_id is None:

        def create() -> None:
            key = kms.create_key(
                Policy=json.dumps(wanted),
                Description=_TRANSIT_KEY_DESCRIPTION,
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
            )["KeyMetadata"]
            kms.enable_key_rotation(KeyId=key["KeyId"])
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])

        return [Step(f"create KMS key {alias} (rotation on, DR account {dr_account} may decrypt)", create, wanted)]
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    if state != "Enabled":
        raise BootstrapError(
            f"KMS key {alias} ({key_id}) is {state}; enable it (or cancel its deletion) and run bootstrap again"
        )
    steps: list[Step] = []
    if not _same_policy(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"], wanted):
        steps.append(
            Step(
                f"update key policy of {alias} (DR account {dr_account} may decrypt)",
                lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(wanted)),
                wanted,
            )
        )
    if not kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]:
        steps.append(Step(f"enable rotation of KMS key {alias}", lambda: kms.enable_key_rotation(KeyId=key_id)))
    return steps


def _alias_target(kms: Any, alias: str) -> str | None:
    """The key id behind ``alias``, or None; ListAliases pages at 50, so read every page."""
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias:
                return entry.get("TargetKeyId")
    return None


# --------------------------------------------------------------------------- alarms
#
# CloudWatch alarms on the apps' metrics (chalicelib_shared.metrics: namespace DRACO,
# one dimension service=draco, emitted in embedded metric format) and on the pollers'
# Lambda errors, all notifying the SNS topic DracoAlerts (optionally with an e-mail
# subscription). Alarm names carry the app and stage; the metrics carry no stage, so
# two stages in one account share them.

ALERT_TOPIC = "DracoAlerts"
METRIC_NAMESPACE = "DRACO"
METRIC_DIMENSIONS = ({"Name": "service", "Value": "draco"},)
DEFAULT_RPO_HOURS = 26.0
QUOTA_ALARM_PERCENT = 80.0
POLLER_FUNCTION = "poll_jobs"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The fields of DescribeAlarms that put_metric_alarm sets, compared to find a changed alarm.
_ALARM_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


@dataclass(frozen=True)
class Alarms:
    """What bootstrap should set up for alerting: an e-mail to subscribe and the RPO threshold."""

    email: str = ""
    rpo_hours: float = DEFAULT_RPO_HOURS


def alarm_name(app_name: str, stage: str, what: str) -> str:
    return f"{app_name}-{stage}-{what}"


def alarm_definitions(*, app_name: str, stage: str, topic_arn: str, rpo_hours: float | None) -> list[dict[str, Any]]:
    """``put_metric_alarm`` arguments for one app; ``rpo_hours`` None leaves out the RPO alarm (production).

    * ``RecoveryPointAgeHours`` (DR only): Maximum per hour over the threshold in 2 of 2 hours;
      missing data counts as breaching, so a DR poller that stops reporting alarms too.
    * ``JobsFailed``: Sum over 5 minutes > 0 (any job that gave up).
    * ``SnapshotQuotaUsedPercent``: Maximum per hour > 80.
    * AWS/Lambda ``Errors`` of ``<app>-<stage>-poll_jobs``: errors in 3 consecutive 5-minute periods.
    """
    metric = {"Namespace": METRIC_NAMESPACE, "Dimensions": [dict(d) for d in METRIC_DIMENSIONS]}
    common = {"ActionsEnabled": True, "AlarmActions": [topic_arn], "OKActions": [topic_arn]}
    alarms: list[dict[str, Any]] = []
    if rpo_hours is not None:
        alarms.append(
            {
                "AlarmName": alarm_name(app_name, stage, "RecoveryPointAge"),
                "AlarmDescription": f"DRACO: a source's newest DR copy is older than {rpo_hours:g} h, or the DR "
                "poller stopped reporting. Run python -m draco status.",
                "MetricName": "RecoveryPointAgeHours",
                "Statistic": "Maximum",
                "Period": 3600,
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": float(rpo_hours),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "breaching",
                **metric,
            }
        )
    alarms += [
        {
            "AlarmName": alarm_name(app_name, stage, "JobsFailed"),
            "AlarmDescription": "DRACO: a copy job gave up. Run python -m draco jobs --failed, fix the cause, "
            "then python -m draco retry.",
            "MetricName": "JobsFailed",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(app_name, stage, "SnapshotQuota"),
            "AlarmDescription": f"DRACO: over {QUOTA_ALARM_PERCENT:g} % of the manual snapshot quota is used. "
            "Shorten a lifecycle, set NO_DRY_RUN, or ask AWS for a higher quota.",
            "MetricName": "SnapshotQuotaUsedPercent",
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": QUOTA_ALARM_PERCENT,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **metric,
        },
        {
            "AlarmName": alarm_name(app_name, stage, "PollerErrors"),
            "AlarmDescription": "DRACO: the job poller fails run after run. Read its log group "
            f"/aws/lambda/{lambda_role_name(app_name, stage, POLLER_FUNCTION)}.",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": lambda_role_name(app_name, stage, POLLER_FUNCTION)}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    ]
    return [{**alarm, **common} for alarm in alarms]


def _alarm_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    def norm(name: str, value: Any) -> Any:
        if name == "Dimensions":
            return sorted((d["Name"], d["Value"]) for d in value or [])
        if name in ("AlarmActions", "OKActions"):
            return sorted(value or [])
        if name == "Threshold":
            return float(value)
        if name == "DatapointsToAlarm" and value is None:
            return current.get("EvaluationPeriods")
        return value

    return [f for f in _ALARM_FIELDS if norm(f, current.get(f)) != norm(f, wanted.get(f))]


def _alert_steps(acct: _Account, app_name: str, stage: str, alarms: Alarms, *, rpo: bool) -> list[Step]:
    """The DracoAlerts topic, its e-mail subscription, and the app's alarms."""
    if alarms.email and not _EMAIL.fullmatch(alarms.email):
        raise ValueError(f"--alert-email {alarms.email!r} is not an e-mail address")
    if rpo and not 0 < alarms.rpo_hours <= 24 * 366:
        raise ValueError(f"--rpo-hours {alarms.rpo_hours:g} must be more than 0 and at most a year")
    sns, cloudwatch = acct.client("sns"), acct.client("cloudwatch")
    topic_arn = acct.arn("sns", ALERT_TOPIC)
    steps: list[Step] = []
    try:
        sns.get_topic_attributes(TopicArn=topic_arn)
        exists = True
    except ClientError as err:
        if _error_code(err) != "NotFound":
            raise
        exists = False
        steps.append(
            Step(f"create SNS topic {ALERT_TOPIC} (alarm notifications)", lambda: sns.create_topic(Name=ALERT_TOPIC))
        )
    if alarms.email:
        subscribed = False
        if exists:
            pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            subscribed = any(
                s["Protocol"] == "email" and s["Endpoint"].lower() == alarms.email.lower()
                for page in pages
                for s in page["Subscriptions"]
            )
        if not subscribed:
            steps.append(
                Step(
                    f"subscribe {alarms.email} to {ALERT_TOPIC} (AWS e-mails a confirmation link)",
                    lambda: sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=alarms.email),
                )
            )
    wanted = alarm_definitions(
        app_name=app_name, stage=stage, topic_arn=topic_arn, rpo_hours=alarms.rpo_hours if rpo else None
    )
    names = [alarm["AlarmName"] for alarm in wanted]
    current = {
        alarm["AlarmName"]: alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names, AlarmTypes=["MetricAlarm"])
        for alarm in page["MetricAlarms"]
    }
    for alarm in wanted:
        what = f"{alarm['Namespace']} {alarm['MetricName']} {alarm['Statistic']} > {alarm['Threshold']:g}"
        found = current.get(alarm["AlarmName"])
        if found is None:
            description = f"create CloudWatch alarm {alarm['AlarmName']} ({what})"
        else:
            differs = _alarm_differences(found, alarm)
            if not differs:
                continue
            description = f"update CloudWatch alarm {alarm['AlarmName']} ({what}; was different: {', '.join(differs)})"
        steps.append(Step(description, lambda alarm=alarm: cloudwatch.put_metric_alarm(**alarm), alarm))
    return steps


# --------------------------------------------------------------------------- producer


# Stands for the transit key's ARN in a --dry-run before the key exists.
NEW_TRANSIT_KEY = "key/<new transit key>"


def _producer_env(
    acct: _Account, dr_account: str, tag_key: str, tag_value: str, *, preview: bool = False
) -> dict[str, str]:
    """The producer Lambda's environment; reads the transit key's ARN, so call it after applying.

    With ``preview`` (a dry run) a key that doesn't exist yet is shown as ``NEW_TRANSIT_KEY``.
    """
    key_id = _alias_target(acct.client("kms"), cfg.TRANSIT_KEY_ALIAS) if preview else cfg.TRANSIT_KEY_ALIAS
    if key_id is None:
        key_arn = acct.arn("kms", NEW_TRANSIT_KEY)
    else:
        key_arn = acct.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return {
        cfg.DR_ACCT: dr_account,
        cfg.DR_TOPIC_ARN: acct.arn("sns", cfg.CONSUMER_TOPIC, account=dr_account),
        cfg.TRANSIT_KEY_ARN: key_arn,
        cfg.TAG_KEY: tag_key,
        cfg.TAG_VALUE: tag_value,
        cfg.JOB_TABLE: cfg.PRODUCER_TABLE,
    }


def prepare_producer(
    session: boto3.Session,
    dr_account: str,
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    alarms: Alarms | None = None,
) -> Bootstrap:
    """Validate, read the production account, and plan; changes nothing.

    With ``alarms``, also the DracoAlerts topic and the producer's alarms (failed jobs,
    snapshot quota, poller errors; the RPO alarm lives in the DR account).
    """
    _validate(session, [dr_account], stage, tag_key, tag_value)
    acct = _connect(session, [dr_account])
    plan = [
        *_topic_steps(acct, cfg.PRODUCER_TOPIC, [dr_account]),
        *_subscription_steps(acct, PRODUCER_APP_NAME, cfg.PRODUCER_TOPIC, ["db-snapshot", "db-cluster-snapshot"]),
        *_transit_key_steps(acct, dr_account),
        *_table_steps(acct, cfg.PRODUCER_TABLE),
        *(_alert_steps(acct, PRODUCER_APP_NAME, stage, alarms, rpo=False) if alarms else []),
    ]
    return Bootstrap(
        acct.account,
        acct.region,
        plan,
        lambda: _producer_env(acct, dr_account, tag_key, tag_value),
        policy=lambda env: producer_policy(
            partition=acct.partition,
            region=acct.region,
            account=acct.account,
            stage=stage,
            dr_account=dr_account,
            transit_key_arn=env[cfg.TRANSIT_KEY_ARN],
            table=env[cfg.JOB_TABLE],
        ),
        preview_env=lambda: _producer_env(acct, dr_account, tag_key, tag_value, preview=True),
    )


def plan_producer(session: boto3.Session, dr_account: str, **options: Any) -> list[Step]:
    """What ``producer`` (same arguments) would change in this account; empty once it is bootstrapped."""
    return prepare_producer(session, dr_account, **options).plan


def producer(
    session: boto3.Session,
    dr_account: str,
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    alarms: Alarms | None = None,
) -> dict[str, str]:
    """Bootstrap the production account for ``dr_account``; returns the producer's Lambda environment."""
    boot = prepare_producer(session, dr_account, stage=stage, tag_key=tag_key, tag_value=tag_value, alarms=alarms)
    apply(boot.plan)
    return boot.env()


# --------------------------------------------------------------------------- consumer


def prepare_consumer(
    session: boto3.Session,
    source_accounts: Sequence[str],
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    default_lifecycle: str = "",
    custom_lifecycles: str = "",
    no_dry_run: bool = False,
    alarms: Alarms | None = None,
) -> Bootstrap:
    """Validate, read the DR account, and plan; changes nothing.

    With ``alarms``, also the DracoAlerts topic and the consumer's alarms (RPO, failed
    jobs, snapshot quota, poller errors).

    The lifecycle settings are checked by the consumer's own config reader (with the
    role left out, as it needs the account id), so bootstrap and the Lambda agree.
    """
    sources = sorted(set(source_accounts))
    _validate(session, sources, stage, tag_key, tag_value)
    env = {
        cfg.SOURCE_ACCTS: ",".join(sources),
        cfg.TAG_KEY: tag_key,
        cfg.TAG_VALUE: tag_value,
        cfg.NO_DRY_RUN: "1" if no_dry_run else "",
        cfg.DEFAULT_LIFECYCLE: default_lifecycle,
        cfg.CUSTOM_LIFECYCLES: custom_lifecycles,
        cfg.JOB_TABLE: cfg.CONSUMER_TABLE,
        cfg.PRODUCER_TOPIC_NAME: cfg.PRODUCER_TOPIC,
    }
    problems = cfg.ConsumerConfig.from_env(env).problems
    if problems:
        raise ValueError("; ".join(problems))
    acct = _connect(session, sources)
    role_name = lambda_role_name(CONSUMER_APP_NAME, stage, CONSUMER_KEY_USER_FUNCTION)
    role = f"arn:{acct.partition}:iam::{acct.account}:role/{role_name}"
    plan = [
        *_topic_steps(acct, cfg.CONSUMER_TOPIC, sources),
        # DR-side copy-finished events (RDS-EVENT-0197); DB cluster copies have none, they are polled.
        *_subscription_steps(acct, CONSUMER_APP_NAME, cfg.CONSUMER_TOPIC, ["db-snapshot"]),
        *_table_steps(acct, cfg.CONSUMER_TABLE),
        *(_alert_steps(acct, CONSUMER_APP_NAME, stage, alarms, rpo=True) if alarms else []),
    ]
    full_env = {**env, cfg.CONSUMER_ROLE_ARN: role}
    return Bootstrap(
        acct.account,
        acct.region,
        plan,
        lambda: dict(full_env),
        policy=lambda env: consumer_policy(
            partition=acct.partition,
            region=acct.region,
            account=acct.account,
            stage=stage,
            source_accounts=sources,
            table=env[cfg.JOB_TABLE],
            producer_topic=env[cfg.PRODUCER_TOPIC_NAME],
        ),
        preview_env=lambda: dict(full_env),
    )


def plan_consumer(session: boto3.Session, source_accounts: Sequence[str], **options: Any) -> list[Step]:
    """What ``consumer`` (same arguments) would change in this account; empty once it is bootstrapped."""
    return prepare_consumer(session, source_accounts, **options).plan


def consumer(
    session: boto3.Session,
    source_accounts: Sequence[str],
    *,
    stage: str = "dev",
    tag_key: str = DEFAULT_TAG_KEY,
    tag_value: str = DEFAULT_TAG_VALUE,
    default_lifecycle: str = "",
    custom_lifecycles: str = "",
    no_dry_run: bool = False,
    alarms: Alarms | None = None,
) -> dict[str, str]:
    """Bootstrap the DR account for ``source_accounts``; returns the consumer's Lambda environment.

    Per-source DR keys are not made here: the consumer creates each on first use.
    """
    boot = prepare_consumer(
        session,
        source_accounts,
        stage=stage,
        tag_key=tag_key,
        tag_value=tag_value,
        default_lifecycle=default_lifecycle,
        custom_lifecycles=custom_lifecycles,
        no_dry_run=no_dry_run,
        alarms=alarms,
    )
    apply(boot.plan)
    return boot.env()


# --------------------------------------------------------------------------- chalice config


def policy_file_name(stage: str) -> str:
    """The stage's IAM policy file, in the app's ``.chalice`` folder."""
    return f"policy-{stage}.json"


def write_stage_config(
    app_dir: Path, stage: str, env: Mapping[str, str], policy: Mapping[str, Any] | None = None
) -> None:
    """Merge ``env`` into ``stages.<stage>.environment_variables`` of the app's ``.chalice/config.json``.

    With ``policy``, also write it to ``.chalice/policy-<stage>.json`` and set the stage's
    ``autogen_policy: false`` and ``iam_policy_file``, so ``chalice deploy``/``package`` give
    the Lambda role exactly that policy. Every other key and stage is kept; each file is
    replaced atomically and only when it changes, with a stable layout (indent 2,
    trailing newline) so diffs stay small. The policy file is written first: a config
    that names it never points at a missing file.
    """
    chalice_dir = Path(app_dir) / ".chalice"
    path = chalice_dir / "config.json"
    config = json.loads(path.read_text())
    stage_config = config.setdefault("stages", {}).setdefault(stage, {})
    stage_config.setdefault("environment_variables", {}).update(env)
    if policy is not None:
        _write_if_changed(chalice_dir / policy_file_name(stage), json.dumps(policy, indent=2) + "\n")
        stage_config["autogen_policy"] = False
        stage_config["iam_policy_file"] = policy_file_name(stage)
    _write_if_changed(path, json.dumps(config, indent=2) + "\n")


def _write_if_changed(path: Path, text: str) -> bool:
    """Replace ``path`` atomically with ``text``; ``False`` when it already says that."""
    if path.is_file() and path.read_text() == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return True


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``bootstrap producer`` and ``bootstrap consumer`` to the operator's CLI."""
    parser = subparsers.add_parser("bootstrap", help="create the topics, key and tables an account needs")
    kinds = parser.add_subparsers(dest="account_kind", required=True, metavar="ACCOUNT")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--profile", help="AWS profile of the account to bootstrap")
        sub.add_argument("--region", help="AWS region (default: the profile's)")
        sub.add_argument("--stage", default="dev", help="Chalice stage to write (default: dev)")
        sub.add_argument(
            "--tag-key", default=DEFAULT_TAG_KEY, help=f"snapshot tag to copy (default: {DEFAULT_TAG_KEY})"
        )
        sub.add_argument("--tag-value", default=DEFAULT_TAG_VALUE, help=f"its value (default: {DEFAULT_TAG_VALUE})")
        sub.add_argument("--dry-run", action="store_true", help="show the plan and policies; change nothing")
        sub.add_argument("--alert-email", default="", help=f"subscribe this address to the {ALERT_TOPIC} topic")

    prod = kinds.add_parser("producer", help="bootstrap the production account")
    prod.add_argument("--dr-account", required=True, help="the DR account's 12-digit id")
    prod.add_argument(
        "--alarms",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also create the production alarms (failed jobs, quota, poller errors); on with --alert-email",
    )
    common(prod)
    prod.set_defaults(func=_run_producer)

    cons = kinds.add_parser("consumer", help="bootstrap the DR account")
    cons.add_argument("--source-accounts", required=True, help="production account ids, comma-separated")
    cons.add_argument("--default-lifecycle", default="", help="lifecycle for sources without a Draco_Lifecycle tag")
    cons.add_argument("--custom-lifecycles", default="", help="extra lifecycles, as JSON")
    cons.add_argument("--no-dry-run", action="store_true", help="let the consumer really delete expired DR copies")
    cons.add_argument(
        "--alarms",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"create the DR alarms on the {ALERT_TOPIC} topic (RPO, failed jobs, quota, poller errors; default on)",
    )
    cons.add_argument(
        "--rpo-hours",
        type=float,
        default=DEFAULT_RPO_HOURS,
        help=f"RPO alarm threshold: a source's newest DR copy older than this (default {DEFAULT_RPO_HOURS:g})",
    )
    common(cons)
    cons.set_defaults(func=_run_consumer)


def _run_producer(args: argparse.Namespace) -> int:
    return _run(
        args,
        PRODUCER_APP_DIR,
        lambda session: prepare_producer(
            session,
            args.dr_account,
            stage=args.stage,
            tag_key=args.tag_key,
            tag_value=args.tag_value,
            alarms=Alarms(email=args.alert_email) if args.alarms or args.alert_email else None,
        ),
    )


def _run_consumer(args: argparse.Namespace) -> int:
    return _run(
        args,
        CONSUMER_APP_DIR,
        lambda session: prepare_consumer(
            session,
            [a.strip() for a in args.source_accounts.split(",") if a.strip()],
            stage=args.stage,
            tag_key=args.tag_key,
            tag_value=args.tag_value,
            default_lifecycle=args.default_lifecycle,
            custom_lifecycles=args.custom_lifecycles,
            no_dry_run=args.no_dry_run,
            alarms=Alarms(email=args.alert_email, rpo_hours=args.rpo_hours) if args.alarms else None,
        ),
    )


def _run(args: argparse.Namespace, app_dir: Path, prepare: Callable[[boto3.Session], Bootstrap]) -> int:
    """Plan, show, apply, write the stage config; every expected failure is one line and exit code 2."""
    config_path = app_dir / ".chalice" / "config.json"
    try:
        if not config_path.is_file():
            raise BootstrapError(f"{config_path} not found: run from a complete DRACO checkout")
        boot = prepare(boto3.Session(profile_name=args.profile, region_name=args.region))
        _print_plan(boot, show_documents=args.dry_run)
        if args.dry_run:
            _print_stage_preview(boot, app_dir, args.stage)
            print("dry run: nothing changed")
            return 0
        apply(boot.plan)
        env = boot.env()
        policy = boot.policy(env) if boot.policy else None
        write_stage_config(app_dir, args.stage, env, policy)
    except (ValueError, BootstrapError) as err:
        return _fail(str(err))
    except NoCredentialsError:
        return _fail("no AWS credentials found: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID")
    except ClientError as err:
        error = err.response.get("Error", {})
        return _fail(
            f"AWS refused {err.operation_name}: {error.get('Code')}: {error.get('Message')} "
            f"(check the credentials' permissions and run bootstrap again; it resumes where it stopped)"
        )
    except BotoCoreError as err:
        return _fail(f"AWS error: {err} (check --profile, --region and the network, then run again)")
    except OSError as err:
        return _fail(f"cannot write {config_path}: {err}")
    print(f"wrote stages.{args.stage}.environment_variables in {config_path}:")
    for name, value in env.items():
        print(f"  {name}={value}")
    if policy is not None:
        print(f"wrote the Lambda role's IAM policy to {config_path.parent / policy_file_name(args.stage)}")
    return 0


def _print_stage_preview(boot: Bootstrap, app_dir: Path, stage: str) -> None:
    """What a real run would write into the Chalice project: the stage environment and the role's policy."""
    if boot.preview_env is None:
        return
    env = boot.preview_env()
    config_path = app_dir / ".chalice" / "config.json"
    print(f"\nwould write stages.{stage}.environment_variables in {config_path}:")
    for name, value in env.items():
        print(f"  {name}={value}")
    if boot.policy is None:
        return
    policy_path = config_path.parent / policy_file_name(stage)
    text = json.dumps(boot.policy(env), indent=2) + "\n"
    if not policy_path.is_file():
        state = "new file"
    elif policy_path.read_text() == text:
        state = "unchanged"
    else:
        state = "changed"
    print(f"\nwould write the Lambda role's IAM policy to {policy_path} ({state}):\n{text}", end="")


def _print_plan(boot: Bootstrap, *, show_documents: bool) -> None:
    if not boot.plan:
        print(f"account {boot.account} in {boot.region}: nothing to change")
        return
    print(f"account {boot.account} in {boot.region}: {len(boot.plan)} step(s)")
    for step in boot.plan:
        print(f"  - {step}")
    if show_documents:
        for step in boot.plan:
            if step.document is not None:
                print(f"\n{step}:\n{json.dumps(step.document, indent=2)}")


def _fail(message: str) -> int:
    print(f"bootstrap: {message}", file=sys.stderr)
    return 2
