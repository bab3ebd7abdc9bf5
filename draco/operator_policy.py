"""``draco operator-policy [COMMAND ...]``: the IAM policy a person needs to run DRACO's commands.

One identity policy per command (``bootstrap``, ``remove``, ``status``, ``approve``),
to attach to the role or user that runs it, in the account it runs against
(bootstrap and remove in both accounts; status and approve in DR). Each names
every call the command makes, to DRACO's resources by their names where IAM lets
a policy name them (topics, queues and tables ``Draco*``, roles, rules, alarms and event
subscriptions ``draco-*``, key aliases ``alias/DRACO*``), else ``*`` (creating a
key, reading snapshots). ``tests/test_operator_policy.py`` runs each command in
the local AWS and checks every call it made against its policy, and that each
fits a managed policy (6,144 characters). ``chalice deploy`` needs its own
(Lambda, and ``iam:PassRole`` for the roles bootstrap makes): see Chalice's docs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

_ANY = "*"
_TOPICS = "arn:aws:sns:*:*:Draco*"
_QUEUES = "arn:aws:sqs:*:*:Draco*"
_TABLES = ["arn:aws:dynamodb:*:*:table/Draco*", "arn:aws:dynamodb:*:*:table/Draco*/index/*"]
_ROLES = "arn:aws:iam::*:role/draco-*"
_RULES = "arn:aws:events:*:*:rule/draco-*"
_ALARMS = "arn:aws:cloudwatch:*:*:alarm:draco-*"
_SUBSCRIPTIONS = "arn:aws:rds:*:*:es:draco-*"
_ALIASES = "arn:aws:kms:*:*:alias/DRACO*"


def _allow(sid: str, actions: Sequence[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}


_KEY_READS = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases"]
_SNAPSHOT_READS = [
    "rds:DescribeDBSnapshots",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeAccountAttributes",
    "ec2:DescribeSnapshots",
]
_ROLE_READS = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"]

POLICIES: dict[str, list[dict[str, Any]]] = {
    "bootstrap": [
        _allow("DracoKeysCreatedAndRead", ["kms:CreateKey", *_KEY_READS, "kms:TagResource"], _ANY),
        _allow(
            "DracoKeysKeptCurrent",
            ["kms:CreateAlias", "kms:EnableKeyRotation", "kms:PutKeyPolicy"],
            [_ALIASES, "arn:aws:kms:*:*:key/*"],
        ),
        _allow(
            "DracoTopics",
            [
                "sns:CreateTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:TagResource",
            ],
            _TOPICS,
        ),
        # DR's inbox queue, which every production account's outbox topic delivers to.
        _allow(
            "DracoInboxQueue",
            ["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:TagQueue"],
            _QUEUES,
        ),
        _allow(
            "DracoRdsEventSubscriptions",
            [
                "rds:CreateEventSubscription",
                "rds:ModifyEventSubscription",
                "rds:DescribeEventSubscriptions",
                "rds:AddTagsToResource",
            ],
            _SUBSCRIPTIONS,
        ),
        _allow(
            "DracoEventRules",
            [
                "events:PutRule",
                "events:PutTargets",
                "events:DescribeRule",
                "events:ListRules",
                "events:ListTargetsByRule",
                "events:TagResource",
            ],
            _RULES,
        ),
        _allow(
            "DracoJobTables",
            [
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateTable",
                "dynamodb:TagResource",
            ],
            _TABLES,
        ),
        _allow(
            "DracoAppRoles",
            ["iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:TagRole", *_ROLE_READS],
            _ROLES,
        ),
        _allow("DracoAlarms", ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"], _ALARMS),
        _allow("DracoAlarmsListed", ["cloudwatch:DescribeAlarms"], _ANY),
        # The consumer's bootstrap sets the sources DR knows against the snapshot quota (draco.quota_plan).
        _allow("QuotaPlanReadsTheJobTable", ["dynamodb:Scan"], _TABLES),
        _allow("QuotaPlanReadsSnapshotsAndQuotas", _SNAPSHOT_READS, _ANY),
    ],
    "remove": [
        _allow("DracoKeysRead", _KEY_READS, _ANY),
        _allow("DracoKeysScheduledForDeletionOnRequest", ["kms:ScheduleKeyDeletion"], "arn:aws:kms:*:*:key/*"),
        _allow("DracoTopics", ["sns:GetTopicAttributes", "sns:DeleteTopic"], _TOPICS),
        _allow("DracoInboxQueue", ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:DeleteQueue"], _QUEUES),
        _allow(
            "DracoRdsEventSubscriptions",
            ["rds:DescribeEventSubscriptions", "rds:DeleteEventSubscription"],
            _SUBSCRIPTIONS,
        ),
        _allow(
            "DracoEventRules",
            [
                "events:DescribeRule",
                "events:ListRules",
                "events:ListTargetsByRule",
                "events:RemoveTargets",
                "events:DeleteRule",
            ],
            _RULES,
        ),
        _allow(
            "DracoJobTables",
            [
                "dynamodb:DescribeTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateTable",
                "dynamodb:DeleteTable",
            ],
            _TABLES,
        ),
        _allow(
            "DracoAppRoles", ["iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole", *_ROLE_READS], _ROLES
        ),
        _allow("DracoFunctionsGoneFirst", ["lambda:GetFunction"], "arn:aws:lambda:*:*:function:draco-*"),
        _allow("DracoAlarms", ["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"], _ALARMS),
        _allow("DracoAlarmsListed", ["cloudwatch:DescribeAlarms"], _ANY),
    ],
    "status": [
        _allow("DracoJobTableRead", ["dynamodb:Scan", "dynamodb:Query", "dynamodb:DescribeTable"], _TABLES),
        _allow("SnapshotsAndQuotasRead", _SNAPSHOT_READS, _ANY),
    ],
    "approve": [
        _allow(
            "SourceRecordsReadAndApproved",
            ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            _TABLES,
        ),
    ],
}
COMMANDS = tuple(POLICIES)


def document(command: str) -> dict[str, Any]:
    """The identity policy ``command`` needs, as a document."""
    return {"Version": "2012-10-17", "Statement": POLICIES[command]}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "operator-policy",
        help="print the IAM policies a person needs to run bootstrap, remove, status and the DR decisions "
        "(approve, reject, retire, budget)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument(
        "commands", nargs="*", choices=COMMANDS, metavar="COMMAND", help=f"which ({', '.join(COMMANDS)}; default all)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """One JSON object: each command's policy by name (``aws iam create-policy --policy-document``)."""
    print(json.dumps({command: document(command) for command in args.commands or COMMANDS}, indent=2))
    return 0
