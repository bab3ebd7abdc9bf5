"""The resource policies bootstrap writes, as pure functions: each topic's, its key's and the transit key's.

The rules they follow (least trust: name the principal, not only the account) are
in ``draco.bootstrap.policies``, beside the role policies they answer to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from draco.bootstrap.names import Account
from draco.bootstrap.policies import FOR_AWS_RESOURCES, document, via

RDS_EVENTS = "events.rds.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
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


def topic_policy(
    acct: Account,
    topic_arn: str,
    *,
    peers: Sequence[str],
    peer_roles: Sequence[str],
    rds_sources: Sequence[str] = (),
    rules: Sequence[str] = (),
) -> dict[str, Any]:
    """The owner uses its topic; the peers' app roles, this account's RDS events and DRACO's rules publish."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnerAccountUsesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": acct.root()},
            "Action": _TOPIC_OWNER_ACTIONS,
            "Resource": topic_arn,
        },
    ]
    if peers:  # production's topic: DR's consumer role answers on it (DR's takes no DRACO messages)
        statements.append(
            {
                "Sid": "OnlyThePeerAppRolesSendDracoMessages",
                "Effect": "Allow",
                "Principal": {"AWS": [acct.root(peer) for peer in peers]},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": list(peer_roles)}},
            }
        )
    if rds_sources:
        condition = {
            "StringEquals": {"aws:SourceAccount": acct.account},
            "ArnLike": {"aws:SourceArn": list(rds_sources)},
        }
        statements.append(_service_publishes("RdsSendsThisAccountsSnapshotEvents", RDS_EVENTS, topic_arn, condition))
    if rules:
        condition = {"ArnEquals": {"aws:SourceArn": list(rules)}}
        statements.append(_service_publishes("DracoEventBridgeRulesSendEvents", EVENTBRIDGE, topic_arn, condition))
    return document(statements)


def _service_publishes(sid: str, service: str, topic_arn: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": condition,
    }


def _owner_administers(acct: Account) -> dict[str, Any]:
    return {
        "Sid": "OwnerAccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": acct.root()},
        "Action": "kms:*",
        "Resource": "*",
    }


def topic_key_policy(
    acct: Account, *, peers: Sequence[str], peer_roles: Sequence[str], services: Sequence[str], topic_arn: str
) -> dict[str, Any]:
    """The topic key: the owner administers it; the publishing services and the peers' roles encrypt with it.

    What each AWS guide says about a service publishing to an SSE-KMS topic (``_SERVICE_KEY_CONDITIONS``):

    * SNS, "Key management" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html,
      compatibility with AWS services' event sources): the service principal needs
      ``kms:GenerateDataKey*`` and ``kms:Decrypt`` on a customer managed key; SNS calls KMS with the
      encryption context ``aws:sns:topicArn``, which the guide's example conditions on; and
      ``aws:SourceAccount``, ``aws:SourceArn`` and ``aws:SourceOrgID`` are not supported in the key
      policy for EventBridge publishing to an encrypted topic: with them, EventBridge's deliveries fail
      (silently: the events would then only come through the sweep).
    * RDS, "Granting permissions to publish notifications to an Amazon SNS topic"
      (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.GrantingPermissions.html):
      ``events.rds.amazonaws.com`` with ``aws:SourceAccount`` and ``aws:SourceArn`` (the topic
      policy, ``topic_policy``); the key's statement keeps ``aws:SourceAccount`` for RDS.
    * EventBridge, "Using resource-based policies"
      (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions):
      ``events.amazonaws.com`` may publish through the topic policy, which names DRACO's rules
      (``aws:SourceArn``); don't give the rule a role, which breaks delivery to encrypted topics.

    So each service's statement is its own: both are held to this topic by the encryption context,
    RDS also to this account; EventBridge by the context only (its rules are named in the topic policy).
    """
    statements = [_owner_administers(acct)]
    for service in sorted(services):
        only = {"kms:EncryptionContext:aws:sns:topicArn": topic_arn, **_SERVICE_KEY_CONDITIONS[service](acct)}
        statements.append(
            {
                "Sid": _SERVICE_KEY_SIDS[service],
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": only},
            }
        )
    if not peers:
        return document(statements)
    statements.append(
        {
            "Sid": "OnlyThePeerAppRolesPublishThroughSns",
            "Effect": "Allow",
            "Principal": {"AWS": [acct.root(peer) for peer in peers]},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": list(peer_roles)},
                "StringEquals": {"kms:ViaService": via(["sns"], acct.region)},
            },
        }
    )
    return document(statements)


# The conditions each service supports in the topic key's policy (see ``topic_key_policy``).
_SERVICE_KEY_CONDITIONS: dict[str, Any] = {
    RDS_EVENTS: lambda acct: {"aws:SourceAccount": acct.account},
    EVENTBRIDGE: lambda acct: {},  # aws:Source* keys unsupported here: SNS's key management guide
}
_SERVICE_KEY_SIDS = {RDS_EVENTS: "RdsPublishesThisAccountsEvents", EVENTBRIDGE: "EventBridgePublishesDracoRulesEvents"}


def transit_key_policy(
    acct: Account,
    *,
    dr_account: str,
    consumer_role: str,
    services: Sequence[str],
    actions: Sequence[str] = (),
    dr_region: str = "",
) -> dict[str, Any]:
    """The owner administers the key; DR's consumer role may use it only through the kinds' services
    (in this Region and, with DR in another, in DR's: see the module docstring)."""
    only = {
        "ArnEquals": {"aws:PrincipalArn": consumer_role},
        "StringEquals": {"kms:ViaService": via(services, acct.region, dr_region or acct.region)},
    }
    dr = {"AWS": acct.root(dr_account)}
    return document(
        [
            _owner_administers(acct),
            {
                "Sid": "DrConsumerReadsSharedTransitCopiesThroughTheKindsServices",
                "Effect": "Allow",
                "Principal": dr,
                "Action": sorted({"kms:Decrypt", "kms:DescribeKey", *actions}),
                "Resource": "*",
                "Condition": only,
            },
            {
                "Sid": "DrConsumerLetsRdsUseTheKeyForCopiesOnly",
                "Effect": "Allow",
                "Principal": dr,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {**only, **FOR_AWS_RESOURCES},
            },
        ]
    )
