"""DR's inbox: production's messages, each with the account AWS vouches it came from.

Every production account publishes its DRACO messages to its own ``DracoOutbox``
topic, and DR's ``DracoInbox`` queue is subscribed to each of them. SNS wraps each
message in an envelope whose ``TopicArn`` it sets itself: it names the topic the
message was published to, so its account is the sending account, whatever the body
says (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
No one but SNS can put an envelope into the inbox: the queue policy lets only
``sns.amazonaws.com`` send, only from topics named ``DracoOutbox`` of the trusted
accounts (``aws:SourceArn`` and ``aws:SourceAccount``, or ``aws:SourceOrgID`` /
``aws:SourceOrgPaths`` for an Organization:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).

So a message is acted on only when its body's ``SourceAcct`` is the account of the
topic it came through, that account is trusted (``ConsumerConfig.trusts``), and the
topic is in the source Region. A second production account can publish only to its
own outbox: whatever it claims, DR files it under its own account.

A topic owner that subscribes a queue of another account gets a subscription
confirmation in that queue (https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html);
DR confirms those of trusted outboxes, so a new production account needs no change in DR.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chalicelib_shared.config import OUTBOX_TOPIC, ConsumerConfig
from chalicelib_shared.messages import Message, parse_message
from chalicelib_shared.rejection import Rejection

_OUTBOX = re.compile(r"^arn:(aws[a-z-]*):sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256})\Z")
MAX_TOKEN = 2048


@dataclass(frozen=True)
class Confirmation:
    """A trusted production outbox asks DR to confirm its subscription of the inbox."""

    topic_arn: str
    token: str


@dataclass(frozen=True)
class Vouched:
    """An outbox's topic, as SNS named it: the sending account and Region."""

    topic_arn: str
    account: str
    region: str


def outbox(topic_arn: Any, config: ConsumerConfig, source_region: str) -> Vouched | Rejection:
    """The sender, if ``topic_arn`` is a trusted account's outbox in the source Region."""
    found = _OUTBOX.match(topic_arn) if isinstance(topic_arn, str) else None
    if found is None:
        return Rejection(f"TopicArn {str(topic_arn)[:120]!r} is not an SNS topic ARN")
    _, region, account, name = found.groups()
    if name != OUTBOX_TOPIC:
        return Rejection(f"topic {name} is not a production account's {OUTBOX_TOPIC}")
    if region != source_region:
        return Rejection(f"topic {topic_arn} is not in the source Region ({source_region})")
    if not config.trusts(account):
        return Rejection(f"account {account} is not a trusted source account", {"account": account})
    return Vouched(topic_arn, account, region)


def read(body: Any, config: ConsumerConfig, source_region: str) -> Message | Confirmation | Rejection:
    """One inbox record's body: the message, with its account checked against the vouched one."""
    envelope = _envelope(body)
    if isinstance(envelope, Rejection):
        return envelope
    sender = outbox(envelope.get("TopicArn"), config, source_region)
    if isinstance(sender, Rejection):
        return sender
    kind = envelope.get("Type")
    if kind == "SubscriptionConfirmation":
        token = envelope.get("Token")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return Rejection("subscription confirmation without a token")
        return Confirmation(sender.topic_arn, token)
    if kind != "Notification":
        return Rejection(f"SNS message type {str(kind)[:40]!r} is not acted on")
    message = parse_message(envelope.get("Subject"), envelope.get("Message"))
    if isinstance(message, Rejection):
        return message
    if message.source_acct != sender.account:
        return Rejection(
            f"SourceAcct {message.source_acct} is not the account the message came from ({sender.account})",
            {"claimed": message.source_acct, "account": sender.account, "EventType": message.event_type.value},
        )
    return message


def _envelope(body: Any) -> dict[str, Any] | Rejection:
    if not isinstance(body, str):
        return Rejection("inbox record without a body")
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        return Rejection("inbox record is not an SNS envelope (not JSON)")
    if not isinstance(envelope, dict):
        return Rejection("inbox record is not an SNS envelope")
    return envelope
