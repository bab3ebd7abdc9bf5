"""The way production's messages reach DR: each account's outbox topic, subscribed by DR's inbox queue.

DR bootstraps the ``DracoInbox`` queue once, with a policy that lets SNS send from
the trusted accounts' ``DracoOutbox`` topics (``trust.inbox_policy``); nothing in
DR names a production account. Each production account bootstraps its outbox and
subscribes the inbox to it (the topic owner subscribes a queue of another account:
https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html);
DR's consumer confirms the subscription when its confirmation arrives in the inbox
(``chalicelib_shared.inbox``). The queue is encrypted with SQS-managed keys (SSE-SQS),
which SNS can send to without a key policy
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from draco.bootstrap.aws import missing
from draco.bootstrap.instructions import APICall, Json, Step

#: The inbox keeps a message 14 days (SQS's longest), so a consumer down for days loses nothing.
RETENTION_SECONDS = 14 * 24 * 3600
#: Longer than the inbox handler's Lambda timeout (120 s), as AWS asks for an event source queue.
VISIBILITY_SECONDS = 6 * 120


@dataclass(frozen=True)
class Queue:
    """DR's inbox: SSE-SQS, its policy admitting the trusted outboxes only."""

    name: str
    arn: str
    policy: Mapping[str, Any]
    trusted: str  # whose outboxes, for the plan's lines

    @property
    def attributes(self) -> dict[str, Any]:
        return {
            "Policy": Json(self.policy),
            "SqsManagedSseEnabled": "true",
            "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "VisibilityTimeout": str(VISIBILITY_SECONDS),
        }


@dataclass(frozen=True)
class QueueSubscription:
    """Production's outbox topic sending to DR's inbox queue."""

    topic_arn: str
    queue_arn: str


@dataclass(frozen=True)
class QueueRecord:
    url: str
    attributes: Mapping[str, str]


def read_queue(sqs: Any, name: str) -> QueueRecord | None:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as err:
        if missing(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise
    return QueueRecord(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def read_queue_endpoints(sns: Any, topic_arn: str) -> dict[str, str]:
    """The SQS queues subscribed to a topic, to their subscriptions' ARNs (none if the topic doesn't exist yet)."""
    try:
        pages = list(sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn))
    except ClientError as err:
        if missing(err, "NotFound"):
            return {}
        raise
    found = [s for page in pages for s in page["Subscriptions"] if s["Protocol"] == "sqs"]
    return {s["Endpoint"]: s["SubscriptionArn"] for s in found}


def plan_queue(queue: Queue, found: QueueRecord | None, same: Any) -> list[Step]:
    """Create the inbox, or set what differs (``same``: the planner's policy comparison)."""
    if found is None:
        call = APICall("sqs", "create_queue", {"QueueName": queue.name, "Attributes": queue.attributes},
                       creates=f"SQS queue {queue.name}")  # fmt: skip
        return [Step(f"create SQS queue {queue.name} (SNS may send from the outboxes of {queue.trusted})",
                     (call,), queue.policy)]  # fmt: skip
    wanted = queue.attributes
    differs = [name for name, value in wanted.items() if name != "Policy" and found.attributes.get(name) != value]
    if not same(found.attributes.get("Policy"), queue.policy):
        differs.append("Policy")
    if not differs:
        return []
    call = APICall("sqs", "set_queue_attributes", {"QueueUrl": found.url, "Attributes": wanted})
    return [Step(f"update SQS queue {queue.name} ({', '.join(sorted(differs))}; outboxes of {queue.trusted})",
                 (call,), queue.policy)]  # fmt: skip


def plan_subscription(sub: QueueSubscription, endpoints: Mapping[str, str]) -> list[Step]:
    """DR's inbox, and no other queue, subscribed to the outbox (a queue of a former DR account goes)."""
    topic = sub.topic_arn.rsplit(":", 1)[-1]
    steps = []
    others = sorted(queue for queue in endpoints if queue != sub.queue_arn)
    if others:
        calls = tuple(APICall("sns", "unsubscribe", {"SubscriptionArn": endpoints[queue]}) for queue in others)
        steps.append(Step(f"unsubscribe {', '.join(others)} from {topic} (not the DR account's inbox)", calls))
    if sub.queue_arn not in endpoints:
        call = APICall("sns", "subscribe", {"TopicArn": sub.topic_arn, "Protocol": "sqs", "Endpoint": sub.queue_arn})
        steps.append(Step(f"subscribe DR's inbox {sub.queue_arn} to {topic} (DR confirms it)", (call,)))
    return steps
