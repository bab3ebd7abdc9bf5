"""The drill role ``draco-drill-<stage>``: what the scheduled restore drill (``run_drills``) may do in DR.

A role of its own, so that what drills may do is not what the consumer may do:

* **restore only DRACO's DR copies** (``draco-<source account>-*`` DB and cluster
  snapshots; EBS snapshots carrying DR's ``TAG_KEY``), and only into resources
  named ``draco-drill-*`` that carry ``Draco_Drill`` from the call that makes them;
* **delete only what carries ``Draco_Drill``** (DB instances, clusters, volumes),
  never a snapshot: no delete, copy, share or attribute action on any snapshot is
  allowed, and an explicit Deny stands in front of deleting or modifying
  snapshots and of disabling, deleting or re-pointing keys;
* use DR's keys only through RDS and EC2 (a restore reads the copy under its key
  and grants RDS or EBS the use of it; the DR keys' policies let the account's
  IAM policies decide), never administer them;
* write only drill records and locks in the consumer's job table (their keys
  start ``#drill``), read the rest; invoke only the validator named.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.kinds.restoring import DRILL_TAG
from chalicelib_shared.naming import DR_PREFIX
from draco.bootstrap.drill_alarms import drill_alarm_definitions
from draco.bootstrap.models import Alarm, Role, Stack
from draco.bootstrap.names import (
    ALERT_TOPIC,
    DR_KEY_ALIAS_PREFIX,
    DRILL_FUNCTION,
    Account,
    function_name,
    schedule_rule_name,
)
from draco.bootstrap.options import ConsumerOptions
from draco.bootstrap.policies import document, lambda_trust, via

DRILL_RESOURCE = "draco-drill-*"
_TAGGED_AT_CREATION = {"Null": {f"aws:RequestTag/{DRILL_TAG}": "false"}}
_CARRIES_DRILL_TAG = {"Null": {f"aws:ResourceTag/{DRILL_TAG}": "false"}}
#: Never, whatever else allows it: the DR copies and the keys stay as they are.
PROTECTED_ACTIONS = [
    "rds:DeleteDBSnapshot",
    "rds:DeleteDBClusterSnapshot",
    "rds:ModifyDBSnapshot",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
    "rds:RemoveTagsFromResource",
    "ec2:DeleteSnapshot",
    "ec2:ModifySnapshotAttribute",
    "ec2:DeleteTags",
    "ec2:LockSnapshot",
    "ec2:UnlockSnapshot",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:PutKeyPolicy",
    "kms:DisableKeyRotation",
    "kms:DeleteImportedKeyMaterial",
]


def drill_role_name(stage: str) -> str:
    return f"draco-drill-{stage}"


def drill_role_arn(acct: Account, stage: str) -> str:
    return f"arn:{acct.partition}:iam::{acct.account}:role/{drill_role_name(stage)}"


def drill_role_policy(opts: ConsumerOptions, acct: Account, table: str, validator: str = "") -> dict[str, Any]:
    """The drill role's policy in the DR account (``validator``: the function drills invoke, if any)."""
    rds = lambda resource: acct.arn("rds", resource)  # noqa: E731
    db, cluster = rds(f"db:{DRILL_RESOURCE}"), rds(f"cluster:{DRILL_RESOURCE}")
    settings = [rds("og:*"), rds("pg:*"), rds("cluster-pg:*"), rds("subgrp:*"), rds("secgrp:*")]
    # DR's own copies of any source account: the policy doesn't grow with the accounts (``trust``).
    db_copies = [rds(f"snapshot:{DR_PREFIX}*-*")]
    cluster_copies = [rds(f"cluster-snapshot:{DR_PREFIX}*-*")]
    volumes = acct.arn("ec2", "volume/*")
    table_arn = acct.arn("dynamodb", f"table/{table}")
    log_group = acct.arn("logs", f"log-group:/aws/lambda/{function_name(opts.side, opts.stage, DRILL_FUNCTION)}")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadCopiesAndDrillResources",
            "Effect": "Allow",
            "Action": [
                "rds:DescribeDBSnapshots",
                "rds:DescribeDBClusterSnapshots",
                "rds:DescribeDBInstances",
                "rds:DescribeDBClusters",
                "ec2:DescribeSnapshots",
                "ec2:DescribeVolumes",
                "ec2:DescribeAvailabilityZones",
            ],  # fmt: skip
            "Resource": "*",
        },
        {
            "Sid": "RestoreDrDbSnapshotsIntoDrillInstances",
            "Effect": "Allow",
            "Action": "rds:RestoreDBInstanceFromDBSnapshot",
            "Resource": [*db_copies, db, *settings],
            "Condition": _TAGGED_AT_CREATION,
        },
        {
            "Sid": "RestoreDrClusterSnapshotsIntoDrillClusters",
            "Effect": "Allow",
            "Action": ["rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"],
            "Resource": [*cluster_copies, cluster, db, *settings],
            "Condition": _TAGGED_AT_CREATION,
        },
        {
            "Sid": "TagDrillResourcesWhenCreated",
            "Effect": "Allow",
            "Action": "rds:AddTagsToResource",
            "Resource": [db, cluster],
            "Condition": _TAGGED_AT_CREATION,
        },
        {
            "Sid": "DeleteOnlyWhatCarriesDracoDrill",
            "Effect": "Allow",
            "Action": ["rds:DeleteDBInstance", "rds:DeleteDBCluster"],
            "Resource": [db, cluster],
            "Condition": _CARRIES_DRILL_TAG,
        },
        {
            "Sid": "CreateVolumesFromDrCopies",
            "Effect": "Allow",
            "Action": "ec2:CreateVolume",
            "Resource": f"arn:{acct.partition}:ec2:{acct.region}::snapshot/*",
            "Condition": {"StringEquals": {f"ec2:ResourceTag/{opts.tag_key}": opts.tag_value}},
        },
        {
            "Sid": "CreateOnlyDrillVolumes",
            "Effect": "Allow",
            "Action": "ec2:CreateVolume",
            "Resource": volumes,
            "Condition": _TAGGED_AT_CREATION,
        },
        {
            "Sid": "TagDrillVolumesWhenCreated",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": volumes,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVolume"}},
        },
        {
            "Sid": "DeleteOnlyDrillVolumes",
            "Effect": "Allow",
            "Action": "ec2:DeleteVolume",
            "Resource": volumes,
            "Condition": _CARRIES_DRILL_TAG,
        },
        {
            "Sid": "UseDrKeysOnlyThroughRestores",
            "Effect": "Allow",
            "Action": [
                "kms:DescribeKey",
                "kms:Decrypt",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ReEncrypt*",
                "kms:CreateGrant",
            ],  # fmt: skip
            "Resource": acct.arn("kms", "key/*"),
            "Condition": {
                "StringEquals": {"kms:ViaService": via(("rds", "ec2"), acct.region)},
                "ForAnyValue:StringLike": {"kms:ResourceAliases": f"{DR_KEY_ALIAS_PREFIX}*"},
            },
        },
        {
            "Sid": "ReadTheJobTable",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [table_arn, f"{table_arn}/index/*"],
        },
        {
            "Sid": "WriteOnlyDrillRecordsAndLocks",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
            "Resource": table_arn,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["#drill#*", "#drilling#*"]}},
        },
        {
            "Sid": "WriteOwnFunctionLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group, f"{log_group}:*"],
        },
        {
            "Sid": "RestOwnScheduleWhileDrillsAreOff",
            "Effect": "Allow",
            "Action": "events:DisableRule",
            "Resource": acct.arn("events", f"rule/{schedule_rule_name(opts.side, opts.stage, DRILL_FUNCTION)}"),
        },
        {
            "Sid": "NeverTouchDrCopiesOrKeys",
            "Effect": "Deny",
            "Action": PROTECTED_ACTIONS,
            "Resource": "*",
        },
    ]
    if validator:
        name = validator if validator.startswith("arn:") else acct.arn("lambda", f"function:{validator}")
        statements.insert(-1, {"Sid": "InvokeTheValidator", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                               "Resource": name})  # fmt: skip
    return document(statements)


def drill_role(opts: ConsumerOptions, acct: Account) -> Role:
    """The drill role as bootstrap makes it, trusted by Lambda, for the consumer's ``run_drills`` only."""
    settings = DrillSettings.from_env(dict(opts.drill_settings))
    return Role(
        drill_role_name(opts.stage),
        drill_role_arn(acct, opts.stage),
        lambda_trust(),
        drill_role_policy(opts, acct, opts.table, settings.validator),
        f"the consumer's restore drills ({DRILL_FUNCTION}) of stage {opts.stage}",
    )


def with_drills(stack: Stack, opts: ConsumerOptions, acct: Account) -> Stack:
    """The consumer's stack with the drill role (run_drills runs as it) and the drill alarms."""
    role = drill_role(opts, acct)
    added: list[Any] = [role]
    if opts.alarms is not None:
        rto = DrillSettings.from_env(dict(opts.drill_settings)).rto_target
        added += [Alarm(d) for d in drill_alarm_definitions(opts.side, opts.stage, acct.arn("sns", ALERT_TOPIC), rto)]
    deployment = replace(stack.deployment, function_roles={DRILL_FUNCTION: role.arn})
    return replace(stack, resources=(*stack.resources, *added), deployment=deployment)
