"""Fills 10 and 11 of ``draco.world.moto_gaps`` (documented there, installed from there): SNS across accounts.

9. moto delivers a topic's message to a subscribed SQS queue of another account
   by looking the queue up in the topic's account, and checks no queue policy;
   ``publish_to_queue`` delivers to the queue's account when its policy lets
   ``sns.amazonaws.com`` send from that topic (``aws:SourceArn``,
   ``aws:SourceAccount``, ``aws:SourceOrgID``, ``aws:SourceOrgPaths``), and
   drops the message otherwise.
10. moto lets any account publish to any topic; ``publish_to_topic`` refuses
   another account unless the topic's policy allows it.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.sns.exceptions import SNSException
from moto.sns.models import SNSBackend, Subscription
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import sqs_backends

#: moto's own, before any fill.
_QUEUE_PUBLISH = Subscription.publish
_TOPIC_PUBLISH = SNSBackend.publish


#: account -> (Organization id, OU path "o-.../r-.../ou-.../"), as AWS Organizations knows them.
ORGANIZATIONS: dict[str, tuple[str, str]] = {}


def publish_to_queue(self: Subscription, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
    parts = self.endpoint.split(":")
    original = _QUEUE_PUBLISH
    if self.protocol != "sqs" or len(parts) < 6 or parts[4] == self.account_id:
        return original(self, message, message_id, *args, **kwargs)
    try:
        queue = sqs_backends[parts[4]][parts[3]].get_queue(parts[5])
    except QueueDoesNotExist:
        return None
    if not _queue_allows(queue.policy, self.topic.arn, self.account_id):
        return None  # AWS retries, then drops it
    topic_account = self.account_id
    try:
        self.account_id = parts[4]  # moto looks the queue up in the subscription's account
        return original(self, message, message_id, *args, **kwargs)
    finally:
        self.account_id = topic_account


def _queue_allows(policy: str | None, topic_arn: str, account: str) -> bool:
    """Whether a queue policy lets SNS send from ``topic_arn``: an Allow matches and no Deny does."""
    context: dict[str, Any] = {"aws:SourceArn": topic_arn, "aws:SourceAccount": account}
    if account in ORGANIZATIONS:
        org, path = ORGANIZATIONS[account]
        context.update({"aws:SourceOrgID": org, "aws:SourceOrgPaths": [path]})
    statements = json.loads(policy).get("Statement", []) if policy else []
    matching = [s for s in statements if _for_sns_send(s) and _conditions_hold(s.get("Condition", {}), context)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


def _for_sns_send(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal", {})
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    return "sns.amazonaws.com" in _listed(services) and any(a in ("sqs:SendMessage", "sqs:*") for a in actions)


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    """The operators DRACO's policies use; a key missing from the context fails its condition."""
    for operator, tests in conditions.items():
        for key, wanted in tests.items():
            have = context.get(key)
            if have is None:
                return False
            values = _listed(have)
            like = operator.endswith("Like")
            if not any(_matches(value, pattern, like) for value in values for pattern in _listed(wanted)):
                return False
    return True


def _matches(value: str, pattern: str, like: bool) -> bool:
    return fnmatch.fnmatchcase(value, pattern) if like else value == pattern


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class _NotAuthorized(SNSException):
    code = "AuthorizationError"

    def __init__(self) -> None:
        super().__init__("User is not authorized to perform: SNS:Publish on this topic")


def publish_to_topic(self: SNSBackend, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
    owner = arn.split(":")[4] if arn and arn.count(":") >= 5 else self.account_id
    if owner != self.account_id and not _topic_allows(self.get_topic(arn).policy, self.account_id):
        raise _NotAuthorized()
    return _TOPIC_PUBLISH(self, message, arn, *args, **kwargs)


def _topic_allows(policy: str | None, account: str) -> bool:
    statements = json.loads(policy).get("Statement", []) if policy else []
    for statement in statements:
        principal = statement.get("Principal", {})
        names = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else _listed(principal)
        actions = _listed(statement.get("Action", []))
        if statement.get("Effect") != "Allow" or not {"sns:Publish", "SNS:Publish", "sns:*"} & set(actions):
            continue
        owners = [v for k, v in statement.get("Condition", {}).get("StringEquals", {}).items()
                  if k.lower() in ("aws:sourceowner", "aws:sourceaccount")]  # fmt: skip
        if owners and account not in [a for value in owners for a in _listed(value)]:
            continue  # e.g. moto's default policy: the owner's account only
        if "*" in names or account in names or f"arn:aws:iam::{account}:root" in names:
            return True
    return False
