"""The policies bootstrap writes, as pure functions: the apps' role policies here, the topic and key
policies in ``resource_policies``.

Least trust, the rule throughout: name the principal, not only the account.

* A topic takes messages from the peer app's role only (the peer account's root
  as Principal, ``aws:PrincipalArn`` = that role as Condition, so the role need
  not exist yet), from RDS only for this account's own events (``aws:SourceAccount``
  and ``aws:SourceArn``), and from EventBridge only through DRACO's rules.
* Topics are encrypted with a DRACO key of the account (``TOPIC_KEY_ALIAS``).
  Not the AWS managed ``alias/aws/sns``: its key policy can't be changed, and
  it lets only principals of its own account use it, so neither the peer's role
  nor RDS or EventBridge could publish to a topic under it.
* The transit key lets the DR account use it only through the kinds' services
  (``kms:ViaService``) and only as the consumer's role.
* A role deletes only snapshots carrying its own copies' tags (the kinds'
  statements, from the registry); the consumer can never destroy or repoint a key.
* With DR in another Region, each ARN names the Region its resource is in: the
  peer's topic and topic key in the peer's Region, the shared transit copies and
  the transit keys in the source Region, DR copies in DR's Region, and, for kinds
  copied across Regions in two steps (``SnapshotKind.one_step_across_regions``),
  DR's relay copies and relay key (``alias/DRACO-Relay``) in the source Region.
  The transit keys may be used through the kinds' services in both Regions: AWS
  doesn't document from which Region's endpoint a cross-Region copy reads its
  source, and either way only the consumer's role, only through those services.

Production accounts are never listed one by one in DR's policies: the consumer
role names their resources with ``*`` for the account, bounded by one Deny to
the trusted accounts or Organization, and production's messages reach DR
through its inbox queue (``draco.bootstrap.trust``, ``chalicelib_shared.inbox``).
Each producer publishes to its own ``DracoOutbox`` only.

Role policies are exactly the calls ``chalicelib_shared`` makes plus what AWS
checks on the caller's behalf (KMS grants and tags on copies, KMS for
publishing to an encrypted topic, logs); ``tests/test_policies.py`` derives the
calls from the code and fails on any difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib_shared.kinds.base import PolicyContext, Side, SnapshotKind
from chalicelib_shared.naming import SOURCE_NAME_TAG, key_alias
from draco.bootstrap.instructions import Var
from draco.bootstrap.names import FUNCTIONS, Account, function_name, peer_of
from draco.bootstrap.options import ConsumerOptions, Options, ProducerOptions
from draco.bootstrap.trust import inbox_statements, only_trusted_accounts, outbox_statements

VERSION = "2012-10-17"
# What SNS asks KMS for when a principal publishes to an encrypted topic.
_PUBLISH_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
# Key operations the consumer must never perform, whatever a key policy says: an explicit Deny
# in the role's own policy beats any Allow, including one the role could write into a key policy.
_KEY_DESTRUCTION = [
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:DisableKeyRotation",
    "kms:DeleteImportedKeyMaterial",
]
FOR_AWS_RESOURCES = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def document(statements: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def via(services: Iterable[str], *regions: str) -> list[str]:
    """``kms:ViaService`` values: the services' endpoints in ``regions``."""
    return sorted({f"{service}.{region}.amazonaws.com" for service in services for region in regions})


def kind_statements(side: Side, ctx: PolicyContext, kinds: Iterable[SnapshotKind]) -> list[dict[str, Any]]:
    """Every kind's statements for ``side``, each identical statement once."""
    seen: set[str] = set()
    found = []
    for kind in kinds:
        for statement in kind.statements(side, ctx):
            text = json.dumps(statement, sort_keys=True)
            if text not in seen:
                seen.add(text)
                found.append(statement)
    return found


# --------------------------------------------------------------------------- Lambda roles


def lambda_trust() -> dict[str, Any]:
    return document([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])


def producer_role_policy(
    opts: ProducerOptions, acct: Account, transit_key_arn: str | Var, kinds: Sequence[SnapshotKind]
) -> dict[str, Any]:
    """The producer role's policy in the production account."""
    own_keys = acct.arn("kms", "key/*")
    return document(
        [
            *kind_statements(Side.PRODUCER, _context(opts, acct), kinds),
            {
                "Sid": "RdsEncryptsTransitCopiesWithTheTransitKey",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": transit_key_arn,
                "Condition": FOR_AWS_RESOURCES,
            },
            {
                "Sid": "RdsReadsTheTransitKey",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": transit_key_arn,
            },
            {
                # Only for sources encrypted with a customer managed key of this account;
                # aws/rds's own key policy already lets RDS use it for the account.
                "Sid": "RdsDecryptsSourceSnapshotsEncryptedWithCustomerKeys",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": own_keys,
                "Condition": FOR_AWS_RESOURCES,
            },
            {
                "Sid": "RdsReadsSourceSnapshotKeys",
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": own_keys,
                "Condition": {"StringEquals": {"kms:ViaService": via(_services(kinds), opts.region)}},
            },
            *_key_use(kinds, [transit_key_arn, own_keys], "KindsCopyWithTheTransitAndSourceKeys", opts.region),
            *outbox_statements(acct),
            *_table_statements(acct, opts.table, batch_get=True),
            _poller_statement(opts, acct),
            _logs_statement(opts, acct),
        ]
    )


def consumer_role_policy(opts: ConsumerOptions, acct: Account, kinds: Sequence[SnapshotKind]) -> dict[str, Any]:
    """The consumer role's policy in the DR account."""
    regions = [acct.region, *([opts.peer_region] if _relays(opts, kinds) else [])]  # DR keys, relay key
    own_keys = [acct.arn("kms", "key/*", region=region) for region in regions]
    source_keys = [acct.arn("kms", "key/*", account="*", region=opts.peer_region)]  # bounded by the last Deny
    return document(
        [
            *kind_statements(Side.CONSUMER, _context(opts, acct), kinds),
            {"Sid": "FindDrKeysByAlias", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": own_keys},
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
                "Resource": [*(acct.arn("kms", key_alias("*"), region=region) for region in regions), *own_keys],
            },
            {
                "Sid": "RdsEncryptsDrCopiesWithDracoKeysOnly",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": own_keys,
                "Condition": {"ForAnyValue:StringLike": {"kms:ResourceAliases": key_alias("*")}, **FOR_AWS_RESOURCES},
            },
            {
                "Sid": "RdsDecryptsSharedTransitCopiesOfSourceAccounts",
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": source_keys,
                "Condition": FOR_AWS_RESOURCES,
            },
            {
                "Sid": "RdsReadsTransitKeysOfSourceAccounts",
                "Effect": "Allow",
                "Action": ["kms:DescribeKey", "kms:Decrypt"],
                "Resource": source_keys,
                "Condition": {"StringEquals": {"kms:ViaService": via(_services(kinds), opts.peer_region, opts.region)}},
            },
            *_key_use(kinds, [*own_keys, *source_keys], "KindsCopyWithTransitAndDrKeys", opts.peer_region, opts.region),
            *_publish_statements(opts, acct, "AnswerEachSourceAccountOnItsProducerTopic"),
            *inbox_statements(acct, opts.peer_region),
            *_table_statements(acct, opts.table, batch_get=False),
            _poller_statement(opts, acct),
            _logs_statement(opts, acct),
            {"Sid": "NeverDestroyOrRepointKeys", "Effect": "Deny", "Action": _KEY_DESTRUCTION, "Resource": "*"},
            *only_trusted_accounts(opts.trust, acct.account),
        ]
    )


def _context(opts: Options, acct: Account) -> PolicyContext:
    """The consumer's peers are any account (``*``), bounded by its Deny (``trust``); the producer's is DR."""
    peer_region = opts.peer_region if opts.across_regions else ""
    peers = ("*",) if opts.side is Side.CONSUMER else opts.peers
    return PolicyContext(acct.partition, acct.region, acct.account, peers, opts.tag_key, opts.tag_value, peer_region)


def _relays(opts: Options, kinds: Iterable[SnapshotKind]) -> bool:
    """Whether DR makes relay copies in the source Region (kinds copied across Regions in two steps)."""
    return opts.across_regions and not all(kind.one_step_across_regions for kind in kinds)


def _services(kinds: Iterable[SnapshotKind]) -> set[str]:
    return {kind.service for kind in kinds}


def key_actions(kinds: Iterable[SnapshotKind]) -> list[str]:
    """KMS actions the kinds' copies use with the caller's permissions, besides grants and DescribeKey."""
    return sorted({action for kind in kinds for action in kind.key_actions})


def _key_use(kinds: Sequence[SnapshotKind], keys: list[Any], sid: str, *regions: str) -> list[dict[str, Any]]:
    """The kinds' own key actions (e.g. EBS's re-encryption), only through the kinds' services in ``regions``."""
    needing = [kind for kind in kinds if kind.key_actions]
    if not needing:
        return []
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": key_actions(needing),
            "Resource": keys,
            "Condition": {"StringEquals": {"kms:ViaService": via(_services(needing), *regions)}},
        }
    ]


def _publish_statements(opts: ConsumerOptions, acct: Account, sid: str) -> list[dict[str, Any]]:
    """Publish only to production's DRACO topics, and use their topic keys for it, only through SNS
    (any account's: the role's Deny bounds them to the trusted ones)."""
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": acct.topic_arn(peer_of(opts.side), account="*", region=opts.peer_region),
        },
        {
            "Sid": "EncryptMessagesForThePeerTopicsThroughSns",
            "Effect": "Allow",
            "Action": _PUBLISH_KEY_ACTIONS,
            "Resource": acct.arn("kms", "key/*", account="*", region=opts.peer_region),
            "Condition": {"StringEquals": {"kms:ViaService": via(["sns"], opts.peer_region)}},
        },
    ]


def _table_statements(acct: Account, table: str, *, batch_get: bool) -> list[dict[str, Any]]:
    table_arn = acct.arn("dynamodb", f"table/{table}")
    statements = [
        {
            # UpdateItem: the copy-slot counters live in the same table.
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
    if batch_get:
        statements.append(
            {
                "Sid": "SweepAsksWhichSnapshotsHaveJobsInBatches",
                "Effect": "Allow",
                "Action": "dynamodb:BatchGetItem",
                "Resource": table_arn,
            }
        )
    return statements


def _poller_statement(opts: Options, acct: Account) -> dict[str, Any]:
    """The app rests its own poller (and production its wake-up) while idle, and wakes it (``pacing``)."""
    return {
        "Sid": "SwitchOwnSchedulesOffWhileIdleAndOnAgain",
        "Effect": "Allow",
        "Action": ["events:DisableRule", "events:EnableRule"],
        "Resource": [acct.arn("events", f"rule/{rule}") for rule in opts.switched_rules.values()],
    }


def _logs_statement(opts: Options, acct: Account) -> dict[str, Any]:
    """The app's own functions' log groups, named alike by ``chalice deploy`` and by bootstrap's merge template."""
    groups = [
        acct.arn("logs", f"log-group:/aws/lambda/{function_name(opts.side, opts.stage, handler)}")
        for handler in FUNCTIONS[opts.side]
    ]
    return {
        "Sid": "WriteOwnFunctionLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [arn for group in groups for arn in (group, f"{group}:*")],
    }
